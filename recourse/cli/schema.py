"""``recourse schema``: the schema (action set) of a bundled data set as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from recourse.cli.common import console, fail
from recourse.encoders.errors import RecourseError

__all__ = ["schema"]


def schema(
    dataset: Annotated[str, typer.Option(help="Bundled data set: german or credit_data.")]
    = "german",
    out: Annotated[Path | None, typer.Option(
        help="Write the YAML here (default: print it).")] = None,
) -> None:
    """Write the schema (action set) of a bundled data set as YAML."""
    from recourse.datasets import load

    try:
        _, _, feature_schema = load(dataset)
        text = feature_schema.to_yaml(out)
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    if out is None:
        console.out(text, highlight=False)
    else:
        console.print(f"Wrote the {escape(dataset)} schema to {escape(str(out))}")

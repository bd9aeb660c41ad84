"""``recourse causal-graph``: the example causal model of a bundled data set as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from recourse.cli.common import console, fail
from recourse.encoders.errors import RecourseError

__all__ = ["causal_graph"]


def causal_graph(
    dataset: Annotated[str, typer.Option(help="Bundled data set: german or credit_data.")]
    = "credit_data",
    out: Annotated[Path | None, typer.Option(
        help="Write the YAML here (default: print it).")] = None,
) -> None:
    """Write the example causal model of a bundled data set (fitted equations) as YAML."""
    from recourse.datasets.graphs import example_causal_model

    try:
        text = example_causal_model(dataset).to_yaml(out)
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    if out is None:
        console.out(text, highlight=False)
    else:
        console.print(f"Wrote the {escape(dataset)} causal model to {escape(str(out))}")

"""What every command shares: consoles, exit codes, error handling, common options and the
loading of command-line arguments (targets, causal models).

Exit codes: 0 when an answer was produced (a counterfactual, a proof that no recourse
exists, or "nothing to change"); 1 when the solver gave no answer (time limit before any
verified counterfactual, or a solver error); 2 on bad input (the message says what to
fix).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from recourse.encoders.errors import InputValidationError
from recourse.result import RecourseResult

__all__ = [
    "ExtraColumns",
    "ANSWERED", "EXIT_BAD_INPUT", "EXIT_NO_ANSWER", "EXIT_OK", "AlsoModel", "Box", "Data",
    "MinMargin", "MinScore", "Plausible", "Seen", "Support", "SupportK", "TrustPickle",
    "console", "err_console", "exit_code", "fail", "fmt_opt", "json_default",
    "load_causal", "resolve_target",
]

EXIT_OK = 0
EXIT_NO_ANSWER = 1
EXIT_BAD_INPUT = 2

#: Statuses that answer the question (exit code 0).
ANSWERED = ("optimal", "feasible", "no_recourse", "already_target")

console = Console()
err_console = Console(stderr=True)


# ------------------------------------------------------------- shared options
TrustPickle = Annotated[bool, typer.Option(
    "--trust-pickle", help="Load a pickle model (runs code from the file: only if "
    "you trust it).")]
# Options of believable / robust recourse (recourse.cli.flags), shared by explain and letter.
ExtraColumns = Annotated[list[str] | None, typer.Option(
    "--extra-column", help="A non-feature column the applicant file may hold (an id, a "
    "label): carried along and ignored. Repeatable. Any other unknown column is an error.")]
MinMargin = Annotated[float | None, typer.Option(
    "--min-margin", help="Robust recourse: the target class must win by at least this "
    "much (probability for trees and forests, else decision function).")]
Box = Annotated[bool, typer.Option(
    "--box", help="Also compute the certified box: ranges in which every value is "
    "approved (\"Credit amount: 7,839 DM or less\").")]
Data = Annotated[str | None, typer.Option(
    "--data", help="Training rows (CSV/Parquet, or german / credit_data for the bundled "
    "training split) for --seen-together and --plausible; also speeds up the search and "
    "reports every answer's isolation-forest (plausibility) score.")]
Seen = Annotated[bool, typer.Option(
    "--seen-together", help="Never combine category levels no row of --data has.")]
Plausible = Annotated[bool, typer.Option(
    "--plausible", help="The answer must be an inlier of an isolation forest fitted on "
    "--data (seed 0, the model's own preprocessing).")]
MinScore = Annotated[float | None, typer.Option(
    "--min-score", help="With --plausible: the least isolation-forest score_samples "
    "(default: the forest's own inlier threshold).")]
Support = Annotated[float | None, typer.Option(
    "--support", help="Data support: the answer lies within this scaled (MAD, linf) "
    "distance of --support-k rows of --data that the model puts in the target class.")]
SupportK = Annotated[int, typer.Option(
    "--support-k", help="With --support: how many supporting rows.")]
AlsoModel = Annotated[list[Path] | None, typer.Option(
    "--also-model", help="Another fitted model (repeatable) that must approve the answer "
    "too, e.g. the same forest retrained with another seed.")]


# -------------------------------------------------------------------- helpers
def fmt_opt(x: float | None, spec: str = ".4g") -> str:
    """``x`` formatted with ``spec``, or a dash for None."""
    return "–" if x is None else format(x, spec)  # noqa: RUF001 (a dash for "none")


def json_default(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (anything else as text)."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def fail(message: str) -> NoReturn:
    """Print ``message`` as an error and exit with :data:`EXIT_BAD_INPUT`."""
    err_console.print(f"[bold red]Error:[/] [red]{escape(message)}[/]", soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def exit_code(result: RecourseResult) -> int:
    """:data:`EXIT_OK` when ``result`` answers the question, else :data:`EXIT_NO_ANSWER`."""
    return EXIT_OK if result.status in ANSWERED else EXIT_NO_ANSWER


def resolve_target(model: Any, target: str | None) -> Any:
    """Map the target given on the command line to one of the model's classes.

    Raises
    ------
    InputValidationError
        The model has classes and ``target`` names none of them.
    """
    if target is None:
        return None
    classes = getattr(model, "classes_", None)
    if classes is None:
        return target
    for c in classes:
        if str(c) == target:
            return c.item() if hasattr(c, "item") else c
    raise InputValidationError(
        f"Target {target!r} is not a class of the model; its classes are "
        f"{[str(c) for c in classes]}."
    )


def load_causal(source: str) -> Any:
    """A CausalModel from a YAML path or a bundled example's name.

    Raises
    ------
    InputValidationError
        ``source`` is neither a file nor a bundled example.
    """
    from recourse.causal import CausalModel
    from recourse.datasets.graphs import CAUSAL_GRAPHS, example_causal_model

    if source in CAUSAL_GRAPHS:
        return example_causal_model(source)
    if not Path(source).exists():
        raise InputValidationError(
            f"--causal: {source!r} is neither a file nor a bundled example "
            f"({', '.join(sorted(CAUSAL_GRAPHS))}).")
    return CausalModel.from_yaml(Path(source))

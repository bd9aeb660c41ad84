"""``recourse analyze``: the impossibility report of the attribution methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from recourse.cli.common import console, fail

__all__ = ["analyze"]


def analyze(
    out: Annotated[Path, typer.Option(help="Directory for report.md and the PNG plots.")]
    = Path("analysis_report"),
    case: Annotated[str, typer.Option(
        help="Construction row (docs/theory.md §A7): class, gain or ratio.")] = "class",
    delta: Annotated[float, typer.Option(help="Budget delta (Euclidean).")] = 1.0,
    dim: Annotated[int, typer.Option(help="Dimension of the embedding (2..12).")] = 2,
    grid: Annotated[int, typer.Option(help="Grid points on t in [-delta/2, delta/2] (odd).")]
    = 101,
    seed: Annotated[int, typer.Option(help="Seed of the line, the centre and every "
                                      "stochastic method.")] = 0,
    convergence_seeds: Annotated[int, typer.Option(
        help="Seeds per n in the SmoothGrad/C-LIME convergence experiment.")] = 30,
    tree: Annotated[bool, typer.Option(
        help="Include the engine counterfactual on a decision tree.")] = True,
    model: Annotated[Path | None, typer.Option(help="Your model: analyse its denied "
                                               "applicants instead of the construction.")] = None,
    data: Annotated[Path | None, typer.Option(help="With --model: rows (CSV/Parquet).")] = None,
    schema: Annotated[Path | None, typer.Option(help="With --model: the schema YAML.")] = None,
    target: Annotated[str | None, typer.Option(help="With --model: the class to reach.")] = None,
    applicants: Annotated[int, typer.Option(help="With --model: denied rows to analyse.")] = 8,
    trust_pickle: Annotated[bool, typer.Option("--trust-pickle", help="Load a pickle model.")]
    = False,
) -> None:
    """Impossibility report on the recourse/robustness counterexample (HTML, Markdown, PNG
    plots), or with --model every attribution method on your model's denied applicants
    (HTML + Markdown + JSON)."""
    from recourse.analysis.report import write_report

    if model is not None:
        from recourse.analysis.user_model import run_analyze
        from recourse.errors import RecourseError

        if data is None or schema is None:
            fail("--model needs --data and --schema.")
        try:
            paths = run_analyze(model, data, schema, out, target=target, n_applicants=applicants,
                                seed=seed, trust_pickle=trust_pickle)
        except (RecourseError, OSError, ValueError) as exc:
            fail(str(exc))
        console.print(f"Wrote {escape(str(paths['html']))}, report.md and report.json")
        return

    if case not in ("class", "gain", "ratio"):
        fail(f"--case must be class, gain or ratio; got {case!r}.")
    if not 2 <= dim <= 12:
        fail(f"--dim must be between 2 and 12 (exact Shapley values); got {dim}.")
    if grid < 3 or grid % 2 == 0:
        fail(f"--grid must be odd and at least 3 (so that t = 0 is on it); got {grid}.")
    if not delta > 0:
        fail(f"--delta must be positive; got {delta}.")
    path = write_report(out, case=case, delta=delta, d=dim, n_grid=grid, seed=seed,
                        convergence_seeds=convergence_seeds, with_tree=tree)
    console.print(f"Wrote the impossibility report to {escape(str(path))} (and report.html)")

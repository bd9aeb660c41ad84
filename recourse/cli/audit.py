"""``recourse audit``: recourse for every denied applicant of a file, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recourse.cli.common import (
    EXIT_OK,
    AlsoModel,
    ExtraColumns,
    MinMargin,
    MinScore,
    SupportK,
    TrustPickle,
    console,
    err_console,
    fail,
    fmt_opt,
    load_causal,
    resolve_target,
)
from recourse.cli.flags import RobustFlags, audit_options, build_robust
from recourse.encoders.errors import InputValidationError, RecourseError

__all__ = ["audit"]


def audit(
    model: Annotated[Path, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")],
    data: Annotated[Path, typer.Option(
        "--data", "-d", help="Applicants: CSV or Parquet, one row per applicant; or "
        "german / credit_data for a bundled data set's test split.")],
    schema: Annotated[Path, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output directory (a rerun with the same inputs resumes).")],
    target: Annotated[str, typer.Option(help="Class applicants should reach, e.g. 'good'.")],
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Seconds per applicant.")] = 60.0,
    reference: Annotated[str | None, typer.Option(
        help="Training rows (CSV/Parquet, or german / credit_data for the bundled "
        "training split): faster first solutions, same answers; --seen-together learns "
        "from them.")] = None,
    causal: Annotated[str | None, typer.Option(
        help="Causal model: a YAML file (recourse causal-graph) or a bundled example "
        "(german, credit_data); recourse as interventions.")] = None,
    select: Annotated[str, typer.Option(
        help="denied: applicants the model does not give the target; all: every row.")]
    = "denied",
    id_column: Annotated[str | None, typer.Option(
        help="Column with unique applicant ids (default: the row number).")] = None,
    protected: Annotated[str | None, typer.Option(
        help="Column whose groups the summary compares, e.g. foreign_worker.")] = None,
    intersect: Annotated[str | None, typer.Option(
        help="A second protected column: the fairness figures also cover its groups and "
        "their intersection with --protected.")] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://host:8786 (instead of local workers).")]
    = None,
    chunk_size: Annotated[int | None, typer.Option(
        help="Applicants per committed chunk.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a different audit in --out.")] = False,
    trust_pickle: TrustPickle = False,
    min_margin: MinMargin = None,
    seen_together: Annotated[bool, typer.Option(
        "--seen-together", help="Never combine category levels no row of --reference "
        "(the training data) has.")] = False,
    support: Annotated[float | None, typer.Option(
        "--support", help="Data support: answers lie within this scaled (MAD, linf) "
        "distance of --support-k rows of --reference the model puts in --target.")] = None,
    support_k: SupportK = 1,
    plausible: Annotated[bool, typer.Option(
        "--plausible", help="Answers must be inliers of an isolation forest fitted on "
        "--reference (seed 0, the model's own preprocessing).")] = False,
    min_score: MinScore = None,
    also_model: AlsoModel = None,
    extra_column: ExtraColumns = None,
    why: Annotated[bool, typer.Option(
        "--why", help="For every applicant without recourse: the smallest sets of the "
        "action set's rules whose relaxation opens recourse, with their cheapest verified "
        "counterfactuals (columns why_*); the report counts per rule the applicants it "
        "alone precludes. Within --time-limit.")] = False,
    why_sets: Annotated[int | None, typer.Option(
        "--why-sets", help="With --why (implies it): the most relaxation sets per "
        "applicant (default 5).")] = None,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write summary.md and report.html with its plots "
        "(about a second); --no-report writes the table, summary.json and "
        "no_recourse.csv only.")] = True,
) -> None:
    """Audit a model: recourse for every denied applicant, a table, a summary, a report."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from recourse.audit import audit as run_audit

    audited: Any = model
    try:
        if why_sets is not None and why_sets < 1:
            raise InputValidationError(f"--why-sets must be at least 1, got {why_sets}.")
        why_arg: bool | int = why_sets if why_sets is not None else why
        causal_model = load_causal(causal) if causal is not None else None
        fitted = None
        if support is not None or plausible or also_model or min_score is not None:
            from recourse.io import load_model

            fitted = load_model(model, trust_pickle=trust_pickle)
        robust = audit_options(schema, reference, min_margin, seen_together, support,
                               support_k, model=fitted,
                               target=resolve_target(fitted, target) if fitted is not None
                               else target)
        if plausible or also_model or min_score is not None:
            from recourse.io import load_schema

            setup = build_robust(fitted, load_schema(schema), RobustFlags(
                data=reference, plausible=plausible, min_score=min_score,
                also_models=tuple(also_model or ())), trust_pickle=trust_pickle,
                data_flag="--reference")
            audited = setup.model  # a ModelSet / PlausibleModel object, audited as given
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    bar = Progress(TextColumn("Auditing"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=err_console, transient=False,
                   auto_refresh=False)  # no refresh thread: local workers can fork
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if "task" not in state:
            state["task"] = bar.add_task("audit", total=total, completed=done, rate="")
            state["start"] = done
            bar.start()
        task = state["task"]
        bar.update(task, completed=done)
        speed = bar.tasks[task].speed
        bar.update(task, rate=f"{speed:.1f} applicants/s" if speed else "")
        bar.refresh()

    from recourse.datasets import ROW_COLUMN, applicant_rows

    bundled = applicant_rows(data, with_row=True)  # german / credit_data: the test split
    if bundled is not None:
        data, id_column = bundled, id_column or ROW_COLUMN
    try:
        result = run_audit(audited, data, schema, out, target=target, norm=norm,
                           time_limit=time_limit, select=select, causal=causal_model,
                           **robust, id_column=id_column, protected=protected, n_jobs=jobs,
                           intersect=intersect,
                           extra_columns=extra_column or (),
                           scheduler=scheduler, chunk_size=chunk_size, overwrite=overwrite,
                           trust_pickle=trust_pickle, progress=progress, why=why_arg,
                           report=report)
    except (RecourseError, OSError) as exc:
        bar.stop()
        fail(str(exc))
    bar.stop()
    _print_summary(result)
    raise typer.Exit(EXIT_OK)


def _print_summary(result: Any) -> None:
    """The audit's overall figures and its files."""
    o = result.summary["overall"]
    table = Table(title="Audit", title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column()
    rows = [
        ("applicants audited", f"{result.n_audited:,} of {result.n_rows:,} rows"),
        ("resumed / solved now", f"{result.n_resumed:,} / {result.n_solved:,}"
         + (f" ({result.rate:.1f} applicants/s)" if result.n_solved else "")),
        ("recourse rate", "–" if o["recourse_rate"] is None  # noqa: RUF001
         else f"{100 * o['recourse_rate']:.1f} %"),
        ("no recourse (proven)", f"{o['n_no_recourse']:,}"),
        ("unresolved / invalid input", f"{o['n_unresolved']:,} / {o['n'] - o['n_valid']:,}"),
        ("median cost", fmt_opt(o["median_cost"])),
    ]
    groups = result.summary.get("groups")
    if groups and groups.get("recourse_rate_gap") is not None:
        rows.append((f"recourse-rate gap by {groups['attribute']}",
                     f"{100 * groups['recourse_rate_gap']:.1f} percentage points"))
    for key, value in rows:
        table.add_row(key, escape(value))
    console.print(table)
    _print_why(result.summary.get("why"))
    from recourse.audit.core import invalid_rows_text

    for line in invalid_rows_text(result.summary):
        console.print(escape(line), highlight=False)
    for name, path in result.files.items():
        console.print(f"{name}: {escape(str(path))}", highlight=False)


def _print_why(why: Any) -> None:
    """The per-rule table of an audit run with ``--why`` (every text escaped)."""
    if not why:
        return
    table = Table(title=f"Why no recourse ({why['n_analysed']} applicants analysed)",
                  title_justify="left")
    for col, just in (("rule", "left"), ("alone precludes", "right"),
                      ("in some minimal set", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in why["rules"]:
        table.add_row(escape(r["text"]), str(r["alone"]), str(r["any"]))
    console.print(table)
    if why["n_unopened"]:
        console.print(f"{why['n_unopened']} applicants: no relaxation of the rules considered "
                      "opens recourse (bounds widen only as far as --reference's observed "
                      "range).", highlight=False)
    if why["n_incomplete"]:
        console.print(f"{why['n_incomplete']} enumerations stopped at their limit or the time "
                      "limit: the counts are lower bounds.", highlight=False)

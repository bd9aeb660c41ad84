"""``recourse compare``: what a new model changes, with a release gate.

Exit codes: 0 when the comparison ran and no ``--fail-if`` threshold was crossed;
:data:`EXIT_GATE` (3) when one was (or could not be evaluated); 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recourse.cli.common import (
    EXIT_OK,
    ExtraColumns,
    TrustPickle,
    console,
    err_console,
    fail,
    fmt_opt,
    load_causal,
)
from recourse.cli.flags import audit_options
from recourse.encoders.errors import RecourseError

__all__ = ["EXIT_GATE", "compare"]

#: Exit code when a release-gate threshold was crossed.
EXIT_GATE = 3


def compare(
    model_a: Annotated[Path, typer.Option(
        "--model-a", help="The current model: a .skops file, or a trusted .pkl/.joblib.")],
    model_b: Annotated[Path, typer.Option(
        "--model-b", help="The candidate model, in the same form.")],
    data: Annotated[Path, typer.Option(
        "--data", "-d", help="Applicants: CSV or Parquet, one row per applicant; or "
        "german / credit_data for a bundled data set's test split.")],
    schema: Annotated[Path, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output directory: model_a/ and model_b/ (the two audits, "
        "resumable), compare.parquet/json/md/html.")],
    target: Annotated[str, typer.Option(help="Class applicants should reach, e.g. 'good'.")],
    fail_if: Annotated[list[str] | None, typer.Option(
        "--fail-if", help="Release gate, repeatable: METRIC[GROUP] OP NUMBER, e.g. "
        "'precluded_increase>0.01', 'median_cost_ratio[*]>1.2' (every group of "
        "--protected); the command exits 3 when one holds.")] = None,
    protected: Annotated[str | None, typer.Option(
        help="Column whose groups every figure is also given for.")] = None,
    intersect: Annotated[str | None, typer.Option(
        help="A second protected column: the audits' fairness figures also cover it and "
        "its intersection with --protected.")] = None,
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Seconds per applicant.")] = 60.0,
    reference: Annotated[str | None, typer.Option(
        help="Training rows (CSV/Parquet, or german / credit_data): faster first "
        "solutions, same answers.")] = None,
    causal: Annotated[str | None, typer.Option(
        help="Causal model: a YAML file or a bundled example (german, credit_data).")]
    = None,
    id_column: Annotated[str | None, typer.Option(
        help="Column with unique applicant ids (default: the row number).")] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Local worker processes (default: all cores).")] = None,
    chunk_size: Annotated[int | None, typer.Option(
        help="Applicants per committed chunk.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace different audits in --out/model_a and "
        "--out/model_b.")] = False,
    trust_pickle: TrustPickle = False,
    extra_column: ExtraColumns = None,
) -> None:
    """Compare two models on the same applicants: who lost or gained recourse, who is
    newly denied, how costs change, per group; exit 3 when a --fail-if gate fails."""
    from recourse.audit.compare import compare as run_compare
    from recourse.datasets import ROW_COLUMN, applicant_rows
    from recourse.io import read_table

    try:
        causal_model = load_causal(causal) if causal is not None else None
        ref = audit_options(schema, reference, None, False)["reference"]
        bundled = applicant_rows(data, with_row=True)
        frame: Any = data
        if bundled is not None:
            frame, id_column = bundled, id_column or ROW_COLUMN
        elif data.exists():
            frame = read_table(data)
        result = run_compare(model_a, model_b, frame, schema, out, target=target,
                             protected=protected, intersect=intersect,
                             fail_if=fail_if or (), id_column=id_column, norm=norm,
                             time_limit=time_limit, reference=ref, causal=causal_model,
                             n_jobs=jobs, chunk_size=chunk_size, overwrite=overwrite,
                             extra_columns=extra_column or (), trust_pickle=trust_pickle)
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    _print(result)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_GATE)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"  # noqa: RUF001


def _print(result: Any) -> None:
    o = result.summary["overall"]
    table = Table(title="Compare (A: current, B: candidate)", title_justify="left")
    table.add_column("")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for label, a, b in (
        ("denial rate", _pct(o["denial_rate_a"]), _pct(o["denial_rate_b"])),
        ("proven no recourse", _pct(o["precluded_rate_a"]), _pct(o["precluded_rate_b"])),
        ("recourse rate (denied)", _pct(o["recourse_rate_a"]), _pct(o["recourse_rate_b"])),
        ("median cost", fmt_opt(o["median_cost_a"]), fmt_opt(o["median_cost_b"])),
    ):
        table.add_row(label, a, b)
    console.print(table)
    c = o["counts"]
    console.print(f"newly denied {c['newly_denied']}, newly approved {c['newly_approved']}, "
                  f"lost recourse {c['lost_recourse']}, gained recourse "
                  f"{c['gained_recourse']}, unresolved {c['unresolved']}, invalid "
                  f"{c['invalid']}", highlight=False)
    for g in result.summary["gates"]:
        line = f"{'FAILED' if g['failed'] else 'passed'}: {g['expression']} ({g['reason']})"
        (err_console if g["failed"] else console).print(escape(line), highlight=False)
    for name, path in result.files.items():
        console.print(f"{name}: {escape(str(path))}", highlight=False)

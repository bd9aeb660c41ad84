"""What a new model changes: one audit of two models on the same applicants, compared
applicant by applicant, with a release gate.

:func:`compare` runs :func:`recourse.audit.audit` for model A in ``OUT/model_a`` and for
model B in ``OUT/model_b`` (each resumable with its own store, exactly the audit one would
run on that model alone) and joins the two tables on the applicant: each applicant's
decision (approved, denied, invalid input) and status and cost under each model, and a
*transition*:

==================  ==========================================================
``approved_both``   approved by both models
``newly_denied``    approved by A, denied by B
``newly_approved``  denied by A, approved by B
``kept_recourse``   denied by both, recourse under both (the cost change is kept)
``lost_recourse``   denied by both, recourse under A, proven none under B
``gained_recourse`` denied by both, proven none under A, recourse under B
``precluded_both``  denied by both, proven no recourse under either
``unresolved``      denied by both, time limit or solver error under one of them
``invalid``         the row is invalid input for one of the models
==================  ==========================================================

The figures (overall and per protected group) are in :data:`METRICS`; the release gate
checks ``--fail-if`` expressions against them (grammar in :func:`parse_gate`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recourse.audit.gate import METRICS, Gate, evaluate_gates, parse_gate
from recourse.audit.rows import HAS_RECOURSE
from recourse.audit.store import atomic_write
from recourse.encoders.errors import InputValidationError, cap_list

__all__ = ["METRICS", "TRANSITIONS", "CompareResult", "Gate", "compare", "compare_tables",
           "evaluate_gates", "figures", "parse_gate"]

TRANSITIONS = ("approved_both", "newly_denied", "newly_approved", "kept_recourse",
               "lost_recourse", "gained_recourse", "precluded_both", "unresolved", "invalid")


_OUT_NAMES = ("model_a", "model_b", "compare.parquet", "compare.json", "compare.md",
              "compare.html")
#: Most applicants listed per transition in the Markdown and HTML reports.
LIST_LIMIT = 100


# ---------------------------------------------------------------- the table
def _side(results: pd.DataFrame, n: int) -> pd.DataFrame:
    """Decision, status, cost, L0 and changes of every input row under one model."""
    side = pd.DataFrame({"decision": "approved", "status": "approved",
                         "cost": np.nan, "l0": np.nan, "n_changes": 0},
                        index=pd.RangeIndex(n))
    pos = results["position"].to_numpy(dtype=int)
    status = results["status"].astype(str).to_numpy()
    side.loc[pos, "status"] = status
    side.loc[pos, "decision"] = np.where(status == "invalid_input", "invalid", "denied")
    side.loc[pos, "cost"] = results["cost"].to_numpy(dtype=float)
    side.loc[pos, "l0"] = results["l0"].to_numpy(dtype=float)
    side.loc[pos, "n_changes"] = results["n_changes"].to_numpy(dtype=int)
    return side


def _transition(da: str, sa: str, db: str, sb: str) -> str:
    if "invalid" in (da, db):
        return "invalid"
    if da == "approved":
        return "approved_both" if db == "approved" else "newly_denied"
    if db == "approved":
        return "newly_approved"
    ra, rb = sa in HAS_RECOURSE, sb in HAS_RECOURSE
    if not (ra or sa == "no_recourse") or not (rb or sb == "no_recourse"):
        return "unresolved"
    if ra and rb:
        return "kept_recourse"
    if ra:
        return "lost_recourse"
    return "gained_recourse" if rb else "precluded_both"


def compare_tables(results_a: pd.DataFrame, results_b: pd.DataFrame, ids: pd.Series,
                   groups: pd.Series | None = None) -> pd.DataFrame:
    """One row per input row: decision, status, cost and L0 under each model, the
    transition and the cost change.

    Parameters
    ----------
    results_a, results_b : DataFrame
        The audit tables (``results.parquet``) of the two models on the same data.
    ids : Series
        The applicants' ids, in input order.
    groups : Series, optional
        The protected attribute of every input row, in input order.
    """
    n = len(ids)
    a, b = _side(results_a, n), _side(results_b, n)
    table = pd.DataFrame({"id": list(ids), "position": np.arange(n)})
    if groups is not None:
        table["group"] = groups.astype(str).to_numpy()
    for name, side in (("a", a), ("b", b)):
        for col in side.columns:
            table[f"{col}_{name}"] = side[col].to_numpy()
    table["transition"] = [_transition(*t) for t in zip(
        table["decision_a"], table["status_a"], table["decision_b"], table["status_b"])]
    kept = table["transition"] == "kept_recourse"
    table["cost_change"] = np.where(kept, table["cost_b"] - table["cost_a"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["cost_ratio"] = np.where(kept & (table["cost_a"] > 0),
                                       table["cost_b"] / table["cost_a"], np.nan)
    return table


# -------------------------------------------------------------- the figures
def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def _diff(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x - y


def _ratio(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None or y == 0 else x / y


def figures(table: pd.DataFrame) -> dict[str, Any]:
    """The figures of :data:`METRICS` (and their counts) for the rows of ``table``."""
    valid = table[table["transition"] != "invalid"]
    n = len(valid)
    t = valid["transition"].value_counts()
    count = {k: int(t.get(k, 0)) for k in TRANSITIONS}
    count["invalid"] = int(len(table) - n)
    out: dict[str, Any] = {"n": int(len(table)), "n_valid": n, "counts": count}
    for s in ("a", "b"):
        denied = valid[valid[f"decision_{s}"] == "denied"]
        status = denied[f"status_{s}"]
        has = status.isin(HAS_RECOURSE)
        out[f"n_denied_{s}"] = int(len(denied))
        out[f"denial_rate_{s}"] = _share(len(denied), n)
        out[f"precluded_rate_{s}"] = _share(int((status == "no_recourse").sum()), n)
        out[f"recourse_rate_{s}"] = _share(int(has.sum()), len(denied))
        costs = denied.loc[has, f"cost_{s}"].to_numpy(dtype=float)
        out[f"median_cost_{s}"] = float(np.median(costs)) if costs.size else None
        out[f"mean_cost_{s}"] = float(costs.mean()) if costs.size else None
    out["denial_rate_increase"] = _diff(out["denial_rate_b"], out["denial_rate_a"])
    out["precluded_increase"] = _diff(out["precluded_rate_b"], out["precluded_rate_a"])
    out["recourse_rate_decrease"] = _diff(out["recourse_rate_a"], out["recourse_rate_b"])
    for k in ("newly_denied", "newly_approved", "lost_recourse", "gained_recourse",
              "unresolved"):
        out[k] = _share(count[k], n)
    precluded_b_only = ((valid["status_b"] == "no_recourse")
                        & (valid["status_a"] != "no_recourse"))
    out["n_newly_precluded"] = int(precluded_b_only.sum())
    out["newly_precluded"] = _share(out["n_newly_precluded"], n)
    out["median_cost_ratio"] = _ratio(out["median_cost_b"], out["median_cost_a"])
    out["mean_cost_ratio"] = _ratio(out["mean_cost_b"], out["mean_cost_a"])
    change = valid["cost_change"].dropna().to_numpy(dtype=float)
    out["median_cost_change"] = float(np.median(change)) if change.size else None
    out["mean_cost_change"] = float(change.mean()) if change.size else None
    out["cost_change"] = _quantiles(change)
    return out


def _quantiles(v: np.ndarray) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {"count": int(v.size)}
    for name, q in (("min", 0), ("p10", .1), ("p25", .25), ("median", .5), ("p75", .75),
                    ("p90", .9), ("max", 1)):
        out[name] = float(np.quantile(v, q)) if v.size else None
    up, down = int((v > 1e-9).sum()), int((v < -1e-9).sum())
    out.update(increased=up, decreased=down, unchanged=int(v.size) - up - down)
    return out


# ------------------------------------------------------------------ compare
@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` produced.

    Attributes
    ----------
    out : Path
    table : DataFrame
        One row per input row (``compare.parquet``).
    summary : dict
        ``overall`` and ``groups`` figures, ``gates``, ``lists`` (``compare.json``).
    audit_a, audit_b : AuditResult
        The two audits (in ``OUT/model_a`` and ``OUT/model_b``).
    files : dict
    """

    out: Path
    table: pd.DataFrame
    summary: dict[str, Any]
    audit_a: Any
    audit_b: Any
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        """The gates whose threshold was crossed (or could not be evaluated)."""
        return [g for g in self.summary["gates"] if g["failed"]]

    @property
    def passed(self) -> bool:
        """True when no gate failed."""
        return not self.failed_gates


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputValidationError(f"The output path {str(out)!r} is a file; give a directory.")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _OUT_NAMES
                         and not p.name.startswith(".compare."))
        if foreign:
            raise InputValidationError(
                f"The output directory {str(out)!r} holds {cap_list(foreign)}, which a "
                "comparison does not write; choose an empty or new directory (nothing was "
                "deleted).")


def compare(model_a: Any, model_b: Any, data: Any, schema: Any, out: str | Path, *,
            target: Any, protected: str | None = None, fail_if: Any = (),
            id_column: str | None = None, report: bool = True, trust_pickle: bool = False,
            **audit_options: Any) -> CompareResult:
    """Audit two models on the same applicants and compare them applicant by applicant.

    Parameters
    ----------
    model_a, model_b : fitted estimator, or path of a ``.skops`` (or trusted pickle) file
        The current model (A) and the candidate (B).
    data : DataFrame, or path of a CSV/Parquet file
    schema : FeatureSchema, or path of a schema YAML file
    out : str or Path
        Output directory: ``model_a/`` and ``model_b/`` (the two audits, each resumable),
        ``compare.parquet``, ``compare.json``, ``compare.md``, ``compare.html``.
    target : class label
    protected : str, optional
        Column whose groups every figure is also given for (and the audits' fairness
        figures, see :mod:`recourse.audit.fairness`).
    fail_if : str or list of str
        Release-gate expressions (grammar: :func:`parse_gate`), checked before any solving.
    id_column : str, optional
    report : bool
        Write ``compare.md`` and ``compare.html`` (and the audits' reports).
    trust_pickle : bool
    **audit_options
        Passed on to both :func:`recourse.audit.audit` runs unchanged (``norm``,
        ``time_limit``, ``reference``, ``causal``, ``n_jobs``, ``chunk_size``,
        ``intersect``, ``overwrite``, ...); ``select`` is not accepted (a comparison
        audits the applicants each model denies).

    Returns
    -------
    CompareResult
        ``passed`` is False when a gate failed.

    Raises
    ------
    InputValidationError
        A bad gate expression, an output directory holding other files, or any input
        :func:`recourse.audit.audit` refuses.
    """
    from recourse.audit.core import audit
    from recourse.audit.inputs import read_data

    if "select" in audit_options:
        raise InputValidationError(
            "compare audits the applicants each model denies; select= is not accepted.")
    gates_text = [fail_if] if isinstance(fail_if, str) else list(fail_if or ())
    data = read_data(data)
    if protected is not None and protected not in data.columns:
        raise InputValidationError(
            f"The protected attribute {protected!r} is not a column of the data; columns: "
            f"{cap_list([str(c) for c in data.columns])}.")
    group_values = None if protected is None else data[protected].astype(str)
    names = None if group_values is None else sorted(group_values.unique())
    gates = [parse_gate(t, names) for t in gates_text]
    out = Path(out)
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    common = dict(target=target, protected=protected, id_column=id_column, report=report,
                  trust_pickle=trust_pickle, **audit_options)
    audit_a = audit(model_a, data, schema, out / "model_a", **common)
    audit_b = audit(model_b, data, schema, out / "model_b", **common)
    ids = data[id_column] if id_column is not None else pd.Series(data.index)
    table = compare_tables(audit_a.results, audit_b.results, ids.reset_index(drop=True),
                           None if group_values is None else group_values.reset_index(
                               drop=True))
    overall = figures(table)
    by_group = {} if names is None else {
        g: figures(table[table["group"] == g]) for g in names}
    summary: dict[str, Any] = {
        "target": str(audit_a.summary.get("target")), "norm": audit_a.summary.get("norm"),
        "protected": protected, "overall": overall, "groups": by_group,
        "gates": evaluate_gates(gates, overall, by_group), "metrics": METRICS,
        "lists": {k: _listing(table, k) for k in ("lost_recourse", "newly_denied",
                                                  "gained_recourse", "newly_approved")},
    }
    summary["passed"] = not any(g["failed"] for g in summary["gates"])
    files = _write(out, table, summary, report)
    return CompareResult(out=out, table=table, summary=summary, audit_a=audit_a,
                         audit_b=audit_b, files=files)


def _listing(table: pd.DataFrame, transition: str) -> list[dict[str, Any]]:
    rows = table[table["transition"] == transition]
    keep = ["id", "status_a", "cost_a", "status_b", "cost_b"] + (
        ["group"] if "group" in table.columns else [])
    return [{k: _plain(v) for k, v in r.items()} for r in rows[keep].to_dict("records")]


def _plain(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _write(out: Path, table: pd.DataFrame, summary: dict[str, Any],
           report: bool) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files: dict[str, Path] = {}
    ids = table["id"].map(str) if table["id"].dtype == object else table["id"]
    arrow = pa.Table.from_pandas(table.assign(id=ids), preserve_index=False)
    path = out / "compare.parquet"
    atomic_write(path, lambda p: pq.write_table(arrow, p))
    files["table"] = path
    text = json.dumps(summary, indent=2, default=_plain)
    path = out / "compare.json"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    files["summary_json"] = path
    if report:
        from recourse.audit.report import _env

        ctx = {"s": summary, "limit": LIST_LIMIT}
        md = _env(markdown=True).get_template("compare.md.j2").render(**ctx)
        path = out / "compare.md"
        atomic_write(path, lambda p: p.write_text(md, encoding="utf-8"))
        files["summary_md"] = path
        html = _env().get_template("compare.html.j2").render(plots=_plots(table), **ctx)
        path = out / "compare.html"
        atomic_write(path, lambda p: p.write_text(html, encoding="utf-8"))
        files["report"] = path
    return files


def _plots(table: pd.DataFrame) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from recourse.audit.report import _png

    plots: dict[str, str] = {}
    change = table["cost_change"].dropna().to_numpy(dtype=float)
    if change.size:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(change, bins=min(30, max(5, change.size // 3)), color="#4c72b0")
        ax.axvline(0, color="#333", lw=1)
        ax.set_xlabel("cost under B - cost under A")
        ax.set_ylabel("applicants")
        ax.set_title("Change in the cost of recourse (denied by both, recourse under both)")
        plots["cost_change"] = _png(fig)
    counts = table["transition"].value_counts()
    counts = [(k, int(counts.get(k, 0))) for k in TRANSITIONS if counts.get(k, 0)]
    if counts:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(counts) + 1))
        ax.barh([k for k, _ in counts][::-1], [v for _, v in counts][::-1], color="#55a868")
        ax.set_xlabel("applicants")
        ax.set_title("What the new model changes")
        plots["transitions"] = _png(fig)
    return plots

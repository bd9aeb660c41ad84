"""The audit's figures: recourse rate, cost and L0 distributions, most frequent changes,
the no-recourse list, and the same figures per group of a protected attribute.

Everything here is computed from the audit table (one row per applicant, see
:mod:`recourse.audit.rows`) with pandas; nothing is re-solved. The table is read through
:class:`~recourse.audit.table.ResultsView`: the flat columns of every row, the ``changes``
column one batch at a time, and the listings capped at :data:`~recourse.audit.table.LIST_CAP`
applicants each (their counts are complete), so a portfolio's audit is summarised without
holding its rows' answers in memory. Rates are shares of the
applicants with a usable row (``invalid_input`` rows are counted and listed, but not in
the denominators).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from recourse.audit.rows import HAS_RECOURSE
from recourse.audit.table import LIST_CAP, ResultsView

__all__ = ["change_label", "distribution", "invalid_rows_text", "summarize"]

_QUANTILES = {"p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}
#: Statuses without an answer to "is there recourse?".
UNRESOLVED = ("time_limit", "error")


def distribution(values: pd.Series) -> dict[str, float | int | None]:
    """Count, mean, min, quantiles and max of the non-missing values."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    out: dict[str, float | int | None] = {"count": int(v.size)}
    if v.size == 0:
        out.update({k: None for k in ("mean", "min", *_QUANTILES, "max")})
        return out
    out["mean"] = float(v.mean())
    out["min"] = float(v.min())
    for name, q in _QUANTILES.items():
        out[name] = float(np.quantile(v, q))
    out["max"] = float(v.max())
    return out


def change_label(change: dict[str, Any]) -> str:
    """``credit_amount: decrease`` for a number, ``housing: rent → own`` for a category."""
    delta = change.get("delta")
    if delta is not None and not (isinstance(delta, float) and np.isnan(delta)):
        return f"{change['feature']}: {'increase' if delta > 0 else 'decrease'}"
    return f"{change['feature']}: {change['before']} → {change['after']}"


def _rates(frame: pd.DataFrame) -> dict[str, Any]:
    valid = frame[frame["status"] != "invalid_input"]
    n = len(valid)
    has = valid["status"].isin(HAS_RECOURSE)
    answered = valid[has]
    return {
        "n": int(len(frame)),
        "n_valid": int(n),
        "n_recourse": int(has.sum()),
        "n_no_recourse": int((valid["status"] == "no_recourse").sum()),
        "n_unresolved": int(valid["status"].isin(UNRESOLVED).sum()),
        "n_already_target": int((valid["status"] == "already_target").sum()),
        "recourse_rate": float(has.mean()) if n else None,
        "no_recourse_rate": float((valid["status"] == "no_recourse").mean()) if n else None,
        "proven_optimal_rate": float(answered["optimal"].mean()) if len(answered) else None,
        "median_cost": float(answered["cost"].median()) if len(answered) else None,
        "mean_cost": float(answered["cost"].mean()) if len(answered) else None,
        "median_l0": float(answered["l0"].median()) if len(answered) else None,
        "median_n_changes": float(answered["n_changes"].median()) if len(answered) else None,
    }


def _top(counter: Counter[str], n_base: int, k: int, key: str) -> list[dict[str, Any]]:
    return [{key: name, "count": int(c), "share": c / n_base if n_base else None}
            for name, c in counter.most_common(k)]


def _listing(view: ResultsView, statuses: tuple[str, ...], cap: int) -> list[dict[str, Any]]:
    rows = view.select(["id", "status", "message"], statuses, limit=cap)
    return [{"id": _plain(r.id), "status": r.status, "message": r.message}
            for r in rows.itertuples(index=False)]


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _group_figures(frame: pd.DataFrame, groups: pd.Series, attribute: str) -> dict[str, Any]:
    from scipy import stats

    keyed = frame.assign(_group=groups.astype(str).to_numpy())
    rows = []
    for name, part in keyed.groupby("_group", sort=True):
        rows.append({"group": str(name), **_rates(part.drop(columns="_group"))})
    rated = [r for r in rows if r["recourse_rate"] is not None]
    costed = [r for r in rows if r["median_cost"] is not None]
    out: dict[str, Any] = {"attribute": attribute, "rows": rows,
                           "recourse_rate_gap": None, "median_cost_gap": None}
    if len(rated) >= 2:
        hi = max(rated, key=lambda r: r["recourse_rate"])
        lo = min(rated, key=lambda r: r["recourse_rate"])
        out["recourse_rate_gap"] = hi["recourse_rate"] - lo["recourse_rate"]
        out["recourse_rate_highest"], out["recourse_rate_lowest"] = hi["group"], lo["group"]
        table = np.array([[r["n_recourse"], r["n_valid"] - r["n_recourse"]] for r in rated])
        if (table.sum(axis=0) > 0).all():
            out["recourse_rate_p_value"] = float(stats.chi2_contingency(table)[1])
    if len(costed) >= 2:
        hi = max(costed, key=lambda r: r["median_cost"])
        lo = min(costed, key=lambda r: r["median_cost"])
        out["median_cost_gap"] = hi["median_cost"] - lo["median_cost"]
        out["median_cost_highest"], out["median_cost_lowest"] = hi["group"], lo["group"]
        samples = [part.loc[part["status"].isin(HAS_RECOURSE), "cost"].to_numpy(dtype=float)
                   for _, part in keyed.groupby("_group", sort=True)]
        samples = [s for s in samples if s.size]
        pooled = np.concatenate(samples)
        if len(samples) >= 2 and np.unique(pooled).size > 1:
            out["cost_p_value"] = float(stats.kruskal(*samples)[1])
    return out


def summarize(frame: pd.DataFrame | ResultsView, *, groups: pd.Series | None = None,
              protected: str | None = None, n_rows: int | None = None,
              select: str = "denied", top: int = 10,
              list_cap: int = LIST_CAP) -> dict[str, Any]:
    """The audit's figures as plain data (the content of ``summary.json``).

    Parameters
    ----------
    frame : DataFrame or ResultsView
        The audit table (``results.parquet``), or a view of it.
    groups : Series, optional
        The protected attribute's value for each row of ``frame`` (same order).
    protected : str, optional
        The attribute's name.
    n_rows : int, optional
        Rows of the input data (audited or not).
    select : str
        How applicants were selected (``"denied"`` or ``"all"``).
    top : int
        Length of the most-frequent-changes lists.
    list_cap : int
        Most applicants named in each of the ``no_recourse``, ``invalid_input`` and
        ``unresolved`` lists (in table order; the counts are in ``overall`` and
        ``status_counts``, every applicant in ``results.parquet``).

    Returns
    -------
    dict
        ``overall`` (counts and rates), ``status_counts``, ``cost``, ``l1_cost``, ``l0``
        and ``n_changes`` distributions, ``n_changes_histogram``, ``top_features``,
        ``top_changes``, ``no_recourse`` (every applicant with a proof that no allowed
        change works; the first ``list_cap``), ``invalid_input``, ``unresolved`` (the
        same), ``list_cap``, ``time``, and ``groups`` when ``groups`` is given.
    """
    view = frame if isinstance(frame, ResultsView) else ResultsView(frame)
    frame = view.flat()
    answered = frame[frame["status"].isin(HAS_RECOURSE)]
    features: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    for batch in view.batches(["changes"], HAS_RECOURSE):
        for chs in batch["changes"]:
            for ch in list(chs) if chs is not None else []:
                features[ch["feature"]] += 1
                changes[change_label(ch)] += 1
    hist = answered["n_changes"].value_counts().sort_index()
    summary: dict[str, Any] = {
        "n_rows": n_rows, "select": select,
        "target": str(frame["target"].iloc[0]) if len(frame) else None,
        "norm": str(frame["norm"].iloc[0]) if len(frame) else None,
        "overall": _rates(frame),
        "status_counts": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
        "cost": distribution(answered["cost"]),
        "l1_cost": distribution(answered["l1_cost"]),
        "l0": distribution(answered["l0"]),
        "n_changes": distribution(answered["n_changes"]),
        "n_changes_histogram": {str(int(k)): int(v) for k, v in hist.items()},
        "top_features": _top(features, len(answered), top, "feature"),
        "top_changes": _top(changes, len(answered), top, "change"),
        "no_recourse": _listing(view, ("no_recourse",), list_cap),
        "invalid_input": _listing(view, ("invalid_input",), list_cap),
        "unresolved": _listing(view, UNRESOLVED, list_cap),
        "list_cap": int(list_cap),
        "time": distribution(frame.loc[frame["status"] != "invalid_input", "total_time"]),
    }
    if groups is not None:
        if len(groups) != len(frame):
            raise ValueError(f"groups has {len(groups)} values for {len(frame)} rows.")
        summary["groups"] = _group_figures(frame, groups, protected or "group")
    return summary


def invalid_rows_text(summary: dict[str, Any], limit: int = 10) -> list[str]:
    """Lines naming the audit's invalid rows and why (for the console; every one of them
    is in ``summary.md``, ``report.html`` and ``results.parquet``)."""
    rows = summary.get("invalid_input") or []
    if not rows:
        return []
    n = int(summary.get("status_counts", {}).get("invalid_input", len(rows)))
    lines = [f"{n} row{'s' if n != 1 else ''} with invalid input (not searched):"]
    lines += [f"  {r['id']}: {r['message']}" for r in rows[:limit]]
    if n > min(limit, len(rows)):
        lines.append(f"  ... and {n - min(limit, len(rows))} more (see results.parquet).")
    return lines

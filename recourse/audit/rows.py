"""One audit row per applicant: a :class:`~recourse.result.RecourseResult` as plain columns.

The row layout is a fixed Arrow schema, so every chunk file of an audit has the same columns
and types whichever process wrote it. The recommended changes are one structured column
(a list of ``{feature, before, after, before_value, after_value, delta, cost, role}``), so the
table stays one row per applicant.

``before`` and ``after`` are the values as text, for every feature (a category level such as
``"... >= 7 years"``, or a number written as ``"20"``); ``before_value`` and ``after_value``
are the same values as numbers (``float64``) for numeric features and null for category
levels, so pandas, DuckDB or Spark can aggregate them without parsing text.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

from recourse.result import STATUSES, RecourseResult
from recourse.stats import Stats

__all__ = ["AUDIT_STATUSES", "CHANGE_TYPE", "HAS_RECOURSE", "OPTION_COST", "arrow_schema",
           "change_rows", "error_row",
           "result_row", "robust_columns", "value_text"]

#: Every status an audit row can have: the engine's statuses plus ``invalid_input``.
AUDIT_STATUSES = {
    **STATUSES,
    "invalid_input": "the applicant's row could not be used (missing value, unknown category, "
    "non-numeric value, ...): see message; no recourse was searched",
}

#: Statuses of applicants with a verified counterfactual.
HAS_RECOURSE = ("optimal", "feasible")

#: Arrow type of one recommended change.
CHANGE_TYPE = pa.struct([
    ("feature", pa.string()),
    ("before", pa.string()),
    ("after", pa.string()),
    ("before_value", pa.float64()),  # the value as a number; null for a category level
    ("after_value", pa.float64()),
    ("delta", pa.float64()),   # after - before for numeric features; null for categories
    ("cost", pa.float64()),    # the change's share of the weighted L1 cost
    ("role", pa.string()),     # "action", or "consequence" (causal recourse: it follows)
])


#: Arrow type of one entry of ``cost_without``: an option and the optimal cost without it
#: (null: no recourse without it either).
OPTION_COST = pa.struct([("option", pa.string()), ("cost", pa.float64())])


def arrow_schema(id_type: pa.DataType) -> pa.Schema:
    """The columns of an audit table; ``id_type`` is ``int64`` or ``string``."""
    return pa.schema([
        ("id", id_type),
        ("position", pa.int64()),         # 0-based row of the applicant in the input data
        ("status", pa.string()),
        ("message", pa.string()),
        ("target", pa.string()),
        ("predicted", pa.string()),
        ("norm", pa.string()),
        ("cost", pa.float64()),           # cost under the audit's norm
        ("l1_cost", pa.float64()),
        ("l0", pa.float64()),             # weighted number of changed features
        ("n_changes", pa.int64()),        # plain number of changed features
        ("bound", pa.float64()),
        ("gap", pa.float64()),
        ("optimal", pa.bool_()),          # proven by the solver
        ("verified", pa.bool_()),         # the model's own predict gives the target
        ("solve_time", pa.float64()),
        ("total_time", pa.float64()),
        ("changes", pa.list_(CHANGE_TYPE)),
        # believable / robust recourse (null when the option was off)
        ("min_margin", pa.float64()),     # the margin asked for
        ("margin", pa.float64()),         # the margin the model's own scores give the answer
        ("cost_without", pa.list_(OPTION_COST)),  # optimal cost without each option
        ("plausibility_score", pa.float64()),  # isolation-forest score_samples (PlausibleModel)
        ("unseen_pairs", pa.int64()),     # category pairs absent from the data (SeenTogether)
        ("support", pa.int64()),          # data rows within the radius (DataSupport)
        ("support_distance", pa.float64()),  # distance to the k-th nearest row (DataSupport)
        ("blocking_options", pa.list_(pa.string())),  # options that block recourse
    ])


def value_text(value: Any) -> str:
    """A feature value as text: whole numbers without ``.0``, other floats in full."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isfinite(x) and x == round(x) and abs(x) < 2**53:
            return str(int(round(x)))
        return repr(x)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, str)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _opt(x: float | None) -> float | None:
    return None if x is None else float(x)


def change_rows(result: RecourseResult) -> list[dict[str, Any]]:
    """The ``changes`` column of one answer: a dict per change (:data:`CHANGE_TYPE`)."""
    changes = []
    following = {c.feature for c in result.consequences}
    for c in result.changes:
        b, a = _number(c.before), _number(c.after)
        changes.append({
            "feature": str(c.feature),
            "before": value_text(c.before),
            "after": value_text(c.after),
            "before_value": b,
            "after_value": a,
            "delta": None if a is None or b is None else a - b,
            "cost": float(result.feature_costs.get(c.feature, 0.0)),
            "role": "consequence" if c.feature in following else "action",
        })
    return changes


def result_row(ident: Any, position: int, result: RecourseResult) -> dict[str, Any]:
    """The audit row of one answered applicant."""
    changes = change_rows(result)
    return {
        "id": ident,
        "position": int(position),
        "status": result.status,
        "message": result.message,
        "target": str(result.target),
        "predicted": str(result.predicted),
        "norm": result.norm,
        "cost": _opt(result.cost),
        "l1_cost": _opt(result.l1_cost),
        "l0": _opt(result.l0),
        "n_changes": len(changes),
        "bound": _opt(result.bound),
        "gap": _opt(result.gap),
        "optimal": bool(result.optimal),
        "verified": bool(result.verified),
        "solve_time": float(result.solve_time),
        "total_time": float(result.total_time),
        "changes": changes,
        **robust_columns(result.stats),
    }


def robust_columns(stats: Stats) -> dict[str, Any]:
    """The believable/robust columns of a result's ``stats`` (None where absent).

    ``cost_without`` lists ``{option, cost}``: the optimal cost with that option switched
    off (``stats.cost_without``, e.g. ``{"min_margin": 0.14, "seen_together": 0.14}``;
    cost null when there is no recourse without it either; a ModelSet's models alone as
    ``models[i]``); None when no option was priced. ``margin`` is the least over a
    ModelSet's models. ``blocking_options`` names the options that block a ``no_recourse``."""
    without = stats.cost_without or {}
    pairs = stats.unseen_pairs
    blocking = stats.blocking_options or (
        [stats.blocking_option] if stats.blocking_option else None)
    entries = []
    for k, v in without.items():  # a ModelSet prices each model alone: "models[i]"
        if isinstance(v, (list, tuple)):
            entries += [{"option": f"{k}[{i}]", "cost": _opt(c)} for i, c in enumerate(v)]
        else:
            entries.append({"option": str(k), "cost": _opt(v)})
    margin = stats.margin
    if isinstance(margin, (list, tuple)):  # a ModelSet: each model's; the least binds
        margin = min(margin) if margin else None
    return {
        "min_margin": _opt(stats.min_margin),
        "margin": _opt(margin),
        "cost_without": entries or None,
        "plausibility_score": _opt(stats.plausibility_score),
        "unseen_pairs": None if pairs is None else int(pairs),
        "support": None if stats.support is None else int(stats.support),
        "support_distance": _opt(stats.support_distance),
        "blocking_options": None if blocking is None else [str(b) for b in blocking],
    }


def error_row(ident: Any, position: int, status: str, message: str, *, target: Any,
              norm: str, total_time: float = 0.0) -> dict[str, Any]:
    """The audit row of an applicant without an answer (``invalid_input`` or ``error``)."""
    if status not in AUDIT_STATUSES:
        raise ValueError(f"Unknown audit status {status!r}; known: {list(AUDIT_STATUSES)}.")
    return {
        "id": ident, "position": int(position), "status": status, "message": message,
        "target": str(target), "predicted": None, "norm": norm, "cost": None,
        "l1_cost": None, "l0": None, "n_changes": 0, "bound": None, "gap": None,
        "optimal": False, "verified": False, "solve_time": 0.0,
        "total_time": float(total_time), "changes": [],
        **robust_columns(Stats()),
    }

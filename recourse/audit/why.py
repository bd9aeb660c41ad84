"""Why an audited applicant has no recourse: the preclusion analysis as audit columns, and
the per-rule figures of the summary.

With ``audit(..., why=True | N)`` every applicant whose answer is ``no_recourse`` is asked
*why* (``RecourseEngine.explain(..., why=N)``, :mod:`recourse.engine.preclusion`) within
the audit's own per-applicant time limit: the engine hands the preclusion analysis what is
left of the query's deadline. The answer is stored in the applicant's row:

``why_sets``
    The minimal relaxation sets, fewest rules first, each a struct ``{rules, texts, cost,
    verified, changes}``: ``rules`` the stable rule keys (``"immutable:debt"``,
    ``"lower:income"``, ``"option:min_margin"``), ``texts`` the same rules in words with
    the schema's display labels ("Debt is immutable"), ``cost`` the cheapest
    counterfactual's cost under those relaxed rules (null when it was not verified),
    ``verified`` whether the model's own ``predict`` confirmed it, ``changes`` that
    counterfactual's changes (the type of the ``changes`` column, with raw feature names).
    Null when the analysis did not run (``why`` off, or another status).
``why_cost``
    The cheapest verified relaxation's cost (null when none was verified).
``why_complete``
    True when the enumeration proved there is no further minimal set (False: it stopped
    at its limit of ``N`` sets or at the deadline).
``why_time``
    Seconds the analysis took (inside the applicant's ``total_time`` budget).

The summary's per-rule table (:func:`rule_table`) counts, for every rule, the applicants
it *alone* precludes (relaxing that one rule alone restores recourse: a minimal set equal
to ``{rule}``) and the applicants for whom it takes part in some minimal set.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import pyarrow as pa

from recourse.audit.rows import CHANGE_TYPE, change_rows
from recourse.audit.summary import distribution
from recourse.audit.table import LIST_CAP, ResultsView
from recourse.encoders.errors import InputValidationError

__all__ = ["WHY_COLUMNS", "WHY_SET_TYPE", "check_relaxed_range", "check_why", "empty_why",
           "rule_table", "why_columns", "why_limit", "with_why"]


#: Arrow type of one minimal relaxation set.
WHY_SET_TYPE = pa.struct([
    ("rules", pa.list_(pa.string())),    # rule keys, e.g. "immutable:debt"
    ("texts", pa.list_(pa.string())),    # the rules in words, display labels
    ("cost", pa.float64()),              # cheapest counterfactual under the relaxed rules
    ("verified", pa.bool_()),            # confirmed by the model's own predict
    ("changes", pa.list_(CHANGE_TYPE)),
])

#: The audit columns this module fills, with their Arrow types.
WHY_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("why_sets", pa.list_(WHY_SET_TYPE)),
    ("why_cost", pa.float64()),
    ("why_complete", pa.bool_()),
    ("why_time", pa.float64()),
)


def with_why(schema: pa.Schema) -> pa.Schema:
    """The audit table's Arrow schema with the why columns appended."""
    for name, typ in WHY_COLUMNS:
        schema = schema.append(pa.field(name, typ))
    return schema


def check_why(why: Any) -> int:
    """``why`` as the most sets to report per applicant (0: off).

    Raises
    ------
    InputValidationError
        Not a bool nor a positive whole number.
    """
    if why is None or why is False:
        return 0
    if why is True:
        from recourse.engine.preclusion import DEFAULT_LIMIT

        return int(DEFAULT_LIMIT)
    if isinstance(why, int) and why >= 1:
        return int(why)
    raise InputValidationError(
        f"why must be True, False or a positive whole number (the most relaxation sets to "
        f"report per applicant without recourse), got {why!r}.")


def check_relaxed_range(schema: Any, relaxed_range: Any, why: int
                        ) -> dict[str, list[float]] | None:
    """``relaxed_range`` checked against ``schema``, as plain ``{feature: [low, high]}``
    sorted by name (part of the audit's identity), or None.

    Raises
    ------
    InputValidationError
        Given without ``why``; not a mapping; an unknown or non-numeric feature; a range
        that is not finite ``(low, high)`` with ``low <= high``.
    """
    import math

    if relaxed_range is None or (not why and not relaxed_range):
        return None
    if not why:
        raise InputValidationError(
            "relaxed_range only applies with why=True (or a number of sets); pass why or "
            "drop relaxed_range.")
    if not isinstance(relaxed_range, dict):
        raise InputValidationError(
            f"relaxed_range must be a mapping {{feature: (low, high)}}, got "
            f"{type(relaxed_range).__name__}.")
    out: dict[str, list[float]] = {}
    for name in sorted(relaxed_range):
        if name not in schema.names:
            raise InputValidationError(
                f"relaxed_range names {name!r}, which is not in the schema; known: "
                f"{schema.names}.")
        if schema[name].is_group:
            raise InputValidationError(
                f"relaxed_range gives a range for {name!r}, a {schema[name].kind} feature; "
                "ranges apply to numeric features only.")
        value = relaxed_range[name]
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputValidationError(
                f"relaxed_range[{name!r}] = {value!r}: give (low, high) numbers.") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise InputValidationError(
                f"relaxed_range[{name!r}] = {value!r}: give finite (low, high) with "
                "low <= high.")
        out[name] = [lo, hi]
    return out


def why_limit(why: int) -> bool | int:
    """The value ``explain(why=...)`` takes for a checked ``why`` (False when off)."""
    return False if why == 0 else why


def empty_why() -> dict[str, Any]:
    """The why columns of a row without the analysis (all null)."""
    return {name: None for name, _ in WHY_COLUMNS}


def why_columns(preclusion: Any) -> dict[str, Any]:
    """The why columns of one answer (``result.preclusion``; None: all null)."""
    if preclusion is None:
        return empty_why()
    sets = []
    for s in preclusion.sets:
        result = s.result
        changes = (change_rows(result) if result is not None and s.counterfactual is not None
                   else [])
        sets.append({"rules": [r.key for r in s.rules], "texts": [r.text for r in s.rules],
                     "cost": None if s.cost is None else float(s.cost),
                     "verified": bool(s.verified), "changes": changes})
    costs = [s["cost"] for s in sets if s["verified"] and s["cost"] is not None]
    return {"why_sets": sets, "why_cost": min(costs) if costs else None,
            "why_complete": bool(preclusion.complete), "why_time": float(preclusion.time)}


def _list(value: Any) -> list[Any]:
    """A list from a stored list (Python list, numpy array from pandas, or null)."""
    return [] if value is None else list(value)


def _num(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _sets(value: Any) -> list[dict[str, Any]]:
    return [{**dict(s), "rules": [str(k) for k in _list(s["rules"])],
             "texts": [str(t) for t in _list(s["texts"])], "cost": _num(s["cost"])}
            for s in _list(value)]


def rule_table(frame: pd.DataFrame | ResultsView,
               list_cap: int = LIST_CAP) -> dict[str, Any] | None:
    """Per rule: how many applicants it alone precludes and how many it takes part in
    (from the audit table's ``why_sets``, read in batches); None when no row was analysed.

    Returns
    -------
    dict or None
        ``n_analysed`` (no-recourse rows with an analysis), ``n_incomplete`` (of those,
        enumerations stopped at their limit or deadline: their counts are lower bounds),
        ``n_unopened`` (no relaxation of the rules considered opens recourse, proven),
        ``n_without_analysis`` (no-recourse rows without one), ``cheapest`` (the
        distribution of ``why_cost``), ``rules``: one dict per rule, ``rule`` (key),
        ``text``, ``alone`` and ``any``, most ``alone`` first; and ``applicants``: for the
        first ``list_cap`` analysed applicants, its ``id``, ``sets`` (``texts``, ``cost``,
        ``verified``), cheapest ``cost`` and ``complete``.
    """
    view = frame if isinstance(frame, ResultsView) else ResultsView(frame)
    if "why_sets" not in view.columns:
        return None
    alone: Counter[str] = Counter()
    anyset: Counter[str] = Counter()
    text: dict[str, str] = {}
    unopened = incomplete = n_nr = 0
    costs: list[float | None] = []
    applicants: list[dict[str, Any]] = []
    for batch in view.batches(["id", "why_sets", "why_complete", "why_cost"],
                              ("no_recourse",)):
        n_nr += len(batch)
        analysed = batch[batch["why_complete"].notna()]
        incomplete += int((~analysed["why_complete"].astype(bool)).sum())
        costs += [_num(c) for c in analysed["why_cost"]]
        for ident, value, complete, cost in zip(analysed["id"], analysed["why_sets"],
                                                analysed["why_complete"],
                                                analysed["why_cost"]):
            sets = _sets(value)
            if not sets and bool(complete):
                unopened += 1
            if len(applicants) < list_cap:
                applicants.append({
                    "id": ident.item() if hasattr(ident, "item") else ident,
                    "sets": [{"texts": s["texts"], "cost": s["cost"],
                              "verified": bool(s["verified"])} for s in sets],
                    "cost": _num(cost),
                    "complete": bool(complete)})
            seen: set[str] = set()
            for s in sets:
                keys = s["rules"]
                for k, t in zip(keys, s["texts"]):
                    text.setdefault(k, t)
                if len(keys) == 1:
                    alone[keys[0]] += 1
                seen.update(keys)
            anyset.update(seen)
    if not costs:
        return None
    order = sorted(anyset, key=lambda k: (-alone[k], -anyset[k], k))
    rules = [{"rule": k, "text": text.get(k, k), "alone": int(alone[k]),
              "any": int(anyset[k])} for k in order]
    return {
        "n_analysed": len(costs),
        "n_incomplete": incomplete,
        "n_unopened": int(unopened),
        "n_without_analysis": int(n_nr - len(costs)),
        "cheapest": distribution(pd.Series(costs, dtype=float)),
        "rules": rules,
        "applicants": applicants,
        "list_cap": int(list_cap),
    }

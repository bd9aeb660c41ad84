"""Every principal reason a letter states is checked first; the checks go to the appendix.

Two sources of reasons, two checks:

* **From the recourse options** (the default): a feature is a reason when a *verified*
  option changes it (the model's own ``predict`` approves the changed application). A
  feature that only an unverified option changes fails the check.
* **From an attribution method** (``reasons=``: scores from SHAP, LIME, integrated
  gradients, ... of ``recourse.analysis``, or any tool): the scores must explain the
  score of the *approval* class (negative = held the application back). Only features
  with a negative score are candidate reasons, most negative first. Each candidate gets
  the **ray test** (docs/theory.md §A4) along its own component of the attribution: does moving
  the feature in the direction ``phi_j`` points (``x + s·phi_j·e_j``, ``s > 0``) reach
  approval at a cost within the options' budget (the largest cost of a verified
  option shown in the letter, in the engine's cost units)?

  A ray along one coordinate is exactly the set of changes of that one feature in one
  direction, so the test is decided exactly by the engine itself, restricted to that
  feature and direction (every other feature held fixed, the schema's bounds and steps
  kept): its proven minimal cost is compared with the budget, and its answer is
  verified with the model's own ``predict``. An immutable feature, a direction the
  schema forbids, or a categorical feature (a score names no category to move to) fails
  without a search.

A reason that fails is never sent silently: it is withheld from the applicant (or, with
``failed_reasons="mark"``, printed with a mark for the bank's reviewer) and recorded
with the check in the appendix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recourse.encoders.errors import InputValidationError
from recourse.letters.text import fmt_value
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["ReasonCheck", "check_option_reasons", "check_attribution_reasons",
           "options_budget", "FAILED_REASONS"]

#: What happens to a reason that fails its check.
FAILED_REASONS = ("withhold", "mark")

_COST_TOL = 1e-9


@dataclass(frozen=True)
class ReasonCheck:
    """The check of one candidate principal reason.

    Attributes
    ----------
    feature : str
    source : str
        ``"recourse options"`` or the attribution method's name.
    score : float or None
        The attribution score (None for reasons from the options).
    backed : bool
        The check passed: the reason may be printed.
    check : str
        What was checked and its outcome, in words (for the appendix).
    cost : float or None
        The cost of the backing change (engine cost units), when there is one.
    """

    feature: str
    source: str
    score: float | None
    backed: bool
    check: str
    cost: float | None = None


def options_budget(results: Sequence[RecourseResult]) -> float | None:
    """The largest cost among the verified options (None without one)."""
    costs = [float(r.cost) for r in results if r.verified and r.cost is not None]
    return max(costs) if costs else None


def check_option_reasons(results: Sequence[RecourseResult], schema: FeatureSchema
                         ) -> list[ReasonCheck]:
    """One check per feature the options change (first occurrence, option order)."""
    out: list[ReasonCheck] = []
    seen: set[str] = set()
    following = set()
    for i, res in enumerate(results, 1):
        following = {c.feature for c in res.consequences}
        for c in res.changes:
            if c.feature in seen or c.feature in following:
                continue
            seen.add(c.feature)
            if res.verified:
                check = (f"changed by option {i}, which the model's own predict approves "
                         "(verified)")
            else:
                check = (f"changed only by option {i}, which could not be verified with the "
                         "model's own predict")
            out.append(ReasonCheck(c.feature, "recourse options", None, bool(res.verified),
                                   check, res.cost if res.verified else None))
    return out


def _ray_one_feature(model: Any, schema: FeatureSchema, applicant: Mapping[str, Any],
                     name: str, score: float, target: Any, budget: float | None,
                     time_limit: float) -> tuple[bool, str, float | None]:
    f = schema[name]
    if f.immutable:
        return False, "the schema marks this feature as unchangeable", None
    if f.kind == "categorical":
        return (False, "categorical: a score names no category to move to, so there is no "
                "direction to test", None)
    if score == 0:
        return False, "zero score: no direction", None
    way = "increase" if score > 0 else "decrease"
    if f.direction != "any" and f.direction != way:
        return (False, f"the attribution points to {way} it, but the schema allows only "
                f"{f.direction}", None)
    from recourse.engine import RecourseEngine

    sub = schema
    for g in schema:
        if g.name != name and not g.immutable:
            sub = sub.replace(g.name, immutable=True, direction="any",
                              reason="held fixed by the ray test")
    sub = sub.replace(name, direction=way)
    res = RecourseEngine(model, sub).explain(dict(applicant), target=target, norm="l1",
                                             time_limit=time_limit)
    if res.status == "no_recourse":
        return (False, f"ray test: proven that no {way} of this feature alone, within the "
                "schema's bounds, leads to approval", None)
    if res.status not in ("optimal", "feasible") or not res.verified or res.cost is None:
        return False, f"ray test undecided ({res.status}): {res.message}", None
    change = next((c for c in res.changes if c.feature == name), None)
    where = (f"{fmt_value(f, change.before)} to {fmt_value(f, change.after)}"
             if change is not None else "")
    if not res.optimal:
        return (False, f"ray test undecided: a change ({where}, cost {res.cost:.4g}) was "
                "found but not proven minimal", res.cost)
    if budget is not None and res.cost > budget * (1 + _COST_TOL) + _COST_TOL:
        return (False, f"ray test: the smallest {way} that leads to approval ({where}) costs "
                f"{res.cost:.4g}, more than the options' budget {budget:.4g}", res.cost)
    within = "no budget (no verified option)" if budget is None else (
        f"within the options' budget {budget:.4g}")
    return (True, f"ray test: moving it as the attribution points ({way}, {where}) leads to "
            f"approval at cost {res.cost:.4g}, {within}; verified with the model's own "
            "predict", res.cost)


def check_attribution_reasons(scores: Mapping[str, float], *, model: Any,
                              applicant: Mapping[str, Any], schema: FeatureSchema,
                              target: Any, budget: float | None, method: str,
                              limit: int = 4, max_checks: int = 10,
                              time_limit: float = 30.0) -> list[ReasonCheck]:
    """Check attribution reasons with the ray test (module docstring), most negative first,
    until ``limit`` pass or ``max_checks`` were made.

    Parameters
    ----------
    scores : mapping of feature name to score
        Attributions of the approval class's score (negative = held it back).
    model : fitted model
        The model the letter's options were computed with (its own ``predict`` decides).
    applicant : mapping
        The applicant's full row (every schema feature).
    budget : float or None
        :func:`options_budget` of the letter's options.

    Raises
    ------
    InputValidationError
        Unknown feature names, non-numeric scores, no fitted model, or an incomplete
        applicant row.
    """
    unknown = [n for n in scores if n not in schema]
    if unknown:
        raise InputValidationError(
            f"reasons= names features not in the schema: {sorted(unknown)[:5]}; give a "
            "mapping from the schema's feature names to attribution scores.")
    try:
        vals = {n: float(s) for n, s in scores.items()}
    except (TypeError, ValueError):
        raise InputValidationError("reasons= scores must be numbers (attributions of the "
                                   "approval class's score).") from None
    bad = [n for n, s in vals.items() if s != s or s in (float("inf"), float("-inf"))]
    if bad:
        raise InputValidationError(f"reasons= has non-finite scores for {bad[:5]}.")
    if model is None or isinstance(model, (str, bytes)) or not hasattr(model, "predict"):
        raise InputValidationError(
            "Checking attribution reasons needs the fitted model (model=, an object with "
            "predict), not a path: load it first (recourse.io.load_model).")
    missing = [f.name for f in schema if f.name not in applicant]
    if missing:
        raise InputValidationError(
            f"Checking attribution reasons needs the applicant's full row; missing "
            f"{missing[:5]}. Pass applicant= (the row the options were computed for).")
    out: list[ReasonCheck] = []
    candidates = sorted((kv for kv in vals.items() if kv[1] < 0), key=lambda kv: kv[1])
    for name, score in candidates:
        if sum(c.backed for c in out) >= limit or len(out) >= max_checks:
            break
        ok, check, cost = _ray_one_feature(model, schema, applicant, name, score, target,
                                           budget, time_limit)
        out.append(ReasonCheck(name, method, score, ok, check, cost))
    return out


def check_failed_policy(policy: str) -> str:
    if policy not in FAILED_REASONS:
        raise InputValidationError(
            f"failed_reasons must be one of {list(FAILED_REASONS)}; got {policy!r}.")
    return policy

"""Stage 1, validate: one applicant's request becomes a frozen :class:`Query`.

Everything a query needs is checked here, once, at the boundary (the applicant's row, the
norm, the target or utility, excluded change sets, the time limit); every later stage
trusts the query and never re-reads the user's input.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recourse.encoders.block import ThresholdLink
from recourse.encoders.cells import PLACEMENT
from recourse.encoders.errors import InputValidationError, cap_list
from recourse.encoders.isolation import IMPLAUSIBLE
from recourse.encoders.multi import DISAGREE
from recourse.encoders.pipeline import model_inputs
from recourse.engine.options.requests import Exclusions
from recourse.solvers.deadline import Deadline

if TYPE_CHECKING:  # pragma: no cover
    from recourse.engine.options.base import Option
    from recourse.engine.prepared import Prepared
    from recourse.utility import Utility

__all__ = ["NORMS", "Query", "SolveContext", "make_query", "as_name_sets"]

NORMS = ("l1", "l0", "l0_l1")


@dataclass(frozen=True)
class Query:
    """One applicant's request, validated (immutable; shared by every stage).

    ``goal`` is the score threshold of a utility query (``target`` is then the utility's
    text and ``t_idx`` 1), ``f0`` the applicant's own score; ``predicted`` the class the
    encoding's forward pass gives (the model's own ``predict`` confirms it together with
    the counterfactual).
    """

    row: dict[str, Any]
    x_true: np.ndarray
    x0: np.ndarray
    target: Any
    t_idx: int
    predicted: Any
    norm: str
    deadline: Deadline
    options: tuple[Option, ...] = ()
    excluded: tuple[tuple[int, ...], ...] = ()
    utility: Utility | None = None
    goal: float | None = None
    f0: float | None = None

    @property
    def score_margin(self) -> Any:
        for o in self.options:
            if o.score_margin is not None:
                return o.score_margin
        return None

    def without(self, names: set[str]) -> Query:
        """The same query with the options ``names`` switched off (for pricing)."""
        from dataclasses import replace

        return replace(self, options=tuple(o for o in self.options if o.name not in names))


@dataclass
class SolveContext:
    """One solve attempt of a query: the prepared model, the query, the options' fresh
    copies, the margins of this attempt, and what building the problem produced."""

    prepared: Prepared
    query: Query
    options: list[Option]
    margin: Any
    ties: float
    use_incumbent: bool
    model_margins: np.ndarray | None = None
    view: Any = None
    causal_vars: Any = None
    plain: Any = None  # value view: the plain problem the starting points come from
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def use_values(self) -> bool:
        return any(o.needs_values for o in self.options)


def as_name_sets(exclude: Iterable[Iterable[str]]) -> list[frozenset[str]]:
    if isinstance(exclude, (str, bytes)):
        raise InputValidationError(
            f"exclude must be a collection of sets of feature names, e.g. "
            f"[{{{str(exclude)!r}}}]; got the string {exclude!r}.")
    out = []
    for S in exclude:
        if isinstance(S, (str, bytes)):
            raise InputValidationError(
                f"exclude must hold sets of feature names, got the string {S!r}; write "
                f"[{{{S!r}}}] to exclude changing {S!r}.")
        out.append(frozenset(str(n) for n in S))
    return out


def exclusions(names: list[str], exclude: Iterable[Iterable[str]]) -> tuple[tuple[int, ...], ...]:
    """Feature-index tuples of the excluded change sets (validated)."""
    out: list[tuple[int, ...]] = []
    for S in as_name_sets(exclude):
        unknown = [n for n in S if n not in names]
        if unknown:
            raise InputValidationError(
                f"exclude names unknown features {cap_list(sorted(unknown))}; known "
                f"features: {cap_list(names)}.")
        if not S:
            raise InputValidationError(
                "exclude holds an empty change set, which would forbid every answer; "
                "give sets of feature names, e.g. exclude=[{'credit_amount'}].")
        idx = tuple(sorted(names.index(n) for n in S))
        if idx not in out:
            out.append(idx)
    return tuple(out)


def make_query(P: Prepared, applicant: Any, *, target: Any, norm: str, deadline: Deadline,
               utility: Utility | None, exclude: Iterable[Iterable[str]],
               options: tuple[Option, ...]) -> Query:
    """Validate one request (see module docstring)."""
    if norm not in NORMS:
        raise InputValidationError(
            f"The 'norm' parameter must be one of {NORMS}. Got {norm!r} instead.")
    excluded = exclusions(P.schema.names, exclude)
    if utility is not None:
        _check_utility(P, utility, target, excluded, options)
    elif P.encoding.decision == "score":
        raise InputValidationError(
            "The model is a regressor: say what the prediction must reach with utility="
            "Utility.reach(tau), Utility.increase(tau) or Utility.relative_increase(p).")
    row = P.schema.validate_row(applicant)
    x_true = P.space.encode(row)
    x0 = resolve_boundaries(P, x_true, row)
    if excluded:
        options = (Exclusions(excluded, P.schema.names),) + options  # rows first
    if utility is not None:
        from recourse.utility import model_score

        f0 = float(model_score(P.model, P.schema, [row])[0])
        return Query(row=row, x_true=x_true, x0=x0, target=str(utility), t_idx=1,
                     predicted=f0, norm=norm, deadline=deadline, options=options,
                     excluded=excluded, utility=utility, goal=utility.threshold(f0), f0=f0)
    predicted = P.classes[int(P.encoding.predict_index(x0[None, :])[0])]
    target = resolve_target(P.classes, target, predicted)
    return Query(row=row, x_true=x_true, x0=x0, target=target,
                 t_idx=P.classes.index(target), predicted=predicted, norm=norm,
                 deadline=deadline, options=options, excluded=excluded)


def _check_utility(P: Prepared, utility: Any, target: Any, excluded: Any,
                   options: tuple[Option, ...]) -> None:
    from recourse.utility import Utility

    if target is not None:
        raise InputValidationError("Give either target= (a class) or utility=, not both.")
    if not isinstance(utility, Utility):
        raise InputValidationError(
            f"utility must be a recourse.Utility (Utility.reach / increase / "
            f"relative_increase), got {type(utility).__name__}.")
    if P.causal is not None:
        raise InputValidationError(
            "utility= cannot be combined with a causal model yet; name the class to "
            "reach with target=..., or build the engine without causal=.")
    if excluded:
        raise InputValidationError(
            "exclude= cannot be combined with utility= yet; ask for options with a "
            "target class, or drop exclude=.")
    if any(o.name == "support" for o in options):
        raise InputValidationError(
            "utility= cannot be combined with enforced data support yet; name the "
            "class to reach with target=..., or use DataSupport(..., enforce=False).")
    if any(o.score_margin is not None for o in options):
        raise InputValidationError(
            "min_margin cannot be combined with utility= (a utility is already a threshold "
            "on the score); raise the utility's threshold instead.")
    if P.encoding.score.shape[0] != 1:
        raise InputValidationError(
            "A score utility needs a regressor or a binary classifier (one score); for a "
            "multiclass model name the class to reach with target=... instead.")


def resolve_target(classes: list[Any], target: Any, predicted: Any) -> Any:
    sentinels = (DISAGREE, IMPLAUSIBLE)  # "classes" of ModelSet / PlausibleModel
    real = [c for c in classes if not (isinstance(c, str) and c in sentinels)]
    if target is None and isinstance(predicted, str) and predicted == DISAGREE:
        raise InputValidationError(
            "The models of the ModelSet disagree on this applicant; name the class to "
            f"reach with target=... (one of {cap_list(real)}).")
    if target is None and isinstance(predicted, str) and predicted == IMPLAUSIBLE:
        raise InputValidationError(
            "The isolation forest finds this applicant implausible, so the model's own "
            "class is not the one to leave; name the class to reach with target=... "
            f"(one of {cap_list(real)}).")
    if target is None:
        if len(real) != 2:
            raise InputValidationError(
                f"The model has {len(real)} classes {cap_list(real)}; name "
                "the class to reach with target=...")
        return real[1] if predicted == real[0] else real[0]
    for c in real:
        if c == target or str(c) == str(target):
            return c
    raise InputValidationError(
        f"Unknown target class {target!r}; the model's classes are {cap_list(real)}.")


def resolve_boundaries(P: Prepared, x0: np.ndarray, row: dict[str, Any]) -> np.ndarray:
    """The applicant as the search sees it: a numeric value within float32 rounding of
    a split is moved a thousandth of a float32 cell to the side the model's own
    preprocessing puts it on (the float64 map back to user units cannot decide that)."""
    near = []
    for link in P.encoding.links:
        if (isinstance(link, ThresholdLink) and link.split is not None
                and link.spacing is not None):
            s = int(P.space.start[link.feature])
            idx = np.flatnonzero(np.abs(x0[s] - link.thresholds) <= 4 * link.spacing)
            if idx.size:
                near.append((link, s, idx))
    if not near:
        return x0
    frame = P.schema.row_frame(row)
    stacked = getattr(P.model, "stacked_inputs", None)  # ModelSet, PlausibleModel
    Z = (stacked(P.space, frame) if stacked is not None
         else model_inputs(P.model, P.space, frame))[0]
    x = x0.copy()
    for link, s, idx in near:
        assert link.split is not None and link.spacing is not None
        for i in idx:
            inp, t_m, a = link.split[i]
            right = float(np.float32(Z[int(inp)])) > t_m
            z = right == (a > 0)
            if bool(link.above(x[s])[i]) != z:
                gap = PLACEMENT * float(link.spacing[i])
                x[s] = float(link.thresholds[i]) + (gap if z else -gap)
    return x


def elapsed(deadline: Deadline) -> float:
    return time.perf_counter() - deadline.start

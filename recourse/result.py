"""The answer handed to users, letters and audits: :class:`RecourseResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from recourse.stats import Stats

if TYPE_CHECKING:  # pragma: no cover
    from recourse.engine.preclusion_result import Preclusion
    from recourse.robust import CertifiedBox

__all__ = ["Change", "OPTION_STOPS", "RecourseOptions", "RecourseResult", "STATUSES",
           "box_dict"]

#: Every status a result can have, and what it means.
STATUSES = {
    "optimal": "a verified counterfactual whose cost the solver proved minimal",
    "feasible": "a verified counterfactual; the solver stopped before proving it minimal "
    "(see gap and bound)",
    "no_recourse": "the solver proved that no change allowed by the action set reaches the "
    "target class",
    "time_limit": "the time limit was reached before any verified counterfactual was found",
    "already_target": "the model already predicts the target class: nothing needs to change",
    "error": "the solver failed or no candidate passed verification (see message)",
}


class Change(NamedTuple):
    """One recommended change, in the user's units."""

    feature: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RecourseResult:
    """Outcome of one recourse query.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    target : object
        The class the applicant should reach.
    predicted : object
        The model's prediction for the applicant as given.
    factual : dict
        The applicant's validated values.
    counterfactual : dict or None
        The recommended values (all features), or ``None`` when there is none.
    changes : list of Change
        ``(feature, before, after)`` for every feature that changes.
    cost : float or None
        Cost of ``counterfactual`` under the chosen norm (for ``l0_l1``: the L0 count).
    l1_cost, l0 : float or None
        The weighted L1 cost and the weighted number of changed features of the
        counterfactual, whatever the norm.
    bound : float or None
        A proven lower bound on the optimal cost: the solver's, or for tree models the
        engine's own reach bound when it is higher (``recourse.solvers.prune.reach_bound``).
    gap : float or None
        Relative gap ``(cost - bound) / cost`` (0 when proven).
    optimal : bool
        True only when the solver proved optimality.
    verified : bool
        True when the model's own ``predict`` gives ``target`` on ``counterfactual``.
    norm, backend : str
        Objective and solver used.
    solve_time, total_time : float
        Seconds in the solver and in the whole query (validation to verification).
    message : str
        A sentence explaining the status.
    feature_costs : dict
        L1 cost contribution of every changed feature.
    stats : Stats
        How the answer was found and proven, what each option costs, problem sizes
        (:class:`recourse.stats.Stats`, typed and documented).
    actions, consequences : list of Change
        With a causal model only: the changes the person makes (an action may keep a
        value, ``before == after``, to stop it following its causes) and those that follow
        from them through the structural equations. ``changes`` lists every changed
        feature either way.
    box : CertifiedBox or None
        With ``explain(..., box=True)``: the certified box around ``counterfactual``
        (every point in it is approved; see ``recourse.robust.certified_box``). None
        otherwise, or when the model does not support boxes (``stats.box_error``
        says why).
    preclusion : Preclusion or None
        With ``explain(..., why=True)`` on ``no_recourse``: the minimal sets of action-set
        rules and options whose relaxation opens recourse, each with its verified
        counterfactual (``recourse.engine.preclusion``). None otherwise.
    """

    status: str
    target: Any
    predicted: Any
    factual: dict[str, Any]
    counterfactual: dict[str, Any] | None = None
    changes: list[Change] = field(default_factory=list)
    cost: float | None = None
    l1_cost: float | None = None
    l0: float | None = None
    bound: float | None = None
    gap: float | None = None
    optimal: bool = False
    verified: bool = False
    norm: str = "l1"
    backend: str = "auto"
    solve_time: float = 0.0
    total_time: float = 0.0
    message: str = ""
    feature_costs: dict[str, float] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    actions: list[Change] = field(default_factory=list)
    consequences: list[Change] = field(default_factory=list)
    box: CertifiedBox | None = None
    preclusion: Preclusion | None = None

    @property
    def has_recourse(self) -> bool:
        """True when a verified counterfactual (or nothing to change) is available."""
        return self.verified and self.status in ("optimal", "feasible", "already_target")

    def changes_frame(self) -> pd.DataFrame:
        """The changes as a table: feature, before, after, cost."""
        return pd.DataFrame(
            [
                {"feature": c.feature, "before": c.before, "after": c.after,
                 "cost": self.feature_costs.get(c.feature, 0.0)}
                for c in self.changes
            ],
            columns=["feature", "before", "after", "cost"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serialisable apart from the user's own category values)."""
        return {
            "status": self.status,
            "target": self.target,
            "predicted": self.predicted,
            "changes": [c._asdict() for c in self.changes],
            "cost": self.cost,
            "l1_cost": self.l1_cost,
            "l0": self.l0,
            "bound": self.bound,
            "gap": self.gap,
            "optimal": self.optimal,
            "verified": self.verified,
            "norm": self.norm,
            "backend": self.backend,
            "solve_time": self.solve_time,
            "total_time": self.total_time,
            "message": self.message,
            "stats": self.stats.to_dict(),
            "actions": [c._asdict() for c in self.actions],
            "consequences": [c._asdict() for c in self.consequences],
            "box": None if self.box is None else box_dict(self.box),
        }

    def causal_summary(self) -> str:
        """One sentence: "If you do A and B, then C will follow." (empty without consequences)."""
        if not self.actions:
            return ""

        def say(c: Change) -> str:
            if c.before == c.after:
                return f"keep {c.feature} at {_num(c.after)}"
            return f"change {c.feature} from {_num(c.before)} to {_num(c.after)}"

        if not self.consequences:
            return ""
        acts = _join([say(c) for c in self.actions])
        cons = _join([f"{c.feature} will move from {_num(c.before)} to {_num(c.after)}"
                      for c in self.consequences])
        return f"If you {acts}, then {cons} as a consequence."

    def __str__(self) -> str:
        head = f"RecourseResult(status={self.status!r}, target={self.target!r}"
        if self.cost is not None:
            head += f", cost={self.cost:.4g}"
        head += f", verified={self.verified})"
        lines = [head] + [f"  {c.feature}: {c.before!r} -> {c.after!r}" for c in self.changes]
        return "\n".join(lines)


#: Why :meth:`recourse.RecourseEngine.options` returned the options it did.
OPTION_STOPS = {
    "k_reached": "as many options as requested were found",
    "exhausted": "the solver proved that no further distinct option exists (an answer)",
    "no_recourse": "the solver proved that no recourse exists at all (an answer)",
    "already_target": "the model already predicts the target class",
    "time_limit": "the search for the next option reached the time limit",
    "error": "the search for the next option failed (see message)",
}


@dataclass(frozen=True)
class RecourseOptions:
    """Up to ``k`` distinct recourse options for one applicant, cheapest first.

    Attributes
    ----------
    options : tuple of RecourseResult
        Verified answers; option ``i + 1`` changes neither the feature set of an earlier
        option nor a superset of it.
    requested : int
        The ``k`` asked for.
    stopped : str
        One of :data:`OPTION_STOPS`.
    message : str
        A sentence explaining ``stopped``.
    final : RecourseResult or None
        The query that ended the search (``no_recourse``, ``time_limit``, ...); None when
        ``k`` options were found.
    """

    options: tuple[RecourseResult, ...]
    requested: int
    stopped: str
    message: str = ""
    final: RecourseResult | None = None

    def __len__(self) -> int:
        return len(self.options)

    def __iter__(self) -> Any:
        return iter(self.options)

    def __getitem__(self, i: int) -> RecourseResult:
        return self.options[i]

    @property
    def first(self) -> RecourseResult | None:
        """The cheapest option (:meth:`RecourseEngine.explain`'s answer), if any."""
        return self.options[0] if self.options else None

    @property
    def change_sets(self) -> list[frozenset[str]]:
        """The set of changed features of every option."""
        return [frozenset(c.feature for c in r.changes) for r in self.options]


def box_dict(box: CertifiedBox) -> dict[str, Any]:
    """A certified box as plain data: ``bounds`` (``{feature: [low, high]}``), ``fixed``
    (``{feature: level}``), ``faces`` (``[{feature, side, reason}]``), ``checks``, ``time``."""
    return {
        "bounds": {n: [float(lo), float(hi)] for n, (lo, hi) in box.bounds.items()},
        "fixed": dict(box.fixed),
        "faces": [{"feature": n, "side": side, "reason": reason}
                  for (n, side), reason in box.faces.items()],
        "checks": int(box.checks),
        "time": float(box.time),
    }


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

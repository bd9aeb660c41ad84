"""What ``explain(..., why=True)`` reports on ``no_recourse``: the rules of the action set
(:class:`Rule`), each minimal set of them whose relaxation opens recourse with its verified
counterfactual (:class:`Relaxation`), and the whole answer (:class:`Preclusion`); computed
by ``recourse.engine.preclusion``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recourse.result import Change, RecourseResult
from recourse.schema import Feature

__all__ = ["Rule", "Relaxation", "Preclusion", "keys_sorted"]


@dataclass(frozen=True)
class Rule:
    """One rule of the action set (or a switchable option) that a relaxation may lift.

    ``kind`` is ``"immutable"``, ``"lower"``, ``"upper"``, ``"increase"``, ``"decrease"``
    or ``"option"``; ``feature`` the column (``None`` for an option), ``option`` the
    option's name; ``text`` the rule in words ("credit history is immutable"), ``relaxed``
    what lifting it allows ("duration may go down to 4").
    """

    kind: str
    feature: str | None
    text: str
    relaxed: str
    option: str | None = None
    value: float | None = None
    relaxed_to: float | None = None

    @property
    def key(self) -> str:
        return f"option:{self.option}" if self.kind == "option" else f"{self.kind}:{self.feature}"


@dataclass(frozen=True)
class Relaxation:
    """One minimal relaxation set and the cheapest counterfactual it allows.

    ``cost`` is the counterfactual's cost under the relaxed rules (the query's norm), from
    the engine re-run on the relaxed schema (``result``); ``verified`` says the model's
    own ``predict`` confirmed it; ``milp_cost`` is the enumeration's own optimum (equal up
    to solver tolerances when both are proven).
    """

    rules: tuple[Rule, ...]
    counterfactual: dict[str, Any] | None
    changes: list[Change]
    cost: float | None
    verified: bool
    milp_cost: float | None = None
    result: RecourseResult | None = field(default=None, repr=False, compare=False)
    note: str = ""

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.rules)

    def describe(self) -> str:
        """``{credit history is immutable}``."""
        return "{" + ", ".join(r.text for r in self.rules) + "}"


@dataclass(frozen=True)
class Preclusion:
    """Why an applicant has no recourse (see module docstring).

    Attributes
    ----------
    sets : tuple of Relaxation
        Minimal relaxation sets, fewest rules first (then cheapest).
    complete : bool
        True when the enumeration proved there is no further minimal set.
    rules : tuple of Rule
        Every rule considered.
    fixed : tuple of str
        Bounds kept because their relaxed range is no wider (pass ``reference`` rows to
        the engine, or ``relaxed_range``, to relax them).
    not_relaxed : tuple of str
        Kinds of rules never relaxed, and why.
    relaxed_range : dict
        ``{feature: (low, high)}`` for numeric features with a rule.
    time : float
        Seconds spent.
    """

    sets: tuple[Relaxation, ...]
    complete: bool
    rules: tuple[Rule, ...]
    fixed: tuple[str, ...] = ()
    not_relaxed: tuple[str, ...] = ()
    relaxed_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    time: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON output and audit rows)."""
        return {
            "complete": self.complete,
            "sets": [{"rules": [r.text for r in s.rules], "keys": sorted(s.keys),
                      "cost": s.cost, "verified": s.verified,
                      "changes": [c._asdict() for c in s.changes], "note": s.note}
                     for s in self.sets],
            "rules": [r.text for r in self.rules],
            "fixed": list(self.fixed),
            "not_relaxed": list(self.not_relaxed),
            "relaxed_range": {k: list(v) for k, v in self.relaxed_range.items()},
            "time": self.time,
        }

    def alone(self) -> list[Rule]:
        """Rules whose relaxation alone opens recourse (the single-rule sets)."""
        return [s.rules[0] for s in self.sets if len(s.rules) == 1]

    def summary(self, change_text: Callable[[Any], str] | None = None) -> str:
        """"precluded by {A} (relaxing it alone: cost 1.0, change ...) or by {B, C}";
        ``change_text`` words one change of a counterfactual (default: ``feature before ->
        after``; ``recourse.letters.note.preclusion_summary`` passes the schema's labels)."""
        if change_text is None:
            def change_text(c: Any) -> str:
                return f"{c.feature} {_v(c.before)} -> {_v(c.after)}"
        if not self.sets:
            return ("no relaxation of the rules considered opens recourse"
                    if self.complete else "no relaxation found in the time given")
        parts = []
        for s in self.sets:
            what = "it alone" if len(s.rules) == 1 else "them"
            if s.cost is not None:
                ch = ", ".join(change_text(c) for c in s.changes)
                parts.append(f"{s.describe()} (relaxing {what}: cost {s.cost:.4g}"
                             + (f", change {ch}" if ch else "") + ")")
            else:
                parts.append(f"{s.describe()} ({s.note or 'not verified'})")
        text = "precluded by " + " or by ".join(parts)
        if not self.complete:
            text += " (enumeration stopped at its limit: there may be more)"
        return text


def _v(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


# ----------------------------------------------------------------------------- rules
def _name(f: Feature) -> str:
    return f.display


def keys_sorted(S: frozenset[str], rules: list[Rule]) -> list[str]:
    return [r.key for r in rules if r.key in S]

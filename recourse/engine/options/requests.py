"""Options a query asks for: excluded change sets and a minimum margin."""

from __future__ import annotations

from typing import Any

import numpy as np

from recourse.engine.options.base import Option
from recourse.margins import margin_units, member_units, model_margin
from recourse.solvers.problem import exclude_change_sets

__all__ = ["Exclusions", "MinMargin"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return float(a) == float(b)
    return bool(a == b)


class Exclusions(Option):
    """Change sets the answer must not repeat: for each set ``S`` the row
    ``sum_{j in S} changed_j <= |S| - 1`` (``recourse.solvers.problem.exclude_change_sets``),
    so the answer is neither ``S`` nor a superset of it. A request, not switchable."""

    needs_indicators = True
    per_query = True

    def __init__(self, excluded: tuple[tuple[int, ...], ...], names: list[str]) -> None:
        self.excluded = excluded
        self.names = names

    def plain_rows(self, ctx: Any, prob: Any) -> Any:
        return exclude_change_sets(prob, list(self.excluded))

    def check(self, ctx: Any, row: dict[str, Any], cf: dict[str, Any]) -> list[str]:
        changed = {n for n in self.names if not _same(row[n], cf[n])}
        return [f"changes all of the excluded set {[self.names[j] for j in S]}"
                for S in self.excluded if {self.names[j] for j in S} <= changed]

    def report(self, ctx: Any, cf: dict[str, Any]) -> dict[str, Any]:
        return {"excluded": self.as_names()}

    def as_names(self) -> list[list[str]]:
        return [[self.names[j] for j in S] for S in self.excluded]


class MinMargin(Option):
    """Robust recourse: the target must win by ``min_margin`` in the model's own units
    (probability for forests and trees, else the decision function; for a ModelSet
    every model in its own units), checked with the model's own scores
    (``recourse.robust.model_margin``)."""

    name = "min_margin"
    adds_rows = False
    per_query = True

    def __init__(self, engine: Any, min_margin: Any) -> None:
        from recourse.encoders.errors import InputValidationError

        try:
            m = float(min_margin)
        except (TypeError, ValueError):
            m = float("nan")
        self.units = margin_units(engine)
        per = member_units(engine)
        prob_units = self.units == "probability" or any(u == "probability"
                                                        for u, _ in per or ())
        if not np.isfinite(m) or m < 0 or (prob_units and m >= 1):
            raise InputValidationError(
                f"min_margin must be a finite number >= 0 (and < 1 for a probability margin)"
                f"; got {min_margin!r}. It is in {self.units} units for this model.")
        self.m, self.per, self.engine = m, per, engine
        self._last: tuple[Any, np.ndarray] | None = None
        scale = (float(engine.encoding.info.get("n_trees", 1))
                 if self.units == "probability" else 1.0)
        self.score_margin = m * scale if per is None else tuple(m * f for _, f in per)
        self.text = (f"the margin min_margin={m:g} ({self.units}); lower min_margin to "
                     "obtain recourse")

    def _own(self, cf: dict[str, Any], target: Any) -> np.ndarray:
        """The model's own margin at ``cf`` (kept for the last point: the check and the
        report of one answer ask for the same one)."""
        key = (repr(target), tuple((k, repr(v)) for k, v in cf.items()))
        if self._last is None or self._last[0] != key:
            self._last = (key, model_margin(self.engine, [cf], target))
        return self._last[1]

    def check(self, ctx: Any, row: dict[str, Any], cf: dict[str, Any]) -> list[str]:
        got = float(np.min(self._own(cf, ctx.query.target)))
        if got < self.m - 1e-9 * max(1.0, self.m):
            return [f"wins by {got:.6g} in the model's own {self.units}, less than "
                    f"min_margin={self.m:g}"]
        return []

    def report(self, ctx: Any, cf: dict[str, Any]) -> dict[str, Any]:
        own = self._own(cf, ctx.query.target)
        return {"min_margin": self.m,
                "margin_units": self.units if self.per is None else [u for u, _ in self.per],
                "margin": (float(np.min(own)) if self.per is None
                           else [float(v) for v in own[:, 0]])}

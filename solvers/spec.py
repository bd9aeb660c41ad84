"""The action set lowered to plain arrays (no pandas, no user objects)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import SchemaError

__all__ = ["ActionSpec"]


@dataclass(frozen=True)
class ActionSpec:
    """Per-feature actionability and cost, aligned with ``space.names``.

    Attributes
    ----------
    space : SearchSpace
        Variable layout and numeric bounds (user units).
    mutable : ndarray of bool
        False for immutable features.
    direction : ndarray of int8
        +1 increase-only, -1 decrease-only, 0 either way (ordinal: by level order).
    ordered : ndarray of bool
        Ordinal groups: the L1 cost is proportional to the change of rank.
    unit_cost : ndarray of float
        L1 cost of one unit (numeric), one rank step (ordinal), or any change (categorical).
    l0_weight : ndarray of float
        L0 cost of changing the feature at all.
    """

    space: SearchSpace
    mutable: np.ndarray
    direction: np.ndarray
    ordered: np.ndarray
    unit_cost: np.ndarray
    l0_weight: np.ndarray

    def checked(self, n: int) -> ActionSpec:
        for name in ("mutable", "direction", "ordered", "unit_cost", "l0_weight"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise SchemaError(f"ActionSpec.{name} has shape {arr.shape}, expected ({n},).")
        if self.space.n_features != n:
            raise SchemaError("ActionSpec and its SearchSpace disagree on the number of features.")
        return self

    def level_costs(self, j: int, current: int) -> np.ndarray:
        """L1 cost of moving group feature ``j`` from level ``current`` to every level."""
        k = len(self.space.levels[j] or ())
        if self.ordered[j]:
            return self.unit_cost[j] * np.abs(np.arange(k) - current).astype(float)
        c = np.full(k, float(self.unit_cost[j]))
        c[current] = 0.0
        return c

    def allowed_levels(self, j: int, current: int) -> np.ndarray:
        """Boolean mask of levels group feature ``j`` may take from level ``current``."""
        k = len(self.space.levels[j] or ())
        ranks = np.arange(k)
        if not self.mutable[j]:
            return ranks == current
        if self.direction[j] > 0:
            return ranks >= current
        if self.direction[j] < 0:
            return ranks <= current
        return np.ones(k, dtype=bool)

    def numeric_range(self, j: int, x0: float) -> tuple[float, float]:
        """Reachable interval of numeric feature ``j`` from value ``x0``.

        The applicant's own value is always reachable, even when it lies outside the
        declared bounds (bounds constrain where a change may lead, not where one starts).
        """
        lo, hi = float(self.space.lower[j]), float(self.space.upper[j])
        if not self.mutable[j]:
            return x0, x0
        if self.direction[j] > 0:
            lo = x0
        elif self.direction[j] < 0:
            hi = x0
        return min(lo, x0), max(hi, x0)

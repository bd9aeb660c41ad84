"""Finite unions of real intervals with open or closed ends (exact 1D set arithmetic).

Used by :mod:`recourse.analysis.oned` for the sets ``L``, ``R`` and ``O`` of docs/theory.md §A10.
Infinite ends are always open.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "IntervalSet"]


@dataclass(frozen=True)
class Interval:
    """One interval ``lo .. hi``; ``lo_closed``/``hi_closed`` say whether the ends belong."""

    lo: float
    hi: float
    lo_closed: bool = True
    hi_closed: bool = True

    def __post_init__(self) -> None:
        if math.isnan(self.lo) or math.isnan(self.hi):
            raise ValueError("Interval ends must not be NaN.")
        if math.isinf(self.lo) and self.lo_closed:
            object.__setattr__(self, "lo_closed", False)
        if math.isinf(self.hi) and self.hi_closed:
            object.__setattr__(self, "hi_closed", False)

    @property
    def empty(self) -> bool:
        if self.lo > self.hi:
            return True
        if self.lo == self.hi:
            return not (self.lo_closed and self.hi_closed)
        return False

    def contains(self, x: float) -> bool:
        lo_ok = x > self.lo or (self.lo_closed and x == self.lo)
        hi_ok = x < self.hi or (self.hi_closed and x == self.hi)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        def num(v: float) -> str:
            return "∞" if v == math.inf else "−∞" if v == -math.inf else f"{v:.6g}"

        if self.lo == self.hi:
            return "{" + num(self.lo) + "}"
        return (("[" if self.lo_closed else "(") + num(self.lo) + ", " + num(self.hi)
                + ("]" if self.hi_closed else ")"))


class IntervalSet:
    """A finite union of disjoint, non-adjacent intervals, kept sorted (canonical form).

    Two sets are equal iff their canonical interval lists are equal, so tests can compare
    exact answers such as ``(−∞, 3/16] ∪ (13/16, ∞)``.
    """

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self.intervals: tuple[Interval, ...] = _canonical([iv for iv in intervals if not iv.empty])

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_tuples(cls, items: Iterable[tuple[float, float, bool, bool]]) -> IntervalSet:
        return cls(Interval(*t) for t in items)

    @classmethod
    def real_line(cls) -> IntervalSet:
        return cls([Interval(-math.inf, math.inf, False, False)])

    # ------------------------------------------------------------ queries
    def __iter__(self) -> Iterator[Interval]:
        return iter(self.intervals)

    def __len__(self) -> int:
        return len(self.intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(self.intervals)

    def __repr__(self) -> str:
        return f"IntervalSet({str(self)})"

    def __str__(self) -> str:
        return " ∪ ".join(str(iv) for iv in self.intervals) if self.intervals else "∅"

    @property
    def empty(self) -> bool:
        return not self.intervals

    def contains(self, x: float) -> bool:
        return any(iv.contains(x) for iv in self.intervals)

    def contains_many(self, xs: np.ndarray) -> np.ndarray:
        xs = np.asarray(xs, dtype=float)
        out = np.zeros(xs.shape, dtype=bool)
        for iv in self.intervals:
            lo = (xs > iv.lo) | ((xs == iv.lo) & iv.lo_closed)
            hi = (xs < iv.hi) | ((xs == iv.hi) & iv.hi_closed)
            out |= lo & hi
        return out

    def endpoints(self) -> list[float]:
        pts: set[float] = set()
        for iv in self.intervals:
            for v in (iv.lo, iv.hi):
                if math.isfinite(v):
                    pts.add(v)
        return sorted(pts)

    def length(self) -> float:
        return float(sum(iv.hi - iv.lo for iv in self.intervals))

    # ------------------------------------------------------------ algebra
    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet(list(self.intervals) + list(other.intervals))

    def complement(self) -> IntervalSet:
        out: list[Interval] = []
        prev, prev_closed = -math.inf, False
        for iv in self.intervals:
            out.append(Interval(prev, iv.lo, not prev_closed, not iv.lo_closed))
            prev, prev_closed = iv.hi, iv.hi_closed
        out.append(Interval(prev, math.inf, not prev_closed, False))
        if out and out[0].lo == -math.inf:
            out[0] = Interval(-math.inf, out[0].hi, False, out[0].hi_closed)
        return IntervalSet(out)

    def intersection(self, other: IntervalSet) -> IntervalSet:
        return self.complement().union(other.complement()).complement()

    def difference(self, other: IntervalSet) -> IntervalSet:
        return self.intersection(other.complement())

    def closure(self) -> IntervalSet:
        return IntervalSet(Interval(iv.lo, iv.hi, True, True) for iv in self.intervals)

    def issubset(self, other: IntervalSet) -> bool:
        return self.difference(other).empty


def _canonical(ivs: list[Interval]) -> tuple[Interval, ...]:
    """Sort and merge overlapping or touching intervals (touching: a shared end point
    that belongs to at least one of them)."""
    if not ivs:
        return ()
    ivs = sorted(ivs, key=lambda iv: (iv.lo, not iv.lo_closed))
    out = [ivs[0]]
    for iv in ivs[1:]:
        cur = out[-1]
        touch = iv.lo < cur.hi or (iv.lo == cur.hi and (cur.hi_closed or iv.lo_closed))
        if touch:
            if iv.hi > cur.hi:
                hi, hic = iv.hi, iv.hi_closed
            elif iv.hi == cur.hi:
                hi, hic = cur.hi, cur.hi_closed or iv.hi_closed
            else:
                hi, hic = cur.hi, cur.hi_closed
            out[-1] = Interval(cur.lo, hi, cur.lo_closed, hic)
        else:
            out.append(iv)
    return tuple(out)

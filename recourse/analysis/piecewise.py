"""A piecewise-linear function of one variable, :class:`PiecewiseLinear1D`: the exact
model of docs/theory.md §A9-A10 (breakpoints, slopes, jumps), with exact superlevel tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PiecewiseLinear1D"]


@dataclass(frozen=True)
class PiecewiseLinear1D:
    """``f(x) = slopes[k] x + intercepts[k]`` on the open piece ``(breaks[k−1], breaks[k])``
    (``breaks[−1] = −∞``, ``breaks[K] = +∞``) and ``f(breaks[k]) = point_values[k]``.

    Discontinuities are allowed (a tree restricted to a line); the value *at* a breakpoint
    is explicit.
    """

    breaks: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    point_values: np.ndarray

    def __post_init__(self) -> None:
        b = np.asarray(self.breaks, dtype=float)
        for name in ("breaks", "slopes", "intercepts", "point_values"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        if b.ndim != 1 or np.any(np.diff(b) <= 0) or not np.all(np.isfinite(b)):
            raise ValueError("breaks must be a finite, strictly increasing 1-D sequence.")
        k = b.size
        if self.slopes.shape != (k + 1,) or self.intercepts.shape != (k + 1,):
            raise ValueError(f"{k} breakpoints need {k + 1} slopes and intercepts.")
        if self.point_values.shape != (k,):
            raise ValueError(f"{k} breakpoints need {k} point values.")

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_points(cls, xs: Sequence[float], ys: Sequence[float], *, left_slope: float = 0.0,
                    right_slope: float = 0.0) -> PiecewiseLinear1D:
        """The continuous linear interpolant of ``(xs, ys)``, extended linearly outside."""
        x = np.asarray(xs, dtype=float)
        y = np.asarray(ys, dtype=float)
        if x.size < 1 or x.shape != y.shape:
            raise ValueError("xs and ys must be non-empty and of equal length.")
        inner = np.diff(y) / np.diff(x)
        slopes = np.concatenate([[left_slope], inner, [right_slope]])
        ints = np.concatenate([[y[0] - left_slope * x[0]], y[:-1] - inner * x[:-1],
                               [y[-1] - right_slope * x[-1]]])
        return cls(x, slopes, ints, y)

    @classmethod
    def from_steps(cls, breaks: Sequence[float], values: Sequence[float], *,
                   point_values: Sequence[float] | str = "right") -> PiecewiseLinear1D:
        """A step function: ``values[k]`` on piece ``k``; at a breakpoint the value of the
        piece on its ``"right"`` or ``"left"`` (sklearn trees: ``x <= t`` goes left), or
        explicit values."""
        b = np.asarray(breaks, dtype=float)
        v = np.asarray(values, dtype=float)
        if isinstance(point_values, str):
            if point_values not in ("left", "right"):
                raise ValueError("point_values must be 'left', 'right' or a sequence.")
            pv = v[1:] if point_values == "right" else v[:-1]
        else:
            pv = np.asarray(point_values, dtype=float)
        return cls(b, np.zeros(b.size + 1), v, pv)

    @classmethod
    def linear(cls, slope: float, intercept: float) -> PiecewiseLinear1D:
        return cls(np.zeros(0), np.array([slope]), np.array([intercept]), np.zeros(0))

    # ------------------------------------------------------------ evaluation
    @property
    def n_breaks(self) -> int:
        return int(self.breaks.size)

    def piece_of(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(piece index, is-a-breakpoint) for every ``x``; a breakpoint's own index is its
        position in ``breaks``."""
        x = np.asarray(x, dtype=float)
        k = np.searchsorted(self.breaks, x, side="left")
        at = np.zeros(x.shape, dtype=bool)
        inside = k < self.n_breaks
        at[inside] = self.breaks[k[inside]] == x[inside]
        return k, at

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        k, at = self.piece_of(x)
        out = self.slopes[k] * x + self.intercepts[k]
        if at.any():
            out = np.where(at, self.point_values[np.minimum(k, max(self.n_breaks - 1, 0))], out)
        return out

    def left_limits(self) -> np.ndarray:
        return self.slopes[:-1] * self.breaks + self.intercepts[:-1]

    def right_limits(self) -> np.ndarray:
        return self.slopes[1:] * self.breaks + self.intercepts[1:]

    @property
    def continuous(self) -> bool:
        lv, rv = self.left_limits(), self.right_limits()
        scale = 1.0 + np.abs(self.point_values)
        return bool(np.all(np.abs(lv - rv) <= 1e-12 * scale)
                    and np.all(np.abs(lv - self.point_values) <= 1e-12 * scale))

    def lipschitz(self) -> float:
        """Largest absolute slope (``inf`` for a discontinuous function)."""
        return math.inf if not self.continuous else float(np.max(np.abs(self.slopes)))

    def affine(self, a: float, b: float) -> PiecewiseLinear1D:
        """``a·f + b``."""
        return PiecewiseLinear1D(self.breaks, a * self.slopes, a * self.intercepts + b,
                                 a * self.point_values + b)

    # ------------------------------------------------------------ one-point test
    def exists_at_least(self, lo: float, hi: float, lo_closed: bool, hi_closed: bool,
                        c: float, strict_tol: float = 0.0) -> tuple[bool, float | None]:
        """Is there ``y`` in the window with ``f(y) >= c``? Returns ``(answer, witness)``.

        Exact: every piece is clipped to the window; at an open end of a clipped piece the
        one-sided limit counts if it exceeds ``c`` (points just inside then do), and a value
        equal to ``c`` counts only where attained. The witness is a point of the window with
        ``f(witness) >= c`` (for an open end, a point a hundredth of the clipped piece
        inside, which satisfies the test because ``f`` is affine there).
        """
        c = c - strict_tol
        if lo > hi or (lo == hi and not (lo_closed and hi_closed)):
            return False, None
        b = self.breaks
        # breakpoints inside the window
        i0 = int(np.searchsorted(b, lo, side="left" if lo_closed else "right"))
        i1 = int(np.searchsorted(b, hi, side="right" if hi_closed else "left"))
        hit = np.flatnonzero(self.point_values[i0:i1] >= c)
        if hit.size:
            return True, float(b[i0 + hit[0]])
        # open pieces meeting the window: k0 .. k1 (vectorised test, scalar witness)
        k0 = int(np.searchsorted(b, lo, side="right"))
        k1 = int(np.searchsorted(b, hi, side="left"))
        ks = np.arange(k0, k1 + 1)
        lows = np.concatenate([[-math.inf], b])[ks]
        highs = np.concatenate([b, [math.inf]])[ks]
        a_lo = np.maximum(lows, lo)
        a_lo_c = (lo > lows) & lo_closed
        a_hi = np.minimum(highs, hi)
        a_hi_c = (hi < highs) & hi_closed
        s_, t_ = self.slopes[ks], self.intercepts[ks]
        point = a_lo == a_hi
        nonempty = (a_lo < a_hi) | (point & a_lo_c & a_hi_c)
        with np.errstate(invalid="ignore"):
            end = np.where(s_ > 0, a_hi, a_lo)
            closed = np.where(s_ > 0, a_hi_c, a_lo_c)
            val = np.where(np.isfinite(end), s_ * end + t_, np.inf)
            ok = np.where(s_ == 0, t_ >= c, (closed & (val >= c)) | (val > c))
            ok = np.where(point, s_ * a_lo + t_ >= c, ok)
        ok &= nonempty
        idx = np.flatnonzero(ok)
        if not idx.size:
            return False, None
        j = int(idx[0])
        return True, self._witness(float(a_lo[j]), float(a_hi[j]), bool(a_lo_c[j]),
                                   bool(a_hi_c[j]), float(s_[j]), float(t_[j]), c)

    @staticmethod
    def _witness(a_lo: float, a_hi: float, a_lo_c: bool, a_hi_c: bool, s: float, t: float,
                 c: float) -> float:
        """A point of the clipped piece with ``s y + t >= c`` (known to exist)."""
        if a_lo == a_hi:
            return a_lo
        if s > 0 and math.isinf(a_hi):
            return float(max(a_lo + 1.0, (c - t) / s + 1.0))
        if s < 0 and math.isinf(a_lo):
            return float(min(a_hi - 1.0, (c - t) / s - 1.0))
        if s == 0:
            return _inner_point(a_lo, a_hi)
        end, closed = (a_hi, a_hi_c) if s > 0 else (a_lo, a_lo_c)
        val = s * end + t
        if closed and val >= c:
            return float(end)
        other = a_lo if s > 0 else a_hi
        if math.isinf(other):
            other = end - math.copysign(1.0, s)
        frac = min(0.01, (val - c) / (2 * abs(s) * abs(other - end)))
        return float(end + frac * (other - end))


def _inner_point(lo: float, hi: float) -> float:
    if math.isinf(lo) and math.isinf(hi):
        return 0.0
    if math.isinf(lo):
        return hi - 1.0
    if math.isinf(hi):
        return lo + 1.0
    return 0.5 * (lo + hi)

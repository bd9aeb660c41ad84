"""One-dimensional helpers around :mod:`recourse.analysis.oned`: superlevel sets, the
nearest satisfying point, SmoothGrad's expectation in closed form, a model restricted to a
line, and the sets L, R, O computed numerically for any function."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm as _normal

from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.oned import (
    PiecewiseLinear1D,
    RecourseSets,
)
from recourse.analysis.utility import Utility

__all__ = [
    "superlevel_set",
    "nearest_satisfying",
    "smoothgrad_expected_1d",
    "restrict_to_line",
    "direction_set",
    "recourse_sets_numeric",
    "model_on_line",
]


def superlevel_set(f: PiecewiseLinear1D, c: float) -> IntervalSet:
    """Exact ``{y : f(y) >= c}``."""
    ivs: list[Interval] = []
    b = f.breaks
    lows = np.concatenate([[-math.inf], b])
    highs = np.concatenate([b, [math.inf]])
    for k in range(b.size + 1):
        s, t = f.slopes[k], f.intercepts[k]
        lo, hi = lows[k], highs[k]
        if s == 0:
            if t >= c:
                ivs.append(Interval(lo, hi, False, False))
            continue
        r = (c - t) / s
        if s > 0:
            ivs.append(Interval(max(r, lo), hi, r > lo, False))
        else:
            ivs.append(Interval(lo, min(r, hi), False, r < hi))
    for k, v in enumerate(f.point_values):
        if v >= c:
            ivs.append(Interval(b[k], b[k], True, True))
    return IntervalSet(ivs)


def nearest_satisfying(f: PiecewiseLinear1D, x: float, utility: Utility,
                       delta: float = math.inf) -> list[float]:
    """The minimum-distance satisfying points ``y`` (``u(x, y) >= τ``), all of them when tied.

    Returns ``[x]`` when ``x`` is satisfied, ``[]`` when no ``y`` exists within ``delta``.
    At an open end of the satisfying set the infimum is not attained; the end itself is
    returned then (flagged by the caller if needed).
    """
    kappa, tau_p = utility.linear_form
    fx = float(f(x))
    S = superlevel_set(f, tau_p + kappa * fx - utility.tol)
    if S.contains(x):
        return [float(x)]
    best, out = math.inf, []
    for iv in S:
        for e in (iv.lo, iv.hi):
            if math.isfinite(e):
                d = abs(e - x)
                if d < best - 1e-15:
                    best, out = d, [float(e)]
                elif abs(d - best) <= 1e-15:
                    out.append(float(e))
    return out if best <= delta else []


def smoothgrad_expected_1d(f: PiecewiseLinear1D, x: Any, sigma: float) -> np.ndarray:
    """Deprecated alias of :func:`recourse.analysis.expected_explanation` (one name per
    quantity); kept for old code, warns."""
    import warnings

    warnings.warn("smoothgrad_expected_1d is deprecated; use "
                  "recourse.analysis.expected_explanation(f, x, sigma).", DeprecationWarning,
                  stacklevel=2)
    return _smoothgrad_expected_pl(f, x, sigma)


def _smoothgrad_expected_pl(f: PiecewiseLinear1D, x: Any, sigma: float) -> np.ndarray:
    """Exact ``d/dx E[f(x + σZ)]`` (= SmoothGrad = C-LIME expectation, docs/theory.md §B3) for a
    piecewise-linear ``f``: slopes weighted by Gaussian piece masses plus jump terms."""
    x = np.asarray(x, dtype=float)
    b = f.breaks
    lows = np.concatenate([[-np.inf], b])
    highs = np.concatenate([b, [np.inf]])
    xs = x[..., None]
    mass = _normal.cdf((highs - xs) / sigma) - _normal.cdf((lows - xs) / sigma)
    out = (mass * f.slopes).sum(axis=-1)
    if b.size:
        jump = f.right_limits() - f.left_limits()
        out = out + (jump * _normal.pdf((b - xs) / sigma) / sigma).sum(axis=-1)
    return np.asarray(out)


def restrict_to_line(f: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, u: np.ndarray,
                     breakpoints: Sequence[float], *, check: bool = True) -> PiecewiseLinear1D:
    """``t ↦ f(x0 + t u)`` as a :class:`PiecewiseLinear1D`, given its breakpoints in ``t``.

    Each piece is fitted from two interior evaluations and (``check``) verified at a third
    point; the value at every breakpoint is evaluated there. For tree models use
    :func:`recourse.analysis.sensitivity.line_breakpoints` to get the breakpoints.

    Raises
    ------
    ValueError
        ``f`` is not affine between the given breakpoints.
    """
    x0 = np.asarray(x0, dtype=float)
    u = np.asarray(u, dtype=float)
    b = np.unique(np.asarray(breakpoints, dtype=float))
    lows = np.concatenate([[b[0] - 2.0 if b.size else -1.0], b])
    highs = np.concatenate([b, [b[-1] + 2.0 if b.size else 1.0]])
    t1 = lows + 0.25 * (highs - lows)
    t2 = lows + 0.75 * (highs - lows)
    t3 = lows + 0.5 * (highs - lows)
    T = np.concatenate([t1, t2, t3, b])
    vals = np.asarray(f(x0[None, :] + T[:, None] * u[None, :]), dtype=float).reshape(-1)
    n = lows.size
    v1, v2, v3, vb = vals[:n], vals[n:2 * n], vals[2 * n:3 * n], vals[3 * n:]
    slopes = (v2 - v1) / (t2 - t1)
    ints = v1 - slopes * t1
    if check:
        pred = slopes * t3 + ints
        scale = 1.0 + np.abs(v1) + np.abs(v2)
        bad = np.flatnonzero(np.abs(pred - v3) > 1e-8 * scale)
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"f is not affine on the piece ({lows[k]:.6g}, {highs[k]:.6g}) of the line; "
                "pass every breakpoint of f along the line.")
    return PiecewiseLinear1D(b, slopes, ints, vb)


def direction_set(sets: RecourseSets, x: float) -> set[str]:
    """The set-valued explanation of docs/theory.md §A15.4: every recourse direction at ``x``
    (``"left"``, ``"right"``, and ``"stay"`` when already satisfied)."""
    out = set()
    if sets.L.contains(x):
        out.add("left")
    if sets.R.contains(x):
        out.add("right")
    if sets.O.contains(x):
        out.add("stay")
    return out


def recourse_sets_numeric(f: Callable[[np.ndarray], np.ndarray], delta: float,
                          utility: Utility, lo: float, hi: float, *, n_grid: int = 2001,
                          n_window: int = 2001, bisect: int = 60) -> RecourseSets:
    """``L``, ``R``, ``O`` of a 1D function that is **not** piecewise linear, restricted to
    ``[lo, hi]`` (documented fallback of docs/theory.md §A10).

    Membership of a point is tested on ``n_window`` points of its window (both ends
    included, and the point next to ``x``), so a satisfying set thinner than the window
    spacing can be missed; endpoints are located by bisection between grid points where
    membership changes (to about ``2^-bisect`` of a grid step). Ends at ``lo``/``hi`` are
    the domain's, not the set's. Each found interval is reported closed.
    """
    def f_(ys: np.ndarray) -> np.ndarray:
        if isinstance(f, PiecewiseLinear1D):
            return f(ys)
        return np.asarray(f(np.asarray(ys, dtype=float)[:, None]), dtype=float).reshape(-1)
    w = np.linspace(0.0, 1.0, n_window)

    def member(x: float, side: int) -> bool:
        fx = float(f_(np.array([x]))[0])
        if side == 0:
            return bool(utility.satisfied(fx, fx))
        ys = x + side * delta * w[1:]
        ys = np.concatenate([ys, [x + side * 1e-12 * max(1.0, abs(x))]])
        return bool(np.any(utility.satisfied(fx, f_(ys))))

    grid = np.linspace(lo, hi, n_grid)

    def build(side: int) -> IntervalSet:
        m = np.array([member(float(x), side) for x in grid])
        ivs: list[Interval] = []
        start: float | None = float(grid[0]) if m[0] else None
        for k in range(n_grid - 1):
            if m[k] == m[k + 1]:
                continue
            a, b = float(grid[k]), float(grid[k + 1])
            for _ in range(bisect):
                mid = 0.5 * (a + b)
                if member(mid, side) == bool(m[k]):
                    a = mid
                else:
                    b = mid
            if m[k]:  # leaving the set
                assert start is not None
                ivs.append(Interval(start, a))
                start = None
            else:
                start = b
        if start is not None:
            ivs.append(Interval(start, float(grid[-1])))
        return IntervalSet(ivs)

    return RecourseSets(build(-1), build(+1), build(0), float(delta), utility)


def model_on_line(model: Any, x0: Any, u: Any, *, output: str = "auto",
                  breakpoints: Sequence[float] | None = None) -> PiecewiseLinear1D:
    """A fitted model restricted to the line ``x0 + t u`` as a :class:`PiecewiseLinear1D`.

    Trees and forests: the breakpoints are the threshold crossings along the line
    (:func:`recourse.analysis.sensitivity.line_breakpoints`) and the result is exact (a
    step function; the value at a breakpoint is the model's own at the floating-point
    ``x0 + t u``). Linear scores: no breakpoints. Anything else needs ``breakpoints``
    (and is checked to be affine between them).
    """
    from recourse.analysis.encoding import line_breakpoints
    from recourse.analysis.scores import as_score

    sf = as_score(model, output=output)
    x = np.asarray(x0, dtype=float)
    v = np.asarray(u, dtype=float)
    if breakpoints is None:
        if sf.piecewise_constant:
            breakpoints = list(line_breakpoints(model, x, v))
        elif sf.grad is not None and hasattr(model, "coef_"):
            breakpoints = []
        else:
            raise ValueError("Pass the breakpoints of this model along the line (only trees, "
                             "forests and linear models are found automatically).")
    return restrict_to_line(sf, x, v, breakpoints)

"""Exact one-dimensional analysis (docs/theory.md §A9, A10): the sets L, R, O and the verdict.

A 1D piecewise-linear ``f`` (possibly discontinuous: trees restricted to a line) is a
:class:`PiecewiseLinear1D`. For a utility of the form ``f(y) − κ f(x) >= τ'`` (docs/theory.md §A3)

* ``L = {x : some y in [x − δ, x) has u(x, y) >= τ}`` (recourse by moving left),
* ``R = {x : some y in (x, x + δ] has u(x, y) >= τ}`` (by moving right),
* ``O = {x : u(x, x) >= τ}`` (already satisfied)

are computed **exactly** as unions of intervals (:class:`IntervalSet`).

Method (*derived here*; docs/theory.md suggests a projection of polygons, this is equivalent and
simpler): whether ``x`` belongs to ``L`` depends on the values of ``u(x, ·)`` at the
window's *vertices* — ``y = x − δ``, the breakpoints inside the window (their value and
one-sided limits), and ``y ↑ x`` — each an affine function of ``x`` as long as ``x`` and
``x − δ`` stay inside fixed pieces. Membership can therefore change only at a finite set
of *candidate points*: the breakpoints ``b``, ``b ± δ``, and the roots of
"vertex value = threshold" for every pair of pieces. Between two consecutive candidates
membership is constant; it is decided by the exact one-point test at the midpoint, and
every candidate is decided by the one-point test itself. The one-point test clips every
piece to the window and counts a one-sided limit ``> τ`` approached inside the window
(docs/theory.md §A10, correction for discontinuous ``f``); a limit equal to ``τ`` counts only if
attained.

The verdict (does a continuous recourse-sensitive ``phi`` exist?) uses the sign automaton
of docs/theory.md §A10 over the pieces cut at every endpoint of ``L``, ``R``, ``O``; on success it
returns a continuous piecewise-linear ``phi`` built from the chosen signs, otherwise the
first piece at which no sign survives (the witness).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm as _normal

from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.utility import Utility

__all__ = [
    "PiecewiseLinear1D",
    "RecourseSets",
    "Verdict",
    "recourse_sets",
    "reaches",
    "verdict",
    "superlevel_set",
    "nearest_satisfying",
    "smoothgrad_expected_1d",
    "restrict_to_line",
    "direction_set",
    "recourse_sets_numeric",
    "model_on_line",
]


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


# ---------------------------------------------------------------- exact sets
def reaches(f: PiecewiseLinear1D, x: float, direction: int, length: float,
            utility: Utility) -> tuple[bool, float | None]:
    """Exact ray test in 1D: is there ``y`` strictly on the ``direction`` side of ``x``
    (−1 left, +1 right) within ``length`` with ``u(x, y) >= τ``? Returns the witness."""
    kappa, tau_p = utility.linear_form
    fx = float(f(x))
    if utility.kind == "ratio" and fx <= 0:
        raise ValueError("A ratio utility needs f(x) > 0.")
    c = tau_p + kappa * fx
    if length <= 0:
        return False, None
    if direction < 0:
        return f.exists_at_least(x - length, x, True, False, c, utility.tol)
    return f.exists_at_least(x, x + length, False, True, c, utility.tol)


def _in_O(f: PiecewiseLinear1D, x: float, utility: Utility) -> bool:
    fx = float(f(x))
    return bool(utility.satisfied(fx, fx))


def _candidates(f: PiecewiseLinear1D, delta: float, utility: Utility, side: int) -> np.ndarray:
    kappa, tau_p = utility.linear_form
    b = f.breaks
    a, c = f.slopes, f.intercepts
    cands = [b, b + delta, b - delta]
    lows = np.concatenate([[-np.inf], b])
    highs = np.concatenate([b, [np.inf]])
    # vertex y = x + side*delta, x in piece i, y in piece j
    ai, aj = a[:, None], a[None, :]
    ci, cj = c[:, None], c[None, :]
    coef = aj - kappa * ai
    rhs = tau_p + kappa * ci - cj - aj * side * delta
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(coef != 0, rhs / np.where(coef != 0, coef, 1.0), np.nan)
    ok = ((r >= lows[:, None]) & (r <= highs[:, None]) & (r + side * delta >= lows[None, :])
          & (r + side * delta <= highs[None, :]))
    cands.append(r[ok & np.isfinite(r)])
    # vertex y = a breakpoint (its value and one-sided limits)
    if b.size and kappa != 0:
        vals = np.concatenate([f.point_values, f.left_limits(), f.right_limits()])
        where = np.concatenate([b, b, b])
        ka = kappa * a
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = (vals[None, :] - kappa * c[:, None] - tau_p) / ka[:, None]
        # keep roots x in piece i whose window [x - delta, x] (or [x, x + delta]) holds b
        gap = (where[None, :] - r2) * side
        ok2 = ((ka != 0)[:, None] & (r2 >= lows[:, None]) & (r2 <= highs[:, None])
               & (gap >= 0) & (gap <= delta))
        cands.append(r2[ok2 & np.isfinite(r2)])
    # vertex y -> x inside the piece of x (and the set O)
    with np.errstate(divide="ignore", invalid="ignore"):
        k3 = (1.0 - kappa) * a
        r3 = np.where(k3 != 0, (tau_p - (1.0 - kappa) * c) / np.where(k3 != 0, k3, 1.0), np.nan)
    cands.append(r3[np.isfinite(r3)])
    allc = np.concatenate([np.ravel(v) for v in cands])
    allc = np.unique(allc[np.isfinite(allc)])
    return _merge_close(allc)


def _merge_close(p: np.ndarray, rel: float = 1e-12) -> np.ndarray:
    """Candidates computed by different formulas for the same point differ by rounding;
    points closer than ``rel·max(1, |x|)`` are merged (the first is kept). Without this,
    two copies a few ulps apart leave no float between them and split an interval."""
    if p.size < 2:
        return p
    keep = np.ones(p.size, dtype=bool)
    last = p[0]
    for i in range(1, p.size):
        if p[i] - last <= rel * max(1.0, abs(last)):
            keep[i] = False
        else:
            last = p[i]
    return p[keep]


def _set_from_tests(points: np.ndarray, member: Callable[[float], bool]) -> IntervalSet:
    """Exact set from membership tests at candidate points and between them."""
    if points.size == 0:
        return IntervalSet.real_line() if member(0.0) else IntervalSet()
    ivs: list[Interval] = []
    span = max(1.0, float(points[-1] - points[0]))
    if member(float(points[0]) - span):
        ivs.append(Interval(-math.inf, float(points[0]), False, False))
    for k, p in enumerate(points):
        p = float(p)
        if member(p):
            ivs.append(Interval(p, p, True, True))
        nxt = float(points[k + 1]) if k + 1 < points.size else math.inf
        mid = 0.5 * (p + nxt) if math.isfinite(nxt) else p + span
        if mid == p or mid == nxt:  # adjacent floats: nothing in between
            continue
        if member(mid):
            ivs.append(Interval(p, nxt, False, False))
    return IntervalSet(ivs)


@dataclass(frozen=True)
class RecourseSets:
    """The exact sets of docs/theory.md §A10 for one ``(f, δ, utility)``."""

    L: IntervalSet
    R: IntervalSet
    O: IntervalSet  # noqa: E741 - the paper's name
    delta: float
    utility: Utility

    @property
    def covered(self) -> IntervalSet:
        """``L ∪ R ∪ O``: where a recourse-sensitive ``phi`` is constrained."""
        return self.L.union(self.R).union(self.O)

    def T_nonempty(self, x: float) -> bool:
        return self.covered.contains(x)


def recourse_sets(f: PiecewiseLinear1D, delta: float, utility: Utility) -> RecourseSets:
    """Exact ``L``, ``R``, ``O`` (see module docstring).

    Raises
    ------
    ValueError
        ``delta <= 0``, or a ratio utility with ``f <= 0`` somewhere.
    """
    if not delta > 0:
        raise ValueError(f"The budget delta must be positive; got {delta}.")
    if utility.kind == "lower_ratio":
        raise ValueError("lower_ratio is not of the form f(y) - kappa f(x) >= tau'; apply the "
                         "exact sets to -log f or use a numeric scan.")
    if utility.kind == "ratio":
        _check_positive(f)
    pts_L = _candidates(f, delta, utility, -1)
    pts_R = _candidates(f, delta, utility, +1)
    L = _set_from_tests(pts_L, lambda x: reaches(f, x, -1, delta, utility)[0])
    R = _set_from_tests(pts_R, lambda x: reaches(f, x, +1, delta, utility)[0])
    pts_O = _merge_close(np.unique(np.concatenate([f.breaks, pts_L])))
    O = _set_from_tests(pts_O, lambda x: _in_O(f, x, utility))  # noqa: E741
    return RecourseSets(L, R, O, float(delta), utility)


def _check_positive(f: PiecewiseLinear1D) -> None:
    bad = (np.any(f.point_values <= 0) or np.any(f.left_limits() <= 0)
           or np.any(f.right_limits() <= 0) or f.slopes[0] > 0 or f.slopes[-1] < 0
           or (f.n_breaks == 0 and (f.slopes[0] != 0 or f.intercepts[0] <= 0)))
    if bad:
        raise ValueError("A ratio utility needs f > 0 everywhere; this f is not positive "
                         "(check its values and its slopes at ±∞).")


# ---------------------------------------------------------------- verdict
_SIGNS = (-1, 0, 1)


@dataclass(frozen=True)
class Verdict:
    """Result of the 1D characterisation (docs/theory.md §A10).

    ``possible`` says whether a continuous recourse-sensitive attribution exists. When it
    does, ``phi`` is one (continuous, piecewise linear; ``phi(x) < 0`` means "move left").
    Otherwise ``witness`` names the first piece (a point or an open interval) at which no
    sign choice survives, with the allowed signs there.
    """

    possible: bool
    sets: RecourseSets
    phi: PiecewiseLinear1D | None = None
    witness: dict[str, Any] | None = None
    pieces: list[dict[str, Any]] = field(default_factory=list)

    def explain(self) -> str:
        if self.possible:
            return "A continuous recourse-sensitive attribution exists (constructed)."
        w = self.witness or {}
        return (f"No continuous recourse-sensitive attribution exists: at {w.get('piece')} the "
                f"allowed signs {w.get('allowed')} cannot be reached from the left "
                f"(reachable: {w.get('reachable')}); a continuous phi would need a forbidden "
                "zero or sign change there.")


def _allowed(sets: RecourseSets, x: float) -> set[int]:
    s: set[int] = set()
    if sets.L.contains(x):
        s.add(-1)
    if sets.R.contains(x):
        s.add(1)
    if sets.O.contains(x):
        s.add(0)
    return s or set(_SIGNS)


def verdict(f: PiecewiseLinear1D | RecourseSets, delta: float | None = None,
            utility: Utility | None = None) -> Verdict:
    """Decide whether a continuous recourse-sensitive ``phi`` exists (sign automaton).

    Pass either precomputed :class:`RecourseSets` or ``(f, delta, utility)``.
    """
    if isinstance(f, RecourseSets):
        sets = f
    else:
        if delta is None or utility is None:
            raise ValueError("verdict(f, delta, utility) needs delta and utility.")
        sets = recourse_sets(f, delta, utility)
    pts = sorted(set(sets.L.endpoints()) | set(sets.R.endpoints()) | set(sets.O.endpoints()))
    pieces: list[dict[str, Any]] = []
    bounds = [-math.inf] + pts + [math.inf]
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        pieces.append({"kind": "interval", "lo": lo, "hi": hi,
                       "allowed": _allowed(sets, _inner_point(lo, hi))})
        if k < len(pts):
            pieces.append({"kind": "point", "at": hi, "allowed": _allowed(sets, hi)})
    # forward reachability: states = sign at the exit of the piece; back-pointers
    reach: list[dict[int, Any]] = []
    prev: dict[int, Any] | None = None
    for i, pc in enumerate(pieces):
        cur: dict[int, Any] = {}
        al = pc["allowed"]
        if pc["kind"] == "interval":
            for entry in al:
                if prev is not None and not any(_compat_point_to_end(p, entry) for p in prev):
                    continue
                exits = al if 0 in al else {entry}
                for ex in exits:
                    if ex not in cur:
                        cur[ex] = entry
        else:
            for s in al:
                if prev is not None and any(_compat_end_to_point(e, s) for e in prev):
                    cur[s] = s
        if not cur:
            where = (f"x = {pc['at']:.6g}" if pc["kind"] == "point"
                     else str(Interval(pc["lo"], pc["hi"], False, False)))
            return Verdict(False, sets, None,
                           {"piece": where, "index": i, "allowed": sorted(al),
                            "reachable": sorted(prev or [])}, pieces)
        reach.append(cur)
        prev = cur
    choice = _backtrack(pieces, reach)
    return Verdict(True, sets, _phi_from_choice(pieces, choice), None, pieces)


def _compat_end_to_point(end: int, point: int) -> bool:
    """An interval end sign next to a point sign: a nonzero point forces the end; a zero end
    (identically zero near the point) forces the point to zero."""
    return end == point or point == 0


def _compat_point_to_end(point: int, end: int) -> bool:
    return _compat_end_to_point(end, point)


def _backtrack(pieces: list[dict[str, Any]], reach: list[dict[int, Any]]) -> list[tuple[int, int]]:
    n = len(pieces)
    choice: list[tuple[int, int]] = [(0, 0)] * n
    # pick any final state, walk back choosing compatible predecessors
    nxt_state: int | None = None
    for i in range(n - 1, -1, -1):
        pc, cur = pieces[i], reach[i]
        if nxt_state is None:
            ex = sorted(cur, key=lambda s: (s == 0, s))[0]
        else:
            if pc["kind"] == "interval":  # next is a point with sign nxt_state
                ok = [e for e in cur if _compat_end_to_point(e, nxt_state)]
            else:  # next is an interval whose entry is nxt_state
                ok = [s for s in cur if _compat_point_to_end(s, nxt_state)]
            ex = sorted(ok, key=lambda s: (s == 0, s))[0]
        entry = cur[ex]
        choice[i] = (entry, ex)
        nxt_state = entry if pc["kind"] == "interval" else ex
    return choice


def _phi_from_choice(pieces: list[dict[str, Any]], choice: list[tuple[int, int]]
                     ) -> PiecewiseLinear1D:
    xs: list[float] = []
    ys: list[float] = []
    pts = [pc["at"] for pc in pieces if pc["kind"] == "point"]
    if not pts:
        s = choice[0][0]
        return PiecewiseLinear1D.linear(0.0, float(s))
    for i, pc in enumerate(pieces):
        entry, ex = choice[i]
        if pc["kind"] == "point":
            xs.append(pc["at"])
            ys.append(float(ex))
            continue
        lo, hi = pc["lo"], pc["hi"]
        if math.isinf(lo):
            xs.append(hi - 1.0)
            ys.append(float(ex))
        elif math.isinf(hi):
            xs.append(lo + 1.0)
            ys.append(float(entry))
        else:
            w = hi - lo
            xs += [lo + w / 3, hi - w / 3] if entry != ex else [lo + w / 2]
            ys += [float(entry), float(ex)] if entry != ex else [float(entry)]
    return PiecewiseLinear1D.from_points(xs, ys)


# ---------------------------------------------------------------- helpers
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

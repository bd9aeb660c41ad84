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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.piecewise import PiecewiseLinear1D, _inner_point
from recourse.analysis.utility import Utility

__all__ = [
    "PiecewiseLinear1D",
    "RecourseSets",
    "Verdict",
    "recourse_sets",
    "reaches",
    "verdict",
]


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

"""Independent oracle for causal recourse: enumerate every action subset.

Nothing here imports the engine: the SCM is plain data and the model is read from its
fitted parameters (``coef_``/``intercept_`` of a linear model, ``tree_`` of a decision
tree). For every subset ``S`` of the mutable nodes (the features acted on) every node's
value is an affine function of the action values ``theta_S`` (linear equations; a
piecewise-linear term is affine on each of its segments, and the segments are
enumerated too), so the cheapest intervention on ``S`` that reaches the target is a
linear program (``scipy.optimize.linprog``), one per target region of the model (the
half-space of a linear model; the box of each target leaf of a tree). The optimum over
all subsets is the causal optimum:

* L1 = sum over acted nodes of ``unit_cost * |theta_j - x0_j|``;
* L0 = sum over acted nodes of ``weight`` (the cheapest feasible subset).

Semantics (Karimi et al. 2021): a node not acted on equals ``f(parents) + u`` with
``u = x0 - f(parents(x0))``; roots not acted on keep ``x0``; every node stays within its
bounds (widened to hold ``x0``); actions respect immutability and directions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

#: Strict side of a split, and the decision margin of linear models.
#: Strictness of ``>`` in the oracle's regions: above the engine's margin (1e-6) and the
#: LP tolerances, so that a region reachable only at its boundary (the score exactly 0,
#: which the model does not approve) is empty for the oracle too; costs move by at most
#: this times a unit cost, far below the comparison tolerance.
STRICT = 1e-5


@dataclass
class SCM:
    """Plain-data structural causal model over numeric features (names in ``order``)."""

    order: list[str]  # topological order of all features
    coef: dict[str, dict[str, float]] = field(default_factory=dict)
    intercept: dict[str, float] = field(default_factory=dict)
    pieces: dict[str, dict[str, tuple[list[float], list[float]]]] = field(default_factory=dict)

    def f(self, n: str, x: dict[str, float]) -> float:
        v = self.intercept.get(n, 0.0)
        v += sum(c * x[p] for p, c in self.coef.get(n, {}).items())
        v += sum(float(np.interp(x[p], B, F)) for p, (B, F) in self.pieces.get(n, {}).items())
        return v

    def has_eq(self, n: str) -> bool:
        return bool(self.coef.get(n)) or bool(self.pieces.get(n))


@dataclass
class Rules:
    lo: dict[str, float]
    hi: dict[str, float]
    mutable: dict[str, bool]
    direction: dict[str, int]
    unit: dict[str, float]
    weight: dict[str, float]


def linear_regions(model: Any, names: list[str], target: int) -> list[tuple[np.ndarray, float]]:
    """Rows ``a @ x >= b`` (one region) for a binary linear classifier to predict ``target``."""
    w = np.asarray(model.coef_, dtype=float).ravel()
    b0 = float(np.ravel(model.intercept_)[0])
    sign = 1.0 if target == 1 else -1.0
    return [[(sign * w, -sign * b0 + STRICT)]]  # type: ignore[list-item]


def tree_regions(model: Any, target: int) -> list[list[tuple[np.ndarray, float]]]:
    """One region per leaf predicting ``target``: rows ``a @ x >= b`` of its path."""
    t = model.tree_
    out = []
    nf = model.n_features_in_

    def walk(node: int, rows: list[tuple[np.ndarray, float]]) -> None:
        if t.children_left[node] == -1:
            if int(np.argmax(t.value[node][0])) == target:
                out.append(list(rows))
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        e = np.zeros(nf)
        e[f] = 1.0
        walk(int(t.children_left[node]), rows + [(-e, -thr)])            # x_f <= thr
        walk(int(t.children_right[node]), rows + [(e, thr + STRICT)])     # x_f > thr

    walk(0, [])
    return out


def _segments(B: list[float], F: list[float], lo: float, hi: float) -> list[tuple]:
    """Affine pieces ``(a, b, slope, value_at_a)`` of interp(B, F) covering [lo, hi]."""
    pts = sorted({lo, hi, *[b for b in B if lo < b < hi]})
    if len(pts) == 1:
        return [(lo, hi, 0.0, float(np.interp(lo, B, F)))]
    segs = []
    for a, b in zip(pts[:-1], pts[1:]):
        fa, fb = float(np.interp(a, B, F)), float(np.interp(b, B, F))
        segs.append((a, b, (fb - fa) / (b - a), fa))
    return segs


def causal_optimum(scm: SCM, rules: Rules, x0: dict[str, float], columns: list[str],
                   regions: list[list[tuple[np.ndarray, float]]],
                   norm: str = "l1") -> tuple[Any, tuple[str, ...] | None]:
    """The minimal intervention cost (``inf`` if none) and one optimal action subset.

    ``regions`` hold rows ``a @ x >= b`` over the model's ``columns``. For
    ``norm="l0_l1"`` the cost is the pair (weighted number of actions, L1 among those).
    """
    order = scm.order
    u = {n: x0[n] - scm.f(n, x0) if scm.has_eq(n) else x0[n] for n in order}
    movable = [n for n in order if rules.mutable[n]]
    terms = [(n, p, B, F) for n in order for p, (B, F) in scm.pieces.get(n, {}).items()]
    best: Any = np.inf if norm != "l0_l1" else (np.inf, np.inf)
    best_set = None
    for r in range(len(movable) + 1):
        for S in itertools.combinations(movable, r):
            if norm == "l0_l1":  # fewest (weighted) actions, then the least L1
                w_s = sum(rules.weight[n] for n in S)
                if w_s > best[0] + 1e-12:
                    continue
                seg_lists = [_segments(B, F, min(rules.lo[p], x0[p]), max(rules.hi[p], x0[p]))
                             for (_, p, B, F) in terms]
                for segs in itertools.product(*seg_lists):
                    val = _subset_lp(scm, rules, x0, u, S, terms, segs, columns, regions, "l1")
                    if not np.isfinite(val):
                        continue
                    fewer = w_s < best[0] - 1e-12
                    if fewer or (abs(w_s - best[0]) <= 1e-12 and val < best[1] - 1e-12):
                        best, best_set = (w_s, val), S
                continue
            if norm == "l0":
                c = sum(rules.weight[n] for n in S)
                if c >= best - 1e-12:
                    continue
            seg_lists = [_segments(B, F, min(rules.lo[p], x0[p]), max(rules.hi[p], x0[p]))
                         for (_, p, B, F) in terms]
            for segs in itertools.product(*seg_lists):
                val = _subset_lp(scm, rules, x0, u, S, terms, segs, columns, regions, norm)
                if val < best - 1e-12:
                    best, best_set = val, S
    return best, best_set


def _subset_lp(scm: SCM, rules: Rules, x0: dict[str, float], u: dict[str, float],
               S: tuple[str, ...], terms: list, segs: tuple, columns: list[str],
               regions: list, norm: str) -> float:
    order = scm.order
    k = len(S)
    nv = 2 * k  # theta, s
    col = {n: i for i, n in enumerate(S)}
    seg_of = {(n, p): sg for (n, p, _, _), sg in zip(terms, segs)}
    aff: dict[str, tuple[np.ndarray, float]] = {}
    A_ub: list[np.ndarray] = []
    b_ub: list[float] = []

    def le(a: np.ndarray, b: float) -> None:
        A_ub.append(a)
        b_ub.append(b)

    for n in order:
        if n in col:
            v = np.zeros(nv)
            v[col[n]] = 1.0
            aff[n] = (v, 0.0)
            continue
        v, c = np.zeros(nv), u[n]
        if scm.has_eq(n):
            c += scm.intercept.get(n, 0.0)
            for p, w in scm.coef.get(n, {}).items():
                v, c = v + w * aff[p][0], c + w * aff[p][1]
            for p in scm.pieces.get(n, {}):
                a, b, slope, fa = seg_of[(n, p)]
                v, c = v + slope * aff[p][0], c + fa + slope * (aff[p][1] - a)
        aff[n] = (v, c)
    for (n, p), (a, b, _, _) in seg_of.items():  # parent in its chosen segment
        le(aff[p][0], b - aff[p][1])
        le(-aff[p][0], -(a - aff[p][1]))
    for n in order:  # every node within bounds
        lo, hi = min(rules.lo[n], x0[n]), max(rules.hi[n], x0[n])
        le(aff[n][0], hi - aff[n][1])
        le(-aff[n][0], -(lo - aff[n][1]))
    bounds = []
    for n in S:
        lo, hi = min(rules.lo[n], x0[n]), max(rules.hi[n], x0[n])
        if rules.direction[n] > 0:
            lo = x0[n]
        elif rules.direction[n] < 0:
            hi = x0[n]
        bounds.append((lo, hi))
    for i, n in enumerate(S):  # s_i >= |theta_i - x0|
        a = np.zeros(nv)
        a[i], a[k + i] = 1.0, -1.0
        le(a, x0[n])
        a = np.zeros(nv)
        a[i], a[k + i] = -1.0, -1.0
        le(a, -x0[n])
    bounds += [(0, None)] * k
    cost = np.concatenate([np.zeros(k), [rules.unit[n] for n in S]])
    if norm == "l0":
        cost = np.zeros(nv)
    best = np.inf
    names = list(columns)
    for region in regions:
        rows, rhs = list(A_ub), list(b_ub)
        for a_x, b in region:  # a_x @ x >= b over features in `names` order
            v = sum(a_x[i] * aff[nm][0] for i, nm in enumerate(names))
            c = sum(a_x[i] * aff[nm][1] for i, nm in enumerate(names))
            rows.append(-np.asarray(v, dtype=float) * np.ones(nv))
            rhs.append(-(b - c))
        if nv == 0:
            ok = all(r0 <= b + 1e-9 for r0, b in zip([0.0] * len(rhs), rhs))
            if ok:
                return 0.0
            continue
        res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds,
                      method="highs")
        if res.status == 0:
            val = float(res.fun) if norm == "l1" else sum(rules.weight[n] for n in S)
            best = min(best, val)
    return best

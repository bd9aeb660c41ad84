"""Data support rows: the counterfactual lies near at least ``k`` observed rows.

The user's :class:`recourse.support.DataSupport` is lowered to a :class:`SupportSpec`
(plain arrays: candidate rows, scales, radius). :func:`add_support` adds its variables and
rows to a :class:`~solvers.problem.RecourseProblem` that carries explicit per-feature value
variables (``recourse.solvers.values.add_values``: ``view.x[j]`` the column of numeric feature ``j``
in user units, ``view.levels[j]`` the level columns of categorical feature ``j``, or
``None`` when the feature is constant at the applicant's level ``view.level0[j]``).

Distances are scaled: numeric feature ``j`` by ``scale_j``, a categorical mismatch counts
1. With ``a_i`` a candidate row, ``r`` the radius, ``w_i`` its multiplicity (identical
rows are merged) and ``[L_j, H_j]`` the column bounds of ``x_j``:

``metric="linf"``
    ``k = 1``: one binary ``s_i`` per candidate, ``sum_i s_i = 1`` (the anchor row) and
    per numeric feature two rows
    ``sum_i s_i max(a_ij - r scale_j, L_j) <= x_j <= sum_i s_i min(a_ij + r scale_j, H_j)``
    (for ``r < 1`` also ``o_{j,c} >= sum_{i: c_ij = c} s_i``): exact, and much tighter
    than big-M rows.
    ``k > 1``: ``s_i`` binary, ``sum_i w_i s_i >= k``;
    ``x_j + M s_i <= a_ij + r scale_j + M`` with ``M = H_j - a_ij - r scale_j`` (omitted
    when ``M <= 0``: the row always holds) and ``x_j - M' s_i >= a_ij - r scale_j - M'``
    with ``M' = a_ij - r scale_j - L_j``; for a categorical feature and ``r < 1``:
    ``s_i <= o_{j, c_ij}`` (a mismatch is distance 1 > r); plus the anchor rows above
    over binaries ``y_i <= s_i`` with ``sum y_i = 1`` (valid: any supporting row can be
    the anchor; they tighten the relaxation).
``metric="l1"``
    per (row, numeric feature) ``e_ij`` in ``[0, r]`` with
    ``e_ij >= +-(x_j - a_ij) / scale_j - D_ij (1 - s_i)`` (``D_ij`` the largest such
    difference over the column's bounds), and per row
    ``sum_j e_ij + sum_{j cat} (1 - o_{j, c_ij}) <= r + Q_i (1 - s_i)`` (``Q_i`` the
    number of categorical terms that can be 1).
``hull=True``
    The counterfactual's numeric features lie within ``r`` (linf, scaled) of a convex
    combination of the candidate rows that hold the counterfactual's categorical levels,
    and at least ``k`` rows hold them: ``lambda_i >= 0``, ``sum lambda_i = 1``,
    ``lambda_i <= s_i``, ``s_i <= o_{j, c_ij}`` for every categorical ``j``,
    ``sum w_i s_i >= k``, ``|x_j - sum_i lambda_i a_ij| <= r scale_j``.

Pruning: a candidate that no value within the column bounds (which already encode
immutability, directions, the schema's bounds and, for causal models, the consequences'
range) brings within the radius is dropped, as is one whose least cost of reaching its
radius is at least a known upper bound on the optimum (``cost_cut``). The counts are in
``stats``: ``support_candidates``, ``support_reachable``, ``support_kept``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from recourse.encoders.errors import SchemaError
from recourse.solvers.problem import RecourseProblem
from recourse.solvers.values import Columns, append_columns

__all__ = ["SupportSpec", "SupportVars", "add_support", "reachable", "min_costs",
           "bound_to_rows", "column_range",
           "distances", "support_values"]

METRICS = ("linf", "l1")


@dataclass(frozen=True)
class SupportSpec:
    """Candidate rows and the distance, as plain arrays (feature indices of the space).

    Attributes
    ----------
    num_feat, cat_feat : ndarray of int
        The numeric and categorical features the distance reads.
    A : ndarray, shape (n_rows, len(num_feat))
        Numeric values of the candidate rows (user units).
    C : ndarray of int, shape (n_rows, len(cat_feat))
        Level indices of the candidate rows.
    weight : ndarray of int
        Multiplicity of each (distinct) row.
    scale : ndarray
        Per numeric feature, the change that counts as distance 1.
    radius, k, metric, hull
        See the module docstring.
    """

    num_feat: np.ndarray
    cat_feat: np.ndarray
    A: np.ndarray
    C: np.ndarray
    weight: np.ndarray
    scale: np.ndarray
    radius: float
    k: int
    metric: str = "linf"
    hull: bool = False

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])


@dataclass(frozen=True)
class SupportVars:
    """Where the support variables sit: ``s`` per kept row (and ``lam`` with the hull,
    ``e`` per (kept row, numeric feature) for l1, -1 where none); ``rows`` the kept
    candidates' indices in the spec."""

    rows: np.ndarray
    s: np.ndarray
    lam: np.ndarray | None = None
    e: np.ndarray | None = None
    anchor: np.ndarray | None = None


def distances(sup: SupportSpec, xn: np.ndarray, xc: np.ndarray) -> np.ndarray:
    """Scaled distances of the candidate rows to points with numeric values ``xn``
    (m x p) and level indices ``xc`` (m x q): an (m x n_rows) array."""
    xn = np.atleast_2d(np.asarray(xn, dtype=float))
    xc = np.atleast_2d(np.asarray(xc))
    dn = np.abs(xn[:, None, :] - sup.A[None, :, :]) / sup.scale
    dc = (xc[:, None, :] != sup.C[None, :, :]).astype(float)
    d = np.concatenate([dn, dc], axis=2)
    if d.shape[2] == 0:
        return np.zeros(d.shape[:2])
    return d.max(axis=2) if sup.metric == "linf" else d.sum(axis=2)


def reachable(sup: SupportSpec, lo: np.ndarray, hi: np.ndarray,
              allowed: list[np.ndarray]) -> np.ndarray:
    """Candidates some point of the box ``[lo, hi]`` (per numeric feature of the spec)
    with levels in ``allowed`` (per categorical feature, a mask over levels) brings
    within the radius."""
    r = sup.radius
    gap = np.maximum(0.0, np.maximum(lo[None, :] - sup.A, sup.A - hi[None, :])) / sup.scale
    miss = np.zeros(sup.A.shape, dtype=bool)[:, :0]
    if sup.cat_feat.size:
        miss = np.column_stack([~allowed[q][sup.C[:, q]] for q in range(sup.cat_feat.size)])
    tol = 1e-9 * max(1.0, r)
    if sup.hull:  # only the categorical levels must be reachable
        return np.asarray(~miss.any(axis=1))
    if sup.metric == "linf":
        ok = np.all(gap <= r + tol, axis=1)
        if r < 1.0:
            ok &= ~miss.any(axis=1)
        return ok
    return gap.sum(axis=1) + miss.sum(axis=1) <= r + tol


def min_costs(sup: SupportSpec, x0n: np.ndarray, x0c: np.ndarray, unit: np.ndarray,
              level_cost: list[np.ndarray], l0_weight: np.ndarray | None = None,
              cat_l0: np.ndarray | None = None) -> np.ndarray:
    """A lower bound on the cost of moving the applicant within the radius of each row.

    Per numeric feature the distance beyond ``r scale_j`` must be covered (each feature's
    own distance is at most the row's total, for either metric); with ``r < 1`` a
    categorical mismatch (distance 1) must be repaired. L1 costs when ``l0_weight`` is
    None (``unit`` per numeric unit, ``level_cost[q]`` per target level), else L0 costs
    (``l0_weight`` per numeric feature, ``cat_l0`` per categorical one).
    """
    r = sup.radius
    gap = np.maximum(0.0, np.abs(sup.A - x0n[None, :]) - r * sup.scale[None, :])
    if l0_weight is None:
        total = gap @ unit
    else:
        total = (gap > 1e-12 * np.maximum(1.0, np.abs(sup.A))) @ l0_weight
    if r < 1.0:  # a mismatch alone (distance 1) would exceed the radius
        for q in range(sup.cat_feat.size):
            diff = sup.C[:, q] != x0c[q]
            if l0_weight is None:
                total = total + np.where(diff, level_cost[q][sup.C[:, q]], 0.0)
            else:
                assert cat_l0 is not None
                total = total + diff * cat_l0[q]
    return total


def column_range(prob: RecourseProblem, view: Any, j: int) -> tuple[int, float, float]:
    """Column of numeric feature ``j`` and its bounds (-1 and the applicant's value when
    the feature has no column: it keeps that value)."""
    col = int(view.x[j])
    if col < 0:
        st = int(prob.spec.space.start[j])
        v = float(prob.x0[st])
        return -1, v, v
    return col, float(prob.lb[col]), float(prob.ub[col])


def _allowed_levels(prob: RecourseProblem, view: Any, j: int) -> np.ndarray:
    k = len(prob.spec.space.levels[j] or ())
    cols = view.levels[j]
    if cols is None:
        mask = np.zeros(k, dtype=bool)
        mask[int(view.level0[j])] = True
        return mask
    return np.asarray(prob.ub[np.asarray(cols)] > 0.5)


def add_support(prob: RecourseProblem, view: Any, sup: SupportSpec, *,
                cost_cut: np.ndarray | None = None) -> tuple[RecourseProblem, SupportVars]:
    """Add the support variables and rows (module docstring) to ``prob``.

    ``cost_cut`` (optional, one per candidate) marks candidates that need not be kept
    (e.g. their least cost reaches a known upper bound on the optimum).

    Raises
    ------
    SchemaError
        l1 support over a numeric feature whose column has infinite bounds.
    """
    nf = sup.num_feat.size
    cols, lo, hi = np.full(nf, -1), np.zeros(nf), np.zeros(nf)
    for p, j in enumerate(sup.num_feat.tolist()):
        cols[p], lo[p], hi[p] = column_range(prob, view, j)
    allowed = [_allowed_levels(prob, view, j) for j in sup.cat_feat.tolist()]
    keep = reachable(sup, lo, hi, allowed)
    n_reach = int(sup.weight[keep].sum())
    if cost_cut is not None:
        keep &= ~np.asarray(cost_cut, dtype=bool)
    rows_idx = np.flatnonzero(keep)
    R = Columns(prob.n)
    s = np.array([R.var(0.0, 1.0, True) for _ in rows_idx], dtype=np.int64)
    lam = e = anchor = None
    single = sup.metric == "linf" and not sup.hull and sup.k == 1
    if single:  # one anchor row holds the point: sum s = 1, the anchor rows only
        R.row({int(v): 1.0 for v in s}, 1.0, 1.0)
    else:
        R.row({int(v): float(sup.weight[i]) for v, i in zip(s, rows_idx)}, float(sup.k),
              np.inf)
    if sup.hull:
        lam = _hull_rows(R, prob, view, sup, rows_idx, s, cols, lo, hi)
    elif sup.metric == "linf":
        if single:
            anchor = s
        else:
            _linf_rows(R, prob, view, sup, rows_idx, s, cols, lo, hi)
            anchor = np.array([R.var(0.0, 1.0, True) for _ in rows_idx], dtype=np.int64)
            R.row({int(v): 1.0 for v in anchor}, 1.0, 1.0)
            for a, si in zip(anchor.tolist(), s.tolist()):
                R.row({a: 1.0, si: -1.0}, -np.inf, 0.0)
        _anchor_rows(R, prob, view, sup, rows_idx, anchor, cols, lo, hi)
    else:
        e = _l1_rows(R, prob, view, sup, rows_idx, s, cols, lo, hi)
    out = append_columns(bound_to_rows(prob, view, sup, rows_idx, cols, lo, hi), R)
    out = replace(out, stats=dict(
        out.stats, support_candidates=int(sup.weight.sum()), support_distinct=sup.n_rows,
        support_reachable=n_reach,
        support_kept=int(sup.weight[rows_idx].sum()), support_vars=len(R.lb),
        support_rows=len(R.lo)))
    return out, SupportVars(rows=rows_idx, s=s, lam=lam, e=e, anchor=anchor)


def bound_to_rows(prob: RecourseProblem, view: Any, sup: SupportSpec, rows_idx: np.ndarray,
              cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> RecourseProblem:
    """Every supported point lies within ``r scale_j`` of some kept row in feature ``j``
    (either metric; for the hull, of the rows' range), so each value column is bounded
    by the kept rows' extent, and a threshold indicator of the model that this bound
    decides is fixed (``x_j <= hi < t_i``: ``z_i = 0``; ``x_j >= lo > t_i``: ``z_i = 1``),
    so the tree pruning can drop every leaf out of reach of the data."""
    if not rows_idx.size:
        return prob
    from recourse.encoders.block import ThresholdLink

    r = sup.radius
    lb, ub = prob.lb.copy(), prob.ub.copy()
    for p in range(sup.num_feat.size):
        col = int(cols[p])
        if col < 0:
            continue
        new_lo = max(lo[p], float(sup.A[rows_idx, p].min() - r * sup.scale[p]))
        new_hi = min(hi[p], float(sup.A[rows_idx, p].max() + r * sup.scale[p]))
        if new_lo > new_hi:
            continue  # reachable() keeps no such row; leave the infeasibility to the rows
        lb[col], ub[col] = new_lo, new_hi
        link = prob.enc.link_of(int(sup.num_feat[p]))
        if isinstance(link, ThresholdLink) and link.thresholds.size:
            zs = np.asarray(link.vars)
            off = link.thresholds > new_hi
            on = link.thresholds < new_lo
            ub[zs[off]] = np.minimum(ub[zs[off]], 0.0)
            lb[zs[on]] = np.maximum(lb[zs[on]], 1.0)
    if np.any(lb > ub):
        return prob  # the bounds contradict: leave it to the rows (the solver proves it)
    return prob.with_bounds(lb, ub)


def _anchor_rows(R: Columns, prob: RecourseProblem, view: Any, sup: SupportSpec,
                 rows_idx: np.ndarray, y: np.ndarray, cols: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray) -> None:
    """``x_j`` within the box of the one anchor row (``sum y = 1``):
    ``sum_i y_i max(a_ij - r s_j, L_j) <= x_j <= sum_i y_i min(a_ij + r s_j, H_j)``, and
    for ``r < 1`` every categorical level at least the anchors holding it. Exact for
    ``k = 1``; for ``k > 1`` a valid strengthening (any supporting row can be the
    anchor) whose LP relaxation is much tighter than the big-M rows alone."""
    r = sup.radius
    for p in range(sup.num_feat.size):
        if cols[p] < 0 or not rows_idx.size:
            continue
        b_lo = np.maximum(sup.A[rows_idx, p] - r * sup.scale[p], lo[p])
        b_hi = np.minimum(sup.A[rows_idx, p] + r * sup.scale[p], hi[p])
        if np.any(b_lo > lo[p]):
            R.row({int(cols[p]): 1.0, **{int(v): -float(b) for v, b in zip(y, b_lo)}},
                  0.0, np.inf)
        if np.any(b_hi < hi[p]):
            R.row({int(cols[p]): 1.0, **{int(v): -float(b) for v, b in zip(y, b_hi)}},
                  -np.inf, 0.0)
    if r >= 1.0:
        return
    for q, j in enumerate(sup.cat_feat.tolist()):
        level_cols = view.levels[j]
        if level_cols is None:
            continue  # constant level: reachable() kept only the rows that hold it
        for c in np.unique(sup.C[rows_idx, q]).tolist():
            who = y[sup.C[rows_idx, q] == c]
            R.row({int(np.asarray(level_cols)[c]): 1.0, **{int(v): -1.0 for v in who}},
                  0.0, np.inf)


def _cat_cols(prob: RecourseProblem, view: Any, sup: SupportSpec, i: int) -> list[int]:
    """Level columns row ``i`` needs (categorical features with level variables)."""
    out = []
    for q, j in enumerate(sup.cat_feat.tolist()):
        cols = view.levels[j]
        if cols is not None:
            out.append(int(np.asarray(cols)[int(sup.C[i, q])]))
    return out


def _linf_rows(R: Columns, prob: RecourseProblem, view: Any, sup: SupportSpec,
               rows_idx: np.ndarray, s: np.ndarray, cols: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> None:
    r = sup.radius
    for si, i in zip(s.tolist(), rows_idx.tolist()):
        for p in range(sup.num_feat.size):
            if cols[p] < 0:
                continue  # constant: reachable() already checked it
            top = sup.A[i, p] + r * sup.scale[p]
            bot = sup.A[i, p] - r * sup.scale[p]
            if hi[p] > top:
                M = hi[p] - top
                R.row({int(cols[p]): 1.0, si: M}, -np.inf, top + M)
            if lo[p] < bot:
                M = bot - lo[p]
                R.row({int(cols[p]): 1.0, si: -M}, bot - M, np.inf)
        if r < 1.0:
            for c in _cat_cols(prob, view, sup, i):
                R.row({si: 1.0, c: -1.0}, -np.inf, 0.0)


def _l1_rows(R: Columns, prob: RecourseProblem, view: Any, sup: SupportSpec,
             rows_idx: np.ndarray, s: np.ndarray, cols: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> np.ndarray:
    r = sup.radius
    bad = [sup.num_feat[p] for p in range(sup.num_feat.size)
           if cols[p] >= 0 and not (np.isfinite(lo[p]) and np.isfinite(hi[p]))]
    if bad:
        names = [prob.spec.space.names[int(j)] for j in bad]
        raise SchemaError(
            f"l1 data support needs finite bounds on {names} (they size the rows that "
            "switch a row's distance off); declare lower and upper bounds in the schema, "
            "or use metric='linf'.")
    e = np.full((rows_idx.size, sup.num_feat.size), -1, dtype=np.int64)
    for a, (si, i) in enumerate(zip(s.tolist(), rows_idx.tolist())):
        total: dict[int, float] = {}
        const = 0.0
        for p in range(sup.num_feat.size):
            sc, ai = float(sup.scale[p]), float(sup.A[i, p])
            if cols[p] < 0:
                const += abs(lo[p] - ai) / sc
                continue
            up, down = (hi[p] - ai) / sc, (ai - lo[p]) / sc
            if max(up, down) <= 0.0:
                continue
            ev = R.var(0.0, r, False)
            e[a, p] = ev
            # e >= (x - a)/sc - D(1 - s):  sc e - x - sc D s >= -a - sc D
            if up > 0:
                D = max(0.0, up)
                R.row({ev: sc, int(cols[p]): -1.0, si: -sc * D}, -ai - sc * D, np.inf)
            if down > 0:
                D = max(0.0, down)
                R.row({ev: sc, int(cols[p]): 1.0, si: -sc * D}, ai - sc * D, np.inf)
            total[ev] = 1.0
        q_cols = _cat_cols(prob, view, sup, i)
        for c in q_cols:
            total[c] = total.get(c, 0.0) - 1.0
        for q, j in enumerate(sup.cat_feat.tolist()):
            if view.levels[j] is None and int(sup.C[i, q]) != int(view.level0[j]):
                const += 1.0
        Q = float(len(q_cols))
        # sum e + sum (1 - o) + const <= r + Q (1 - s), i.e.
        # sum e - sum o + Q s <= r - const
        total[si] = total.get(si, 0.0) + Q
        R.row(total, -np.inf, r - const)
    return e


def _hull_rows(R: Columns, prob: RecourseProblem, view: Any, sup: SupportSpec,
               rows_idx: np.ndarray, s: np.ndarray, cols: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray:
    r = sup.radius
    lam = np.array([R.var(0.0, 1.0, False) for _ in rows_idx], dtype=np.int64)
    R.row({int(v): 1.0 for v in lam}, 1.0, 1.0)
    for si, li, i in zip(s.tolist(), lam.tolist(), rows_idx.tolist()):
        R.row({li: 1.0, si: -1.0}, -np.inf, 0.0)
        for c in _cat_cols(prob, view, sup, i):
            R.row({si: 1.0, c: -1.0}, -np.inf, 0.0)
    for p in range(sup.num_feat.size):
        coefs = {int(li): -float(sup.A[i, p]) for li, i in zip(lam, rows_idx)}
        band = r * float(sup.scale[p])
        if cols[p] >= 0:
            coefs[int(cols[p])] = 1.0
            R.row(coefs, -band, band)
        else:  # x_j constant: the combination must lie within the band around it
            R.row(coefs, -band - lo[p], band - lo[p])
    return lam


def support_values(prob: RecourseProblem, view: Any, sup: SupportSpec, sv: SupportVars,
                   full: np.ndarray, xn: np.ndarray, xc: np.ndarray) -> np.ndarray | None:
    """Fill the support columns of ``full`` (a solution vector of every other column) for
    the point with numeric values ``xn`` and level indices ``xc`` (spec order), or None
    when the point is not within the radius of enough kept rows (hull: not supported)."""
    if sup.hull:
        return None
    d = distances(sup, xn, xc)[0][sv.rows]
    tol = 1e-9 * max(1.0, sup.radius)
    near = d <= sup.radius + tol
    if float(sup.weight[sv.rows][near].sum()) < sup.k:
        return None
    out = full.copy()
    out[sv.s] = near.astype(float)
    if sv.anchor is not None:
        first = np.zeros(sv.rows.size)
        first[int(np.argmax(near))] = 1.0
        out[sv.anchor] = first
        if sv.anchor is sv.s or np.array_equal(sv.anchor, sv.s):
            out[sv.s] = first
    if sv.e is not None:
        dn = np.abs(xn[None, :] - sup.A[sv.rows]) / sup.scale
        for a in range(sv.rows.size):
            for p in range(sup.num_feat.size):
                if sv.e[a, p] >= 0:
                    out[sv.e[a, p]] = dn[a, p] if near[a] else 0.0
    return out

"""Bound propagation to a fixed point, after the single pass of
``recourse.solvers.prune.prune`` (used when ``recourse.solvers.prune.PROPAGATE`` is on).

Measured against the single pass, off by default (``python benchmarks/peers.py
--datasets credit_data --models rf100x6,rf300x8 --n 15 --time-limit 30 --variants
propagate,auto,propagate@auto --no-peer``, per-query time ratios in one run, medians):
credit_data RF 100x6 1.03 on HiGHS (proven 13/15 against 14/15), 0.98 on CP-SAT
(``auto``); RF 300x8 1.00 and 1.01; German RF 100x6 1.04 and 1.06. On the hard queries
it removes almost nothing the single pass leaves (credit_data RF 100x6, four hard
applicants: 3-4 of about 2,000 reduced variables, 2-3 % of the rows): the single pass is
already close to its fixed point there, and the solvers propagate the same rows
themselves.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.solvers.problem import RecourseProblem

__all__ = ["propagate", "PROPAGATE_ROUNDS"]

#: Most rounds of :func:`propagate`.
PROPAGATE_ROUNDS = 8


def propagate(prob: RecourseProblem, norm: str, upper: float, lb: np.ndarray,
               ub: np.ndarray, dead: np.ndarray, seg: np.ndarray, x0v: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Propagate the tree bounds of :func:`prune` to a fixed point (``lb``, ``ub`` in place).

    Each round, for answers cheaper than ``upper`` (each a valid consequence of the rows,
    given that a dead leaf's binary is 0):

    * *score*: a leaf whose value, plus the best every other tree can still add, misses a
      target row is dead;
    * *paths*: a node whose left (right) subtree holds no live leaf must send the answer
      right (left): its literal is fixed (a threshold binary, or the levels of a group on
      the closed side); the threshold order ``z_i >= z_{i+1}`` carries fixings along;
    * *cost*: every feature forced off the applicant's cell costs at least its cheapest
      forced crossing; their sum is a lower bound on the cost (``>= upper``: nothing
      cheaper exists), and a leaf costs at least ``sum_j max(forced_j, its own distance
      on j)``; a leaf at or beyond ``upper`` is dead;
    * *box*: a leaf whose path a fixed binary closes is dead.

    Returns the dead leaves, their distances, the number of rounds, and whether the bounds
    admit nothing cheaper than ``upper`` (a tree without a live leaf, crossed bounds, or
    forced costs reaching ``upper``).
    """
    enc = prob.enc
    tree = enc.tree
    assert tree is not None
    nd = tree.nodes
    nb = enc.n_vars
    tol = 1e-9 * max(1.0, abs(upper))
    cross = prob.crossing if norm == "l1" else prob.crossing_l0
    n_leaf, n_tree = tree.leaf_var.size, tree.n_trees
    G, g_lo = enc.target_rows(prob.target, 0.0)
    G = sp.csr_matrix(G)
    only_leaves = np.isin(G.indices, tree.leaf_var).all()
    Gl = np.asarray(G[:, tree.leaf_var].todense()) if only_leaves else None
    lit = sp.csr_matrix(tree.literal)
    if lit.nnz == 0:  # no split anywhere: nothing to propagate
        return dead, np.bincount(nd["cond_seg_leaf"], weights=seg,
                                 minlength=tree.leaf_var.size), 0, False
    nnz = np.diff(lit.indptr)
    single = nnz == 1
    first = np.minimum(lit.indptr[:-1], lit.nnz - 1)
    s_var = np.where(single, lit.indices[first], -1)
    s_coef = np.where(single, lit.data[first], 0.0)
    groups = [lk for lk in enc.links if isinstance(lk, GroupLink)]
    var_group = np.full(nb, -1)
    for g, lk in enumerate(groups):
        var_group[lk.vars] = g
    thresholds = [lk for lk in enc.links if isinstance(lk, ThresholdLink)]
    AR, AL = sp.csc_matrix(tree.anc_right), sp.csc_matrix(tree.anc_left)
    below = sp.csc_matrix(AR + AL)
    has_leaves = np.diff(below.indptr) > 0
    node_tree = np.zeros(below.shape[1], dtype=np.int64)
    node_tree[has_leaves] = tree.leaf_tree[below.indices[below.indptr[:-1][has_leaves]]]
    seg_leaf, seg_feat = nd["cond_seg_leaf"], nd["cond_seg_feature"]
    n_feat = prob.spec.space.n_features
    dist = np.bincount(seg_leaf, weights=seg, minlength=n_leaf)
    rounds = 0
    while rounds < PROPAGATE_ROUNDS:
        rounds += 1
        before = (int(dead.sum()), lb[:nb].copy(), ub[:nb].copy())
        # score
        if Gl is not None:
            for r in range(Gl.shape[0]):
                val = np.where(dead, -np.inf, Gl[r])
                best = np.full(n_tree, -np.inf)
                np.maximum.at(best, tree.leaf_tree, val)
                if not np.all(np.isfinite(best)):
                    return dead, dist, rounds, True
                need = g_lo[r] - (best.sum() - best[tree.leaf_tree])
                dead |= Gl[r] < need - 1e-9 * max(1.0, abs(g_lo[r]))
        alive = (~dead).astype(float)
        per_tree = np.bincount(tree.leaf_tree, weights=alive, minlength=n_tree)
        if np.any(per_tree < 0.5):
            return dead, dist, rounds, True
        # paths: nodes whose one side holds no live leaf
        right_live = AR.T @ alive
        left_live = AL.T @ alive
        # a node decides only when every live leaf of its tree lies below it
        all_below = np.abs(right_live + left_live - per_tree[node_tree]) < 0.5
        go_right = has_leaves & all_below & (left_live < 0.5)
        go_left = has_leaves & all_below & (right_live < 0.5)
        for k in np.flatnonzero((go_right | go_left) & single):
            want = 1.0 if go_right[k] else 0.0
            v = int(s_var[k])
            val = (want - float(tree.literal0[k])) / float(s_coef[k])
            lb[v], ub[v] = max(lb[v], val), min(ub[v], val)
        for k in np.flatnonzero((go_right | go_left) & ~single & (nnz > 0)):
            cols = lit.indices[lit.indptr[k]:lit.indptr[k + 1]]
            g = var_group[cols]
            if tree.literal0[k] != 0 or np.any(g < 0) or np.any(g != g[0]) \
                    or np.any(lit.data[lit.indptr[k]:lit.indptr[k + 1]] != 1.0):
                continue
            if go_left[k]:
                ub[cols] = 0.0
            else:
                rest = np.setdiff1d(groups[int(g[0])].vars, cols)
                ub[rest] = np.minimum(ub[rest], 0.0)
        for lk in thresholds:  # z_i >= z_{i+1}
            lb[lk.vars] = np.maximum.accumulate(lb[lk.vars][::-1])[::-1]
            ub[lk.vars] = np.minimum.accumulate(ub[lk.vars])
        if np.any(lb[:nb] > ub[:nb] + 1e-9):
            return dead, dist, rounds, True
        # cost: per feature, the cheapest forced crossing
        forced = np.zeros(n_feat)
        for lk in thresholds:
            z0 = x0v[lk.vars]
            moved = ((z0 < 0.5) & (lb[lk.vars] > 0.5)) | ((z0 > 0.5) & (ub[lk.vars] < 0.5))
            if moved.any():
                forced[lk.feature] = float(cross[lk.vars][moved].max())
        for lk in groups:
            z0 = x0v[lk.vars]
            cur = int(np.argmax(z0))
            if ub[lk.vars[cur]] < 0.5:
                open_ = ub[lk.vars] > 0.5
                if not open_.any():
                    return dead, dist, rounds, True
                forced[lk.feature] = float(cross[lk.vars][open_].min())
        base = float(forced.sum())
        if base >= upper - tol:
            return dead, dist, rounds, True
        extra = np.maximum(0.0, seg - forced[seg_feat])
        dist = base + np.bincount(seg_leaf, weights=extra, minlength=n_leaf)
        dead |= dist >= upper - tol
        # box
        pos, neg = lit.maximum(0), lit.minimum(0)
        rmax = np.asarray(pos @ ub[:nb] + neg @ lb[:nb]).ravel() + tree.literal0
        rmin = np.asarray(pos @ lb[:nb] + neg @ ub[:nb]).ravel() + tree.literal0
        dead |= (tree.anc_right @ (rmax < 0.5).astype(float)
                 + tree.anc_left @ (rmin > 0.5).astype(float)) > 0
        ub[tree.leaf_var[dead]] = 0.0
        if int(dead.sum()) == before[0] and np.array_equal(lb[:nb], before[1]) \
                and np.array_equal(ub[:nb], before[2]):
            break
    return dead, dist, rounds, False

"""Bounds before any solver runs: a move that costs at least the incumbent on its own is
fixed, leaves no allowed move can reach are dropped, each tree is bounded by the least
distance to a leaf that approves, and leaf-distance cuts tighten the problem
(:func:`prune`). Its infeasibility verdict is the engine's own arithmetic (certified as
``"tree-bounds"`` by ``recourse.solvers.search``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.solvers.leaves import leaf_link_values
from recourse.solvers.problem import RecourseProblem

__all__ = ["prune", "leaf_distance", "leaf_feature_distance", "reach_bound"]


def prune(prob: RecourseProblem, norm: str, upper: float) -> tuple[RecourseProblem, bool]:
    """Fix every move whose cost alone is ``>= upper``; drop dead leaves; bound each tree.

    Returns the reduced problem (same variables, tighter bounds) and ``True`` when the
    bounds alone prove that no solution costs less than ``upper``.
    """
    enc = prob.enc
    lb, ub = prob.lb.copy(), prob.ub.copy()
    cross = prob.crossing if norm == "l1" else prob.crossing_l0
    tol = 1e-9 * max(1.0, abs(upper))
    x0v = _link_values_at_x0(prob)
    too_far = (cross >= upper - tol) & np.isfinite(x0v)
    lb[too_far] = np.maximum(lb[too_far], np.minimum(x0v[too_far], ub[too_far]))
    ub[too_far] = np.minimum(ub[too_far], np.maximum(x0v[too_far], lb[too_far]))
    n_fixed = int(too_far.sum())
    tree = enc.tree
    if tree is None:
        return prob.with_bounds(lb, ub), False
    nb = enc.n_vars
    dead = tree.unreachable(lb[:nb], ub[:nb])
    dist = _leaf_costs(prob, norm, ub)
    dead |= (dist >= upper - tol) | (dist >= _UNREACHABLE)
    ub[tree.leaf_var[dead]] = 0.0
    # Per-tree bound: the best each tree can still add to every target row.
    Gl, g_lo = enc.target_leaf_rows(prob.target)
    Gl = np.where(dead[None, :], -np.inf, Gl)
    best = np.full((Gl.shape[0], tree.n_trees), -np.inf)
    for r in range(Gl.shape[0]):
        np.maximum.at(best[r], tree.leaf_tree, Gl[r])
    reach = best.sum(axis=1)
    blocked = bool(np.any(reach < g_lo - 1e-12))
    stats = dict(prob.stats, fixed_by_bound=n_fixed, dead_leaves=int(dead.sum()))
    out = replace(prob.with_bounds(lb, ub), stats=stats)
    if not blocked:
        out = _leaf_cuts(out, norm, np.where(dead, 0.0, dist))
    return out, blocked


#: Exact leaf costs (``recourse.solvers.leaves``) are computed when leaves x link
#: variables is at most this (their dense work array); beyond it the per-feature bound
#: alone is used.
EXACT_LEAF_WORK = 200_000

_UNREACHABLE = 1e29  # a leaf distance at or above this means: no allowed move reaches it


def _leaf_costs(prob: RecourseProblem, norm: str, ub: np.ndarray) -> np.ndarray:
    """Each leaf's least cost from the applicant: exact when the work is small enough
    (level sets intersected, moves the bounds forbid; for one tree the optimum's own leaf
    then meets the incumbent's cost, which proves it), else the per-feature bound. The
    exact costs are taken within the problem's own bounds (computed once, shared with the
    incumbent search): a leaf that needs a move fixed by ``ub`` costs at least that move,
    so it is dead under either bounds, and every other leaf has the same cheapest point."""
    tree = prob.enc.tree
    assert tree is not None
    if tree.leaf_var.size * prob.enc.n_link <= EXACT_LEAF_WORK:
        return leaf_link_values(prob, norm)[2]
    return leaf_distance(prob, norm, ub)


def leaf_distance(prob: RecourseProblem, norm: str, ub: np.ndarray | None = None) -> np.ndarray:
    """A lower bound on the cost of reaching each leaf from the applicant: the sum over
    features of :func:`leaf_feature_distance`."""
    tree = prob.enc.tree
    assert tree is not None
    seg = leaf_feature_distance(prob, norm, ub)
    return np.bincount(tree.nodes["cond_seg_leaf"], weights=seg, minlength=tree.leaf_var.size)


def leaf_feature_distance(prob: RecourseProblem, norm: str,
                          ub: np.ndarray | None = None) -> np.ndarray:
    """Per (leaf, feature) segment of ``tree.nodes["cond_seg_*"]``: the least cost of
    meeting the leaf's conditions on that feature.

    Per feature, the costliest condition on the leaf's path decides (crossing costs grow
    with the distance from ``x0``, so the farthest threshold decides; a categorical
    condition costs its cheapest allowed level).
    """
    tree = prob.enc.tree
    assert tree is not None
    nd = tree.nodes
    ub = prob.ub if ub is None else ub
    cross = prob.crossing if norm == "l1" else prob.crossing_l0
    z0 = _link_values_at_x0(prob)
    kind, var, sign = nd["kind"], nd["var"], nd["sign"]
    cost_up = np.where(z0[var] < 0.5, cross[var], 0.0)      # to make z_var = 1
    cost_down = np.where(z0[var] > 0.5, cross[var], 0.0)    # to make z_var = 0
    c_right = np.where(sign > 0, cost_up, cost_down)
    c_left = np.where(sign > 0, cost_down, cost_up)
    if np.any(kind == 2):
        gnodes = np.flatnonzero(kind == 2)
        level_cost = np.full((len(nd["group_feature"]), nd["table"].shape[1]), np.inf)
        for g, f in enumerate(nd["group_feature"]):
            lk = prob.enc.link_of(int(f))
            lc = np.where(ub[lk.vars] > 0.5, cross[lk.vars], np.inf)
            level_cost[g, : lc.size] = lc
        lc = level_cost[nd["group"][gnodes]]
        tab = nd["table"][gnodes]
        c_right[gnodes] = np.where(tab, lc, np.inf).min(axis=1)
        c_left[gnodes] = np.where(~tab & np.isfinite(lc), lc, np.inf).min(axis=1)
    c_right = np.where(kind == 0, 0.0, c_right)
    c_left = np.where(kind == 0, 0.0, c_left)
    node = nd["cond_node"]
    cost = np.where(nd["cond_right"], c_right[node], c_left[node])
    if cost.size == 0:
        return np.zeros(0)
    seg = np.maximum.reduceat(cost, nd["cond_starts"])
    return np.where(np.isfinite(seg), seg, 2 * _UNREACHABLE)


def _leaf_cuts(prob: RecourseProblem, norm: str, dist: np.ndarray) -> RecourseProblem:
    """Valid inequalities from leaf distances (reaching a leaf costs at least its distance):
    per tree, ``cost >= sum_leaves dist_leaf * y_leaf``, through one new column equal to the
    objective. (Per (tree, feature) versions, ``cost_j >= sum dist_{leaf,j} y_leaf``, were
    measured too: 60 % slower on credit_data's hard cases, so they are not added.)
    """
    tree = prob.enc.tree
    assert tree is not None
    c, c0 = prob.objective(norm)
    n = prob.n
    blocks: list[sp.csr_matrix] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    new_cols = 0
    # aggregated, per tree
    keep = dist > 0
    if keep.any():
        trees, r = np.unique(tree.leaf_tree[keep], return_inverse=True)
        col = n + new_cols
        new_cols += 1
        rows = sp.csr_matrix((np.concatenate([-dist[keep], np.ones(trees.size)]),
                              (np.concatenate([r, np.arange(trees.size)]),
                               np.concatenate([tree.leaf_var[keep],
                                               np.full(trees.size, col)]))),
                             shape=(trees.size, col + 1))
        link = sp.csr_matrix((np.concatenate([-c[c != 0], [1.0]]),
                              (np.zeros(int((c != 0).sum()) + 1, dtype=np.int64),
                               np.concatenate([np.flatnonzero(c), [col]]))), shape=(1, col + 1))
        blocks += [link, rows]
        lo += [np.array([c0]), np.zeros(trees.size)]
        hi += [np.array([c0]), np.full(trees.size, np.inf)]
    if not new_cols:
        return prob
    width = n + new_cols
    blocks = [sp.csr_matrix((b.data, b.indices, b.indptr), shape=(b.shape[0], width))
              for b in blocks]
    A = sp.vstack([sp.hstack([prob.A, sp.csr_matrix((prob.A.shape[0], new_cols))]).tocsr()]
                  + blocks).tocsr()
    z = np.zeros(new_cols)
    return replace(
        prob, A=A,
        row_lo=np.concatenate([prob.row_lo] + lo), row_hi=np.concatenate([prob.row_hi] + hi),
        lb=np.concatenate([prob.lb, z]), ub=np.concatenate([prob.ub, np.full(new_cols, np.inf)]),
        integer=np.concatenate([prob.integer, np.zeros(new_cols, dtype=bool)]),
        l1=np.concatenate([prob.l1, z]), l0=np.concatenate([prob.l0, z]),
        crossing=np.concatenate([prob.crossing, z]),
        crossing_l0=np.concatenate([prob.crossing_l0, z]),
        stats=dict(prob.stats, cut_rows=int(A.shape[0] - prob.A.shape[0])))


def _link_values_at_x0(prob: RecourseProblem) -> np.ndarray:
    """Value of every link variable at the applicant (NaN for other variables)."""
    out = np.full(prob.n, np.nan)
    V = prob.enc.block_values(prob.x0[None, :])[0]
    for link in prob.enc.links:
        if isinstance(link, (ThresholdLink, GroupLink)):
            out[link.vars] = V[link.vars]
    return out


def reach_bound(prob: RecourseProblem, pruned: RecourseProblem, norm: str) -> float | None:
    """A lower bound on the cost of every answer of ``pruned`` (``prob`` after
    :func:`prune`) by the engine's own arithmetic: the least budget ``B`` at which the best
    leaf each tree can reach within ``B`` (its leaf distance at most ``B``) adds up to
    every target row. An answer costing ``C`` reaches, in every tree, a leaf no farther
    than ``C``, so ``C >= B``. ``None`` for problems without trees. It is reported beside
    an answer the time limit leaves unproven, with the solver's own bound.
    """
    enc = prob.enc
    tree = enc.tree
    if tree is None:
        return None
    dist = _leaf_costs(prob, norm, pruned.ub[: prob.n])
    alive = (pruned.ub[tree.leaf_var] > 0.5) & (dist < _UNREACHABLE)
    idx = np.flatnonzero(alive)
    if idx.size == 0:
        return None
    t, d = tree.leaf_tree[idx], dist[idx]
    order = np.lexsort((d, t))  # by tree, then distance
    idx, t, d = idx[order], t[order], d[order]
    first = np.r_[True, t[1:] != t[:-1]]
    if np.unique(t).size < tree.n_trees:
        return None  # a tree with no leaf left: prune proves this itself
    floor = float(d[first].max())  # below it some tree reaches no leaf at all
    Gl, g_lo = enc.target_leaf_rows(prob.target)
    by_dist = np.argsort(d, kind="stable")
    out = floor
    for r in range(Gl.shape[0]):
        v = Gl[r, idx]
        span = float(v.max() - v.min()) + 1.0
        off = t.astype(float) * span  # trees in ascending order: one running max per tree
        best = np.maximum.accumulate(v + off) - off
        gain = np.where(first, 0.0, best - np.r_[0.0, best[:-1]])
        reach = best[first].sum() + np.cumsum(gain[by_dist])
        tol = 1e-9 * max(1.0, span * tree.n_trees)  # the sums' rounding: err low
        ok = np.flatnonzero(reach >= g_lo[r] - tol)
        if ok.size == 0:
            return None  # no budget reaches the row: prune proves this itself
        out = max(out, float(d[by_dist][ok[0]]))
    return out

"""The cheapest point of every leaf: exact per-leaf costs for tree models.

A leaf of a decision tree is a box: on each numeric feature an interval of threshold
cells, on each categorical feature a set of levels (the intersection of the conditions on
its path). Costs are separable over features, so the cheapest point of a leaf within the
action set is found feature by feature: a numeric feature moves from the applicant's cell
to the nearest cell of the leaf's interval (crossing the fewest thresholds, which is the
cheapest move since crossing costs grow with the distance), a categorical feature keeps
its level when the leaf allows it and otherwise takes the cheapest level the leaf and the
action set allow. A leaf whose point would need a move the action set forbids (a variable
fixed by a bound, direction or immutability) is unreachable.

For a single tree this is the whole problem: every point lies in exactly one leaf, so the
cheapest approved leaf point is optimal over the encoding (:func:`leaf_points` gives its
candidates to ``recourse.solvers.incumbent.find_incumbent``, and
``recourse.solvers.prune.prune`` proves it with the same per-leaf costs as lower bounds).
For ensembles the leaf points of each tree are candidates only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.encoders.evaluate import link_values
from recourse.solvers.problem import RecourseProblem, decode

__all__ = ["leaf_points", "iter_leaf_points", "leaf_link_values"]


def leaf_link_values(prob: RecourseProblem, norm: str, leaves: np.ndarray | None = None,
                     ub: np.ndarray | None = None, lb: np.ndarray | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Link-variable values of the cheapest point of each leaf, whether it exists, and
    its cost.

    Returns ``(Z, ok, dist)``: ``Z[i]`` the link values (``enc.n_link``) of leaf
    ``leaves[i]``'s cheapest point within the bounds ``lb``/``ub`` (default: the
    problem's); ``ok[i]`` False when the leaf is empty or unreachable within those
    bounds; ``dist[i]`` the least cost of reaching the leaf in the problem's crossing
    costs (``norm``: ``"l1"`` or L0), the sum over features of the farthest threshold
    crossed or the level taken (``inf`` where ``ok`` is False). ``dist`` is exact for
    the encoding's costs and a lower bound wherever values carry the costs (a value costs
    at least what reaching its cell costs).

    Bounds that exclude the applicant's own cell (an applicant outside the action set)
    are not used to declare a leaf unreachable. For all leaves within the problem's own
    bounds the result is computed once per problem (read-only arrays).
    """
    if leaves is None and lb is None and ub is None:
        def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            out = _leaf_link_values(prob, norm, None, prob.ub, prob.lb)
            for a in out:
                a.setflags(write=False)
            return out

        return prob.cached(("leaf_link_values", norm), make)
    return _leaf_link_values(prob, norm, leaves, prob.ub if ub is None else ub,
                             prob.lb if lb is None else lb)


def _leaf_link_values(prob: RecourseProblem, norm: str, leaves: np.ndarray | None,
                      ub: np.ndarray, lb: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    enc = prob.enc
    tree = enc.tree
    assert tree is not None
    nd = tree.nodes
    nl = enc.n_link
    n_leaves = int(tree.leaf_var.size)
    leaves = np.arange(n_leaves) if leaves is None else np.asarray(leaves, dtype=np.int64)
    row_of = np.full(n_leaves, -1)
    row_of[leaves] = np.arange(leaves.size)
    z0 = link_values(enc, prob.x0[None, :])[0]
    Z = np.repeat(z0[None, :], leaves.size, axis=0)
    ok = np.ones(leaves.size, dtype=bool)
    cross = prob.crossing if norm == "l1" else prob.crossing_l0
    if leaves.size == 0:
        return Z, ok, np.zeros(0)
    # conditions of the selected leaves: (leaf row, node, right)
    seg_len = np.diff(np.append(nd["cond_starts"], nd["cond_node"].size))
    cond_leaf = np.repeat(nd["cond_seg_leaf"], seg_len)
    sel = row_of[cond_leaf] >= 0
    rows, node, right = row_of[cond_leaf[sel]], nd["cond_node"][sel], nd["cond_right"][sel]
    kind = nd["kind"][node]
    # constant nodes (splits the encoding decided once): the leaf must lie on their side
    const = kind == 0
    bad = (nd["c0"][node[const]] > 0.5) != right[const]
    ok[np.unique(rows[const][bad])] = False
    # thresholds: the leaf needs z[var] = need; on a monotone link this fixes every z
    # below a needed 1 to 1 and every z above a needed 0 to 0
    th = kind == 1
    var = nd["var"][node[th]]
    need = np.where(nd["sign"][node[th]] > 0, right[th], ~right[th])
    links = [lk for lk in enc.links if isinstance(lk, ThresholdLink)]
    link_of = np.full(nl, -1)
    pos_of = np.zeros(nl, dtype=np.int64)
    for i, lk in enumerate(links):
        link_of[lk.vars] = i
        pos_of[lk.vars] = np.arange(len(lk.vars))
    lo_pos = np.full((leaves.size, len(links)), -1)       # highest position needed at 1
    hi_pos = np.full((leaves.size, len(links)), np.iinfo(np.int64).max)  # lowest at 0
    r_th = rows[th]
    np.maximum.at(lo_pos, (r_th[need], link_of[var[need]]), pos_of[var[need]])
    np.minimum.at(hi_pos, (r_th[~need], link_of[var[~need]]), pos_of[var[~need]])
    ok &= np.all(lo_pos < hi_pos, axis=1)
    dist = np.zeros(leaves.size)
    for i, lk in enumerate(links):
        pos = np.arange(len(lk.vars))[None, :]
        Z[:, lk.vars] = np.where(pos <= lo_pos[:, i, None], 1.0,
                                 np.where(pos >= hi_pos[:, i, None], 0.0, Z[:, lk.vars]))
        moved = Z[:, lk.vars] != z0[lk.vars][None, :]
        dist += np.where(moved, cross[lk.vars][None, :], 0.0).max(axis=1, initial=0.0)
    # levels: the intersection of the path's level sets, then the cheapest allowed level
    gr = kind == 2
    if np.any(gr):
        width = nd["table"].shape[1]
        n_groups = len(nd["group_feature"])
        allowed = np.ones((leaves.size, n_groups, width), dtype=bool)
        g = nd["group"][node[gr]]
        tab = nd["table"][node[gr]]
        tab = np.where(right[gr][:, None], tab, ~tab)
        np.logical_and.at(allowed, (rows[gr], g), tab)
        for gi, f in enumerate(nd["group_feature"]):
            lk = enc.link_of(int(f))
            assert isinstance(lk, GroupLink)
            k = len(lk.vars)
            a = allowed[:, gi, :k] & (ub[lk.vars] > 0.5)[None, :]
            cur = int(np.argmax(z0[lk.vars]))
            keep = a[:, cur]
            price = np.where(a, cross[lk.vars][None, :], np.inf)
            pick = np.argmin(price, axis=1)
            ok &= keep | np.isfinite(price[np.arange(leaves.size), pick])
            lvl = np.where(keep, cur, pick)
            Z[:, lk.vars] = 0.0
            Z[np.arange(leaves.size), lk.vars[lvl]] = 1.0
            dist += np.where(keep, 0.0, cross[lk.vars[lvl]])
    # every link variable within its bounds (fixed moves: immutables, directions, ranges)
    tol = 1e-9
    if np.all((z0 >= lb[:nl] - tol) & (z0 <= ub[:nl] + tol)):
        ok &= np.all((Z >= lb[:nl] - tol) & (Z <= ub[:nl] + tol), axis=1)
    return Z, ok, np.where(ok, dist, np.inf)


def leaf_points(prob: RecourseProblem, norm: str, leaves: np.ndarray | None = None,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Search vectors of the cheapest point of each reachable leaf, and their costs.

    Returns ``(H, cost)`` for the reachable leaves among ``leaves`` (default: all), with
    the cost of each point under ``norm`` (``"l1"``; anything else: L0) as the problem
    prices it, cheapest first; with ``limit``, only the ``limit`` cheapest. The points
    are placed as ``recourse.solvers.problem.decode`` places a solver's answer, so an
    approved point is a valid starting solution.
    """
    Z, cost = _ordered(prob, norm, leaves)
    return _decode_all(prob, Z[:limit]), cost[:limit]


def iter_leaf_points(prob: RecourseProblem, norm: str, leaves: np.ndarray | None = None,
                     first: int = 1, growth: int = 8) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`leaf_points` in chunks, cheapest first, decoded only when asked for: sizes
    ``first``, ``first * growth``, ... (the per-leaf costs are computed once)."""
    Z, cost = _ordered(prob, norm, leaves)
    start, size = 0, max(1, first)
    while start < cost.size:
        yield _decode_all(prob, Z[start : start + size]), cost[start : start + size]
        start, size = start + size, size * growth


def _ordered(prob: RecourseProblem, norm: str,
             leaves: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Link values and costs of the reachable leaves' cheapest points, cheapest first."""
    Z, ok, _ = leaf_link_values(prob, norm)  # every leaf, once per problem
    if leaves is not None:
        Z, ok = Z[leaves], ok[leaves]
    obj, obj0 = prob.objective("l1" if norm == "l1" else "l0")
    Z = Z[ok]
    cost = Z @ obj[: prob.enc.n_link] + obj0
    order = np.argsort(cost, kind="stable")
    return Z[order], cost[order]


def _decode_all(prob: RecourseProblem, Z: np.ndarray) -> np.ndarray:
    """Search vectors of link-value rows ``Z``, placed as ``decode`` places an answer."""
    nl = prob.enc.n_link
    full = np.zeros(prob.n)
    H = np.empty((Z.shape[0], prob.x0.size))
    for i in range(Z.shape[0]):
        full[:nl] = Z[i]
        H[i] = decode(prob, full)
    return H

"""The encoding's own forward pass: block variable values at given search vectors.

Used to rank candidate starting points quickly and by the tests to check an encoding
against the model's own ``predict``. Tree ensembles are walked level by level over flat
node arrays (memory ``O(points x trees)``), never through dense node matrices. Every
link variable is read off one table (:func:`link_table`: its search column, and for a
threshold indicator its threshold), so no pass loops over the features in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import GroupLink, ThresholdLink, ValueLink

if TYPE_CHECKING:
    from recourse.encoders.block import EncodedModel

__all__ = ["LinkTable", "block_values", "link_table", "link_values", "tree_leaves",
           "tree_leaves_at", "trees_of_features"]


@dataclass(frozen=True)
class LinkTable:
    """Every link variable of an encoding as flat arrays (``n_link`` long).

    Attributes
    ----------
    n_link : int
        Number of link variables (block variables ``0 .. n_link - 1``).
    col : numpy.ndarray
        Search column each variable reads (-1 for a variable no link owns).
    thr : numpy.ndarray
        Threshold of a threshold indicator (NaN for the others).
    tie : numpy.ndarray
        Whether a value exactly at the threshold counts as above (``tie_right``).
    is_thr : numpy.ndarray
        Which variables are threshold indicators (``z = [x > thr]``); the others are the
        search value itself (a numeric value or a level indicator).
    feature : numpy.ndarray
        Feature of each variable (-1 for a variable no link owns).
    owned_all : bool
        Whether every variable ``0 .. n_link - 1`` belongs to a link.
    """

    n_link: int
    col: np.ndarray
    thr: np.ndarray
    tie: np.ndarray
    is_thr: np.ndarray
    feature: np.ndarray
    owned_all: bool


def link_table(enc: EncodedModel) -> LinkTable:
    """The :class:`LinkTable` of ``enc`` (built once per encoding, kept in its memo)."""
    table = enc._memo.get("link_table")
    if table is None:
        table = enc._memo["link_table"] = _build_table(enc)
    return table


def _build_table(enc: EncodedModel) -> LinkTable:
    owned: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, int]] = []
    for link in enc.links:
        s = int(enc.space_start[link.feature])
        if isinstance(link, ValueLink):
            v = np.array([link.var], dtype=np.int64)
            owned.append((v, np.array([s]), np.array([np.nan]), np.zeros(1, bool), False,
                          link.feature))
        elif isinstance(link, ThresholdLink):
            v = np.asarray(link.vars, dtype=np.int64)
            tie = (np.zeros(v.size, bool) if link.tie_right is None
                   else np.asarray(link.tie_right, dtype=bool))
            owned.append((v, np.full(v.size, s), np.asarray(link.thresholds, dtype=float),
                          tie, True, link.feature))
        elif isinstance(link, GroupLink):
            v = np.asarray(link.vars, dtype=np.int64)
            owned.append((v, s + np.arange(v.size), np.full(v.size, np.nan),
                          np.zeros(v.size, bool), False, link.feature))
    n = max([int(v.max()) + 1 for v, *_ in owned if v.size], default=0)
    col = np.full(n, -1, dtype=np.int64)
    thr = np.full(n, np.nan)
    tie = np.zeros(n, dtype=bool)
    is_thr = np.zeros(n, dtype=bool)
    feature = np.full(n, -1, dtype=np.int64)
    for v, c, t, ti, th, f in owned:
        col[v], thr[v], tie[v], is_thr[v], feature[v] = c, t, ti, th, f
    for a in (col, thr, tie, is_thr, feature):
        a.setflags(write=False)
    return LinkTable(n, col, thr, tie, is_thr, feature, bool(np.all(col >= 0)))


def link_values(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Values of the link variables (block variables ``0 .. enc.n_link - 1``) at ``S``."""
    S = np.atleast_2d(np.asarray(S, dtype=float))
    tb = link_table(enc)
    X = S[:, np.maximum(tb.col, 0)]
    V = np.where(tb.is_thr, (X > tb.thr) | ((X == tb.thr) & tb.tie), X)
    if not tb.owned_all:
        V[:, tb.col < 0] = 0.0
    return V


def _levels(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Level index of every grouped feature the trees split on (points x groups)."""
    tree = enc.tree
    assert tree is not None
    gf = tree.nodes["group_feature"]
    levels = np.zeros((S.shape[0], max(len(gf), 1)), dtype=np.int64)
    for g, f in enumerate(gf):
        s, e = int(enc.space_start[f]), int(enc.space_start[f + 1])
        levels[:, g] = np.argmax(S[:, s:e], axis=1)
    return levels


@dataclass(frozen=True)
class _NodeTable:
    """Per node of the flat ensemble: the search column it reads and the test it makes,
    folded for the walk. Node ``i`` goes to ``child[2 i + (x > go_thr[i])]``, with ``x``
    the point's value in column ``col[i]``: a threshold node goes right iff ``x > thr``
    (or ``x == thr`` where a tie counts as above: the threshold is moved to the float
    below it), a decreasing literal swaps the children, and a constant node has an
    infinite threshold. ``inner`` marks the nodes that are not leaves, ``level`` the
    levels nodes (read by the node's ``table``); ``plain`` is False when some node's
    literal has another form (then the general formula is used). A leaf's children are
    itself and its threshold infinite, so a step leaves a point at a leaf in place:
    the walk steps every pair together for ``full_steps`` (the median depth of a leaf)
    before it follows only the pairs still at inner nodes.
    """

    col: np.ndarray
    go_thr: np.ndarray
    child: np.ndarray
    inner: np.ndarray
    level: np.ndarray
    has_levels: bool
    plain: bool
    full_steps: int


def _node_table(enc: EncodedModel) -> _NodeTable:
    table = enc._memo.get("node_table")
    if table is not None:
        return table
    tree = enc.tree
    assert tree is not None
    nd, tb = tree.nodes, link_table(enc)
    kind, var, sign, c0 = nd["kind"], nd["var"], nd["sign"], nd["c0"]
    cut = kind == 1
    v = np.where(cut, var, 0)
    owned = tb.col[v] >= 0 if tb.n_link else np.zeros(kind.size, bool)
    col = np.where(cut & owned, tb.col[v] if tb.n_link else 0, 0)
    thr = np.where(cut & owned, np.where(tb.is_thr[v], tb.thr[v], 0.5) if tb.n_link else 0.5,
                   0.5)
    tie = cut & owned & (tb.tie[v] if tb.n_link else False)
    flip = cut & (sign < 0)
    # every threshold node reads an indicator (a threshold or a level, not a raw value)
    # through its literal c0 + sign * z as z itself (0, +1) or 1 - z (1, -1)
    indicator = owned & (tb.is_thr[v] | _is_level(enc, v)) if tb.n_link else owned
    form = ((sign == 1) & (c0 == 0)) | ((sign == -1) & (c0 == 1))
    plain = bool(np.all(~cut | (indicator & form)))
    const_right = (kind == 0) & (c0 > 0.5)
    inner = nd["left"] >= 0
    go_thr = np.where(tie, np.nextafter(thr, -np.inf), thr).astype(float)
    go_thr = np.where(kind == 0, np.where(const_right, -np.inf, np.inf), go_thr)
    go_thr = np.where(inner, go_thr, np.inf)
    ids = np.arange(kind.size)
    lo_child = np.where(inner, np.where(flip, nd["right"], nd["left"]), ids)
    hi_child = np.where(inner, np.where(flip, nd["left"], nd["right"]), ids)
    child = np.stack([lo_child, hi_child], axis=1).ravel().astype(np.int64)
    table = _NodeTable(col, go_thr, child, inner, kind == 2, bool(np.any(kind == 2)), plain,
                       _median_leaf_depth(nd))
    for a in (col, go_thr, child, inner, table.level):
        a.setflags(write=False)
    enc._memo["node_table"] = table
    return table


def _median_leaf_depth(nd: Any) -> int:
    """The median depth of the ensemble's leaves (a root that is a leaf: depth 0)."""
    left, right = nd["left"], nd["right"]
    depth = np.zeros(left.size, dtype=np.int64)
    level, d = np.asarray(nd["roots"], dtype=np.int64), 0
    while level.size:
        depth[level] = d
        inner = level[left[level] >= 0]
        level, d = np.concatenate([left[inner], right[inner]]), d + 1
    leaves = depth[left < 0]
    return int(np.median(leaves)) if leaves.size else 0


def _is_level(enc: EncodedModel, v: np.ndarray) -> np.ndarray:
    """Which link variables ``v`` are level indicators of a categorical feature."""
    level = np.zeros(link_table(enc).n_link, dtype=bool)
    for link in enc.links:
        if isinstance(link, GroupLink):
            level[np.asarray(link.vars, dtype=np.int64)] = True
    return level[v]


def tree_leaves_at(enc: EncodedModel, S: np.ndarray, rows: np.ndarray,
                   trees: np.ndarray) -> np.ndarray:
    """Leaf index (into ``enc.tree.leaf_var``) that point ``S[rows[i]]`` reaches in tree
    ``trees[i]``, for every pair ``i`` (the pass :func:`tree_leaves` makes for all pairs)."""
    tree = enc.tree
    assert tree is not None
    nd = tree.nodes
    S = np.atleast_2d(np.asarray(S, dtype=float))
    rows = np.asarray(rows, dtype=np.int64)
    nt = _node_table(enc)
    if not nt.plain:
        return _tree_leaves_general(enc, S, rows, trees)
    levels = _levels(enc, S) if nt.has_levels else None
    flat = np.ascontiguousarray(S).ravel()
    at = rows * S.shape[1]  # each pair's row in the flat points
    node = nd["roots"][np.asarray(trees, dtype=np.int64)].copy()
    for _ in range(nt.full_steps):  # most pairs are at inner nodes: step them all
        node = _step(nt, nd, flat, at, levels, rows, node)
    active = np.flatnonzero(nt.inner[node])
    for _ in range(256):
        if active.size == 0:
            break
        nxt = _step(nt, nd, flat, at[active], levels, rows[active], node[active])
        node[active] = nxt
        active = active[nt.inner[nxt]]
    return nd["leaf"][node]


def _step(nt: _NodeTable, nd: Any, flat: np.ndarray, at: np.ndarray,
          levels: np.ndarray | None, rows: np.ndarray, nod: np.ndarray) -> np.ndarray:
    """One step of the walk: the next node of each pair at node ``nod`` (a leaf stays)."""
    go = flat[at + nt.col[nod]] > nt.go_thr[nod]
    if levels is not None:
        k = np.flatnonzero(nt.level[nod])
        if k.size:
            nk = nod[k]
            go[k] = nd["table"][nk, levels[rows[k], nd["group"][nk]]]
    return nt.child[2 * nod + go]


def _tree_leaves_general(enc: EncodedModel, S: np.ndarray, rows: np.ndarray,
                         trees: np.ndarray) -> np.ndarray:
    """:func:`tree_leaves_at` by each node's literal ``c0 + sign * z`` as it stands."""
    tree = enc.tree
    assert tree is not None
    nd = tree.nodes
    Z = link_values(enc, S)
    levels = _levels(enc, S)
    node = nd["roots"][np.asarray(trees, dtype=np.int64)].copy()
    active = np.flatnonzero(nd["left"][node] >= 0)
    for _ in range(64):
        if active.size == 0:
            break
        nod = node[active]
        kind = nd["kind"][nod]
        ra = rows[active]
        z = Z[ra, nd["var"][nod]] if Z.shape[1] else np.zeros(nod.size)
        r = nd["c0"][nod] + nd["sign"][nod] * z * (kind == 1)
        r = np.where(kind == 2, nd["table"][nod, levels[ra, nd["group"][nod]]], r)
        nxt = np.where(r > 0.5, nd["right"][nod], nd["left"][nod])
        node[active] = nxt
        active = active[nd["left"][nxt] >= 0]
    return nd["leaf"][node]


def trees_of_features(enc: EncodedModel) -> sp.csr_matrix:
    """Which trees split on each feature: (features x trees), 0/1 (once per encoding)."""
    ft = enc._memo.get("trees_of_features")
    if ft is None:
        tree = enc.tree
        assert tree is not None
        nd = tree.nodes
        node_tree = np.searchsorted(nd["roots"], np.arange(nd["left"].size), side="right") - 1
        nf = nd["node_feature"]
        keep = nf >= 0
        ft = sp.csr_matrix((np.ones(int(keep.sum())), (nf[keep], node_tree[keep])),
                           shape=(int(enc.space_start.size - 1), int(tree.n_trees)))
        ft.sum_duplicates()
        ft.data[:] = 1.0
        enc._memo["trees_of_features"] = ft
    return ft


def tree_leaves(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Leaf index (into ``enc.tree.leaf_var``) reached in every tree: (points x trees)."""
    tree = enc.tree
    assert tree is not None
    S = np.atleast_2d(np.asarray(S, dtype=float))
    n, T = S.shape[0], tree.n_trees
    rows = np.repeat(np.arange(n), T)
    trees = np.tile(np.arange(T), n)
    return tree_leaves_at(enc, S, rows, trees).reshape(n, T)


def block_values(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Values of every block variable at the search vectors ``S`` (n x n_search)."""
    if enc.network is not None:
        return np.asarray(enc.network.block_values(S, enc.n_vars))
    L = link_values(enc, S)
    V = np.zeros((L.shape[0], enc.n_vars))
    V[:, : L.shape[1]] = L
    if enc.tree is not None:
        leaves = tree_leaves(enc, S)
        V[np.arange(V.shape[0])[:, None], enc.tree.leaf_var[leaves]] = 1.0
    return V

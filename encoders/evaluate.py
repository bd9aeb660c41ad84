"""The encoding's own forward pass: block variable values at given search vectors.

Used to rank candidate starting points quickly and by the tests to check an encoding
against the model's own ``predict``. Tree ensembles are walked level by level over flat
node arrays (memory ``O(points x trees)``), never through dense node matrices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recourse.encoders.block import GroupLink, ThresholdLink, ValueLink

if TYPE_CHECKING:
    from recourse.encoders.block import EncodedModel

__all__ = ["block_values", "link_values", "tree_leaves"]


def link_values(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Values of the link variables (block variables ``0 .. enc.n_link - 1``) at ``S``."""
    S = np.atleast_2d(np.asarray(S, dtype=float))
    V = np.zeros((S.shape[0], enc.n_link))
    for link in enc.links:
        s = int(enc.space_start[link.feature])
        if isinstance(link, ValueLink):
            V[:, link.var] = S[:, s]
        elif isinstance(link, ThresholdLink):
            V[:, link.vars] = link.above(S[:, s])
        elif isinstance(link, GroupLink):
            V[:, link.vars] = S[:, s : s + len(link.vars)]
    return V


def tree_leaves(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Leaf index (into ``enc.tree.leaf_var``) reached in every tree: (points x trees)."""
    tree = enc.tree
    assert tree is not None
    nd = tree.nodes
    S = np.atleast_2d(np.asarray(S, dtype=float))
    n = S.shape[0]
    Z = link_values(enc, S)
    gf = nd["group_feature"]
    levels = np.zeros((n, max(len(gf), 1)), dtype=np.int64)
    for g, f in enumerate(gf):
        s, e = int(enc.space_start[f]), int(enc.space_start[f + 1])
        levels[:, g] = np.argmax(S[:, s:e], axis=1)
    node = np.repeat(nd["roots"][None, :], n, axis=0)
    rows = np.arange(n)[:, None]
    for _ in range(64):
        inner = nd["left"][node] >= 0
        if not inner.any():
            break
        kind = nd["kind"][node]
        r = nd["c0"][node] + nd["sign"][node] * Z[rows, nd["var"][node]] * (kind == 1)
        grp = nd["group"][node]
        r = np.where(kind == 2, nd["table"][node, levels[rows, grp]], r)
        nxt = np.where(r > 0.5, nd["right"][node], nd["left"][node])
        node = np.where(inner, nxt, node)
    return nd["leaf"][node]


def block_values(enc: EncodedModel, S: np.ndarray) -> np.ndarray:
    """Values of every block variable at the search vectors ``S`` (n x n_search)."""
    if enc.network is not None:
        return np.asarray(enc.network.block_values(S, enc.n_vars))
    L = link_values(enc, S)
    V = np.zeros((L.shape[0], enc.n_vars))
    V[:, : enc.n_link] = L
    if enc.tree is not None:
        leaves = tree_leaves(enc, S)
        V[np.arange(V.shape[0])[:, None], enc.tree.leaf_var[leaves]] = 1.0
    return V

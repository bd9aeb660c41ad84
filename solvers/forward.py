"""Fast forward passes for the starting-point search on tree ensembles.

A candidate that differs from a known point in a few features can only reach a different
leaf in the trees that split on one of those features. :class:`ForestPass` keeps the
leaves and scores of a base point and re-walks only those trees for each candidate; a
decision within rounding of a tie (``score`` differences below :data:`TIE_TOL`) is
re-decided by the encoding's own full pass (``EncodedModel.predict_index``), so the
answer is always the encoding's. :class:`CostTable` prices many points at once, one
vectorised look-up per feature, and per feature (for one-feature changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink, ValueLink
from recourse.encoders.evaluate import (
    link_table,
    link_values,
    tree_leaves,
    tree_leaves_at,
    trees_of_features,
)

__all__ = ["Base", "CostTable", "ForestPass", "TIE_TOL"]

#: Relative score gap below which a decision is re-taken by the full pass (the
#: incremental scores add the trees in another order than the full pass).
TIE_TOL = 1e-9
#: Up to this many rows, :meth:`CostTable.per_feature` reads all link values at once;
#: beyond, it looks each feature's price up in its cumulative weights (less memory).
FEW_ROWS = 64


@dataclass(frozen=True)
class Base:
    """A search vector with its leaf in every tree and its exact scores."""

    s: np.ndarray
    leaves: np.ndarray
    scores: np.ndarray


class ForestPass:
    """The encoding's forward pass for a tree ensemble, incremental from a base point.

    Parameters
    ----------
    enc : EncodedModel
        A tree-ensemble encoding (``enc.tree`` set).
    """

    def __init__(self, enc: EncodedModel) -> None:
        tree = enc.tree
        if tree is None:
            raise ValueError("ForestPass needs a tree-ensemble encoding (enc.tree is None).")
        self.enc = enc
        #: the decision is the argmax (or sign) of the summed scores, as computed here
        self.by_scores = (type(enc).predict_index is EncodedModel.predict_index
                          and type(enc).scores is EncodedModel.scores)
        self.n_trees = int(tree.n_trees)
        self.n_features = int(enc.space_start.size - 1)
        self.starts = np.asarray(enc.space_start[:-1], dtype=np.int64)
        self.per_leaf = enc.leaf_scores()  # scores x leaves
        self.feature_trees = trees_of_features(enc)  # features x trees
        scale = float(np.abs(self.per_leaf).max(initial=0.0)) * self.n_trees
        self.tol = TIE_TOL * (1.0 + scale + float(np.abs(enc.score0).max(initial=0.0)))

    def base(self, s: np.ndarray) -> Base:
        """Leaves and exact scores (as ``enc.scores`` computes them) at search vector ``s``."""
        s = np.asarray(s, dtype=float)
        leaves = tree_leaves(self.enc, s[None, :])[0]
        scores = self.per_leaf[:, leaves].sum(axis=1) + self.enc.score0
        return Base(s, leaves, scores)

    def changed_features(self, base: Base, H: np.ndarray) -> sp.csr_matrix:
        """Which features of each row of ``H`` differ from ``base`` (rows x features)."""
        diff = (H != base.s[None, :]).astype(np.int8)
        return sp.csr_matrix(np.add.reduceat(diff, self.starts, axis=1) > 0)

    def predict_index(self, base: Base, H: np.ndarray,
                      features: np.ndarray | None = None) -> np.ndarray:
        """The encoding's predicted class index at every row of ``H``.

        ``features`` gives, per row, the one feature in which it differs from ``base``
        (or -1 for none); without it the differing features are found by comparison.
        Only the trees that split on a changed feature are walked. An encoding that
        decides otherwise than by its summed scores (several models that must agree, a
        plausibility model beside the classifier) is asked directly.
        """
        H = np.atleast_2d(np.asarray(H, dtype=float))
        if H.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        if not self.by_scores:
            return np.asarray(self.enc.predict_index(H))
        return self.decide(H, self.scores(base, H, features))

    def approves(self, base: Base | None, H: np.ndarray, target: int, margin: float,
                 tie_margin: float, features: np.ndarray | None = None) -> np.ndarray:
        """Rows of ``H`` the encoding assigns to class index ``target`` with the margins of
        its target rows (``EncodedModel.target_rows(target, margin, tie_margin)``, the rows
        the MILP holds every answer to). Without ``base`` every tree is walked. An
        encoding that decides otherwise than by its summed scores is asked for its class
        only (its own rows carry its margins)."""
        H = np.atleast_2d(np.asarray(H, dtype=float))
        if H.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        if not self.by_scores or np.ndim(margin) or np.ndim(tie_margin):
            return np.asarray(self.enc.predict_index(H)) == target
        sc = (self.scores(base, H, features) if base is not None
              else np.asarray(self.enc.scores(H)))
        return (self.decide(H, sc) == target) & meets_margins(
            self.enc.decision, sc, target, margin, tie_margin)

    def decide(self, H: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The encoding's class index at the rows of ``H`` from their ``scores`` (rows
        within rounding of a tie are re-decided by the encoding's full pass); only for an
        encoding that decides by its summed scores (:attr:`by_scores`)."""
        pred, near = self._decide(scores)
        if near.any():  # within rounding of a tie: the full pass decides
            idx = np.flatnonzero(near)
            pred[idx] = self.enc.predict_index(H[idx])
        return pred

    def scores(self, base: Base, H: np.ndarray,
               features: np.ndarray | None = None) -> np.ndarray:
        """Scores (rows x scores) at every row of ``H``, from ``base`` (as
        :meth:`predict_index`; equal to the full pass's up to rounding)."""
        H = np.atleast_2d(np.asarray(H, dtype=float))
        n = H.shape[0]
        ft = self.feature_trees
        if features is not None:
            f = np.asarray(features, dtype=np.int64)
            cnt = np.where(f >= 0, np.diff(ft.indptr)[np.maximum(f, 0)], 0)
            rows = np.repeat(np.arange(n), cnt)
            first = np.repeat(ft.indptr[np.maximum(f, 0)], cnt)
            offs = np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            trees = ft.indices[first + offs]
        else:
            pairs = (self.changed_features(base, H) @ ft).tocoo()
            rows, trees = pairs.row.astype(np.int64), pairs.col.astype(np.int64)
        scores = np.repeat(base.scores[None, :], n, axis=0)
        if rows.size:
            new = tree_leaves_at(self.enc, H, rows, trees)
            old = base.leaves[trees]
            moved = new != old
            rows, new, old = rows[moved], new[moved], old[moved]
            delta = self.per_leaf[:, new] - self.per_leaf[:, old]
            for k in range(scores.shape[1]):
                scores[:, k] += np.bincount(rows, weights=delta[k], minlength=n)
        return scores

    def _decide(self, sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class index from scores, and which rows lie within :attr:`tol` of a tie."""
        dec = self.enc.decision
        if dec == "score":
            return np.zeros(sc.shape[0], dtype=np.int64), np.zeros(sc.shape[0], dtype=bool)
        if dec == "sign":
            return (sc[:, 0] > 0).astype(np.int64), np.abs(sc[:, 0]) <= self.tol
        pred = np.argmax(sc, axis=1)
        if sc.shape[1] < 2:
            return pred, np.zeros(sc.shape[0], dtype=bool)
        top2 = np.partition(sc, sc.shape[1] - 2, axis=1)[:, -2:]
        return pred, (top2[:, 1] - top2[:, 0]) <= self.tol


def meets_margins(decision: str, scores: np.ndarray, target: int, margin: float,
                  tie_margin: float) -> np.ndarray:
    """Rows of ``scores`` (rows x scores) at which the target beats every other class as
    ``EncodedModel.target_rows`` asks: by ``margin`` over an earlier class (and the
    positive side of a sign by ``margin``), by ``tie_margin`` over a later one."""
    if decision == "sign":
        return (scores[:, 0] if target == 1 else -scores[:, 0]) >= margin
    if decision != "argmax":
        return np.ones(scores.shape[0], dtype=bool)
    ok = np.ones(scores.shape[0], dtype=bool)
    for k in range(scores.shape[1]):
        if k != target:
            ok &= scores[:, target] - scores[:, k] >= (margin if k < target else tie_margin)
    return ok


class CostTable:
    """A linear objective on the link variables, priced feature by feature.

    ``w`` weights the link variables (block variables ``0 .. n_link - 1``); the price of
    a point is ``w @ link_values(point) + w0``, the same number as
    ``recourse.encoders.evaluate.link_values(enc, S) @ w + w0`` up to rounding.
    """

    def __init__(self, enc: EncodedModel, w: np.ndarray, w0: float) -> None:
        self.enc, self.w0 = enc, float(w0)
        self.n_features = int(enc.space_start.size - 1)
        self.parts: list[tuple[int, int, object, np.ndarray, np.ndarray | None]] = []
        w = np.asarray(w, dtype=float)
        tb = link_table(enc)
        self.w = w[: tb.n_link]
        if w.size < tb.n_link:
            raise ValueError(f"CostTable needs a weight per link variable ({tb.n_link}); "
                             f"got {w.size}.")
        self._share: sp.csr_matrix | None = None
        for link in enc.links:
            s = int(enc.space_start[link.feature])
            if isinstance(link, ValueLink):
                self.parts.append((link.feature, s, "value", np.array([w[link.var]]), None))
            elif isinstance(link, ThresholdLink):
                wv = w[np.asarray(link.vars, dtype=np.int64)]
                cum = np.concatenate([[0.0], np.cumsum(wv)])
                self.parts.append((link.feature, s, link, cum, wv))
            elif isinstance(link, GroupLink):
                self.parts.append((link.feature, s, "group",
                                   w[np.asarray(link.vars, dtype=np.int64)], None))

    @property
    def share(self) -> sp.csr_matrix:
        """Link variable -> feature, weighted: link values @ share = per-feature price
        (built when first asked for: a one-tree search never asks)."""
        if self._share is None:
            tb = link_table(self.enc)
            own = np.flatnonzero(tb.feature >= 0)
            self._share = sp.csr_matrix((self.w[own], (own, tb.feature[own])),
                                        shape=(tb.n_link, self.n_features))
        return self._share

    def per_feature(self, S: np.ndarray) -> np.ndarray:
        """Each feature's share of the price at every row of ``S`` (rows x features)."""
        S = np.atleast_2d(np.asarray(S, dtype=float))
        if S.shape[0] <= FEW_ROWS:  # one vectorised pass over the link variables
            return np.asarray((self.share.T @ link_values(self.enc, S).T).T)
        out = np.zeros((S.shape[0], self.n_features))
        for f, s, kind, a, wv in self.parts:  # one look-up per feature
            if isinstance(kind, ThresholdLink):
                x = S[:, s]
                t = kind.thresholds
                k = np.searchsorted(t, x, side="left")  # thresholds strictly below x
                val = a[k]
                if kind.tie_right is not None and wv is not None:
                    at = (k < t.size) & (t[np.minimum(k, t.size - 1)] == x)
                    tie = at & np.asarray(kind.tie_right, bool)[np.minimum(k, t.size - 1)]
                    val = val + np.where(tie, wv[np.minimum(k, t.size - 1)], 0.0)
                out[:, f] += val
            elif kind == "value":
                out[:, f] += a[0] * S[:, s]
            else:
                out[:, f] += S[:, s : s + a.size] @ a
        return out

    def price(self, S: np.ndarray) -> np.ndarray:
        """Price of every row of ``S``."""
        S = np.atleast_2d(np.asarray(S, dtype=float))
        if S.shape[0] <= FEW_ROWS:
            return link_values(self.enc, S) @ self.w + self.w0
        return self.per_feature(S).sum(axis=1) + self.w0

"""Solver-neutral encoding of a fitted model: variables, sparse rows, score rows, links.

An :class:`EncodedModel` is plain arrays. Its variables are of three roles:

* *link* variables that carry the user's features into the model (see the ``*Link``
  classes): a numeric value ``x_j``; or, for tree models, threshold indicators
  ``z_i = [x_j > t_i]`` over the sorted split thresholds of feature ``j`` in user units;
  or the 0/1 level indicators of a categorical feature;
* internal variables (tree leaves);
* nothing else: costs and actionability belong to the problem layer (``solvers``).

The model's decision is ``argmax_k score_k`` (or, for ``decision == "sign"``, class
``classes[1]`` iff ``score_0 > 0``) with ``score = S @ v + s0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["ValueLink", "ThresholdLink", "GroupLink", "TreeStructure", "EncodedModel"]


@dataclass(frozen=True)
class ValueLink:
    """Numeric feature ``feature`` is the block variable ``var`` (user units)."""

    feature: int
    var: int


@dataclass(frozen=True)
class ThresholdLink:
    """Numeric feature ``feature`` enters through ``z_i = [x > thresholds[i]]``.

    ``thresholds`` are sorted and distinct, in user units; for integer features they sit
    at ``k + 0.5`` so that every interval holds an integer. ``z`` is monotone:
    ``z_0 >= z_1 >= ...`` (rows of the block).
    """

    feature: int
    thresholds: np.ndarray
    vars: np.ndarray
    #: For continuous features: per threshold, the width in user units of the float32
    #: cell the model sees there (thresholds sit on float32 rounding boundaries), so a
    #: counterfactual can be placed a small fraction of a cell beyond a threshold.
    spacing: np.ndarray | None = None
    #: For continuous features: whether a value exactly *at* a threshold goes right.
    #: Thresholds sit where float32 rounding changes side; a value exactly there (a
    #: float64 midpoint of two float32 values) rounds to the even one, either side.
    tie_right: np.ndarray | None = None
    #: For continuous features: per threshold ``(model input, t, a)`` of the split it
    #: came from (``float32(input) <= t`` goes left; ``a`` is the slope of the input in
    #: this feature), to decide the side of a value within rounding of a threshold with
    #: the model's own preprocessing.
    split: np.ndarray | None = None

    def above(self, x: float | np.ndarray) -> np.ndarray:
        """``z`` at values ``x`` (shape ``x.shape + (k,)``): which thresholds ``x`` is right of."""
        x = np.asarray(x, dtype=float)[..., None]
        z = x > self.thresholds
        if self.tie_right is not None:
            z |= (x == self.thresholds) & self.tie_right
        return z


@dataclass(frozen=True)
class GroupLink:
    """Categorical feature ``feature``: one 0/1 variable per level, in level order."""

    feature: int
    vars: np.ndarray


@dataclass(frozen=True)
class TreeStructure:
    """What the problem layer needs to prune a tree ensemble per applicant.

    ``literal`` (nodes x vars, CSR) and ``literal0`` give each internal node's right-branch
    indicator ``r = literal @ v + literal0`` (0/1 at integral points). ``anc_right`` /
    ``anc_left`` (leaves x nodes) mark the nodes a leaf lies right / left of.
    ``leaf_var`` is the block variable of each leaf, ``leaf_tree`` its tree.
    ``nodes`` holds flat arrays over all nodes of all trees for a fast forward pass:
    ``left``/``right`` children (-1 at leaves), ``leaf`` (leaf index or -1), ``roots``,
    ``kind`` (0 constant, 1 threshold, 2 levels), ``var``/``sign``/``c0`` (threshold
    literal ``c0 + sign * z[var]``), ``group``/``table`` (levels literal: a row of
    ``table`` over the levels of group ``group``; ``group_feature`` maps groups to features).
    """

    literal: sp.csr_matrix
    literal0: np.ndarray
    anc_right: sp.csr_matrix
    anc_left: sp.csr_matrix
    leaf_var: np.ndarray
    leaf_tree: np.ndarray
    n_trees: int
    nodes: dict[str, np.ndarray] = field(default_factory=dict)

    def unreachable(self, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
        """Leaves no point within the block variable bounds ``lb``/``ub`` reaches: a
        split on the leaf's path goes the other way whatever the free variables do."""
        pos, neg = self.literal.maximum(0), self.literal.minimum(0)
        rmax = np.asarray(pos @ ub + neg @ lb).ravel() + self.literal0
        rmin = np.asarray(pos @ lb + neg @ ub).ravel() + self.literal0
        return np.asarray((self.anc_right @ (rmax < 0.5).astype(float)
                           + self.anc_left @ (rmin > 0.5).astype(float)) > 0).ravel()


@dataclass(frozen=True)
class EncodedModel:
    """A fitted model as a MILP block (see module docstring)."""

    kind: str
    classes: np.ndarray
    decision: str
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    rows: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    links: tuple[Any, ...]
    score: sp.csr_matrix
    score0: np.ndarray
    space_start: np.ndarray
    tree: TreeStructure | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: ReLU networks: the network as plain arrays (``recourse.encoders.mlp.ReluNetwork``), so the
    #: problem layer can re-encode it with tighter bounds for one applicant.
    network: Any = None
    #: Constants derived from the arrays above (``n_link``, target rows, per-leaf scores),
    #: computed once per encoding instead of once per query. ``init=False``: a copy made
    #: by ``dataclasses.replace`` starts with an empty memo, so it never serves another
    #: model's rows. The memoised arrays are read-only.
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False,
                                  compare=False)

    def field_values(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this encoding: every field of
        :class:`EncodedModel` given at construction (the memo is not one)."""
        return {f.name: getattr(self, f.name) for f in fields(EncodedModel) if f.init}

    @property
    def n_vars(self) -> int:
        return int(self.lb.shape[0])

    @property
    def n_link(self) -> int:
        """Link variables come first in every block: ``0 .. n_link - 1``."""
        top = self._memo.get("n_link")
        if top is None:
            top = 0
            for link in self.links:
                vs = [link.var] if isinstance(link, ValueLink) else list(link.vars)
                if vs:
                    top = max(top, max(vs) + 1)
            self._memo["n_link"] = top
        return int(top)

    def link_of(self, feature: int) -> Any:
        for link in self.links:
            if link.feature == feature:
                return link
        return None

    def target_rows(self, target: int, margin: float,
                    tie_margin: float = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        """Rows ``G @ v >= lo`` that hold iff the model predicts ``classes[target]``.

        Strict comparisons get ``margin``; ties that ``argmax`` breaks in the target's
        favour (a later class) need only ``>= tie_margin`` (0 is exact for integral tree
        leaves; continuous models use ``margin``, as a tie at a vertex may round either way).
        """
        if self.decision == "score":
            from recourse.encoders.errors import EncodingError

            raise EncodingError(
                "A regressor has no classes to reach; give a utility (a score threshold or a "
                "minimal increase), see recourse.utility."
            )
        key = ("target_rows", int(target), float(margin), float(tie_margin))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if self.decision == "sign":
            sign = 1.0 if target == 1 else -1.0
            G = (self.score * sign).tocsr()
            g_lo = np.array([sign * -self.score0[0] + margin])
        else:
            rows, lo = [], []
            for k in range(self.score.shape[0]):
                if k == target:
                    continue
                rows.append(self.score[target] - self.score[k])
                need = margin if k < target else tie_margin
                lo.append(need - (self.score0[target] - self.score0[k]))
            G, g_lo = sp.vstack(rows).tocsr(), np.array(lo)
        for a in (G.data, G.indices, G.indptr, g_lo):
            a.setflags(write=False)
        self._memo[key] = (G, g_lo)
        return G, g_lo

    def target_leaf_rows(self, target: int) -> tuple[np.ndarray, np.ndarray]:
        """``target_rows(target, 0.0)`` restricted to the leaf columns, dense:
        ``(G[:, tree.leaf_var], lo)`` (tree models; read-only)."""
        assert self.tree is not None
        key = ("target_leaf_rows", int(target))
        hit = self._memo.get(key)
        if hit is None:
            G, g_lo = self.target_rows(target, 0.0)
            Gl = np.asarray(G[:, self.tree.leaf_var].todense())
            Gl.setflags(write=False)
            hit = self._memo[key] = (Gl, g_lo)
        return hit[0], hit[1]

    def leaf_scores(self) -> np.ndarray:
        """Dense ``(n_scores, n_leaves)``: each leaf's contribution to every score row
        (tree models; read-only)."""
        assert self.tree is not None
        out = self._memo.get("leaf_scores")
        if out is None:
            out = np.asarray(self.score[:, self.tree.leaf_var].todense())
            out.setflags(write=False)
            self._memo["leaf_scores"] = out
        return np.asarray(out)

    def with_threshold(self, threshold: float) -> EncodedModel:
        """This model turned into the binary decision ``score > threshold`` (class index 1:
        the threshold is met), for utilities on a single score (``recourse.utility``)."""
        from dataclasses import replace

        if self.score.shape[0] != 1:
            from recourse.encoders.errors import EncodingError

            raise EncodingError("A score threshold needs a model with a single score.")
        return replace(self, decision="sign", classes=np.array([False, True]),
                       score0=self.score0 - float(threshold),
                       info=dict(self.info, threshold=float(threshold)))

    def block_values(self, S: np.ndarray) -> np.ndarray:
        """Block variable values at search vectors ``S`` (n x n_search), leaves included."""
        from recourse.encoders.evaluate import block_values

        return block_values(self, S)

    def scores(self, S: np.ndarray) -> np.ndarray:
        """Model scores at search vectors ``S``; the encoding's own forward pass."""
        if self.tree is not None:
            from recourse.encoders.evaluate import tree_leaves

            leaves = tree_leaves(self, S)
            return self.leaf_scores()[:, leaves].sum(axis=2).T + self.score0
        V = self.block_values(S)
        return np.asarray(self.score @ V.T).T + self.score0

    def predict_index(self, S: np.ndarray) -> np.ndarray:
        """Index of the predicted class at search vectors ``S`` by the encoding."""
        sc = self.scores(S)
        if self.decision == "score":
            return np.zeros(sc.shape[0], dtype=np.int64)
        if self.decision == "sign":
            return (sc[:, 0] > 0).astype(np.int64)
        return np.argmax(sc, axis=1)

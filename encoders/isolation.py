"""Plausibility by an isolation forest, encoded exactly, for every classifier type.

:class:`PlausibleModel` wraps a fitted classifier of any supported type (trees, forests,
gradient boosting, linear/logistic models, ReLU MLPs; bare or in a Pipeline) and a fitted
``IsolationForest`` (bare or in a Pipeline, on the same columns). Its ``predict`` is the
classifier's class where the isolation forest's ``score_samples`` is at least
``min_score`` (default ``offset_``: the forest's own inlier rule, ``predict == 1``) and
:data:`IMPLAUSIBLE` elsewhere; recourse for it is recourse whose counterfactual the
isolation forest finds plausible.

Encoding (as OCEAN does for tree ensembles): with a tree classifier (DecisionTree,
RandomForest, ExtraTrees) every isolation tree is one more tree in the block
(``encode_trees`` over the classifier's and the isolation trees, model inputs side by side,
so the thresholds of both share one set of indicators per feature). With any other
classifier the isolation trees form a block of their own (:func:`isolation_block`, one
score row: the sum of path lengths) that the problem layer (``recourse.solvers.stack``) appends to
the classifier's problem, tied to its value variables. In both, the
"score" of an isolation leaf is its path length, ``depth + c(n)`` (root depth 0) with ``n`` the
training samples in the leaf and ``c(n) = 2 H(n - 1) - 2 (n - 1) / n`` (``c(1) = 0``,
``c(2) = 1``), as sklearn's ``score_samples`` counts it; ``score_samples = -2 **
(-mean path / c(max_samples))``, so ``score >= s`` is the linear row
``sum of path lengths >= -n_trees c(max_samples) log2(-s)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError
from recourse.encoders.multi import _TREE_MODELS, _stacked_map, check_classifier, encode_stack
from recourse.encoders.pipeline import input_map, split_pipeline
from recourse.encoders.trees import encode_trees, tree_arrays

__all__ = ["IMPLAUSIBLE", "PlausibleModel", "PlausibleEncodedModel", "encode_plausible",
           "average_path_length", "isolation_block"]

#: What a :class:`PlausibleModel` predicts where the isolation forest finds a row implausible.
IMPLAUSIBLE = "(implausible)"
#: Slack kept on the path-length row (path lengths are sums of floats).
PATH_TOL = 1e-7


def average_path_length(n: np.ndarray | float) -> np.ndarray:
    """``c(n)``: the average path length of an unsuccessful search in a binary search
    tree of ``n`` points (the isolation-forest normaliser)."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    d = np.zeros(left.size)
    for node in range(left.size):  # children come after their parent in sklearn's arrays
        if left[node] != -1:
            d[left[node]] = d[right[node]] = d[node] + 1
    return d


class PlausibleModel:
    """A classifier whose answers must also be plausible (see module docstring).

    Parameters
    ----------
    model : fitted classifier or Pipeline
        Any type ``recourse.encoders.supported_models()`` lists (classifiers only).
    iforest : fitted IsolationForest or Pipeline ending in one
        Fitted on the same columns (typically the training data).
    min_score : float, optional
        Least ``iforest.score_samples`` a counterfactual must reach, in ``(-1, 0)``;
        default the forest's own inlier threshold ``offset_``.
    """

    def __init__(self, model: Any, iforest: Any, min_score: float | None = None) -> None:
        est, classes = check_classifier(model, "The PlausibleModel's model")
        #: Whether the classifier is a tree model (then one joint tree block is built).
        self.joint = type(est).__name__ in _TREE_MODELS
        _, iso = split_pipeline(iforest)
        if type(iso).__name__ != "IsolationForest" or not hasattr(iso, "estimators_"):
            raise EncodingError(
                f"PlausibleModel needs a fitted sklearn IsolationForest, got "
                f"{type(iso).__name__}.")
        self.model, self.iforest, self.iso = model, iforest, iso
        self.min_score = float(iso.offset_ if min_score is None else min_score)
        if not -1.0 < self.min_score < 0.0:
            raise EncodingError(
                f"min_score is in score_samples units, in (-1, 0); got {self.min_score!r} "
                f"(the forest's own inlier threshold is offset_ = {iso.offset_:.4g}).")
        self.model_classes_ = classes
        self.classes_ = np.array([*self.model_classes_.tolist(), IMPLAUSIBLE], dtype=object)
        for attr in ("feature_names_in_", "n_features_in_"):
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))

    def __getattr__(self, name: str) -> Any:
        """``predict_proba`` and ``decision_function`` are the classifier's own (the
        margin of ``min_margin`` is measured on them)."""
        if name in ("predict_proba", "decision_function") and "model" in self.__dict__:
            return getattr(self.__dict__["model"], name)
        raise AttributeError(name)

    def stacked_inputs(self, space: SearchSpace, frame: Any) -> np.ndarray:
        """The classifier's and the isolation forest's inputs side by side (the joint tree
        block's input order), each by its own preprocessing, for rows of user values."""
        from recourse.encoders.pipeline import model_inputs

        return np.hstack([model_inputs(self.model, space, frame),
                          model_inputs(self.iforest, space, frame)])

    @property
    def min_path_length(self) -> float:
        """The mean path length ``min_score`` stands for."""
        return float(-average_path_length(self.iso._max_samples) * np.log2(-self.min_score))

    def score_samples(self, X: Any) -> np.ndarray:
        return np.asarray(self.iforest.score_samples(X), dtype=float)

    def predict(self, X: Any) -> np.ndarray:
        """The classifier's class where plausible, else :data:`IMPLAUSIBLE`."""
        pred = np.asarray(self.model.predict(X), dtype=object)
        return np.where(self.score_samples(X) >= self.min_score, pred, IMPLAUSIBLE)


@dataclass(frozen=True)
class PlausibleEncodedModel(EncodedModel):
    """Classifier trees plus isolation trees; ``path`` (1 x vars) sums the isolation
    leaves' path lengths, which must reach ``min_path_sum``."""

    model_score: sp.csr_matrix | None = None
    path: sp.csr_matrix | None = None
    min_path_sum: float = 0.0

    def _model(self) -> EncodedModel:
        base = self.field_values()
        base.update(score=self.model_score, classes=self.classes[:-1])
        return EncodedModel(**base)

    def target_rows(self, target: int, margin: float,
                    tie_margin: float = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        if target == len(self.classes) - 1:
            raise EncodingError(f"{IMPLAUSIBLE!r} is no class to reach.")
        G, lo = self._model().target_rows(target, margin, tie_margin)
        return (sp.vstack([G, self.path]).tocsr(),
                np.concatenate([lo, [self.min_path_sum + PATH_TOL]]))

    def path_sum(self, S: np.ndarray) -> np.ndarray:
        """Sum over isolation trees of the path length at search vectors ``S`` (the
        encoding's own forward pass through the same leaf variables the MILP uses)."""
        from recourse.encoders.evaluate import tree_leaves

        assert self.tree is not None and self.path is not None
        leaves = tree_leaves(self, S)
        per_leaf = np.asarray(self.path[:, self.tree.leaf_var].todense()).ravel()
        return per_leaf[leaves].sum(axis=1)

    def predict_index(self, S: np.ndarray) -> np.ndarray:
        idx = self._model().predict_index(S)
        ok = self.path_sum(S) >= self.min_path_sum + PATH_TOL
        return np.where(ok, idx, len(self.classes) - 1)

    def with_threshold(self, threshold: float) -> EncodedModel:
        raise EncodingError("Utilities are not supported with a PlausibleModel; name the "
                            "class to reach with target=... instead.")


def _isolation_arrays(pm: PlausibleModel, offset: int, width: int) -> list[dict[str, Any]]:
    """The isolation trees as ``tree_arrays`` dicts: features shifted by ``offset`` (their
    inputs come after the classifier's), each node's path length in column ``width - 1``
    of ``proba`` (``width`` columns)."""
    iso = pm.iso
    n_in = int(iso.n_features_in_)
    out = []
    for e, feats in zip(iso.estimators_, iso.estimators_features_):
        t = e.tree_
        left, right = np.asarray(t.children_left), np.asarray(t.children_right)
        feats = np.asarray(feats)
        sub = feats.size != n_in  # sklearn passes X[:, feats] only when subsampling
        f = np.asarray(t.feature)
        f = np.where(f >= 0, (feats[np.maximum(f, 0)] if sub else f) + offset, f)
        path = _depths(left, right) + average_path_length(t.n_node_samples)
        proba = np.zeros((left.size, width))
        proba[:, width - 1] = path
        out.append({"left": left, "right": right, "feature": f,
                    "threshold": np.asarray(t.threshold, dtype=float), "proba": proba})
    return out


def isolation_block(pm: PlausibleModel, space: SearchSpace) -> EncodedModel:
    """The isolation forest alone as a tree block whose single score row is the sum of
    its trees' path lengths (``decision == "score"``)."""
    i_map = input_map(pm.iforest, space)
    enc = encode_trees([], np.array(["path_length"]), i_map, space,
                       arrays=_isolation_arrays(pm, 0, 1), score0=np.zeros(1),
                       decision="score", kind="isolation")
    return enc


def _options(pm: PlausibleModel) -> dict[str, Any]:
    return dict(n_isolation_trees=len(pm.iso.estimators_), min_path_length=pm.min_path_length,
                option="plausibility",
                option_text=f"plausibility (isolation-forest score_samples >= "
                            f"{pm.min_score:.4g})")


def encode_plausible(pm: PlausibleModel, space: SearchSpace) -> EncodedModel:
    """Encode a :class:`PlausibleModel` (see module docstring)."""
    n_iso = len(pm.iso.estimators_)
    if not pm.joint:
        from recourse.encoders import encode

        return encode_stack([encode(pm.model, space)], space, IMPLAUSIBLE, _options(pm),
                            paths=isolation_block(pm, space),
                            min_path_sum=n_iso * pm.min_path_length, path_tol=PATH_TOL)
    _, est = split_pipeline(pm.model)
    m_map = input_map(pm.model, space)
    i_map = input_map(pm.iforest, space)
    K = len(pm.model_classes_)
    trees = [tree_arrays(e) for e in (list(est.estimators_) if hasattr(est, "estimators_")
                                      else [est])]
    n_model_trees = len(trees)
    for ta in trees:
        ta["proba"] = np.hstack([ta["proba"], np.zeros((ta["proba"].shape[0], 1))])
    trees += _isolation_arrays(pm, m_map.n_inputs, K + 1)
    enc = encode_trees([], pm.model_classes_, _stacked_map([m_map, i_map], space),
                       space, arrays=trees, score0=np.zeros(K + 1), decision="argmax")
    fields = enc.field_values()
    # n_trees: the classifier's trees (the probability scale of min_margin)
    fields.update(classes=np.array([*pm.model_classes_.tolist(), IMPLAUSIBLE], dtype=object),
                  score=enc.score[:K], score0=np.zeros(K),
                  info=dict(enc.info, n_trees=n_model_trees, n_trees_total=enc.info["n_trees"],
                            **_options(pm)))
    return PlausibleEncodedModel(**fields, model_score=enc.score[:K].tocsr(),
                                 path=enc.score[K:].tocsr(),
                                 min_path_sum=n_iso * pm.min_path_length)

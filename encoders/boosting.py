"""Gradient-boosted trees (binary) as the pure 0/1 tree block, decided on the margin.

Formulation: the shared-threshold 0/1 model of ``encoders.trees`` (threshold indicators in
user units, one binary per leaf, two rows per node), with the score
``margin = base + sum_trees value(leaf)``; the model predicts ``classes[1]`` iff the
margin is ``> 0`` (``decision == "sign"``), exactly as the libraries' ``predict``
(``expit(margin) > 0.5``, ties to ``classes[0]``).

* ``GradientBoostingClassifier`` (binary): regression trees on float32 inputs, leaf values
  times ``learning_rate``; ``base`` is the initial raw prediction (prior log-odds).
* ``HistGradientBoostingClassifier`` (binary): its predictors compare float64 inputs
  (``x <= threshold`` goes left); leaf values already include the learning rate; ``base`` is
  the baseline prediction. Missing-value branches: applicants never have missing values
  (NaN is rejected before encoding), so a split that only separates missing values
  (threshold ``+inf``) always goes left and is collapsed. Categorical splits (bitsets) are
  rejected with a clear error: one-hot encode those features in the pipeline instead.

``base`` is read back through the model's own ``decision_function`` at one point minus the
trees' sum there, so no private attribute decides it. Multiclass models are rejected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders.block import EncodedModel
from encoders.domain import SearchSpace
from encoders.errors import EncodingError, UnsupportedModelError
from encoders.pipeline import InputMap
from encoders.trees import encode_trees

__all__ = ["encode_gradient_boosting", "encode_hist_gradient_boosting", "tree_sum"]


def _binary_only(est: Any) -> None:
    classes = getattr(est, "classes_", None)
    if classes is None or len(classes) != 2:
        n = "?" if classes is None else len(classes)
        raise UnsupportedModelError(
            f"{type(est).__name__} with {n} classes is not supported: only binary gradient "
            "boosting (two classes) is. Fit one-vs-rest binary models instead."
        )


def tree_sum(trees: list[dict[str, np.ndarray]], Z: np.ndarray, float64: bool) -> np.ndarray:
    """Sum of the trees' leaf scores at model inputs ``Z`` (numpy walk; the encoding's
    reference for ``base``)."""
    X = np.asarray(Z, dtype=np.float64 if float64 else np.float32).astype(np.float64)
    total = np.zeros(X.shape[0])
    rows = np.arange(X.shape[0])
    for ta in trees:
        node = np.zeros(X.shape[0], dtype=np.int64)
        while True:
            inner = ta["left"][node] >= 0
            if not inner.any():
                break
            go_left = X[rows, np.maximum(ta["feature"][node], 0)] <= ta["threshold"][node]
            nxt = np.where(go_left, ta["left"][node], ta["right"][node])
            node = np.where(inner, nxt, node)
        total += ta["proba"][node, 0]
    return total


def _base(est: Any, trees: list[dict[str, np.ndarray]], n_inputs: int, float64: bool) -> float:
    Z = np.zeros((1, n_inputs))
    margin = float(np.ravel(est.decision_function(Z))[0])
    return margin - float(tree_sum(trees, Z, float64)[0])


def encode_gradient_boosting(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    """Encode a fitted binary ``GradientBoostingClassifier``."""
    _binary_only(est)
    init = getattr(est, "init", None)
    if init not in (None, "zero"):
        raise UnsupportedModelError(
            f"GradientBoostingClassifier with init={type(init).__name__} is not supported: only "
            "init=None (prior) or 'zero', whose initial score is a constant."
        )
    lr = float(est.learning_rate)
    trees = []
    for reg in np.asarray(est.estimators_)[:, 0]:
        t = reg.tree_
        trees.append({
            "left": np.asarray(t.children_left), "right": np.asarray(t.children_right),
            "feature": np.asarray(t.feature),
            "threshold": np.asarray(t.threshold, dtype=float),
            "proba": lr * np.asarray(t.value[:, 0, :1], dtype=float),
        })
    base = _base(est, trees, imap.n_inputs, float64=False)
    enc = encode_trees([], np.asarray(est.classes_), imap, space, arrays=trees,
                       score0=np.array([base]), decision="sign")
    enc.info.update(model="GradientBoostingClassifier", base_score=base)
    return enc


def _hist_tree(pred: Any) -> dict[str, np.ndarray]:
    """One HistGradientBoosting predictor as tree arrays, missing-only splits collapsed."""
    nodes = pred.nodes
    if np.any(nodes["is_categorical"] & ~nodes["is_leaf"].astype(bool)):
        raise UnsupportedModelError(
            "HistGradientBoostingClassifier with categorical splits is not supported: one-hot "
            "encode those features in the pipeline (OneHotEncoder) and fit with "
            "categorical_features=None."
        )
    left: list[int] = []
    right: list[int] = []
    feat: list[int] = []
    thr: list[float] = []
    val: list[float] = []

    def add(node: int) -> int:
        nd = nodes[node]
        while not nd["is_leaf"] and not np.isfinite(nd["num_threshold"]):
            # ``x <= +inf`` for every non-missing x: only missing values go right
            node = int(nd["left"])
            nd = nodes[node]
        i = len(left)
        left.append(-1)
        right.append(-1)
        feat.append(-2)
        thr.append(-2.0)
        val.append(float(nd["value"]))
        if not nd["is_leaf"]:
            feat[i] = int(nd["feature_idx"])
            thr[i] = float(nd["num_threshold"])
            left[i] = add(int(nd["left"]))
            right[i] = add(int(nd["right"]))
        return i

    add(0)
    return {"left": np.array(left), "right": np.array(right), "feature": np.array(feat),
            "threshold": np.array(thr), "proba": np.array(val)[:, None]}


def encode_hist_gradient_boosting(est: Any, imap: InputMap,
                                  space: SearchSpace) -> EncodedModel:
    """Encode a fitted binary ``HistGradientBoostingClassifier``."""
    _binary_only(est)
    if getattr(est, "_preprocessor", None) is not None or getattr(
            est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
        raise UnsupportedModelError(
            "HistGradientBoostingClassifier with categorical features is not supported: one-hot "
            "encode them in the pipeline (OneHotEncoder) and fit with categorical_features=None."
        )
    if getattr(est, "n_trees_per_iteration_", 1) != 1:
        raise UnsupportedModelError("Only binary HistGradientBoostingClassifier is supported.")
    trees = [_hist_tree(preds[0]) for preds in est._predictors]
    if not trees:
        raise EncodingError("The HistGradientBoostingClassifier has no trees.")
    base = _base(est, trees, imap.n_inputs, float64=True)
    enc = encode_trees([], np.asarray(est.classes_), imap, space, arrays=trees,
                       score0=np.array([base]), decision="sign", float64=True)
    enc.info.update(model="HistGradientBoostingClassifier", base_score=base)
    return enc

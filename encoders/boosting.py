"""Gradient-boosted trees (binary classifiers, regressors) as the pure 0/1 tree block.

Formulation: the shared-threshold 0/1 model of ``recourse.encoders.trees`` (threshold indicators in
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
``GradientBoostingRegressor`` and ``HistGradientBoostingRegressor`` (identity link) give the
score ``prediction = base + sum_trees value(leaf)`` for the utilities of ``recourse.utility``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recourse.encoders.block import EncodedModel
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError, UnsupportedModelError
from recourse.encoders.pipeline import InputMap
from recourse.encoders.trees import encode_trees

__all__ = ["encode_gradient_boosting", "encode_hist_gradient_boosting", "encode_xgboost",
           "encode_lightgbm", "tree_sum"]


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


def _is_regressor(est: Any) -> bool:
    return not hasattr(est, "classes_")


def _head(est: Any) -> tuple[np.ndarray, str]:
    """Classes and decision: binary classifiers decide on the sign of the margin;
    regressors expose their prediction as the score (``decision == "score"``)."""
    if _is_regressor(est):
        return np.array([]), "score"
    _binary_only(est)
    return np.asarray(est.classes_), "sign"


def _base(est: Any, trees: list[dict[str, np.ndarray]], n_inputs: int, float64: bool) -> float:
    Z = np.zeros((1, n_inputs))
    raw = est.predict if _is_regressor(est) else est.decision_function
    margin = float(np.ravel(raw(Z))[0])
    return margin - float(tree_sum(trees, Z, float64)[0])


def encode_gradient_boosting(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    """Encode a fitted binary ``GradientBoostingClassifier`` or a ``GradientBoostingRegressor``
    (every loss of the regressor predicts the raw sum)."""
    classes, decision = _head(est)
    init = getattr(est, "init", None)
    if init not in (None, "zero"):
        raise UnsupportedModelError(
            f"{type(est).__name__} with init={type(init).__name__} is not supported: only "
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
    enc = encode_trees([], classes, imap, space, arrays=trees,
                       score0=np.array([base]), decision=decision)
    enc.info.update(model=type(est).__name__, base_score=base)
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
    """Encode a fitted binary ``HistGradientBoostingClassifier`` or a
    ``HistGradientBoostingRegressor`` with an identity link (not ``poisson`` / ``gamma``)."""
    classes, decision = _head(est)
    if decision == "score" and est.loss in ("poisson", "gamma"):
        raise UnsupportedModelError(
            f"HistGradientBoostingRegressor with loss={est.loss!r} predicts exp(sum of trees), "
            "which is not linear in the leaves; supported losses: 'squared_error', "
            "'absolute_error', 'quantile'."
        )
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
    enc = encode_trees([], classes, imap, space, arrays=trees,
                       score0=np.array([base]), decision=decision, float64=True)
    enc.info.update(model=type(est).__name__, base_score=base)
    return enc


# ----------------------------------------------------------------- XGBoost, LightGBM
def _tree_from_nested(root: dict[str, Any], child: Any, split: Any) -> dict[str, np.ndarray]:
    """Tree arrays from a nested dump: ``split(node) -> (feature, threshold)`` of an inner
    node (``x <= threshold`` goes left), ``child(node) -> (left, right)``, leaves ``None``."""
    left: list[int] = []
    right: list[int] = []
    feat: list[int] = []
    thr: list[float] = []
    val: list[float] = []
    stack: list[tuple[dict[str, Any], int, bool]] = [(root, -1, False)]
    while stack:
        node, parent, is_right = stack.pop()
        i = len(left)
        if parent >= 0:
            (right if is_right else left)[parent] = i
        left.append(-1)
        right.append(-1)
        kids = child(node)
        if kids is None:
            feat.append(-2)
            thr.append(-2.0)
            val.append(float(node["leaf"] if "leaf" in node else node["leaf_value"]))
            continue
        f, t = split(node)
        feat.append(int(f))
        thr.append(float(t))
        val.append(0.0)
        stack.append((kids[1], i, True))
        stack.append((kids[0], i, False))
    return {"left": np.array(left), "right": np.array(right), "feature": np.array(feat),
            "threshold": np.array(thr), "proba": np.array(val)[:, None]}


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedModelError(
            f"{module} models need the optional extra: pip install 'recourse-engine[{extra}]'."
        ) from exc


def encode_xgboost(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    """Encode a fitted binary ``xgboost.XGBClassifier`` (objective ``binary:logistic``).

    XGBoost rounds inputs to float32 and sends ``x < split_condition`` to ``yes``; that is
    ``float32(x) <= t'`` with ``t'`` the largest float32 below the condition, the tree
    machinery's own rule.
    """
    import json

    _require("xgboost", "xgboost")
    _binary_only(est)
    booster = est.get_booster()
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective != "binary:logistic":
        raise UnsupportedModelError(
            f"XGBClassifier with objective {objective!r} is not supported: only "
            "'binary:logistic' (binary classification on the margin)."
        )
    names = booster.feature_names or [f"f{i}" for i in range(imap.n_inputs)]
    pos = {n: i for i, n in enumerate(names)}

    def child(node: dict[str, Any]) -> Any:
        if "leaf" in node:
            return None
        kids = {k["nodeid"]: k for k in node["children"]}
        return kids[node["yes"]], kids[node["no"]]

    def split(node: dict[str, Any]) -> tuple[int, float]:
        if "split_condition" not in node or "categories" in node:
            raise UnsupportedModelError(
                "XGBoost categorical splits are not supported: one-hot encode those features "
                "in the pipeline (OneHotEncoder) and fit with enable_categorical=False."
            )
        t32 = np.float32(node["split_condition"])
        return pos[node["split"]], float(np.nextafter(t32, np.float32(-np.inf)))

    trees = [_tree_from_nested(json.loads(d), child, split)
             for d in booster.get_dump(dump_format="json")]
    Z = np.zeros((1, imap.n_inputs), dtype=np.float32)
    margin = float(np.ravel(est.predict(Z, output_margin=True))[0])
    base = margin - float(tree_sum(trees, Z, float64=False)[0])
    enc = encode_trees([], np.asarray(est.classes_), imap, space, arrays=trees,
                       score0=np.array([base]), decision="sign")
    enc.info.update(model="XGBClassifier", base_score=base)
    return enc


#: LightGBM's ``kZeroThreshold`` (a C float ``1e-35f``), compared in double
_LGBM_ZERO = float(np.float32(1e-35))


def _lightgbm_threshold(t: float) -> float:
    """The float64 ``t'`` with ``x <= t'`` iff LightGBM sends ``x`` left at threshold ``t``.

    LightGBM reads ``x`` as 0 when ``-z <= x <= z`` (``z = kZeroThreshold``). For ``|t| > z``
    that never changes a side (0 and the band lie on the same side of ``t``); for
    ``0 <= t <= z`` the whole band goes left: ``t' = z``; for ``-z <= t < 0`` the band goes
    right: ``t'`` is the largest float64 below ``-z``.
    """
    if -_LGBM_ZERO <= t < 0.0:
        return float(np.nextafter(-_LGBM_ZERO, -np.inf))
    if 0.0 <= t <= _LGBM_ZERO:
        return _LGBM_ZERO
    return t


def encode_lightgbm(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    """Encode a fitted binary ``lightgbm.LGBMClassifier``.

    LightGBM compares float64 inputs, ``x <= threshold`` goes left, after setting every
    input with ``|x| <= kZeroThreshold`` (``1e-35f``) to zero: a split at
    ``-kZeroThreshold`` (between the negatives and zero) sends ``x = -kZeroThreshold`` right,
    so thresholds inside that band are moved to the band's edge on their side
    (:func:`_lightgbm_threshold`). Splits that treat zero as missing (``zero_as_missing``)
    and categorical splits are rejected.
    """
    _require("lightgbm", "lightgbm")
    _binary_only(est)
    dump = est.booster_.dump_model()
    if dump.get("num_class", 1) != 1:
        raise UnsupportedModelError("Only binary LGBMClassifier models are supported.")

    def child(node: dict[str, Any]) -> Any:
        if "leaf_value" in node and "split_feature" not in node:
            return None
        return node["left_child"], node["right_child"]

    def split(node: dict[str, Any]) -> tuple[int, float]:
        if node.get("decision_type") != "<=":
            raise UnsupportedModelError(
                "LightGBM categorical splits are not supported: one-hot encode those features "
                "in the pipeline (OneHotEncoder) instead of categorical_feature."
            )
        if node.get("missing_type") == "Zero":
            raise UnsupportedModelError(
                "LightGBM splits that treat zero as missing (zero_as_missing=True) are not "
                "supported; refit with zero_as_missing=False."
            )
        return int(node["split_feature"]), _lightgbm_threshold(float(node["threshold"]))

    trees = [_tree_from_nested(t["tree_structure"], child, split) for t in dump["tree_info"]]
    Z = np.zeros((1, imap.n_inputs))
    margin = float(np.ravel(est.predict(Z, raw_score=True))[0])
    base = margin - float(tree_sum(trees, Z, float64=True)[0])
    enc = encode_trees([], np.asarray(est.classes_), imap, space, arrays=trees,
                       score0=np.array([base]), decision="sign", float64=True)
    enc.info.update(model="LGBMClassifier", base_score=base)
    return enc

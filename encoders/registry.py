"""Which encoder handles which fitted model: exact type name, then the MRO."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recourse.encoders.block import EncodedModel
from recourse.encoders.boosting import (
    encode_gradient_boosting,
    encode_hist_gradient_boosting,
    encode_lightgbm,
    encode_xgboost,
)
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError, UnsupportedModelError
from recourse.encoders.linear import encode_linear
from recourse.encoders.mlp import encode_mlp
from recourse.encoders.pipeline import InputMap
from recourse.encoders.trees import encode_trees

__all__ = ["register_encoder", "supported_models", "encoder_for"]

Encoder = Callable[[Any, InputMap, SearchSpace], EncodedModel]


def _forest(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    if getattr(est, "n_outputs_", 1) != 1:
        raise EncodingError("Multi-output forests are not supported.")
    return encode_trees(list(est.estimators_), np.asarray(est.classes_), imap, space)


def _tree(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    return encode_trees([est], np.asarray(est.classes_), imap, space)


_REGISTRY: dict[str, Encoder] = {
    "LogisticRegression": encode_linear,
    "LogisticRegressionCV": encode_linear,
    "LinearSVC": encode_linear,
    "RidgeClassifier": encode_linear,
    "RidgeClassifierCV": encode_linear,
    "SGDClassifier": encode_linear,
    "Perceptron": encode_linear,
    "PassiveAggressiveClassifier": encode_linear,
    "LinearDiscriminantAnalysis": encode_linear,
    "DecisionTreeClassifier": _tree,
    "ExtraTreeClassifier": _tree,
    "RandomForestClassifier": _forest,
    "ExtraTreesClassifier": _forest,
    "GradientBoostingClassifier": encode_gradient_boosting,
    "HistGradientBoostingClassifier": encode_hist_gradient_boosting,
    "GradientBoostingRegressor": encode_gradient_boosting,
    "HistGradientBoostingRegressor": encode_hist_gradient_boosting,
    "XGBClassifier": encode_xgboost,
    "LGBMClassifier": encode_lightgbm,
    "MLPClassifier": encode_mlp,
    "MLPRegressor": encode_mlp,
    "TorchClassifier": encode_mlp,
    "TorchRegressor": encode_mlp,
}


def register_encoder(class_name: str, encoder: Encoder) -> None:
    """Register ``encoder(estimator, input_map, space) -> EncodedModel`` for a class name."""
    _REGISTRY[class_name] = encoder


def supported_models() -> list[str]:
    """Names of the estimator classes that can be encoded."""
    return sorted(_REGISTRY)


def encoder_for(est: Any) -> Encoder:
    if type(est).__name__ == "Sequential" and hasattr(est, "children"):
        raise UnsupportedModelError(
            "A bare PyTorch nn.Sequential has no classes and no predict: wrap it as "
            "recourse.encoders.mlp.TorchClassifier(module, classes=[...]) or "
            "TorchRegressor(module)."
        )
    for cls in type(est).__mro__:
        if cls.__name__ in _REGISTRY:
            return _REGISTRY[cls.__name__]
    raise UnsupportedModelError(
        f"{type(est).__name__} is not a supported model. Supported models: "
        f"{', '.join(supported_models())} (bare, or as the last step of a Pipeline)."
    )

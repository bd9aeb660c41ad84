"""Fitted models -> solver-neutral MILP blocks. Knows sklearn; knows no solver."""

from __future__ import annotations

from typing import Any

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink, TreeStructure, ValueLink
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError
from recourse.encoders.pipeline import InputMap, input_map, split_pipeline
from recourse.encoders.registry import encoder_for, register_encoder, supported_models

__all__ = [
    "encode",
    "supported_models",
    "register_encoder",
    "EncodedModel",
    "SearchSpace",
    "InputMap",
    "ValueLink",
    "ThresholdLink",
    "GroupLink",
    "TreeStructure",
]


def encode(model: Any, space: SearchSpace) -> EncodedModel:
    """Encode a fitted model (bare estimator or Pipeline) over the search space ``space``.

    Raises
    ------
    UnsupportedModelError
        The estimator or a preprocessing step is not supported (the message lists what is).
    EncodingError
        The model is supported but cannot be encoded as given.
    """
    from recourse.encoders.multi import ModelSet, encode_model_set

    if isinstance(model, ModelSet):
        return encode_model_set(model, space)
    from recourse.encoders.isolation import PlausibleModel, encode_plausible

    if isinstance(model, PlausibleModel):
        return encode_plausible(model, space)
    _, est = split_pipeline(model)
    enc = encoder_for(est)
    if not any(hasattr(est, a) for a in ("classes_", "n_features_in_")):
        raise EncodingError(
            f"{type(est).__name__} looks unfitted (no classes_ or n_features_in_); fit it "
            "before explaining."
        )
    imap = input_map(model, space)
    return enc(est, imap, space)

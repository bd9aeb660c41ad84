"""By how much the target class wins, in the model's own units.

Forests and trees: in probability (``predict_proba``); every other model in its decision
function (or the log-ratio of ``predict_proba`` where there is none); a ModelSet: every
model in its own units. Used by robust recourse (``min_margin``) and its checks, always on
the model's own scores, never on the MILP's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recourse.schema import FeatureSchema
from recourse.verify import model_input

__all__ = ["margin_units", "member_units", "model_margin"]


def margin_units(engine: Any) -> str:
    """``"probability"`` for forests and trees, ``"decision function"`` otherwise (for a
    ModelSet of mixed units: ``"per model"``, see :func:`member_units`)."""
    per = member_units(engine)
    if per is not None:
        units = {u for u, _ in per}
        return units.pop() if len(units) == 1 else "per model"
    return _units(engine.encoding)


def _units(enc: Any) -> str:
    if enc.tree is not None and "base_score" not in enc.info:
        return "probability"
    return "decision function"


def member_units(engine: Any) -> list[tuple[str, float]] | None:
    """For a ModelSet, per model: its margin units and the factor from a margin in those
    units to one in its encoded score (its number of trees for probabilities: forests
    score the sum of their trees' probabilities); None for any other model."""
    from recourse.encoders.multi import ModelSet, StackEncodedModel

    if not isinstance(engine.model, ModelSet):
        return None
    enc = engine.encoding
    if isinstance(enc, StackEncodedModel):
        return [(_units(m), float(m.info.get("n_trees", 1)) if _units(m) == "probability"
                 else 1.0) for m in enc.members]
    return [("probability", float(n)) for n in enc.info["trees_per_model"]]


def model_margin(engine: Any, rows: list[dict[str, Any]], target: Any) -> np.ndarray:
    """By how much the target class wins on ``rows``, from the model's own scores.

    Forests and trees: ``predict_proba`` of the target minus the largest other class.
    Otherwise the decision function (``decision_function``; for models without one, such as
    ``MLPClassifier``, log-ratios of ``predict_proba``, i.e. logit differences): for a
    binary model its sign-adjusted value, else the target's minus the largest other's.
    For a ModelSet: every model in its own units (:func:`member_units`), models x rows.
    """
    per = member_units(engine)
    if per is not None:  # a ModelSet: every model in its own units (models x rows)
        return np.array([_margin(m, u, engine.schema, list(engine.classes), rows, target)
                         for m, (u, _) in zip(engine.model.models, per)])
    return _margin(engine.model, margin_units(engine), engine.schema, list(engine.classes),
                   rows, target)


def _margin(model: Any, units: str, schema: FeatureSchema, classes: list[Any],
            rows: list[dict[str, Any]], target: Any) -> np.ndarray:
    X = model_input(model, schema, rows)
    t = classes.index(target)
    if units == "probability":
        P = np.asarray(model.predict_proba(X), dtype=float)
        return P[:, t] - np.delete(P, t, axis=1).max(axis=1)
    if hasattr(model, "decision_function"):
        D = np.asarray(model.decision_function(X), dtype=float)
    else:
        with np.errstate(divide="ignore"):
            D = np.log(np.asarray(model.predict_proba(X), dtype=float))
        if D.shape[1] == 2:
            D = D[:, 1] - D[:, 0]
    if D.ndim == 1:
        return D if t == 1 else -D
    return D[:, t] - np.delete(D, t, axis=1).max(axis=1)

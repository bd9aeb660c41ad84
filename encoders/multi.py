"""Several tree models that must all agree: one tree block with per-model target rows.

:class:`ModelSet` wraps fitted tree classifiers (DecisionTree, RandomForest, ExtraTrees;
bare or as the last step of a Pipeline) that share the classes and the user's columns,
e.g. the same forest retrained with other seeds. Its ``predict`` is the common class
where every model agrees and :data:`DISAGREE` elsewhere, so recourse for a ModelSet is
recourse valid under every model, verified by every model's own ``predict``.

Encoding: the model inputs of all models side by side (one affine :class:`InputMap`
whose rows are each model's inputs), all trees in one call of ``encode_trees`` (so every
feature has one set of threshold indicators over the union of all models' thresholds),
and per model its own score rows over its own trees' leaves: ``target_rows`` stacks each
model's rows, ``predict_index`` is the common class or the index of ``DISAGREE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from encoders.block import EncodedModel
from encoders.domain import SearchSpace
from encoders.errors import EncodingError
from encoders.pipeline import InputMap, input_map, split_pipeline
from encoders.trees import encode_trees, tree_arrays

__all__ = ["DISAGREE", "ModelSet", "MultiEncodedModel", "encode_model_set"]

#: The "class" a :class:`ModelSet` predicts where its models disagree.
DISAGREE = "(models disagree)"

_TREE_MODELS = ("DecisionTreeClassifier", "ExtraTreeClassifier", "RandomForestClassifier",
                "ExtraTreesClassifier")


class ModelSet:
    """Fitted tree classifiers that must all predict the target (see module docstring).

    Parameters
    ----------
    models : sequence of fitted estimators or Pipelines
        At least one; the same ``classes_`` and input columns; each a DecisionTree,
        RandomForest or ExtraTrees classifier (bare or at the end of a Pipeline).
    """

    def __init__(self, models: Any) -> None:
        models = list(models) if not isinstance(models, (str, bytes)) else []
        if not models:
            raise EncodingError("ModelSet needs a non-empty list of fitted models.")
        classes = None
        for i, m in enumerate(models):
            _, est = split_pipeline(m)
            name = type(est).__name__
            if name not in _TREE_MODELS:
                raise EncodingError(
                    f"ModelSet model #{i} is a {name}; multi-model recourse supports "
                    f"{', '.join(_TREE_MODELS)} (bare or in a Pipeline).")
            if not hasattr(est, "classes_"):
                raise EncodingError(f"ModelSet model #{i} ({name}) is not fitted; fit it first.")
            c = np.asarray(m.classes_)
            if classes is None:
                classes = c
            elif c.shape != classes.shape or not np.all(c == classes):
                raise EncodingError(
                    f"ModelSet models disagree on the classes: model #0 has "
                    f"{classes.tolist()}, model #{i} has {c.tolist()}.")
        names = [getattr(m, "feature_names_in_", None) for m in models]
        if any(n is not None for n in names):
            first = list(names[0]) if names[0] is not None else []
            if any(n is None or list(n) != first for n in names):
                raise EncodingError(
                    "ModelSet models were fitted on different columns; fit them all on the "
                    "same DataFrame columns.")
            self.feature_names_in_ = np.asarray(names[0])
        n_in = {getattr(m, "n_features_in_", None) for m in models}
        if len(n_in) > 1:
            raise EncodingError(f"ModelSet models expect different numbers of features: "
                                f"{sorted(x for x in n_in if x is not None)}.")
        self.n_features_in_ = n_in.pop()
        self.models = models
        assert classes is not None  # models is not empty (checked above)
        self.model_classes_ = classes
        self.classes_ = np.array([*classes.tolist(), DISAGREE], dtype=np.object_)

    def __len__(self) -> int:
        return len(self.models)

    def predict_all(self, X: Any) -> np.ndarray:
        """Every model's prediction (models x rows)."""
        return np.array([np.asarray(m.predict(X), dtype=object) for m in self.models])

    def predict(self, X: Any) -> np.ndarray:
        """The common prediction where all models agree, else :data:`DISAGREE`."""
        P = self.predict_all(X)
        same = np.all(P == P[0], axis=0)
        return np.where(same, P[0], DISAGREE)


@dataclass(frozen=True)
class MultiEncodedModel(EncodedModel):
    """An :class:`EncodedModel` over several models' trees (see module docstring).

    ``model_scores[m]`` is model ``m``'s score matrix (classes x variables) over its own
    leaves; ``classes`` ends with :data:`DISAGREE`.
    """

    model_scores: tuple[sp.csr_matrix, ...] = ()

    def _one(self, m: int) -> EncodedModel:
        base = {f: getattr(self, f) for f in EncodedModel.__dataclass_fields__}
        base.update(score=self.model_scores[m], classes=self.classes[:-1])
        return EncodedModel(**base)

    def target_rows(self, target: int, margin: float,
                    tie_margin: float = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        """Every model's rows: the target wins in each model."""
        if target == len(self.classes) - 1:
            raise EncodingError(f"{DISAGREE!r} is no class to reach; name one of the "
                                f"models' classes {self.classes[:-1].tolist()}.")
        parts = [self._one(m).target_rows(target, margin, tie_margin)
                 for m in range(len(self.model_scores))]
        return sp.vstack([p[0] for p in parts]).tocsr(), np.concatenate([p[1] for p in parts])

    def predict_index(self, S: np.ndarray) -> np.ndarray:
        """The common class index where every model agrees, else that of DISAGREE."""
        idx = np.array([self._one(m).predict_index(S) for m in range(len(self.model_scores))])
        same = np.all(idx == idx[0], axis=0)
        return np.where(same, idx[0], len(self.classes) - 1)

    def with_threshold(self, threshold: float) -> EncodedModel:
        raise EncodingError("A ModelSet has no single score: utilities are not supported; "
                            "name the class to reach with target=... instead.")


def _stacked_map(maps: list[InputMap], space: SearchSpace) -> InputMap:
    """Every model's inputs side by side."""
    A = np.vstack([m.A for m in maps])
    b = np.concatenate([m.b for m in maps])
    source = np.concatenate([m.source for m in maps])

    def exact(j: int, values: np.ndarray) -> np.ndarray:
        parts = []
        s = int(space.start[j])
        for m in maps:
            if m.exact is not None:
                parts.append(np.asarray(m.exact(j, values), dtype=float))
            else:
                parts.append(np.asarray(values, dtype=float)[:, None] * m.A[:, s][None, :]
                             + m.b[None, :])
        return np.hstack(parts)

    return InputMap(A=A, b=b, source=source, exact=exact)


def encode_model_set(ms: ModelSet, space: SearchSpace) -> MultiEncodedModel:
    """Encode a :class:`ModelSet` (see module docstring)."""
    maps, trees, owner = [], [], []
    offset = 0
    for i, m in enumerate(ms.models):
        _, est = split_pipeline(m)
        imap = input_map(m, space)
        ests = list(est.estimators_) if hasattr(est, "estimators_") else [est]
        for e in ests:
            ta = tree_arrays(e)
            ta["feature"] = np.where(ta["feature"] >= 0, ta["feature"] + offset, ta["feature"])
            trees.append(ta)
            owner.append(i)
        maps.append(imap)
        offset += imap.n_inputs
    classes = np.asarray(ms.model_classes_)
    enc = encode_trees([], classes, _stacked_map(maps, space), space, arrays=trees,
                       score0=np.zeros(len(classes)), decision="argmax")
    assert enc.tree is not None
    owner_a = np.array(owner)
    leaf_owner = owner_a[enc.tree.leaf_tree]
    scores = []
    for i, m in enumerate(ms.models):
        keep = np.zeros(enc.n_vars)
        keep[enc.tree.leaf_var[leaf_owner == i]] = 1.0
        scores.append(sp.csr_matrix(enc.score.multiply(keep[None, :])))
    fields = {f: getattr(enc, f) for f in EncodedModel.__dataclass_fields__}
    fields.update(classes=np.array([*classes.tolist(), DISAGREE], dtype=object),
                  info=dict(enc.info, n_models=len(ms.models), option="models",
                            option_text=f"agreement of all {len(ms.models)} models",
                            trees_per_model=np.bincount(owner_a).tolist()))
    return MultiEncodedModel(**fields, model_scores=tuple(scores))

"""Several models that must all agree: one problem over all of them.

:class:`ModelSet` wraps fitted classifiers of any supported type (trees, forests, gradient
boosting, linear/logistic models, ReLU MLPs including the PyTorch wrappers; bare or as the
last step of a Pipeline) that share the classes and the user's columns, e.g. the same
forest retrained with other seeds, or a LogisticRegression, a RandomForest and an MLP.
Its ``predict`` is the common class where every model agrees and :data:`DISAGREE`
elsewhere, so recourse for a ModelSet is recourse valid under every model, verified by
every model's own ``predict``.

Two encodings:

* **All tree classifiers** (DecisionTree, RandomForest, ExtraTrees): one tree block
  (:class:`MultiEncodedModel`): the model inputs of all models side by side (one affine
  :class:`InputMap` whose rows are each model's inputs), all trees in one call of
  ``encode_trees`` (so every feature has one set of threshold indicators over the union of
  all models' thresholds), and per model its own score rows over its own trees' leaves:
  ``target_rows`` stacks each model's rows, ``predict_index`` is the common class or the
  index of ``DISAGREE``.
* **Any other combination**: every model encoded on its own (``recourse.encoders.encode``) and kept
  apart in a :class:`StackEncodedModel`; the problem layer (``recourse.solvers.stack``) makes the
  first one the main encoding and appends the others, each tied to the problem's value
  view (explicit per-feature value variables) and each with its own target rows. An
  isolation forest's path lengths (``recourse.encoders.isolation``) are appended the same way.

Margins: ``target_rows`` of both take ``margin`` either as one number or as one number
per model (each in its own model's score units: summed leaf probabilities for forests,
the decision function otherwise), so ``min_margin`` holds in every model's own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ValueLink
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError
from recourse.encoders.pipeline import InputMap, input_map, split_pipeline
from recourse.encoders.trees import encode_trees, tree_arrays

__all__ = ["DISAGREE", "ModelSet", "MultiEncodedModel", "StackEncodedModel",
           "encode_model_set", "encode_stack", "per_model"]

#: The "class" a :class:`ModelSet` predicts where its models disagree.
DISAGREE = "(models disagree)"

_TREE_MODELS = ("DecisionTreeClassifier", "ExtraTreeClassifier", "RandomForestClassifier",
                "ExtraTreesClassifier")


def per_model(margin: Any, n: int) -> np.ndarray:
    """``margin`` (one number, or one per model) as ``n`` numbers."""
    m = np.asarray(margin, dtype=float)
    if m.ndim == 0:
        return np.full(n, float(m))
    if m.shape != (n,):
        raise EncodingError(f"Give one margin or one per model ({n}); got {m.shape[0]}.")
    return m


def check_classifier(model: Any, what: str) -> tuple[Any, np.ndarray]:
    """The final estimator and classes of a fitted, encodable classifier (or a clear error)."""
    from recourse.encoders.registry import encoder_for

    if type(model).__name__ in ("ModelSet", "PlausibleModel"):
        raise EncodingError(f"{what} is a {type(model).__name__}; give the plain fitted "
                            "models (a ModelSet or PlausibleModel cannot be nested).")
    _, est = split_pipeline(model)
    name = type(est).__name__
    encoder_for(est)  # UnsupportedModelError lists the supported models
    classes = getattr(model, "classes_", None)
    if classes is None:
        fitted = any(hasattr(est, a) for a in ("n_features_in_", "coefs_", "estimators_"))
        raise EncodingError(
            f"{what} ({name}) has no classes_: " + (
                "it is a regressor; recourse over several models needs classifiers."
                if fitted else "it is not fitted; fit it first."))
    return est, np.asarray(classes)


class ModelSet:
    """Fitted classifiers that must all predict the target (see module docstring).

    Parameters
    ----------
    models : sequence of fitted estimators or Pipelines
        At least one; the same ``classes_`` and input columns; each of a type
        ``recourse.encoders.supported_models()`` lists (classifiers only), bare or at the end of a
        Pipeline.

    Examples
    --------
    >>> ms = ModelSet([logreg, forest, mlp])                 # doctest: +SKIP
    >>> RecourseEngine(ms, schema).explain(applicant)        # doctest: +SKIP
    """

    def __init__(self, models: Any) -> None:
        models = list(models) if not isinstance(models, (str, bytes)) else []
        if not models:
            raise EncodingError("ModelSet needs a non-empty list of fitted models.")
        classes = None
        names_of = []
        for i, m in enumerate(models):
            est, c = check_classifier(m, f"ModelSet model #{i}")
            names_of.append(type(est).__name__)
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
        #: Class names of the final estimators, in model order.
        self.model_types = tuple(names_of)
        #: Whether every model is a tree classifier (then one joint tree block is built).
        self.joint = all(n in _TREE_MODELS for n in names_of)
        assert classes is not None  # models is not empty (checked above)
        self.model_classes_ = classes
        self.classes_ = np.array([*classes.tolist(), DISAGREE], dtype=np.object_)

    def __len__(self) -> int:
        return len(self.models)

    def stacked_inputs(self, space: SearchSpace, frame: Any) -> np.ndarray:
        """Every model's inputs side by side (the joint tree block's input order), each
        computed by the model's own preprocessing, for rows of user values."""
        from recourse.encoders.pipeline import model_inputs

        return np.hstack([model_inputs(m, space, frame) for m in self.models])

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
        base = self.field_values()
        base.update(score=self.model_scores[m], classes=self.classes[:-1])
        return EncodedModel(**base)

    def target_rows(self, target: int, margin: Any,
                    tie_margin: Any = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        """Every model's rows: the target wins in each model (``margin`` and
        ``tie_margin``: one number or one per model)."""
        if target == len(self.classes) - 1:
            raise EncodingError(f"{DISAGREE!r} is no class to reach; name one of the "
                                f"models' classes {self.classes[:-1].tolist()}.")
        n = len(self.model_scores)
        mm, tm = per_model(margin, n), per_model(tie_margin, n)
        parts = [self._one(m).target_rows(target, float(mm[m]), float(tm[m]))
                 for m in range(n)]
        return sp.vstack([p[0] for p in parts]).tocsr(), np.concatenate([p[1] for p in parts])

    def predict_index(self, S: np.ndarray) -> np.ndarray:
        """The common class index where every model agrees, else that of DISAGREE."""
        idx = np.array([self._one(m).predict_index(S) for m in range(len(self.model_scores))])
        same = np.all(idx == idx[0], axis=0)
        return np.where(same, idx[0], len(self.classes) - 1)

    def with_threshold(self, threshold: float) -> EncodedModel:
        raise EncodingError("A ModelSet has no single score: utilities are not supported; "
                            "name the class to reach with target=... instead.")


@dataclass(frozen=True)
class StackEncodedModel(EncodedModel):
    """Separately encoded models, joined by the problem layer (``recourse.solvers.stack``).

    ``members`` are the models' own encodings (the first becomes the problem's main
    encoding); ``paths``, when set, is an isolation forest's block whose single score row
    is the sum of its trees' path lengths, which must reach ``min_path_sum``. The block
    fields of this object are the *value block*: a value link per numeric feature and a
    group link per categorical one over the search variables, no rows and no target rows;
    ``recourse.solvers.stack`` appends the members to the problem built on it.
    ``classes`` are the members' classes followed by ``sentinel`` (:data:`DISAGREE`, or
    ``recourse.encoders.isolation.IMPLAUSIBLE``).
    """

    members: tuple[EncodedModel, ...] = ()
    paths: EncodedModel | None = None
    min_path_sum: float = 0.0
    path_tol: float = 0.0

    def target_rows(self, target: int, margin: Any,
                    tie_margin: Any = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        """No rows: the value block decides nothing; every member's own target rows are
        added with its block (``recourse.solvers.stack``)."""
        if target == len(self.classes) - 1:
            raise EncodingError(f"{self.classes[-1]!r} is no class to reach; name one of "
                                f"the classes {self.classes[:-1].tolist()}.")
        return sp.csr_matrix((0, self.n_vars)), np.zeros(0)

    def member_margins(self, margin: Any) -> np.ndarray:
        """One score margin per member."""
        return per_model(margin, len(self.members))

    def path_sum(self, S: np.ndarray) -> np.ndarray:
        """Sum over isolation trees of the path length at search vectors ``S`` (the
        encoding's own forward pass through the same leaf variables the MILP uses)."""
        if self.paths is None:
            return np.full(np.atleast_2d(S).shape[0], np.inf)
        return self.paths.scores(S)[:, 0]

    def predict_index(self, S: np.ndarray) -> np.ndarray:
        """The common class index where every member agrees (and, with ``paths``, the
        point is plausible), else the sentinel's index."""
        idx = np.array([m.predict_index(S) for m in self.members])
        same = np.all(idx == idx[0], axis=0)
        out = np.where(same, idx[0], len(self.classes) - 1)
        if self.paths is not None:
            ok = self.path_sum(S) >= self.min_path_sum + self.path_tol
            out = np.where(ok, out, len(self.classes) - 1)
        return out

    def with_threshold(self, threshold: float) -> EncodedModel:
        raise EncodingError("Utilities are not supported with a ModelSet or PlausibleModel; "
                            "name the class to reach with target=... instead.")


def _stacked_map(maps: list[InputMap], space: SearchSpace) -> InputMap:
    """Every model's inputs side by side."""
    A = np.vstack([m.A for m in maps])
    b = np.concatenate([m.b for m in maps])
    source = np.concatenate([m.source for m in maps])

    def exact(batch: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        parts: dict[int, list[np.ndarray]] = {j: [] for j in batch}
        for m in maps:
            got = m.exact(batch) if m.exact is not None else None
            for j, values in batch.items():
                s = int(space.start[j])
                parts[j].append(np.asarray(got[j], dtype=float) if got is not None else
                                np.asarray(values, dtype=float)[:, None] * m.A[:, s][None, :]
                                + m.b[None, :])
        return {j: np.hstack(p) for j, p in parts.items()}

    return InputMap(A=A, b=b, source=source, exact=exact)


def encode_stack(members: list[EncodedModel], space: SearchSpace, sentinel: str,
                 info: dict[str, Any], paths: EncodedModel | None = None,
                 min_path_sum: float = 0.0, path_tol: float = 0.0) -> StackEncodedModel:
    """A :class:`StackEncodedModel` of already encoded ``members`` (see its docstring)."""
    first = members[0]
    for i, m in enumerate(members):
        if m.decision == "score":
            raise EncodingError(f"Model #{i} is a regressor; recourse over several models "
                                "needs classifiers.")
    n = space.n_vars
    links = tuple(GroupLink(j, space.vars_of(j)) if space.is_group(j)
                  else ValueLink(j, int(space.start[j])) for j in range(space.n_features))
    lb, ub = np.zeros(n), np.ones(n)
    integer = np.ones(n, dtype=bool)
    for j in range(space.n_features):
        if not space.is_group(j):
            s = int(space.start[j])
            lb[s], ub[s], integer[s] = space.lower[j], space.upper[j], bool(space.integer[j])
    return StackEncodedModel(
        kind="stack", classes=np.array([*first.classes.tolist(), sentinel], dtype=object),
        decision="argmax", lb=lb, ub=ub, integer=integer, rows=sp.csr_matrix((0, n)),
        row_lo=np.zeros(0), row_hi=np.zeros(0), links=links,
        score=sp.csr_matrix((len(first.classes), n)), score0=np.zeros(len(first.classes)),
        space_start=space.start.copy(), info=dict(info, member_kinds=[m.kind for m in members]),
        members=tuple(members), paths=paths, min_path_sum=float(min_path_sum),
        path_tol=float(path_tol))


def encode_model_set(ms: ModelSet, space: SearchSpace) -> EncodedModel:
    """Encode a :class:`ModelSet` (see module docstring)."""
    info = dict(n_models=len(ms.models), option="models",
                option_text=f"agreement of all {len(ms.models)} models")
    if not ms.joint:
        from recourse.encoders import encode

        return encode_stack([encode(m, space) for m in ms.models], space, DISAGREE, info)
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
    fields = enc.field_values()
    fields.update(classes=np.array([*classes.tolist(), DISAGREE], dtype=object),
                  info=dict(enc.info, **info,
                            trees_per_model=np.bincount(owner_a).tolist()))
    return MultiEncodedModel(**fields, model_scores=tuple(scores))

"""A fingerprint of a fitted model's learned parameters, cheap enough to check per call.

A cached encoding (trees, weights, thresholds turned into a MILP) is valid only for the
parameters it was built from. ``model.fit(...)`` on the same object changes them in place,
so a cache keyed on the object alone keeps answering for the old model.
:func:`model_fingerprint` hashes what a model has learned, so the cache can compare it on
every call:

* scikit-learn estimators, Pipelines and meta-estimators: every attribute, recursively
  (fitted ``*_`` attributes and parameters; lists, tuples, dicts and object arrays of
  sub-estimators); a tree's ``tree_`` through what decides its predictions (children,
  features, thresholds, missing-value directions, node values), not its training
  counts and impurities;
* gradient boosting: ``GradientBoosting*`` (an object array of trees) and
  ``HistGradientBoosting*`` (its predictors' node arrays) by the same walk;
* XGBoost boosters (their raw model bytes), LightGBM boosters (their model string);
* PyTorch modules (their ``state_dict`` tensors);
* ``recourse.encoders.multi.ModelSet`` and ``recourse.encoders.isolation.PlausibleModel``
  through their members.

Two objects with the same learned state get the same fingerprint (an identical refit,
same seed and data, keeps it); any change to an array, a tree or a parameter changes it.

Examples
--------
>>> from sklearn.tree import DecisionTreeClassifier
>>> m = DecisionTreeClassifier(random_state=0).fit([[0], [1]], [0, 1])
>>> f = model_fingerprint(m)
>>> _ = m.fit([[0], [1]], [1, 0])
>>> model_fingerprint(m) == f
False
"""

from __future__ import annotations

import hashlib
import re
from operator import itemgetter
from typing import Any

import numpy as np

__all__ = ["model_fingerprint"]

_SCALARS = (int, float, complex, str, bytes, bool, type(None), np.generic)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Fields of a scikit-learn tree's node array that decide its predictions.
#: What a fitted scikit-learn tree estimator's predictions depend on.
_TREE_ESTIMATOR_STATE = ("tree_", "classes_", "n_classes_", "n_outputs_", "n_features_in_")
_TREE_FIELDS = ("left_child", "right_child", "feature", "threshold", "missing_go_to_left")


def model_fingerprint(model: Any) -> str:
    """A hex digest of ``model``'s learned parameters (see the module docstring).

    Parameters
    ----------
    model : object
        A fitted model of any type the engine takes (or any Python object).

    Returns
    -------
    str
        32 hex characters; equal for models with equal learned state.
    """
    acc = _Acc()
    acc.walk(model)
    return acc.digest()


class _Acc:
    """The hash and a buffer of text (scalars, names), flushed before each array."""

    def __init__(self) -> None:
        # SHA-1 as a fast checksum (not for security): 2-3x faster than BLAKE2 here
        self.h = hashlib.sha1(usedforsecurity=False)
        self.text: list[str] = []
        # id -> object: holding the object keeps its id from being reused by a temporary
        self.seen: dict[int, Any] = {}

    def digest(self) -> str:
        self.flush()
        return self.h.hexdigest()[:32]

    def flush(self) -> None:
        if self.text:
            self.h.update("\x1f".join(self.text).encode())
            self.text.clear()

    def array(self, a: np.ndarray) -> None:
        self.text.append(f"{a.dtype.str}{a.shape}")
        if a.dtype.names:  # structured (tree nodes): field by field, never padding bytes
            for f in a.dtype.names:
                self.text.append(f)
                self.array(np.ascontiguousarray(a[f]))
        elif a.dtype.hasobject:
            for item in a.ravel(order="C"):
                self.walk(item)
        else:
            self.flush()
            self.h.update(np.ascontiguousarray(a).data)

    def mapping(self, d: dict[Any, Any]) -> None:
        scalars: list[Any] = []
        rest: list[Any] = []
        try:  # attribute order depends on the fit history (a refit keeps old slots)
            items = sorted(d.items(), key=itemgetter(0))
        except TypeError:  # keys of mixed types
            items = sorted(d.items(), key=lambda kv: repr(kv[0]))
        for k, v in items:
            (scalars if isinstance(v, _SCALARS) else rest).append((k, v))
        self.text.append(repr(scalars))
        for k, v in rest:
            self.text.append(repr(k))
            self.walk(v)

    def walk(self, obj: Any) -> None:
        if isinstance(obj, _SCALARS):
            self.text.append(repr(obj))
            return
        if isinstance(obj, np.ndarray):
            self.array(obj)
            return
        key = id(obj)
        if key in self.seen:  # shared or cyclic: its place, not its content again
            self.text.append("<ref>")
            return
        self.seen[key] = obj
        name = type(obj).__module__ + "." + type(obj).__qualname__
        self.text.append(name)
        if isinstance(obj, (list, tuple)):
            if all(isinstance(x, _SCALARS) for x in obj):
                self.text.append(repr(obj))
            else:
                for item in obj:
                    self.walk(item)
        elif isinstance(obj, dict):
            self.mapping(obj)
        elif name == "sklearn.tree._tree.Tree":
            state = obj.__getstate__()
            nodes = state["nodes"]
            self.text.append(repr((state["max_depth"], state["node_count"])))
            for f in _TREE_FIELDS:  # what predicts; not the training counts and impurities
                if nodes.dtype.names and f in nodes.dtype.names:
                    self.array(np.ascontiguousarray(nodes[f]))
            self.array(state["values"])
        elif name.startswith("xgboost.") and hasattr(obj, "save_raw"):
            self.flush()
            self.h.update(bytes(obj.save_raw()))
        elif name.startswith("lightgbm.") and hasattr(obj, "model_to_string"):
            self.text.append(obj.model_to_string())
        elif _is_torch_module(obj):
            for k, t in obj.state_dict().items():
                self.text.append(k)
                self.array(t.detach().cpu().numpy())
            self.text.append("train" if obj.training else "eval")
        elif name.startswith("sklearn.tree.") and hasattr(obj, "tree_"):
            # a fitted tree predicts from its tree_ and classes alone: hashing every
            # parameter of every tree of a forest cost 7 ms per call on RF 100x6
            self.mapping({k: getattr(obj, k) for k in _TREE_ESTIMATOR_STATE
                          if hasattr(obj, k)})
        elif hasattr(obj, "__dict__"):
            self.mapping(vars(obj))
        elif callable(obj):
            self.text.append(getattr(obj, "__qualname__", repr(type(obj))))
        elif hasattr(obj, "__getstate__") and obj.__getstate__() is not None:
            self.walk(obj.__getstate__())
        else:  # an opaque object: its text without the memory address it may contain
            self.text.append(_ADDRESS.sub("", repr(obj)))
        self.text.append("}")


def _is_torch_module(obj: Any) -> bool:
    if "torch" not in type(obj).__module__ and not hasattr(obj, "state_dict"):
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover - torch not installed
        return False
    return isinstance(obj, torch.nn.Module)


#: Lists longer than this (the trees of a forest) are recorded by their members'
#: identities, without descending into each member.
_DESCEND_MAX = 16


class FittedIdentity:
    """What a refit replaces, cheap to compare per query for tree models.

    Fitting a scikit-learn tree model, forest or gradient boosting (warm starts
    included), a LightGBM or an XGBoost model replaces fitted attributes with new objects
    (a new ``tree_``, a new list of estimators or one of another length, a new booster);
    it never rewrites a fitted tree in place. :meth:`of` records every attribute value of
    the model and of the estimators inside it (Pipeline steps, a ColumnTransformer's
    transformers; the members of longer lists, such as a forest's trees, by identity
    only), holding a reference to each so that no id is reused, and :meth:`same`
    compares them by identity and length. (Refitting one member tree of a fitted forest
    by hand is not a refit of the forest and is not seen.) Models whose training may
    update arrays in place (``partial_fit`` of linear models and MLPs, PyTorch
    optimisers) are not covered: for them the engine hashes the learned arrays
    (:func:`model_fingerprint`) on every query.
    """

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Any, int]]) -> None:
        self.items = items

    @classmethod
    def of(cls, model: Any) -> FittedIdentity:
        items: list[tuple[Any, int]] = []
        seen: set[int] = set()

        def visit(obj: Any, depth: int) -> None:
            if depth > 6 or id(obj) in seen or isinstance(obj, (np.ndarray, *_SCALARS)):
                return
            seen.add(id(obj))
            d = getattr(obj, "__dict__", None)
            if not isinstance(d, dict):
                return
            for v in d.values():
                items.append((v, len(v) if isinstance(v, (list, tuple, dict)) else -1))
                inner = (list(v) if isinstance(v, (list, tuple)) else
                         list(v.values()) if isinstance(v, dict) else [v])
                if len(inner) > _DESCEND_MAX:  # a forest's trees: their identities only
                    items.extend((w, -1) for w in inner)
                    continue
                for w in inner:
                    if isinstance(w, tuple):  # Pipeline steps: (name, estimator)
                        for u in w:
                            visit(u, depth + 1)
                    else:
                        visit(w, depth + 1)

        visit(model, 0)
        return cls(items)

    def same(self, other: FittedIdentity) -> bool:
        return len(self.items) == len(other.items) and all(
            a is b and la == lb for (a, la), (b, lb) in zip(self.items, other.items))


def refits_replace(model: Any) -> bool:
    """Whether ``model`` (bare or the last step of a Pipeline) is a tree model whose
    training replaces its fitted attributes (see :class:`FittedIdentity`)."""
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    mod = type(est).__module__
    return mod.startswith(("sklearn.tree", "sklearn.ensemble", "lightgbm", "xgboost")) \
        and not mod.startswith("sklearn.ensemble._iforest")

"""One score interface for every attribution method: ``f : R^d -> R`` on batches.

:func:`as_score` turns a fitted sklearn model (bare or Pipeline) or a plain callable into a
:class:`ScoreFunction` with a vectorised ``f`` (rows -> values) and, where it is known
exactly, the gradient:

* linear models with ``coef_`` (bare estimator): the decision function, gradient ``coef_``;
* ``MLPClassifier`` / ``MLPRegressor`` with ReLU hidden layers: the output pre-activation
  (log-odds for a binary classifier), gradient from the weights and the activation
  pattern (a unit with pre-activation exactly 0 counts as inactive: the one-sided
  derivative from the left, chosen consistently);
* any other classifier: ``decision_function`` if it has one (binary margin), else
  ``predict_proba[:, class_index]``; the gradient by central differences
  (``h = 1e-5``; docs/theory.md §C1);
* regressors (``predict`` without ``classes_``): the prediction itself; linear regressors
  have the exact gradient ``coef_``;
* trees, forests and boosted trees (piecewise constant) carry ``piecewise_constant=True``:
  their gradient is the almost-everywhere gradient **0** (never finite differences, which
  turn a split closer than ``h`` into a spurious slope of order ``1/h``).

Which quantity is explained is recorded in ``ScoreFunction.output``.

:func:`class_score` is the one definition of "the target class is reached": the target's
score minus the best other class's score, in the engine's units (decision function for
linear models and boosting, the output logit for MLPs, summed per-tree probabilities for
trees and forests, i.e. ``n_trees · (p_target − p_other)``). The class utility is
``class_score(y) >= margin`` everywhere in ``recourse.analysis``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ScoreFunction", "as_score", "as_batch", "class_score", "linear_form"]

FD_STEP = 1e-5


@dataclass
class ScoreFunction:
    """A scalar score on batches with an optional exact gradient.

    Attributes
    ----------
    f : callable
        ``(n, d) -> (n,)``.
    d : int or None
        Number of features (``None``: taken from the data).
    grad : callable or None
        Exact gradient ``(n, d) -> (n, d)``, when known.
    output : str
        What ``f`` is ("decision_function", "predict_proba[:, 1]", "logit", "callable").
    piecewise_constant : bool
        True for trees, forests and boosted trees: :meth:`gradient` returns the
        almost-everywhere gradient 0 (Integrated Gradients is then 0 and its completeness
        error ``−(f(x) − f(x'))``); SmoothGrad uses the Stein estimator by default.
    model : object
        The wrapped model, if any.
    linear : tuple or None
        ``(w, b)`` when ``f(y) = w·y + b`` exactly (enables closed forms).
    target : object
        For :func:`class_score`: the class whose score this is.
    """

    f: Callable[[np.ndarray], np.ndarray]
    d: int | None = None
    grad: Callable[[np.ndarray], np.ndarray] | None = None
    output: str = "callable"
    piecewise_constant: bool = False
    model: Any = None
    linear: tuple[np.ndarray, float] | None = None
    target: Any = None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.asarray(self.f(X), dtype=float).reshape(-1)
        if out.shape[0] != X.shape[0]:
            raise ValueError(
                f"The score function returned {out.shape[0]} values for {X.shape[0]} rows; it "
                "must map an (n, d) array to n scores.")
        return out

    def gradient(self, X: np.ndarray, h: float = FD_STEP) -> np.ndarray:
        """Exact gradient if known; 0 for piecewise-constant models (their a.e. gradient);
        else central differences with step ``h``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.grad is None and self.piecewise_constant:
            return np.zeros(X.shape)
        if self.grad is not None:
            return np.asarray(self.grad(X), dtype=float).reshape(X.shape)
        n, d = X.shape
        E = np.eye(d) * h
        P = np.concatenate([(X[:, None, :] + E[None]).reshape(-1, d),
                            (X[:, None, :] - E[None]).reshape(-1, d)])
        v = self(P)
        return ((v[: n * d] - v[n * d:]) / (2 * h)).reshape(n, d)


def as_batch(X: Any) -> tuple[np.ndarray, bool]:
    """``(2-D float array, was_single_point)``; rejects NaN/inf with a clear message."""
    A = np.asarray(X, dtype=float)
    single = A.ndim == 1
    A = np.atleast_2d(A)
    if A.ndim != 2:
        raise ValueError(f"Points must be a vector (d,) or a batch (n, d); got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError("Points contain NaN or inf; attributions need finite inputs.")
    return A, single


def _is_sklearn(model: Any) -> bool:
    return hasattr(model, "predict") and (hasattr(model, "fit") or hasattr(model, "steps"))


def as_score(model: Any, *, output: str = "auto", class_index: int = 1,
             grad: Callable[[np.ndarray], np.ndarray] | None = None) -> ScoreFunction:
    """Wrap ``model`` (sklearn estimator / Pipeline, :class:`ScoreFunction`, or callable).

    Parameters
    ----------
    model : estimator, ScoreFunction or callable
        A plain callable must map an ``(n, d)`` array to ``n`` scores.
    output : {"auto", "decision", "proba", "logit"}
        Which score of an sklearn model to explain (see module docstring).
    class_index : int
        Column of ``predict_proba`` (or the class whose margin is explained).
    grad : callable, optional
        Exact gradient of a plain callable (``(n, d) -> (n, d)``).

    Raises
    ------
    ValueError
        Unknown ``output`` or a model that offers the requested score in no form.
    """
    if output not in ("auto", "decision", "proba", "logit"):
        raise ValueError(f"The 'output' parameter must be one of ('auto', 'decision', 'proba', "
                         f"'logit'). Got {output!r} instead.")
    if isinstance(model, ScoreFunction):
        return model
    if all(hasattr(model, a) for a in ("breaks", "slopes", "intercepts", "point_values")):
        return _from_piecewise_linear(model)  # a PiecewiseLinear1D (no import: oned uses us)
    if not _is_sklearn(model):
        if not callable(model):
            raise ValueError(f"Cannot explain a {type(model).__name__}: pass a fitted sklearn "
                             "model (classifier or regressor), a PiecewiseLinear1D, or a "
                             "callable mapping (n, d) arrays to n scores.")
        return ScoreFunction(f=model, grad=grad, output="callable")
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    name = type(est).__name__
    d = getattr(model, "n_features_in_", None)
    tree_like = any(k in name for k in ("Tree", "Forest", "Boosting", "Extra"))
    if name.startswith("MLP") and getattr(est, "activation", "") == "relu" and output in (
            "auto", "logit") and est is model:
        return ScoreFunction(f=lambda X: _mlp_forward(est, X, class_index)[0],
                             grad=lambda X: _mlp_forward(est, X, class_index)[1], d=d,
                             output="logit (output pre-activation)", model=model)
    if not hasattr(model, "classes_"):  # a regressor: the prediction is the score
        if output == "proba":
            raise ValueError(f"{name} is a regressor: it has no predict_proba. Use "
                             "output='auto' (its prediction is the score).")
        lin = None
        gr = None
        if est is model and hasattr(est, "coef_") and np.ndim(est.coef_) == 1:
            w_r = np.asarray(est.coef_, dtype=float)
            lin = (w_r, float(np.ravel(getattr(est, "intercept_", 0.0))[0]))

            def gr(X: np.ndarray, w: np.ndarray = w_r) -> np.ndarray:
                return np.broadcast_to(w, np.atleast_2d(X).shape).copy()
        if name.startswith("MLP") and getattr(est, "activation", "") == "relu" and est is model:
            return ScoreFunction(f=lambda X: _mlp_forward(est, X, 1)[0],
                                 grad=lambda X: _mlp_forward(est, X, 1)[1], d=d,
                                 output="predict", model=model)
        return ScoreFunction(f=lambda X: np.asarray(model.predict(_frame(model, X)),
                                                    dtype=float).reshape(-1),
                             grad=gr, d=d, output="predict", piecewise_constant=tree_like,
                             model=model, linear=lin)
    use_dec = output in ("auto", "decision", "logit") and hasattr(model, "decision_function")
    if output == "proba" or not use_dec:
        if not hasattr(model, "predict_proba"):
            alt = ("output='decision'" if hasattr(model, "decision_function")
                   else "a callable score")
            raise ValueError(f"{name} has no predict_proba; use {alt}.")
        return ScoreFunction(
            f=lambda X: model.predict_proba(_frame(model, X))[:, class_index], d=d,
            output=f"predict_proba[:, {class_index}]", piecewise_constant=tree_like, model=model)

    def dec(X: np.ndarray) -> np.ndarray:
        out = np.asarray(model.decision_function(_frame(model, X)), dtype=float)
        if out.ndim == 2:
            return out[:, class_index]
        return out if class_index == 1 else -out

    g = None
    lin_c = None
    if est is model and hasattr(est, "coef_"):
        coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
        w = coef[0] if coef.shape[0] == 1 else coef[class_index]
        if coef.shape[0] == 1 and class_index != 1:
            w = -w

        if coef.shape[0] == 1:
            b0 = float(np.ravel(est.intercept_)[0])
            lin_c = (w, b0 if class_index == 1 else -b0)

        def g(X: np.ndarray, w: np.ndarray = w) -> np.ndarray:
            return np.broadcast_to(w, np.atleast_2d(X).shape).copy()
    return ScoreFunction(f=dec, grad=g, d=d, output="decision_function",
                         piecewise_constant=tree_like, model=model, linear=lin_c)


def _frame(model: Any, X: np.ndarray) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=list(names))


def _mlp_forward(est: Any, X: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Output pre-activation of a ReLU MLP and its exact gradient (activation pattern)."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    a = X
    J = np.broadcast_to(np.eye(X.shape[1]), (X.shape[0], X.shape[1], X.shape[1])).copy()
    n_layers = len(est.coefs_)
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        z = a @ W + b
        J = J @ W  # (n, d, units)
        if i < n_layers - 1:
            active = z > 0
            a = np.where(active, z, 0.0)
            J = J * active[:, None, :]
        else:
            a = z
    k = 0 if a.shape[1] == 1 else class_index
    out, g = a[:, k], J[:, :, k]
    if a.shape[1] == 1 and class_index == 0:
        out, g = -out, -g
    return out, g


def _n_trees(est: Any) -> int:
    ests = getattr(est, "estimators_", None)
    return len(ests) if ests is not None else 1


def _resolve_target(model: Any, x: Any, target: Any) -> Any:
    classes = list(model.classes_)
    if target is not None:
        if target not in classes:
            raise ValueError(f"target {target!r} is not a class of the model ({classes}).")
        return target
    if len(classes) != 2:
        raise ValueError("Name the target class for a multiclass model (target=...).")
    if x is None:
        return classes[1]
    pred = model.predict(_frame(model, np.atleast_2d(np.asarray(x, dtype=float))))[0]
    return classes[1] if pred == classes[0] else classes[0]


def class_score(model: Any, target: Any = None, *, x: Any = None) -> ScoreFunction:
    """The target class's lead, in the engine's units (module docstring).

    ``class_score(y) > 0`` iff the model predicts ``target`` at ``y`` (up to ties); the class
    utility of :mod:`recourse.analysis` is ``class_score(y) >= margin`` and the engine is
    called with the same ``margin``.

    Parameters
    ----------
    model : fitted sklearn classifier (bare or Pipeline)
    target : class label, optional
        Default: for a binary model the class *not* predicted at ``x`` (``classes_[1]`` when
        ``x`` is not given).
    x : array-like, optional
        The applicant (only to choose the default target).

    Raises
    ------
    ValueError
        Not a classifier, an unknown target, or a multiclass model without ``target``.
    """
    if not hasattr(model, "classes_"):
        raise ValueError(f"class_score needs a classifier; {type(model).__name__} has no "
                         "classes_. Use as_score and a score utility for a regressor.")
    t = _resolve_target(model, x, target)
    classes = list(model.classes_)
    ti = classes.index(t)
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    name = type(est).__name__
    tree_like = any(k in name for k in ("Tree", "Forest", "Extra")) and "Boosting" not in name

    def lead(S: np.ndarray) -> np.ndarray:
        others = np.delete(S, ti, axis=1)
        return S[:, ti] - others.max(axis=1)

    if tree_like:
        k = _n_trees(est)

        def f(X: np.ndarray) -> np.ndarray:
            return lead(k * np.asarray(model.predict_proba(_frame(model, X)), dtype=float))
        out = f"{k} x (predict_proba[target] - best other)"
    elif hasattr(model, "decision_function"):
        def f(X: np.ndarray) -> np.ndarray:
            D = np.asarray(model.decision_function(_frame(model, X)), dtype=float)
            if D.ndim == 1:
                return D if ti == 1 else -D
            return lead(D)
        out = "decision_function lead"
    elif hasattr(model, "predict_proba") and len(classes) == 2:
        from scipy.special import logit

        def f(X: np.ndarray) -> np.ndarray:
            p = np.asarray(model.predict_proba(_frame(model, X)), dtype=float)[:, 1]
            z = np.asarray(logit(p), dtype=float)
            if name.startswith("MLP") and est is model:
                z = _mlp_forward(est, np.atleast_2d(X), 1)[0]
            return z if ti == 1 else -z
        out = "logit lead"
    else:
        raise ValueError(f"{name}: no decision_function and not a binary predict_proba model; "
                         "its class score is not defined.")
    lin = linear_form(model, target=t, oriented=True)
    return ScoreFunction(f=f, d=getattr(model, "n_features_in_", None), output=out,
                         piecewise_constant=tree_like or "Boosting" in name, model=model,
                         linear=lin, target=t)


def linear_form(model: Any, *, target: Any = None, x: Any = None, oriented: bool = False
                ) -> tuple[np.ndarray, float] | None:
    """``(w, b)`` with ``f(y) = w·y + b`` exactly, or ``None`` when the model is not linear.

    Bare sklearn linear models (``coef_`` with one row) and ScoreFunctions built with
    ``linear=``. With ``oriented`` (class utilities of a binary linear classifier), the
    score is the target class's lead: ``(w, b)`` for ``classes_[1]``, ``(−w, −b)`` for
    ``classes_[0]``.
    """
    if isinstance(model, ScoreFunction):
        return model.linear
    if hasattr(model, "steps") or not hasattr(model, "coef_"):
        return None
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    if coef.shape[0] != 1:
        return None
    w = coef[0].copy()
    b = float(np.ravel(getattr(model, "intercept_", 0.0))[0])
    if oriented and hasattr(model, "classes_"):
        t = _resolve_target(model, x, target)
        if list(model.classes_).index(t) == 0:
            return -w, -b
    return w, b


def _from_piecewise_linear(pl: Any) -> ScoreFunction:
    """A 1-D :class:`PiecewiseLinear1D` as a score on ``(n, 1)`` arrays: gradient = the slope
    of the piece (a.e.; at a breakpoint the slope of the piece on its right), ``linear``
    when it has no breakpoints, ``piecewise_constant`` when every slope is 0."""

    def one_column(X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != 1:
            raise ValueError(f"A PiecewiseLinear1D is a function of one feature; got {X.shape[1]}"
                             " columns. Embed it first (constructions.embed_line).")
        return X[:, 0]

    def f(X: np.ndarray) -> np.ndarray:
        return np.asarray(pl(one_column(X)), dtype=float)

    def g(X: np.ndarray) -> np.ndarray:
        t = one_column(X)
        k = np.searchsorted(pl.breaks, t, side="right")
        return pl.slopes[k][:, None]

    lin = ((np.array([float(pl.slopes[0])]), float(pl.intercepts[0]))
           if pl.n_breaks == 0 else None)
    const = bool(np.all(pl.slopes == 0))
    return ScoreFunction(f=f, d=1, grad=None if const else g, output="PiecewiseLinear1D",
                         piecewise_constant=const, linear=lin)

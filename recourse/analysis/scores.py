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
  (``h = 1e-5``; docs/theory.md §C1) — zero almost everywhere for trees.

Which quantity is explained is recorded in ``ScoreFunction.output``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ScoreFunction", "as_score", "as_batch"]

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
        True for trees and forests (gradient zero a.e.; SmoothGrad uses the Stein
        estimator by default).
    model : object
        The wrapped model, if any.
    """

    f: Callable[[np.ndarray], np.ndarray]
    d: int | None = None
    grad: Callable[[np.ndarray], np.ndarray] | None = None
    output: str = "callable"
    piecewise_constant: bool = False
    model: Any = None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.asarray(self.f(X), dtype=float).reshape(-1)
        if out.shape[0] != X.shape[0]:
            raise ValueError(
                f"The score function returned {out.shape[0]} values for {X.shape[0]} rows; it "
                "must map an (n, d) array to n scores.")
        return out

    def gradient(self, X: np.ndarray, h: float = FD_STEP) -> np.ndarray:
        """Exact gradient if known, else central differences with step ``h``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
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
    if not _is_sklearn(model):
        if not callable(model):
            raise ValueError(f"Cannot explain a {type(model).__name__}: pass a fitted sklearn "
                             "model or a callable mapping (n, d) arrays to n scores.")
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
    use_dec = output in ("auto", "decision", "logit") and hasattr(model, "decision_function")
    if output == "proba" or not use_dec:
        if not hasattr(model, "predict_proba"):
            raise ValueError(f"{name} has no predict_proba; use output='decision'.")
        return ScoreFunction(
            f=lambda X: model.predict_proba(_frame(model, X))[:, class_index], d=d,
            output=f"predict_proba[:, {class_index}]", piecewise_constant=tree_like, model=model)

    def dec(X: np.ndarray) -> np.ndarray:
        out = np.asarray(model.decision_function(_frame(model, X)), dtype=float)
        if out.ndim == 2:
            return out[:, class_index]
        return out if class_index == 1 else -out

    g = None
    if est is model and hasattr(est, "coef_"):
        coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
        w = coef[0] if coef.shape[0] == 1 else coef[class_index]
        if coef.shape[0] == 1 and class_index != 1:
            w = -w

        def g(X: np.ndarray, w: np.ndarray = w) -> np.ndarray:
            return np.broadcast_to(w, np.atleast_2d(X).shape).copy()
    return ScoreFunction(f=dec, grad=g, d=d, output="decision_function",
                         piecewise_constant=tree_like, model=model)


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

"""sklearn Pipelines -> an affine map from the search variables to the model's inputs.

Real credit models are ``Pipeline(ColumnTransformer(OneHotEncoder, StandardScaler,
passthrough), estimator)``. Every preprocessing step we accept is affine *per column*:
a scaler maps ``x_j`` to ``a x_j + b``; a one-hot or ordinal encoder maps the active level
of a categorical feature to a fixed vector. In the search space (numeric values plus one
0/1 variable per category level) the whole preprocessor is therefore exactly

    model_input = A @ s + b

and the search runs in the user's own units. ``A`` and ``b`` are read off the fitted
preprocessor by probing it (transforming a few rows), so that every option of the
encoders (``drop``, ``handle_unknown``, ``feature_range``, ...) is honoured exactly as
sklearn implements it; the map is then checked on random rows of the search space, and a
step that is not on the list of affine steps is rejected before any probing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError, UnsupportedModelError, cap_list

__all__ = ["InputMap", "split_pipeline", "input_map", "model_inputs", "SUPPORTED_STEPS"]

#: Preprocessing steps accepted inside a Pipeline / ColumnTransformer.
SUPPORTED_STEPS = (
    "ColumnTransformer",
    "OneHotEncoder",
    "OrdinalEncoder",
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "SimpleImputer",
    "FunctionTransformer (identity only)",
    "'passthrough'",
    "'drop'",
)
_AFFINE = {
    "OneHotEncoder", "OrdinalEncoder", "StandardScaler", "MinMaxScaler", "MaxAbsScaler",
    "RobustScaler", "SimpleImputer",
}


@dataclass(frozen=True)
class InputMap:
    """``model_input = A @ s + b`` with ``source[i]`` the feature model input ``i`` reads.

    ``source[i]`` is -1 for an input that depends on no feature (a constant).
    """

    A: np.ndarray
    b: np.ndarray
    source: np.ndarray
    #: ``exact({j: values, ...})``: per numeric feature ``j``, the model inputs (rows x
    #: inputs) computed by the fitted preprocessor itself when ``j`` takes ``values``
    #: (others at a base point), all features in one call of the preprocessor. Tree
    #: encoders use it to decide, in sklearn's own float arithmetic, on which side of a
    #: split an integer value falls.
    exact: Callable[[dict[int, np.ndarray]], dict[int, np.ndarray]] | None = field(
        default=None, repr=False, compare=False)

    @property
    def n_inputs(self) -> int:
        return int(self.A.shape[0])

    def apply(self, S: np.ndarray) -> np.ndarray:
        """Model inputs of search vectors ``S`` (n x n_vars)."""
        return np.atleast_2d(S) @ self.A.T + self.b


def split_pipeline(model: Any) -> tuple[Any, Any]:
    """Return ``(preprocessor or None, final estimator)``; check the steps are supported."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        steps = [s for _, s in model.steps]
        est = steps[-1]
        for step in steps[:-1]:
            _check_step(step)
        prep = model[:-1] if len(steps) > 1 else None
        return prep, est
    return None, model


def _check_step(step: Any) -> None:
    name = type(step).__name__
    if step in ("passthrough", "drop", None):
        return
    if name == "ColumnTransformer":
        for _, trans, _ in step.transformers_:
            _check_step(trans)
        return
    if name == "Pipeline":
        for _, s in step.steps:
            _check_step(s)
        return
    if name == "FunctionTransformer" and getattr(step, "func", None) is None:
        return
    if name not in _AFFINE:
        raise UnsupportedModelError(
            f"The pipeline step {name} is not supported: recourse needs preprocessing that is "
            f"affine per column. Supported steps: {', '.join(SUPPORTED_STEPS)}. Fit the model on "
            "features preprocessed outside the pipeline, or replace the step."
        )


def _transform_fn(prep: Any, model: Any,
                  space: SearchSpace) -> Callable[[pd.DataFrame], np.ndarray]:
    """The function from a DataFrame of user rows to model inputs (dense float array)."""
    names = getattr(model, "feature_names_in_", None)
    if prep is not None:
        def run(df: pd.DataFrame) -> np.ndarray:
            out = prep.transform(df if names is None else df[list(names)])
            if hasattr(out, "toarray"):
                out = out.toarray()
            return np.asarray(out, dtype=float)
        return run
    for j, lv in enumerate(space.levels):
        if lv is not None and not all(isinstance(v, (int, float, np.number)) for v in lv):
            raise EncodingError(
                f"Feature {space.names[j]!r} has non-numeric categories {cap_list(lv)} but the "
                "model is a bare estimator on numbers. Wrap it in a Pipeline with a "
                "OneHotEncoder or OrdinalEncoder, or encode the levels as numbers."
            )
    cols = list(names) if names is not None else list(space.names)

    def bare(df: pd.DataFrame) -> np.ndarray:
        return df[cols].to_numpy(dtype=float)
    return bare


def model_inputs(model: Any, space: SearchSpace, frame: pd.DataFrame) -> np.ndarray:
    """The final estimator's inputs for rows of user values, computed by the model's own
    preprocessing (exactly as its ``predict`` computes them)."""
    prep, _ = split_pipeline(model)
    return _transform_fn(prep, model, space)(frame)


def input_map(model: Any, space: SearchSpace, seed: int = 0) -> InputMap:
    """Read the affine map from the search space to the final estimator's inputs."""
    prep, _ = split_pipeline(model)
    T = _transform_fn(prep, model, space)
    n = space.n_vars
    base = np.zeros(n)
    for j in range(space.n_features):
        s = space.start[j]
        if space.is_group(j):
            base[s] = 1.0
        # numeric features probe from 0 with a step of 1: exact for passthrough columns
        # (a = 1, b = 0 to the bit), and every accepted step is affine on all reals.
    probes = [base]
    for j in range(space.n_features):
        s = space.start[j]
        if space.is_group(j):
            for k in range(1, len(space.levels[j] or ())):
                p = base.copy()
                p[s] = 0.0
                p[s + k] = 1.0
                probes.append(p)
        else:
            p = base.copy()
            p[s] += 1.0
            probes.append(p)
    P = np.array(probes)
    S = _random_points(space, seed)
    # the probes and the affinity check's random points in one call of the preprocessor
    Z_all = T(space.frame(np.vstack([P, S])))
    Z, want = Z_all[: len(P)], Z_all[len(P):]
    z0 = Z[0]
    A = np.zeros((Z.shape[1], n))
    row = 1
    for j in range(space.n_features):
        s = space.start[j]
        if space.is_group(j):
            for k in range(1, len(space.levels[j] or ())):
                A[:, s + k] = Z[row] - z0
                row += 1
        else:
            A[:, s] = Z[row] - z0
            row += 1
    b = z0 - A @ base
    _check_affine(S, want, A, b)
    feat = space.feature_of_var()
    source = np.full(A.shape[0], -1, dtype=np.int64)
    for i in range(A.shape[0]):
        used = np.unique(feat[np.abs(A[i]) > 0])
        if used.size == 1:
            source[i] = used[0]
        elif used.size > 1:
            source[i] = -2

    def exact(batch: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        if not batch:
            return {}
        parts = []
        for j, values in batch.items():
            rows = np.repeat(base[None, :], len(values), axis=0)
            rows[:, int(space.start[j])] = values
            parts.append(rows)
        # one call of the preprocessor: its cost is mostly per call, not per row
        Z = T(space.frame(np.vstack(parts)))
        ends = np.cumsum([len(v) for v in batch.values()])
        return dict(zip(batch, np.split(Z, ends[:-1])))

    return InputMap(A=A, b=b, source=source, exact=exact)


def _random_points(space: SearchSpace, seed: int, m: int = 16) -> np.ndarray:
    """``m`` random search vectors within the features' bounds (integers rounded)."""
    rng = np.random.default_rng(seed)
    S = np.zeros((m, space.n_vars))
    for j in range(space.n_features):
        s = space.start[j]
        if space.is_group(j):
            k = len(space.levels[j] or ())
            S[np.arange(m), s + rng.integers(0, k, m)] = 1.0
        else:
            lo, hi = space.lower[j], space.upper[j]
            lo = lo if np.isfinite(lo) else -100.0
            hi = hi if np.isfinite(hi) else 100.0
            v = rng.uniform(lo, hi, m)
            S[:, s] = np.round(v) if space.integer[j] else v
    return S


def _check_affine(S: np.ndarray, want: np.ndarray, A: np.ndarray, b: np.ndarray) -> None:
    """Raise unless the preprocessor's outputs ``want`` at the points ``S`` equal the
    affine map ``S @ A.T + b``."""
    got = S @ A.T + b
    err = np.abs(want - got)
    tol = 1e-9 * (1.0 + np.abs(want))
    if np.any(err > tol):
        i = int(np.argmax(np.max(err - tol, axis=0)))
        raise UnsupportedModelError(
            f"The preprocessing is not affine in the user's features (model input #{i} is off by "
            f"{err[:, i].max():.3g}). Supported steps: {', '.join(SUPPORTED_STEPS)}."
        )

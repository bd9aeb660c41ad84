"""Counterfactuals as attributions (docs/theory.md §C7): ``phi(x) = x_cf − x``.

:func:`counterfactual_attribution` uses the engine's exact, verified recourse;
:func:`projection_attribution_linear` the closed-form projection on a half-space
(Theorem 6 of Fokkema, de Heide and van Erven).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recourse.analysis.scores import as_batch, as_score

__all__ = ["counterfactual_attribution", "projection_attribution_linear"]


def _out(phi: np.ndarray, single: bool) -> np.ndarray:
    return phi[0] if single else phi


def projection_attribution_linear(w: Sequence[float], b: float, X: Any, *, tau: float = 0.0
                                  ) -> np.ndarray:
    """Minimum-L2 counterfactual direction for ``f = w·x + b`` and ``f(y) >= tau``
    (Theorem 6 of [F]): ``P_U(x) − x``, zero where ``f(x) >= tau``."""
    A, single = as_batch(X)
    w_ = np.asarray(w, dtype=float)
    gap = np.maximum(0.0, tau - (A @ w_ + b))
    return _out(gap[:, None] * w_[None, :] / float(w_ @ w_), single)


def counterfactual_attribution(model: Any, X: Any, *, norm: str = "l1", target: Any = None,
                               utility: Any = None, schema: Any = None,
                               bounds: tuple[float, float] = (-1e6, 1e6),
                               delta: float | None = None, return_details: bool = False
                               ) -> Any:
    """``phi(x) = x_cf − x`` from the engine's exact, verified recourse (C7).

    Parameters
    ----------
    model : fitted sklearn model the engine supports (classifier or regressor)
    X : array-like, (d,) or (n, d)
    norm : {"l1", "l0", "l0_l1"}
        The engine's cost: L1, number of changed features, or fewest changes with L1 as
        the tie-break.
    target : class label, optional
        The class to reach (classifiers; default: the class not predicted now).
    utility : recourse.analysis.Utility, optional
        A score condition instead of a class (regressors, binary classifiers' scores):
        ``reach_class(τ)`` on a regressor (``f(y) >= τ``), ``raise_by(τ)``,
        ``raise_by_fraction(p)``. The engine gets the threshold ``τ' + κ f(x)`` per point.
    schema : FeatureSchema, optional
        Default: every feature continuous, unit cost (``scale = 1``), bounds ``bounds`` — so
        the L1 cost is ``||x_cf − x||_1`` and L0 the number of changed features.
    delta : float, optional
        Budget: details flag ``beyond_budget`` when the cost exceeds it.
    return_details : bool
        Also return per point: status, cost, ``optimal``, ``beyond_budget``.

    Ties between equally cheap counterfactuals are not enumerated here (the solver returns
    one); :func:`recourse.analysis.all_l0_supports` lists every optimal L0 support.

    Raises
    ------
    ValueError
        Unknown norm, or a point gets no verified optimal answer.
    """
    from recourse.analysis.nearest import ENGINE_MARGIN
    from recourse.engine import RecourseEngine
    from recourse.schema import Feature, FeatureSchema
    from recourse.utility import Utility as EngineUtility

    if norm not in ("l1", "l0", "l0_l1"):
        raise ValueError(f"norm must be 'l1', 'l0' or 'l0_l1'; got {norm!r}.")
    A, single = as_batch(X)
    N, d = A.shape
    if schema is None:
        names = getattr(model, "feature_names_in_", None)
        names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(d)]
        schema = FeatureSchema(tuple(Feature(n, "continuous", lower=bounds[0], upper=bounds[1],
                                             scale=1.0) for n in names))
    engine = RecourseEngine(model, schema)
    sf = as_score(model) if utility is not None else None
    out = np.zeros((N, d))
    details = []
    for i in range(N):
        kw: dict[str, Any] = {"norm": norm}
        if utility is not None:
            assert sf is not None
            kappa, tau_p = utility.linear_form
            fx = float(sf(A[i][None, :])[0])
            if utility.kind == "ratio" and fx <= 0:
                raise ValueError(f"Point {i}: a ratio utility needs f(x) > 0 (f = {fx:.6g}).")
            kw["utility"] = EngineUtility.reach(tau_p + kappa * fx - ENGINE_MARGIN)
        else:
            kw["target"] = target
        res = engine.explain(list(A[i]), **kw)
        if res.status not in ("optimal", "already_target") or not res.verified:
            raise ValueError(f"No proven, verified recourse for point {i}: {res.status} "
                             f"({res.message})")
        assert res.counterfactual is not None
        cf = np.array([float(res.counterfactual[n]) for n in schema.names])
        out[i] = cf - A[i]
        cost = float(res.cost or 0.0)
        details.append({"status": res.status, "cost": cost, "optimal": res.optimal,
                        "beyond_budget": bool(delta is not None and cost > delta)})
    phi = _out(out, single)
    if return_details:
        return phi, (details[0] if single else details)
    return phi

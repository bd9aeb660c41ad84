"""SmoothGrad ≡ C-LIME in expectation (docs/theory.md Part B, Theorem 1 of Agarwal et al.).

For ``Σ = σ² I``: ``C-LIME_Σ(x) = Σ^{-1} E[(a − x) f(a)] = E[∇f(a)] = SG_Σ(x)``,
``a ~ N(x, Σ)``. :func:`expected_explanation` computes the middle expression by a
Gauss–Hermite product rule (no gradient needed, so it is also the right "SmoothGrad" of a
tree, docs/theory.md §B3); :func:`convergence_experiment` measures how far the two finite-``n``
estimators are from each other as the number of perturbations grows (docs/theory.md §B5, B7).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.analysis.attributions import clime, smoothgrad
from recourse.analysis.scores import ScoreFunction, as_score

__all__ = [
    "expected_explanation",
    "sin_square",
    "sin_square_closed_form",
    "ConvergenceResult",
    "convergence_experiment",
]


def expected_explanation(model: Any, x: Any, sigma: float, *, order: int = 40
                         ) -> np.ndarray:
    """``SG_Σ(x) = C-LIME_Σ(x) = σ^{-2} E[(a − x) f(a)]`` for ``a ~ N(x, σ² I)``
    (docs/theory.md §B3).

    The one function for this quantity: for a :class:`PiecewiseLinear1D` it is exact
    (slopes weighted by Gaussian piece masses plus jump terms) and ``x`` may be a scalar or
    any array of points on the line (result of the same shape); for any other model an
    ``order^d`` Gauss–Hermite product rule at one point ``x`` (use for ``d <= 3``; exact for
    polynomials of degree ``< 2·order``).
    """
    from recourse.analysis.oned import PiecewiseLinear1D
    from recourse.analysis.oned_tools import _smoothgrad_expected_pl

    if isinstance(model, PiecewiseLinear1D):
        if not sigma > 0:
            raise ValueError(f"sigma must be positive; got {sigma}.")
        return _smoothgrad_expected_pl(model, x, sigma)
    sf = as_score(model)
    x = np.asarray(x, dtype=float)
    d = x.size
    if order ** d > 2_000_000:
        raise ValueError(f"order^d = {order ** d} nodes is too many; lower order or d.")
    g, w = np.polynomial.hermite_e.hermegauss(order)  # weight exp(-z^2/2)
    w = w / np.sqrt(2 * np.pi)
    Z = np.array(list(itertools.product(g, repeat=d)))
    W = np.prod(np.array(list(itertools.product(w, repeat=d))), axis=1)
    v = sf(x[None, :] + sigma * Z)
    return np.asarray((W * v) @ Z / sigma)


def sin_square() -> ScoreFunction:
    """``f(x) = sin(x_1) + x_2²`` (docs/theory.md §B3, B7) with its exact gradient."""
    return ScoreFunction(
        f=lambda X: np.sin(np.atleast_2d(X)[:, 0]) + np.atleast_2d(X)[:, 1] ** 2, d=2,
        grad=lambda X: np.column_stack([np.cos(np.atleast_2d(X)[:, 0]),
                                        2 * np.atleast_2d(X)[:, 1]]),
        output="sin(x1) + x2^2")


def sin_square_closed_form(x: Any, sigma: float) -> np.ndarray:
    """``(cos(x_1) exp(−σ²/2), 2 x_2)`` — SG_Σ = C-LIME_Σ of :func:`sin_square`."""
    x = np.asarray(x, dtype=float)
    return np.array([np.cos(x[0]) * np.exp(-sigma ** 2 / 2), 2 * x[1]])


@dataclass(frozen=True)
class ConvergenceResult:
    """RMS distances per ``n`` and the log–log slope of the SG–C-LIME distance."""

    ns: tuple[int, ...]
    rms_sg_clime: tuple[float, ...]
    rms_sg_exact: tuple[float, ...]
    rms_clime_exact: tuple[float, ...]
    slope: float
    shared: bool
    sigma: float
    n_seeds: int


def convergence_experiment(model: Any = None, x: Any = (0.5, -1.0), *,
                           sigma: float = 0.5, ns: Sequence[int] = (100, 1000, 10000),
                           n_seeds: int = 50, shared: bool = True, exact: Any = None
                           ) -> ConvergenceResult:
    """RMS ``||SG_n − C-LIME_n||`` over ``n_seeds`` seeds for each ``n``.

    ``shared``: both estimators use the same perturbations (same seed); otherwise
    independent draws. ``exact``: the common expectation (default: the closed form for
    :func:`sin_square`, else the Gauss–Hermite rule).
    """
    sf = sin_square() if model is None else as_score(model)
    x = np.asarray(x, dtype=float)
    if exact is None:
        exact = (sin_square_closed_form(x, sigma) if model is None
                 else expected_explanation(sf, x, sigma))
    exact = np.asarray(exact, dtype=float)
    r_sc, r_se, r_ce = [], [], []
    for n in ns:
        d_sc, d_se, d_ce = [], [], []
        for s in range(n_seeds):
            sg = smoothgrad(sf, x, sigma=sigma, n=int(n), seed=s, estimator="gradient")
            cl = clime(sf, x, sigma=sigma, n=int(n), seed=s if shared else s + 10 ** 6)
            d_sc.append(np.sum((sg - cl) ** 2))
            d_se.append(np.sum((sg - exact) ** 2))
            d_ce.append(np.sum((cl - exact) ** 2))
        r_sc.append(float(np.sqrt(np.mean(d_sc))))
        r_se.append(float(np.sqrt(np.mean(d_se))))
        r_ce.append(float(np.sqrt(np.mean(d_ce))))
    slope = float(np.polyfit(np.log(np.asarray(ns, dtype=float)), np.log(r_sc), 1)[0])
    return ConvergenceResult(tuple(int(n) for n in ns), tuple(r_sc), tuple(r_se), tuple(r_ce),
                             slope, shared, float(sigma), int(n_seeds))

"""The counterexamples of Fokkema, de Heide and van Erven (docs/theory.md §A7–A9, A13) and their
embeddings into ``R^d`` (A8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.analysis.oned import PiecewiseLinear1D
from recourse.analysis.scores import ScoreFunction
from recourse.analysis.utility import Utility

__all__ = [
    "construction",
    "ConstructionCase",
    "construction_case",
    "CASES",
    "embed_line",
    "embed_coordinate",
    "quadratic",
    "gaussian_bump",
    "ring",
    "ring_counterfactual",
]


def construction(delta: float, z1: float, z2: float) -> PiecewiseLinear1D:
    """docs/theory.md §A7: even, continuous, piecewise linear; ``z1`` on ``|x| < 3δ/4``, a ramp to
    ``z2`` on ``3δ/4 <= |x| <= 7δ/8``, ``z2`` beyond. Lipschitz constant ``8|z2 − z1|/δ``."""
    if not delta > 0:
        raise ValueError(f"delta must be positive; got {delta}.")
    if z1 == z2:
        raise ValueError("z1 and z2 must differ (a constant f admits trivial attributions).")
    a, b = 0.75 * delta, 0.875 * delta
    return PiecewiseLinear1D.from_points([-b, -a, a, b], [z2, z1, z1, z2])


@dataclass(frozen=True)
class ConstructionCase:
    """One row of the table of docs/theory.md §A7: ``f``, the utility, and the threshold ``r``
    (satisfied from the flat middle when ``|y| >= r``)."""

    name: str
    f: PiecewiseLinear1D
    utility: Utility
    delta: float
    r: float


#: The three rows of docs/theory.md §A7 for ``δ = 1`` (scaled with ``δ`` by
#: :func:`construction_case`).
CASES = {
    "class": (-1.0, 1.0, Utility("class", 0.0)),
    "gain": (0.0, 1.0, Utility("gain", 0.5)),
    "ratio": (1.0, 2.0, Utility("ratio", 2.0)),
}


def construction_case(name: str, delta: float = 1.0) -> ConstructionCase:
    """``construction(δ, z1, z2)`` with the utility of the table row ``name``."""
    if name not in CASES:
        raise ValueError(f"Unknown construction {name!r}; known: {sorted(CASES)}.")
    z1, z2, u = CASES[name]
    f = construction(delta, z1, z2)
    # threshold: where the ramp reaches the level the flat middle needs
    kappa, tau_p = u.linear_form
    level = tau_p + kappa * z1
    r = 0.75 * delta + (level - z1) / (z2 - z1) * 0.125 * delta
    return ConstructionCase(name, f, u, float(delta), float(r))


def _unit(u: Any) -> np.ndarray:
    v = np.asarray(u, dtype=float)
    n = np.linalg.norm(v)
    if not n > 0:
        raise ValueError("The embedding direction must be non-zero.")
    return v / n


def embed_line(f1: Callable[[np.ndarray], np.ndarray], u: Any,
               c: Any = None,
               df1: Callable[[np.ndarray], np.ndarray] | None = None) -> ScoreFunction:
    """``g(x) = f(u·(x − c))`` with ``u`` normalised (docs/theory.md §A8).

    ``df1``: derivative of ``f``, for the exact gradient ``∇g = f'(t) u``. A
    :class:`PiecewiseLinear1D` supplies its slopes itself (at a breakpoint: the slope of the
    piece on its left, chosen consistently).
    """
    uu = _unit(u)
    cc = np.zeros_like(uu) if c is None else np.asarray(c, dtype=float)

    def g(X: np.ndarray) -> np.ndarray:
        t = (np.atleast_2d(X) - cc) @ uu
        return np.asarray(f1(t), dtype=float)

    deriv = df1
    if deriv is None and isinstance(f1, PiecewiseLinear1D):
        pl = f1

        def deriv(t: np.ndarray) -> np.ndarray:
            k, _ = pl.piece_of(np.asarray(t))
            return np.asarray(pl.slopes[k])

    grad = None
    if deriv is not None:
        dd = deriv

        def grad(X: np.ndarray) -> np.ndarray:
            t = (np.atleast_2d(X) - cc) @ uu
            return np.asarray(dd(t))[:, None] * uu[None, :]

    return ScoreFunction(f=g, d=uu.size, grad=grad, output="embedded 1D function")


def embed_coordinate(f1: Any, i: int, d: int) -> ScoreFunction:
    """``g(x) = f(x_i)`` in ``R^d``."""
    if not 0 <= i < d:
        raise ValueError(f"Coordinate {i} is outside 0..{d - 1}.")
    return embed_line(f1, np.eye(d)[i])


def quadratic() -> ScoreFunction:
    """``f(x) = x²`` (1D; A9, A13.1) with its exact gradient ``2x``."""
    return ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0] ** 2, d=1,
                         grad=lambda X: 2 * np.atleast_2d(X)[:, :1], output="x^2")


def gaussian_bump() -> ScoreFunction:
    """``f(x) = exp(−x²)`` (1D; A13.2) with its exact gradient."""
    return ScoreFunction(
        f=lambda X: np.exp(-np.atleast_2d(X)[:, 0] ** 2), d=1,
        grad=lambda X: (-2 * np.atleast_2d(X)[:, :1] * np.exp(-np.atleast_2d(X)[:, :1] ** 2)),
        output="exp(-x^2)")


def ring() -> ScoreFunction:
    """``f(x) = ||x|| − 1`` in ``R^2`` (A13.3)."""
    return ScoreFunction(f=lambda X: np.linalg.norm(np.atleast_2d(X), axis=1) - 1.0, d=2,
                         output="||x|| - 1")


def ring_counterfactual(X: Any) -> np.ndarray:
    """The minimum-distance counterfactual attribution for :func:`ring` with ``f(y) >= 0``:
    ``x/||x|| − x`` inside the unit disk, 0 outside; at ``x = 0`` every unit vector is a
    minimiser and ``e_1`` is returned (the discontinuity of A13.3)."""
    A = np.atleast_2d(np.asarray(X, dtype=float))
    nrm = np.linalg.norm(A, axis=1, keepdims=True)
    out = np.where(nrm < 1, A / np.where(nrm > 0, nrm, 1.0) - A, 0.0)
    zero = nrm[:, 0] == 0
    out[zero] = np.eye(A.shape[1])[0]
    return out if np.ndim(X) == 2 else out[0]

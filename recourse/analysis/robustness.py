"""Robustness (continuity) of attributions, measured (docs/theory.md §A5, B4).

``phi`` here is any map ``(n, d) -> (n, d)`` (e.g. ``lambda X: smoothgrad(f, X, seed=0)``;
stochastic methods must be compared with a fixed seed, i.e. common random numbers).

* :func:`local_lipschitz` — ``L̂(x, ε) = max_{x' in S} ||phi(x) − phi(x')|| / ||x − x'||``
  over coordinate probes ``x ± ε e_i`` and random points of the sphere of radius ``ε``
  (random probes alone only give a lower bound).
* :func:`segment_jumps` — refine a grid on ``x0 → x1``; a jump keeps the largest adjacent
  difference bounded away from zero as the step shrinks, a Lipschitz map makes it shrink
  linearly.
* :func:`jump_at` — the difference between ``phi(x + ε u)`` and ``phi(x − ε u)`` for
  ``ε`` from ``1e-2`` to ``1e-6``.
* Lipschitz bounds for SmoothGrad / C-LIME expectations: the provable one of docs/theory.md §B4
  (``√(2/π) ∇f_max / σ``), the bounded-output one (``2 φ(1) B / σ²``) and the published
  claim (``∇f_max / (2σ)``, contradicted by ``f = |x|``; reported only as a claim).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "local_lipschitz",
    "segment_jumps",
    "SegmentReport",
    "jump_at",
    "lipschitz_bound_smoothgrad",
    "lipschitz_bound_bounded_output",
    "lipschitz_claim_agarwal",
]

PhiFn = Callable[[np.ndarray], np.ndarray]


def local_lipschitz(phi: PhiFn, x: Any, eps: float, *, n_random: int = 0,
                    coordinate: bool = True, seed: int = 0) -> float:
    """Empirical local Lipschitz constant of ``phi`` at ``x`` with probe distance ``eps``."""
    x = np.asarray(x, dtype=float)
    d = x.size
    probes = []
    if coordinate:
        E = np.eye(d) * eps
        probes += [x + E, x - E]
    if n_random:
        U = np.random.default_rng(seed).standard_normal((n_random, d))
        U *= eps / np.linalg.norm(U, axis=1, keepdims=True)
        probes.append(x + U)
    if not probes:
        raise ValueError("No probes: use coordinate=True or n_random > 0.")
    P = np.concatenate(probes)
    V = np.asarray(phi(np.concatenate([x[None, :], P])), dtype=float).reshape(P.shape[0] + 1, -1)
    num = np.linalg.norm(V[1:] - V[0], axis=1)
    den = np.linalg.norm(P - x, axis=1)
    return float(np.max(num / den))


@dataclass(frozen=True)
class SegmentReport:
    """Largest adjacent difference ``max_k ||phi(t_{k+1}) − phi(t_k)||`` per grid size and
    where it occurs (``t`` in ``[0, 1]``); ``jump`` when it does not shrink with the step."""

    n_points: tuple[int, ...]
    max_diff: tuple[float, ...]
    at: tuple[float, ...]
    jump: bool

    def ratio(self) -> float:
        """Shrink factor of the largest difference from the coarsest to the finest grid."""
        return self.max_diff[-1] / self.max_diff[0] if self.max_diff[0] > 0 else 0.0


def segment_jumps(phi: PhiFn, x0: Any, x1: Any, *,
                  levels: Sequence[int] = (101, 1001, 10001), jump_ratio: float = 0.5
                  ) -> SegmentReport:
    """Grid refinement along ``x(t) = x0 + t (x1 − x0)``.

    ``jump`` is declared when refining the grid by the factor ``levels[-1]/levels[0]``
    shrinks the largest adjacent difference by less than ``jump_ratio`` overall (a
    Lipschitz map shrinks it by that factor itself, e.g. 100).
    """
    a = np.asarray(x0, dtype=float)
    b = np.asarray(x1, dtype=float)
    diffs, ats = [], []
    for n in levels:
        t = np.linspace(0, 1, n)
        V = np.asarray(phi(a[None, :] + t[:, None] * (b - a)[None, :]), dtype=float)
        V = V.reshape(n, -1)
        dd = np.linalg.norm(np.diff(V, axis=0), axis=1)
        k = int(np.argmax(dd))
        diffs.append(float(dd[k]))
        ats.append(float(0.5 * (t[k] + t[k + 1])))
    jump = diffs[0] > 0 and diffs[-1] >= jump_ratio * diffs[0]
    return SegmentReport(tuple(levels), tuple(diffs), tuple(ats), bool(jump))


def jump_at(phi: PhiFn, x: Any, u: Any,
            eps: Any = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)) -> np.ndarray:
    """``||phi(x + ε u) − phi(x − ε u)||`` for each ``ε`` (a jump stays bounded below)."""
    x = np.asarray(x, dtype=float)
    u = np.asarray(u, dtype=float)
    e = np.asarray(eps, dtype=float)
    P = np.concatenate([x + e[:, None] * u, x - e[:, None] * u])
    V = np.asarray(phi(P), dtype=float).reshape(2 * e.size, -1)
    return np.asarray(np.linalg.norm(V[: e.size] - V[e.size:], axis=1))


def lipschitz_bound_smoothgrad(grad_max: float, sigma: float) -> float:
    """Provable, tight Lipschitz constant of ``SG_Σ`` = ``C-LIME_Σ`` (docs/theory.md §B4):
    ``√(2/π) ∇f_max / σ`` for ``Σ = σ² I`` (dimension-free)."""
    return math.sqrt(2.0 / math.pi) * grad_max / sigma


def lipschitz_bound_bounded_output(B: float, sigma: float) -> float:
    """``2 φ(1) B / σ² ≈ 0.484 B / σ²`` for outputs in an interval of length ``B``."""
    return 2.0 * math.exp(-0.5) / math.sqrt(2 * math.pi) * B / sigma ** 2


def lipschitz_claim_agarwal(grad_max: float, sigma: float) -> float:
    """The constant ``∇f_max / (2σ)`` as transcribed from [A] — *not* a valid bound
    (``f = |x|`` exceeds it; docs/theory.md §B4, D.1). Reported for comparison only."""
    return grad_max / (2.0 * sigma)

"""Closed forms for linear scores: the minimum-norm point with ``w·y + b >= c`` in a box
with immutable features (L1, L2, L∞, L0), and the :class:`Nearest` answer type.

Without bounds these are the distance to a hyperplane in the dual norm, ``gap / ||w||_*``;
with bounds, L1 moves the features with the largest ``|w_j|`` first (fractional knapsack),
L∞ moves every free feature by ``t`` toward ``sign(w_j)`` until a bound stops it, and L2 is
``y(λ) = clip(x + λ w, lower, upper)`` with ``λ`` found exactly on its piecewise-linear path
(the projection on the half-space inside the box). L0 takes the features with the most
room first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Nearest", "nearest_linear", "NEAREST_NORMS"]

NEAREST_NORMS = ("l1", "l2", "linf", "l0")


@dataclass
class Nearest:
    """The answer of :func:`nearest`.

    Attributes
    ----------
    y : ndarray or None
        A minimum-cost satisfying point (``None``: none exists in the box).
    cost : float
        ``||y − x||`` in the requested norm (``inf`` when none exists). For tree models in
        L∞ the optimum is an infimum (a strict split inequality): ``cost`` is the infimum and
        ``y`` a witness at distance at most ``cost + η``.
    lower_bound : float
        A proven lower bound of the optimum (equal to ``cost`` when ``exact``).
    exact : bool
        The optimum is proven (closed form, the engine's proven optimum, or an exact search
        over finitely many candidates).
    method : str
        How it was computed.
    supports : list of tuple
        L0 only, with ``ties=True``: every optimal set of changed features.
    """

    y: np.ndarray | None
    cost: float
    lower_bound: float
    exact: bool
    method: str
    supports: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.y is not None


def _norm(v: np.ndarray, norm: str) -> float:
    v = np.asarray(v, dtype=float)
    if norm == "l1":
        return float(np.abs(v).sum())
    if norm == "l2":
        return float(np.linalg.norm(v))
    if norm == "linf":
        return float(np.abs(v).max()) if v.size else 0.0
    if norm == "l0":
        return float(np.count_nonzero(v))
    raise ValueError(f"norm must be one of {NEAREST_NORMS}; got {norm!r}.")


def _box(x: np.ndarray, lower: Any, upper: Any, immutable: Any
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = x.size
    lo = np.full(d, -np.inf) if lower is None else np.broadcast_to(
        np.asarray(lower, dtype=float), (d,)).copy()
    hi = np.full(d, np.inf) if upper is None else np.broadcast_to(
        np.asarray(upper, dtype=float), (d,)).copy()
    imm = np.zeros(d, dtype=bool)
    if immutable is not None:
        idx = np.asarray(list(immutable), dtype=int)
        if idx.size and (idx.min() < 0 or idx.max() >= d):
            raise ValueError(f"immutable holds feature indices outside 0..{d - 1}: {idx}.")
        imm[idx] = True
    if np.any(lo > hi):
        raise ValueError("lower must not exceed upper.")
    if np.any((x < lo) | (x > hi)):
        raise ValueError("The point lies outside the box [lower, upper]; widen the bounds.")
    lo[imm], hi[imm] = x[imm], x[imm]
    return lo, hi, imm


# ---------------------------------------------------------------- linear closed forms
def nearest_linear(w: Any, b: float, x: Any, c: float, *, norm: str = "l2", lower: Any = None,
                   upper: Any = None, immutable: Any = None) -> Nearest:
    """Minimum-``norm`` ``y`` with ``w·y + b >= c`` in the box (closed forms; module docstring).

    Parameters
    ----------
    w, b : array-like, float
        The linear score ``f(y) = w·y + b``.
    x : array-like
        The starting point.
    c : float
        The score to reach.
    norm : {"l1", "l2", "linf", "l0"}
    lower, upper : array-like, optional
        The box (default unbounded); ``x`` must lie inside it.
    immutable : sequence of int, optional
        Features that may not change.

    Returns
    -------
    Nearest
        ``exact=True``; ``y is None`` when the box cannot reach ``c``.
    """
    w = np.asarray(w, dtype=float)
    x = np.asarray(x, dtype=float)
    if norm not in NEAREST_NORMS:
        raise ValueError(f"norm must be one of {NEAREST_NORMS}; got {norm!r}.")
    lo, hi, _ = _box(x, lower, upper, immutable)
    gap = c - (float(w @ x) + b)
    if gap <= 0:
        return Nearest(x.copy(), 0.0, 0.0, True, "closed-form (already satisfied)")
    # the most w·y can grow per feature
    room = np.where(w > 0, (hi - x) * w, np.where(w < 0, (lo - x) * w, 0.0))
    if float(np.sum(room)) < gap:
        return Nearest(None, math.inf, math.inf, True, "closed-form (box cannot reach c)")
    direction = np.sign(w)
    if norm in ("l1", "l0"):
        order = np.argsort(-np.abs(w)) if norm == "l1" else np.argsort(-room)
        y = x.copy()
        left = gap
        for j in order:
            if left <= 0 or w[j] == 0 or room[j] <= 0:
                continue
            take = min(room[j], left)
            y[j] = x[j] + direction[j] * take / abs(w[j])
            left -= take
        # l0: the fewest features (largest rooms first); the cost is their count
        return Nearest(y, _norm(y - x, norm), _norm(y - x, norm), True, f"closed-form ({norm})")
    if norm == "linf":
        # w·y(t) with y(t) = clip(x + t sign(w)) is piecewise linear, increasing in t
        free = (w != 0) & (room > 0)
        caps = np.where(free, room / np.where(w != 0, np.abs(w), 1.0), 0.0)  # t at which j stops
        knots = np.unique(np.concatenate([[0.0], caps[free & np.isfinite(caps)]]))
        t = _solve_monotone(lambda s: float(np.sum(np.abs(w) * np.minimum(s, caps) * free)),
                            knots, gap)
        y = x + direction * np.minimum(t, caps) * free
        return Nearest(y, float(t), float(t), True, "closed-form (linf)")
    # l2: y(λ) = clip(x + λ w, lo, hi); w·y(λ) increasing piecewise linear in λ
    with np.errstate(divide="ignore", invalid="ignore"):
        stop = np.where(w > 0, (hi - x) / w, np.where(w < 0, (lo - x) / w, 0.0))
    knots = np.unique(np.concatenate([[0.0], stop[np.isfinite(stop) & (stop > 0)]]))

    def grow(lam: float) -> float:
        return float(w @ (np.clip(x + lam * w, lo, hi) - x))
    lam = _solve_monotone(grow, knots, gap)
    y = np.clip(x + lam * w, lo, hi)
    return Nearest(y, _norm(y - x, "l2"), _norm(y - x, "l2"), True, "closed-form (l2)")


def _solve_monotone(g: Any, knots: np.ndarray, target: float) -> float:
    """Smallest ``s >= 0`` with ``g(s) = target`` for ``g`` increasing and piecewise linear with
    kinks at ``knots`` (linear beyond the last knot)."""
    vals = np.array([g(k) for k in knots])
    i = int(np.searchsorted(vals, target, side="left"))
    if i < knots.size and vals[i] == target:
        return float(knots[i])
    if i == 0:
        i = 1
    if i >= knots.size:  # beyond the last knot: linear with the slope just past it
        a = float(knots[-1])
        b = a + 1.0
    else:
        a, b = float(knots[i - 1]), float(knots[i])
    ga, gb = g(a), g(b)
    return a + (target - ga) * (b - a) / (gb - ga)

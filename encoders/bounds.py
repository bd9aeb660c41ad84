"""Interval arithmetic for ReLU networks over a box of search variables (numpy only).

The search variables are numeric values (an interval each) and one-hot groups (exactly one
level active, each level allowed or not). The first layer's pre-activation
``z = W s + b`` is separable over features, so its exact range is the sum of the per-feature
ranges: ``W+ hi + W- lo`` for numeric columns and, for a group, the least / largest column
``W[:, level]`` over its allowed levels (the one-hot constraint makes this much tighter than
treating each level as an independent 0/1 variable). Later layers use the usual interval
propagation through ``relu``: ``[max(L, 0), max(U, 0)]``, then ``W+ U + W- L``. These bounds
are valid but loose; ``recourse.solvers.tighten`` tightens them with LPs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["affine_box", "first_layer_bounds", "interval_bounds"]


def affine_box(W: np.ndarray, b: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``W x + b`` for ``lo <= x <= hi`` (elementwise, exact for a box)."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    return Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b


def first_layer_bounds(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       groups: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Exact range of ``W s + b`` over the box ``[lo, hi]`` with one-hot ``groups``.

    A level with ``hi == 0`` is not allowed; a group with a level fixed at ``lo == 1`` has
    only that level.
    """
    in_group = np.zeros(W.shape[1], dtype=bool)
    for g in groups:
        in_group[g] = True
    num = ~in_group
    L, U = affine_box(W[:, num], b, lo[num], hi[num])
    for g in groups:
        allowed = hi[g] > 0.5
        fixed = lo[g] > 0.5
        if fixed.any():
            allowed = fixed
        if not allowed.any():
            raise ValueError("a one-hot group has no allowed level")
        cols = W[:, g[allowed]]
        L = L + cols.min(axis=1)
        U = U + cols.max(axis=1)
    return L, U


def interval_bounds(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                    lo: np.ndarray, hi: np.ndarray, groups: Sequence[np.ndarray],
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pre-activation bounds ``(L, U)`` of every layer (hidden layers and the output).

    ``weights[0]`` acts on the search variables; every layer but the last is followed by
    a ReLU.
    """
    out = [first_layer_bounds(weights[0], biases[0], lo, hi, groups)]
    for W, b in zip(weights[1:], biases[1:]):
        L, U = out[-1]
        out.append(affine_box(W, b, np.maximum(L, 0.0), np.maximum(U, 0.0)))
    return out

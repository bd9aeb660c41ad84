"""``lp_bounds`` (LP-tightened pre-activation bounds of a ReLU layer) against closed forms
and dense sampling: the bounds it returns must contain every value the layer takes on
the box, and a hidden layer that is inactive on the whole box leaves the next layer at
its bias."""

from __future__ import annotations

import numpy as np

from recourse.encoders.bounds import affine_box, first_layer_bounds
from recourse.solvers.tighten import lp_bounds


def _layer_bounds(weights, biases, lo, hi, k):
    bounds = [first_layer_bounds(weights[0], biases[0], lo, hi, [])]
    for j in range(1, k):
        L, U = bounds[-1]
        bounds.append(affine_box(weights[j], biases[j], np.maximum(L, 0.0), np.maximum(U, 0.0)))
    L, U = bounds[-1]
    return bounds, affine_box(weights[k], biases[k], np.maximum(L, 0.0), np.maximum(U, 0.0))


def test_an_inactive_layer_leaves_the_next_at_its_bias():
    """Every unit of layer 0 is negative on the box (bias -10, inputs in [0, 1]): layer
    1's pre-activation is its bias exactly. This crashed on an LP without rows."""
    lo, hi = np.zeros(2), np.ones(2)
    weights = [np.array([[1.0, 1.0], [0.5, -1.0]]), np.array([[2.0, -3.0], [1.0, 1.0]])]
    biases = [np.array([-10.0, -10.0]), np.array([0.3, -0.2])]
    bounds, _ = _layer_bounds(weights, biases, lo, hi, 1)
    assert np.all(bounds[0][1] <= 0.0)
    L0, U0 = np.array([-5.0, -5.0]), np.array([5.0, 5.0])  # loose bounds to improve on
    L, U = lp_bounds(weights, biases, bounds, 1, lo, hi, [], L0, U0)
    # the bias, up to the LP's safety slack (about 1e-6 relative)
    assert np.all(L <= biases[1]) and np.all(biases[1] <= U)
    assert np.all(U - L <= 1e-5), (L, U)


def test_bounds_contain_every_sampled_value():
    rng = np.random.default_rng(0)
    lo, hi = -np.ones(3), np.ones(3)
    weights = [rng.normal(size=(6, 3)), rng.normal(size=(5, 6)), rng.normal(size=(1, 5))]
    biases = [rng.normal(size=6), rng.normal(size=5), rng.normal(size=1)]
    bounds, (L0, U0) = _layer_bounds(weights, biases, lo, hi, 1)
    L, U = lp_bounds(weights, biases, bounds, 1, lo, hi, [], L0, U0)
    assert np.all(L >= L0 - 1e-12) and np.all(U <= U0 + 1e-12)
    X = rng.uniform(lo, hi, size=(20000, 3))
    Z = np.maximum(X @ weights[0].T + biases[0], 0.0) @ weights[1].T + biases[1]
    assert np.all(Z >= L - 1e-9) and np.all(Z <= U + 1e-9)

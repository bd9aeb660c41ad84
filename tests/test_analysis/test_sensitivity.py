"""Recourse sensitivity: ray tests (exact for trees, forests and value-linked encodings,
line search otherwise) and existence of recourse (docs/theory.md §A2-A4, A11, A12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from recourse.analysis.scores import ScoreFunction, as_score
from recourse.analysis.sensitivity import (
    attainable,
    line_breakpoints,
    ray_test,
    ray_test_model,
    recourse_exists,
)
from recourse.analysis.utility import Utility


def test_a2_attainable() -> None:
    x = np.array([1.0, 2.0, 3.0])
    assert attainable(x, np.zeros(3), k=1)  # x itself is always attainable
    assert not attainable(x, np.array([1.0, 1.0, 0.0]), k=1)
    assert attainable(x, np.array([0.0, 1.0, 0.0]), k=1)
    assert not attainable(x, np.array([0.0, 1.0, 0.0]), immutable=[1])


def test_a3_linear_gain_existence() -> None:
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    m = LogisticRegression().fit(X, [0, 1, 1, 1])
    w = m.coef_[0]
    x = np.array([0.3, -0.1])
    for delta in (0.5, 1.0, 2.0):
        edge = delta * float(np.linalg.norm(w))
        assert recourse_exists(m, x, delta, Utility("gain", edge * (1 - 1e-9)))[0] is True
        assert recourse_exists(m, x, delta, Utility("gain", edge * (1 + 1e-9)))[0] is False
        edge1 = delta * float(np.abs(w).max())  # L1 budget: dual norm is L-inf
        assert recourse_exists(m, x, delta, Utility("gain", edge1 * (1 - 1e-9)), norm="l1")[0]
        assert not recourse_exists(m, x, delta, Utility("gain", edge1 * (1 + 1e-9)),
                                   norm="l1")[0]


def test_a4_quadratic_ray_test() -> None:
    f = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0] ** 2, d=1)
    u = Utility("gain", 0.5)
    for x in np.round(np.arange(-2, 2.0001, 0.01), 10):
        res = ray_test(f, [x], [2 * x], 1.0, u)
        assert res.provides == (x != 0), x
        # minimum-distance counterfactual: y = sign(x) sqrt(x^2 + tau) (either side at 0)
        y = math.copysign(math.sqrt(x * x + 0.5), x if x != 0 else 1.0)
        # the point sits exactly on the utility's boundary: compare with a 1e-12 slack
        u_tol = Utility("gain", 0.5, tol=1e-12)
        assert ray_test(f, [x], [y - x], 1.0, u_tol).provides, x


def test_a4_zero_attribution_and_satisfied_points() -> None:
    f = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0], d=1)
    u = Utility("class", 0.0)
    assert ray_test(f, [0.5], [0.0], 1.0, u).provides  # satisfied: zero is fine
    assert not ray_test(f, [-0.5], [0.0], 1.0, u).provides  # could move, zero is not
    # satisfied point right at the boundary, direction back across it: tiny steps count
    assert ray_test(f, [1e-9], [-1.0], 1.0, u).provides
    # exactly on the boundary, pointing into the rejected side: a genuine failure
    assert not ray_test(f, [0.0], [-1.0], 1.0, Utility("class", 0.0)).provides


def test_a11_single_feature() -> None:
    f = ScoreFunction(f=lambda X: np.atleast_2d(X) @ np.array([1.0, 2.0]), d=2)
    u = Utility("gain", 1.0)
    u_tol = Utility("gain", 1.0, tol=1e-9)  # e_1 needs a step of exactly delta
    rng = np.random.default_rng(0)
    for x in rng.normal(size=(50, 2)):
        assert not ray_test(f, x, [1.0, 2.0], 1.0, u, k=1).provides
        assert ray_test(f, x, [0.0, 1.0], 1.0, u, k=1).provides
        assert ray_test(f, x, [1.0, 0.0], 1.0, u_tol, k=1).provides


def test_a12_corollary_8() -> None:
    f = ScoreFunction(f=lambda X: np.exp(np.linalg.norm(np.atleast_2d(X), axis=1)), d=2)
    x = np.array([3.0, 4.0])
    phi = math.log(2) * x / 5
    np.testing.assert_allclose(phi, [0.415888, 0.554518], atol=1e-6)
    assert float(f((x + phi)[None])[0] / f(x[None])[0]) == pytest.approx(2.0, rel=1e-12)
    u = Utility.raise_by_fraction(1.0)
    assert ray_test(f, x, phi, math.log(2) * (1 + 1e-9), u).provides
    assert not ray_test(f, x, phi, 0.99 * math.log(2), u).provides


# ------------------------------------------------------------------ trees: exact vs dense
def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3))
    y = ((X[:, 0] + X[:, 1] ** 2 - 0.5 * X[:, 2]) > 0.4).astype(int)
    return X, y


def _dense(model, x, v, delta, sat, n=20001):  # noqa: ANN001, ANN202
    s = np.linspace(0, delta / np.linalg.norm(v), n)[1:]
    return sat(x[None, :] + s[:, None] * v[None, :])


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_tree_ray_test_matches_dense_sampling(kind: str) -> None:
    X, y = _data()
    model = (DecisionTreeClassifier(max_depth=5, random_state=0) if kind == "tree"
             else RandomForestClassifier(20, max_depth=4, random_state=0)).fit(X, y)
    rng = np.random.default_rng(1)
    checked = agree_pos = mismatches = 0
    for _ in range(40):
        x = rng.normal(size=3)
        v = rng.normal(size=3)
        delta = float(rng.uniform(0.2, 2.0))
        # class utility: the model's own prediction
        pred = model.predict(x[None])[0]
        target = 1 - pred
        res = ray_test_model(model, x, v, delta, Utility("class"), target=target)
        assert res.method == "exact-trees"
        dense = _dense(model, x, v, delta, lambda Y: model.predict(Y) == target)
        if dense.any():
            assert res.provides  # dense sampling cannot find what the exact test misses
        if res.provides:
            assert model.predict(res.y[None])[0] == target  # verified witness
            assert np.linalg.norm(res.y - x) <= delta * (1 + 1e-12)
            agree_pos += int(dense.any())
        checked += 1
        # gain utility on predict_proba[:, 1]
        sf = as_score(model, output="proba")
        fx = float(sf(x[None])[0])
        u = Utility("gain", 0.1)
        res2 = ray_test_model(model, x, v, delta, u, output="proba")
        dense2 = _dense(model, x, v, delta, lambda Y: sf(Y) - fx >= 0.1)
        if dense2.any():
            assert res2.provides
        mismatches += int(res.provides != bool(dense.any())) + int(res2.provides
                                                                   != bool(dense2.any()))
        if res2.provides:
            assert float(sf(res2.y[None])[0]) - fx >= 0.1
    assert checked == 40 and agree_pos > 5
    # exact-only finds happen when the satisfying stretch is thinner than the dense step
    # (delta / 20000); with these seeds there are none
    assert mismatches == 0


def test_tree_breakpoints_are_threshold_crossings() -> None:
    X, y = _data()
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    x = np.zeros(3)
    v = np.array([1.0, 0.0, 0.0])
    b = line_breakpoints(tree, x, v)
    thr = tree.tree_.threshold[tree.tree_.feature == 0]
    # encoders place thresholds on float32 rounding boundaries: within 1e-6 of sklearn's
    assert len(b) == len(np.unique(thr))
    np.testing.assert_allclose(np.sort(b), np.sort(np.unique(thr)), atol=1e-6)


# ------------------------------------------------------------------ MILP path (linear)
def test_milp_ray_test_linear_matches_closed_form() -> None:
    X, y = _data(2)
    m = LogisticRegression().fit(X, y)
    sf = as_score(m)
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(25):
        x = rng.normal(size=3)
        v = rng.normal(size=3)
        delta = float(rng.uniform(0.1, 2.0))
        pred = m.predict(x[None])[0]
        res = ray_test_model(m, x, v, delta, Utility("class"), target=1 - pred)
        assert res.method == "milp"
        # closed form: the decision function is affine along the ray -> check the far end
        far = x + delta / np.linalg.norm(v) * v
        expect = m.predict(far[None])[0] == 1 - pred
        assert res.provides == expect
        seen.add(expect)
        u = Utility("gain", 0.5)
        res2 = ray_test_model(m, x, v, delta, u)
        assert res2.method == "milp"
        gain_far = float(sf(far[None])[0] - sf(x[None])[0])
        # the MILP works with the encoded score and HiGHS tolerances: skip razor-edge cases
        if abs(gain_far - 0.5) > 1e-6:
            assert res2.provides == (gain_far >= 0.5)
    assert seen == {True, False}


def test_recourse_exists_engine_l1() -> None:
    X, y = _data(4)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    x = X[tree.predict(X) == 0][0]
    ok, how = recourse_exists(tree, x, 100.0, Utility.reach_class(margin=1e-6), norm="l1")
    assert ok and "engine" in how
    cost = float(how.split()[-1])
    assert recourse_exists(tree, x, cost * 1.001, Utility.reach_class(margin=1e-6), norm="l1")[0]
    u = Utility.reach_class(margin=1e-6)
    assert not recourse_exists(tree, x, cost * 0.999, u, norm="l1")[0]
    # dense check: nothing within L1 distance 0.999 cost along the coordinate axes
    for j in range(3):
        for sgn in (-1, 1):
            s = np.linspace(0, 0.999 * cost, 2001)
            Y = x[None, :] + sgn * s[:, None] * np.eye(3)[j][None, :]
            assert np.all(tree.predict(Y) == 0)


def test_milp_ray_test_through_a_pipeline() -> None:
    """The MILP works in the user's units through affine preprocessing (encoders)."""
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)) * [10, 1] + [50, 0], columns=["a", "b"])
    y = (X.a / 10 + X.b > 5).astype(int)
    m = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    sf = as_score(m)
    x, v = np.array([40.0, 0.0]), np.array([1.0, 0.1])
    for delta in (1.0, 5.0, 20.0):
        far = x + delta / np.linalg.norm(v) * v
        res = ray_test_model(m, x, v, delta, Utility("class"))
        assert res.method == "milp"
        assert res.provides == (m.predict(pd.DataFrame([far], columns=["a", "b"]))[0] == 1)
        gain = float(sf(far[None])[0] - sf(x[None])[0])
        assert ray_test_model(m, x, v, delta, Utility("gain", 1.0)).provides == (gain >= 1.0)


def test_relu_network_ray_test_is_exact_against_dense_sampling(global_random_seed):
    """ReLU networks go through the MILP ray test (big-M rows over the segment's box);
    the verdict must equal dense sampling along the segment (20,001 points: a miss would
    need an approved stretch shorter than 5e-5 of the segment, which these small smooth
    problems do not have; the MILP's own witness is re-checked by the model)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from recourse.analysis import Utility, gradient, ray_test_model

    rng = np.random.default_rng(global_random_seed)
    X = rng.uniform(-3, 3, size=(300, 2))
    y = ((X[:, 0] ** 2 + X[:, 1]) > 2).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2000,
                          random_state=global_random_seed).fit(X, y)
    denied = X[m.predict(X) == 0][:6]
    assert len(denied) > 0
    checked = 0
    for x in denied:
        for phi in (gradient(m, x[None, :])[0], rng.normal(size=2)):
            if np.linalg.norm(phi) == 0:
                continue
            r = ray_test_model(m, x, phi, delta=1.0, utility=Utility("class"))
            assert r.method == "milp"
            t = np.linspace(0.0, 1.0, 20001)[:, None]
            dense = bool((m.predict(x + t * phi / np.linalg.norm(phi)) == 1).any())
            assert r.provides == dense, (x, phi)
            checked += 1
    assert checked > 0

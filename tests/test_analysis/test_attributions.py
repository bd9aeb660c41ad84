"""Attribution methods against closed forms and independent references (docs/theory.md
§A1, B, C)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from recourse.analysis import attributions as att
from recourse.analysis.scores import ScoreFunction, as_score
from recourse.analysis.smoothgrad_clime import (
    convergence_experiment,
    expected_explanation,
    sin_square,
    sin_square_closed_form,
)

W = np.array([1.5, -2.0, 0.5])
B0 = 0.7


def linear() -> ScoreFunction:
    return ScoreFunction(f=lambda X: np.atleast_2d(X) @ W + B0, d=3,
                         grad=lambda X: np.broadcast_to(W, np.atleast_2d(X).shape).copy())


def smooth() -> ScoreFunction:
    """A nonlinear test model without a known gradient (central differences)."""
    return ScoreFunction(f=lambda X: np.tanh(np.atleast_2d(X) @ W) + np.atleast_2d(X)[:, 0]
                         * np.atleast_2d(X)[:, 2], d=3)


# ------------------------------------------------------------------ A1
DETERMINISTIC = {
    "gradient": lambda f, X: att.gradient(f, X),
    "ig": lambda f, X: att.integrated_gradients(f, X, m=50),
    "shap": lambda f, X: att.shapley_exact(f, X, background=np.ones(3) * 0.1),
    "kernel_shap": lambda f, X: att.kernel_shap(f, X, background=np.zeros((2, 3))),
}
SEEDED = {
    "smoothgrad": lambda f, X: att.smoothgrad(f, X, sigma=0.3, n=30, seed=4),
    "stein": lambda f, X: att.smoothgrad(f, X, sigma=0.3, n=30, seed=4, estimator="stein"),
    "clime": lambda f, X: att.clime(f, X, sigma=0.3, n=30, seed=4),
    "lime": lambda f, X: att.lime_tabular(f, X, training_data=np.random.default_rng(0)
                                          .normal(size=(100, 3)), num_samples=200, seed=4),
    "lime_cont": lambda f, X: att.lime_tabular(f, X, training_data=np.random.default_rng(0)
                                               .normal(size=(100, 3)), discretize=False,
                                               num_samples=200, seed=4),
}


@pytest.mark.parametrize("name", list(DETERMINISTIC) + list(SEEDED))
def test_a1_shapes_and_batch_equals_rows(name: str) -> None:
    """Shapes (d,) / (n, d); batch = row by row to relative 1e-12 (BLAS rounding differs
    between a matrix and a single row). Seeded methods document shared draws per batch,
    so the same holds for them with the same seed."""
    fn = {**DETERMINISTIC, **SEEDED}[name]
    X = np.random.default_rng(1).normal(size=(5, 3))
    f = smooth()
    batch = fn(f, X)
    assert batch.shape == (5, 3)
    rows = np.array([fn(f, x) for x in X])
    assert rows.shape == (5, 3) and fn(f, X[0]).shape == (3,)
    np.testing.assert_allclose(batch, rows, rtol=1e-12, atol=1e-14)


def test_seeding_contract() -> None:
    X = np.random.default_rng(2).normal(size=(3, 3))
    f = smooth()
    a = att.smoothgrad(f, X, sigma=0.3, n=20, seed=7)
    assert np.array_equal(a, att.smoothgrad(f, X, sigma=0.3, n=20, seed=7))
    assert not np.allclose(a, att.smoothgrad(f, X, sigma=0.3, n=20, seed=8))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        att.gradient(linear(), [np.nan, 0, 0])
    with pytest.raises(ValueError, match="sigma"):
        att.smoothgrad(linear(), np.zeros(3), sigma=0)
    with pytest.raises(ValueError, match="d = 13"):
        att.shapley_exact(lambda X: X.sum(axis=1), np.zeros(13))
    with pytest.raises(ValueError, match="Unknown attribution"):
        att.attribute("nope", linear(), np.zeros(3))
    with pytest.raises(ValueError, match="returned"):
        att.gradient(lambda X: np.zeros(1), np.zeros((4, 3)))


# ------------------------------------------------------------------ B1, B2, B6
@pytest.mark.parametrize("n", [1, 7, 50])
def test_b1_smoothgrad_linear_equals_weights(n: int) -> None:
    for seed in range(3):
        phi = att.smoothgrad(linear(), np.array([0.2, 1.0, -3.0]), sigma=0.7, n=n, seed=seed)
        np.testing.assert_allclose(phi, W, rtol=1e-12)  # mean of n copies of w: last bits


def test_b1_quadratic_expectation() -> None:
    from recourse.analysis.constructions import quadratic

    for x in (-1.0, 0.3, 2.0):
        # exact gradient 2a averaged over 10^5 draws: std 2 sigma / sqrt(n) = 6.3e-4
        phi = att.smoothgrad(quadratic(), np.array([x]), sigma=0.1, n=100000, seed=0)
        assert phi[0] == pytest.approx(2 * x, abs=5 * 2 * 0.1 / math.sqrt(1e5))


def test_b2_clime_linear_and_intercept_matters() -> None:
    x = np.array([0.2, 1.0, -3.0])
    for n in (4, 10, 100):
        np.testing.assert_allclose(att.clime(linear(), x, sigma=0.5, n=n, seed=1), W,
                                   rtol=1e-10)
    # b != 0 and f(x) != 0: both designs without intercept are wrong
    assert abs(float(linear()(x[None])[0])) > 0.1
    for centred in (True, False):
        phi = att.clime(linear(), x, sigma=0.5, n=100, seed=1, intercept=False,
                        centred=centred)
        assert np.max(np.abs(phi - W)) > 1e-3


def test_b6_linearity_with_shared_perturbations() -> None:
    f, g = smooth(), sin3()
    h = ScoreFunction(f=lambda X: 2 * f(X) + 3 * g(X), d=3)
    x = np.array([0.1, -0.4, 0.9])
    for method in (att.clime, att.smoothgrad):
        lhs = method(h, x, sigma=0.4, n=200, seed=3)
        rhs = 2 * method(f, x, sigma=0.4, n=200, seed=3) + 3 * method(g, x, sigma=0.4, n=200,
                                                                      seed=3)
        # least squares / finite differences of a sum: rounding only (1e-10 for C-LIME;
        # central differences with h = 1e-5 amplify rounding to ~1e-9)
        np.testing.assert_allclose(lhs, rhs, atol=1e-10 if method is att.clime else 1e-8)


def sin3() -> ScoreFunction:
    return ScoreFunction(f=lambda X: np.sin(np.atleast_2d(X)).sum(axis=1), d=3)


# ------------------------------------------------------------------ B3, B5, B7
@pytest.mark.slow
def test_b3_sin_square_large_n() -> None:
    x = np.array([0.5, -1.0])
    exact = sin_square_closed_form(x, 0.5)
    assert np.max(np.abs(att.smoothgrad(sin_square(), x, sigma=0.5, n=10 ** 6) - exact)) < 0.01
    assert np.max(np.abs(att.clime(sin_square(), x, sigma=0.5, n=10 ** 6) - exact)) < 0.01


def test_b3_sin_square_and_gauss_hermite() -> None:
    x = np.array([0.5, -1.0])
    exact = sin_square_closed_form(x, 0.5)
    # Gauss-Hermite with 40 nodes per axis integrates this entire function to ~1e-12
    np.testing.assert_allclose(expected_explanation(sin_square(), x, 0.5), exact, atol=1e-10)
    # n = 1e5: standard errors ~ 0.4/sqrt(n) and ~1/sqrt(n) -> 0.01 is > 3 SE
    assert np.max(np.abs(att.smoothgrad(sin_square(), x, sigma=0.5, n=10 ** 5) - exact)) < 0.01
    assert np.max(np.abs(att.clime(sin_square(), x, sigma=0.5, n=10 ** 5) - exact)) < 0.01


def test_b3_one_split_tree() -> None:
    from sklearn.tree import DecisionTreeClassifier

    Xtr = np.array([[-1.0, 0.0], [1.0, 0.0]])
    tree = DecisionTreeClassifier().fit(Xtr, [0, 1])
    assert tree.tree_.threshold[0] == 0.0
    x = np.array([0.2, 0.0])
    exact = np.array([norm.pdf(0.4) / 0.5, 0.0])
    assert exact[0] == pytest.approx(0.73654, abs=1e-5)
    sf = as_score(tree)  # predict_proba[:, 1], piecewise constant
    assert sf.piecewise_constant
    stein = att.smoothgrad(sf, x, sigma=0.5, n=10 ** 5, seed=0)  # auto -> Stein
    cl = att.clime(sf, x, sigma=0.5, n=10 ** 5, seed=0)
    # standard error of both ~ 0.5 / (0.5 sqrt(1e5)) = 3e-3; 0.03 is docs/theory.md's bound
    assert np.max(np.abs(stein - exact)) < 0.03 and np.max(np.abs(cl - exact)) < 0.03
    assert np.all(att.smoothgrad(sf, x, sigma=0.5, n=1000, estimator="gradient") == 0.0)


def test_b5_smoothgrad_variance_and_b7_rate() -> None:
    x = np.array([0.5, -1.0])
    sigma, n = 0.5, 100
    exact = sin_square_closed_form(x, sigma)
    # tr Cov(grad f(a)): Var cos(a1) + Var(2 a2) with a ~ N(x, sigma^2 I)
    e = np.exp(-sigma ** 2)
    var_cos = 0.5 * (1 + np.cos(2 * x[0]) * e ** 2) - np.cos(x[0]) ** 2 * e
    tr = var_cos + 4 * sigma ** 2
    errs = [np.sum((att.smoothgrad(sin_square(), x, sigma=sigma, n=n, seed=s) - exact) ** 2)
            for s in range(2000)]
    # 2000 seeds: relative standard error of the mean of a chi-square-like sum ~ 3 %
    assert n * np.mean(errs) == pytest.approx(tr, rel=0.10)


def test_b7_convergence_slope() -> None:
    res = convergence_experiment(ns=(100, 1000, 10000), n_seeds=40)
    assert -0.6 <= res.slope <= -0.4
    # factor from n = 100 to n = 10^4: 10 +- 3 (RMS over 40 seeds: ~8 % error each)
    assert 7 <= res.rms_sg_clime[0] / res.rms_sg_clime[-1] <= 13


# ------------------------------------------------------------------ C1, C2
def test_c1_central_differences_logistic() -> None:
    w, b = np.array([0.8, -1.2, 2.0]), 0.3
    f = ScoreFunction(f=lambda X: 1 / (1 + np.exp(-(np.atleast_2d(X) @ w + b))), d=3)
    X = np.random.default_rng(0).normal(size=(20, 3))
    s = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(att.gradient(f, X, h=1e-5), (s * (1 - s))[:, None] * w,
                               atol=1e-6)


def test_c1_relu_mlp_exact_gradient() -> None:
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    mlp = MLPClassifier((8, 6), max_iter=300, random_state=0).fit(X, y)
    sf = as_score(mlp)
    assert sf.grad is not None and "logit" in sf.output
    # the logit is log(p / (1 - p)) of predict_proba
    p = mlp.predict_proba(X[:10])[:, 1]
    np.testing.assert_allclose(sf(X[:10]), np.log(p / (1 - p)), rtol=1e-6, atol=1e-8)
    fd = ScoreFunction(f=sf.f, d=3)  # same function, central differences
    # away from kinks (a kink within h = 1e-6 of 10 random points is unlikely; a mismatch
    # would show as an O(1) error, not a small one)
    np.testing.assert_allclose(att.gradient(sf, X[:10]), fd.gradient(X[:10], h=1e-6),
                               atol=1e-6)


def test_c2_stein_unbiased() -> None:
    w = np.array([0.1, 5.0])
    f = ScoreFunction(f=lambda X: np.atleast_2d(X) @ w, d=2)
    n, seeds = 20, 2000
    est = np.array([att.smoothgrad(f, np.zeros(2), sigma=0.5, n=n, seed=s, estimator="stein")
                    for s in range(seeds)])
    se = est.std(axis=0, ddof=1) / math.sqrt(seeds)
    assert np.all(np.abs(est.mean(axis=0) - w) <= 3 * se)
    biased = est * (n - 1) / n  # the 1/n normalisation: bias -w/n, visible for w_2 = 5
    z = (biased.mean(axis=0) - w) / se
    assert z[1] < -5


# ------------------------------------------------------------------ C3
def test_c3_ig_product_rules() -> None:
    f = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0] * np.atleast_2d(X)[:, 1], d=2,
                      grad=lambda X: np.atleast_2d(X)[:, ::-1].copy())
    x = np.array([1.0, 2.0])
    right, err = att.integrated_gradients(f, x, m=200, rule="right", return_error=True)
    np.testing.assert_allclose(right, [1.005, 1.005], rtol=1e-12)
    assert err == pytest.approx(4 / (2 * 200), rel=1e-9)
    mid = att.integrated_gradients(f, x, m=200, rule="midpoint")
    np.testing.assert_allclose(mid, [1.0, 1.0], atol=1e-12)


def test_c3_completeness_logistic() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.normal(size=4) * 3
        b = rng.normal()
        f = ScoreFunction(f=lambda X, w=w, b=b: 1 / (1 + np.exp(-(np.atleast_2d(X) @ w + b))),
                          d=4)
        x = rng.normal(size=4)
        assert abs(w @ x) <= 200  # path slope k within the stated range
        _, err = att.integrated_gradients(f, x, m=200, return_error=True)
        assert abs(err) < 1e-4


def test_c3_piecewise_constant_completeness_fails() -> None:
    f = ScoreFunction(f=lambda X: (np.atleast_2d(X)[:, 0] > 0.5).astype(float), d=2)
    phi, err = att.integrated_gradients(f, np.array([1.0, 1.0]), m=64, return_error=True)
    # a.e. gradient 0 (no midpoint node within h of the jump): IG 0, error -(f(x) - f(0))
    assert np.all(phi == 0) and err == -1.0


# ------------------------------------------------------------------ C4, C5
def test_c4_additive_exact() -> None:
    hs = [np.sin, np.square, np.tanh, lambda v: 0.3 * v ** 3]
    f = ScoreFunction(f=lambda X: sum(h(np.atleast_2d(X)[:, i]) for i, h in enumerate(hs)),
                      d=4)
    rng = np.random.default_rng(0)
    B = rng.normal(size=(7, 4))
    x = rng.normal(size=4)
    phi = att.shapley_exact(f, x, background=B)
    expect = [h(x[i]) - np.mean(h(B[:, i])) for i, h in enumerate(hs)]
    np.testing.assert_allclose(phi, expect, atol=1e-12)


def test_c4_efficiency_symmetry_dummy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(3):
        M = rng.normal(size=(6, 6))
        f = ScoreFunction(f=lambda X, M=M: np.tanh(np.atleast_2d(X) @ M).sum(axis=1)
                          * np.atleast_2d(X)[:, 0], d=6)
        B = rng.normal(size=(3, 6))
        x = rng.normal(size=6)
        phi = att.shapley_exact(f, x, background=B)
        assert phi.sum() == pytest.approx(float(f(x[None])[0] - f(B).mean()), abs=1e-10)
    prod = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0] * np.atleast_2d(X)[:, 1], d=3)
    phi = att.shapley_exact(prod, np.array([2.0, 3.0, 5.0]))
    np.testing.assert_allclose(phi, [3.0, 3.0, 0.0], atol=1e-12)  # equal split; dummy 0


def test_c5_kernel_weights_and_full_enumeration() -> None:
    assert [att.shapley_kernel_weight(4, s) for s in (1, 2, 3)] == [0.25, 0.125, 0.25]
    rng = np.random.default_rng(2)
    for d in (2, 3, 5, 8):
        M = rng.normal(size=(d, d))
        f = ScoreFunction(f=lambda X, M=M: np.sin(np.atleast_2d(X) @ M).sum(axis=1)
                          + np.prod(np.atleast_2d(X)[:, :2], axis=1), d=d)
        B = rng.normal(size=(2, d))
        x = rng.normal(size=d)
        np.testing.assert_allclose(att.kernel_shap(f, x, background=B),
                                   att.shapley_exact(f, x, background=B), atol=1e-10)


def test_c5_sampled_keeps_efficiency() -> None:
    d = 12
    f = ScoreFunction(f=lambda X: np.tanh(np.atleast_2d(X)).sum(axis=1) * 2, d=d)
    x = np.linspace(-1, 1, d)
    phi = att.kernel_shap(f, x, background=np.zeros(d), nsamples=400, seed=0)
    assert phi.sum() == pytest.approx(float(f(x[None])[0] - f(np.zeros((1, d)))[0]), abs=1e-10)
    # additive model: the regression is exact whatever coalitions are drawn
    np.testing.assert_allclose(phi, 2 * np.tanh(x), atol=1e-10)


# ------------------------------------------------------------------ C6
def test_c6_kernel_width_and_weight() -> None:
    w = att.lime_kernel_width(20)
    assert w == pytest.approx(3.3541, abs=1e-4)
    assert math.sqrt(math.exp(-4 / w ** 2)) == pytest.approx(0.83713, abs=1e-5)


def test_c6_cells_and_outputs() -> None:
    rng = np.random.default_rng(0)
    T = rng.normal(size=(400, 2))
    lin = ScoreFunction(f=lambda X: np.atleast_2d(X) @ np.array([1.0, 1.0]), d=2)
    a = np.array([0.1, 0.2])
    b = np.array([0.15, 0.15])  # same quartile cell (medians ~0), same f
    c = np.array([0.12, 0.2])  # same cell, different f
    q = [np.percentile(T[:, j], [25, 50, 75]) for j in range(2)]
    cell = [tuple(np.searchsorted(q[j], p[j]) for j in range(2)) for p in (a, b, c)]
    assert cell[0] == cell[1] == cell[2]
    ex = [att.lime_tabular(lin, p, training_data=T, num_samples=500, seed=3) for p in (a, b, c)]
    np.testing.assert_allclose(ex[0], ex[1], atol=1e-12)
    diff = np.max(np.abs(ex[0] - ex[2]))
    assert 0 < diff < 1e-3  # only the first sample row (x itself) changes
    far = np.array([1.5, -1.5])
    assert np.max(np.abs(att.lime_tabular(lin, far, training_data=T, num_samples=500, seed=3)
                         - ex[0])) > 1e-2
    const = ScoreFunction(f=lambda X: np.ones(np.atleast_2d(X).shape[0]), d=2)
    e1 = att.lime_tabular(const, a, training_data=T, num_samples=500, seed=3)
    e2 = att.lime_tabular(const, far, training_data=T, num_samples=500, seed=3)
    np.testing.assert_allclose(e1, e2, atol=1e-12)


@pytest.mark.parametrize("discretize", [True, False])
def test_c6_agrees_with_lime_package(discretize: bool) -> None:
    """Against ``lime`` 0.2.0.1 (optional extra ``[lime]``): same quartiles, and the
    explanations agree within the seed-to-seed spread (random streams differ)."""
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    rng = np.random.default_rng(0)
    T = rng.normal(size=(500, 3))
    w = np.array([1.0, -2.0, 0.5])
    f = ScoreFunction(f=lambda X: 1 / (1 + np.exp(-(np.atleast_2d(X) @ w))), d=3)
    x = np.array([0.3, -0.2, 1.0])
    ex = lime_tabular.LimeTabularExplainer(T, mode="regression", random_state=1,
                                           discretize_continuous=discretize)
    if discretize:
        for j in range(3):
            np.testing.assert_allclose(ex.discretizer.mins[j][1:],
                                       np.percentile(T[:, j], [25, 50, 75]))
    e = ex.explain_instance(x, lambda X: f(X), num_features=3, num_samples=5000)
    ref_d = dict(e.local_exp[1])  # regression mode: label 1 holds the coefficients
    ref = np.array([ref_d[j] for j in range(3)])
    mine = np.array([att.lime_tabular(f, x, training_data=T, discretize=discretize, seed=s,
                                      num_samples=5000, return_raw=True) for s in range(6)])
    spread = mine.std(axis=0, ddof=1)
    assert np.all(np.abs(ref - mine.mean(axis=0)) <= 4 * spread + 2e-3)


# ------------------------------------------------------------------ C7
def _lin_model(coef: list[float], b: float):  # noqa: ANN202
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    m = LogisticRegression().fit(X, [0, 1, 1, 1])
    m.coef_ = np.array([coef])
    m.intercept_ = np.array([b])
    return m


def test_c7_counterfactual_attributions() -> None:
    from recourse.analysis.sensitivity import ray_test, ray_test_model
    from recourse.analysis.utility import Utility

    m = _lin_model([3.0, 4.0], -5.0)
    x = np.zeros(2)
    l2 = att.projection_attribution_linear([3.0, 4.0], -5.0, x)
    np.testing.assert_allclose(l2, [0.6, 0.8], rtol=1e-12)
    l1, det = att.counterfactual_attribution(m, x, norm="l1", return_details=True, delta=1.0)
    # the engine demands the margin 1e-6 on the decision function: x2 = (5 + 1e-6) / 4
    np.testing.assert_allclose(l1, [0.0, 1.25], atol=1e-5)
    assert det["optimal"] and det["cost"] == pytest.approx(1.25, abs=1e-5)
    assert det["beyond_budget"]  # delta = 1 < 1.25
    l0, det0 = att.counterfactual_attribution(m, x, norm="l0", return_details=True, delta=0.5)
    assert int(np.sum(l0 != 0)) == 1 and det0["cost"] == 1.0 and det0["beyond_budget"]
    u = Utility("class", 0.0)
    sf = as_score(m)
    assert ray_test(sf, x, l2, 1.0, u).provides  # f(y) >= 0 reached at distance 1
    assert not ray_test(sf, x, l2, 0.99, u).provides
    for phi in (l1, l0):
        cost = float(np.abs(phi).sum())
        assert ray_test_model(m, x, phi, cost, u, norm="l1").provides
        assert not ray_test_model(m, x, phi, 0.99 * cost, u, norm="l1").provides

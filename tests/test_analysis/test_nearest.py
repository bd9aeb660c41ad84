"""Issue 18: zero tolerance, one class utility, a.e. gradient of trees, nearest satisfying
points and exact existence — each against an independent computation (closed forms, scipy
LPs/NLPs, enumeration of tree cells, dense sampling)."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy.optimize import linprog, minimize
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from recourse.analysis import (
    ScoreFunction,
    Utility,
    all_l0_supports,
    as_score,
    class_score,
    integrated_gradients,
    nearest,
    nearest_linear,
    ray_test,
    ray_test_model,
    recourse_exists,
    zero_tolerance,
)

MARGIN = 1e-6


# ---------------------------------------------------------------- zero tolerance
def test_zero_tolerance_reads_rounding_leftovers_as_zero() -> None:
    """f = x², gain τ = 0.5, δ = 1 (docs/theory.md §A13.1): the exact SmoothGrad at 0 is 0 and
    recourse
    exists (move 1/√2), so a zero attribution *fails*; a 1e-16 leftover must not pass by
    stepping 1e16 along it."""
    sq = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0] ** 2)
    u = Utility("gain", 0.5)
    for leftover in (1e-16, -3e-17, 0.0):
        res = ray_test(sq, [0.0], [leftover], 1.0, u)
        assert not res.provides and res.method == "zero"
    # a genuine direction in tiny units is not zeroed: x, δ and f all of order 1e-6
    tiny = ScoreFunction(f=lambda X: np.atleast_2d(X)[:, 0])
    res = ray_test(tiny, [1e-6], [1e-12], 2e-6, Utility("gain", 0.5e-6))
    assert res.provides
    assert zero_tolerance([1e-6], 1.0, 2e-6) == pytest.approx(1e-10)


def test_ray_test_model_uses_the_same_tolerance() -> None:
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    m = LogisticRegression().fit(X, [0, 1, 1, 1])
    x = np.array([-3.0, -3.0])
    assert recourse_exists(m, x, 100.0, Utility.reach_class(margin=MARGIN), norm="l2")[0]
    res = ray_test_model(m, x, np.array([1e-17, 1e-17]), 100.0,
                         Utility.reach_class(margin=MARGIN))
    assert not res.provides and res.method == "zero"


# ---------------------------------------------------------------- one class utility
def _boundary_model() -> LogisticRegression:
    m = LogisticRegression().fit(np.array([[-1.0, 0.0], [1.0, 0.0]]), [0, 1])
    m.coef_ = np.array([[2.0, 0.0]])
    m.intercept_ = np.array([0.0])
    return m


@pytest.mark.parametrize("margin", [0.0, MARGIN, 0.5])
def test_class_utility_is_one_definition(margin: float) -> None:
    """ray_test on class_score and ray_test_model agree everywhere, on the boundary
    f = 0 too, and both match the closed form for a linear score: sup over s in (0, s_max]
    of f(x) + s w·v (attained at s_max when w·v > 0, approached as s -> 0 otherwise)."""
    m = _boundary_model()
    u = Utility.reach_class(margin=margin)
    cs = class_score(m, 1)
    rng = np.random.default_rng(0)
    pts = [np.array([0.0, 0.3])] + list(rng.normal(size=(30, 2)))
    dirs = [np.array([0.0, 1.0]), np.array([-1.0, 0.0]), np.array([1.0, 0.0])]
    dirs += list(rng.normal(size=(5, 2)))
    for x in pts:
        for v in dirs:
            a = ray_test(cs, x, v, 1.0, u, zero_tol=0.0).provides
            b = ray_test_model(m, x, v, 1.0, u, target=1, zero_tol=0.0).provides
            fx, wv = 2.0 * x[0], 2.0 * v[0]
            s_max = 1.0 / np.linalg.norm(v)
            if wv > 0:
                truth = fx + s_max * wv >= margin
            elif wv == 0:
                truth = fx >= margin
            else:
                truth = fx > margin + 1e-9 * s_max * abs(wv)  # needs s > 0
            assert a == b == truth, (x, v, a, b, truth)


def test_class_score_units_match_predict() -> None:
    X, y = _data(3, 300)
    rf = RandomForestClassifier(n_estimators=7, max_depth=3, random_state=0).fit(X, y)
    P = np.random.default_rng(1).normal(size=(500, 3))
    s = class_score(rf, 1)(P)
    p = rf.predict_proba(P)[:, 1]
    np.testing.assert_allclose(s, 7 * (2 * p - 1), atol=1e-12)
    assert np.all((s > 0) == (rf.predict(P) == 1))


# ---------------------------------------------------------------- IG on trees
def test_integrated_gradients_of_a_forest_is_exactly_zero() -> None:
    """Piecewise-constant models: the a.e. gradient 0, never finite differences (a
    quadrature node closer to a split than the difference step gave IG 342)."""
    X, y = _data(3, 400)
    rf = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X, y)
    rng = np.random.default_rng(2)
    P, B = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    sf = as_score(rf)
    assert sf.piecewise_constant
    for x, b in zip(P, B):
        phi, err = integrated_gradients(rf, x, baseline=b, m=3000, return_error=True)
        assert np.all(phi == 0.0)
        assert err == pytest.approx(-(sf(x[None])[0] - sf(b[None])[0]), abs=1e-15)


# ---------------------------------------------------------------- linear closed forms
def _lp_oracle(w: np.ndarray, b: float, x: np.ndarray, c: float, norm: str,
               lo: np.ndarray, hi: np.ndarray) -> float:
    """min ||y − x|| (L1 / L∞) s.t. w·y + b >= c, lo <= y <= hi, by scipy's LP."""
    d = x.size
    if norm == "l1":  # variables y, e (e >= |y − x|)
        cost = np.concatenate([np.zeros(d), np.ones(d)])
        A = np.block([[np.eye(d), -np.eye(d)], [-np.eye(d), -np.eye(d)],
                      [-w[None, :], np.zeros((1, d))]])
        rhs = np.concatenate([x, -x, [b - c]])
        bounds = [(lo[j], hi[j]) for j in range(d)] + [(0, None)] * d
    else:  # variables y, t
        cost = np.concatenate([np.zeros(d), [1.0]])
        A = np.block([[np.eye(d), -np.ones((d, 1))], [-np.eye(d), -np.ones((d, 1))],
                      [-w[None, :], np.zeros((1, 1))]])
        rhs = np.concatenate([x, -x, [b - c]])
        bounds = [(lo[j], hi[j]) for j in range(d)] + [(0, None)]
    r = linprog(cost, A_ub=A, b_ub=rhs, bounds=bounds, method="highs")
    return math.inf if r.status == 2 else float(r.fun)


def _l2_oracle(w: np.ndarray, b: float, x: np.ndarray, c: float, lo: np.ndarray,
               hi: np.ndarray) -> float:
    r = minimize(lambda y: float((y - x) @ (y - x)), np.clip(x, lo, hi), jac=lambda y: 2 * (y - x),
                 constraints=[{"type": "ineq", "fun": lambda y: float(w @ y + b - c),
                               "jac": lambda y: w}],
                 bounds=list(zip(lo, hi)), method="SLSQP", options={"ftol": 1e-14,
                                                                     "maxiter": 500})
    return math.sqrt(r.fun) if r.success and w @ r.x + b >= c - 1e-7 else math.inf


def test_nearest_linear_against_scipy() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(60):
        d = int(rng.integers(2, 6))
        w = rng.normal(size=d) * rng.choice([0.1, 1, 10], size=d)
        x = rng.normal(size=d)
        b = -float(w @ x)  # f(x) = 0
        c = float(rng.uniform(0.1, 3.0))
        lo = x - rng.uniform(0.05, 2.0, size=d)
        hi = x + rng.uniform(0.05, 2.0, size=d)
        imm = [int(rng.integers(d))] if rng.uniform() < 0.3 else []
        lo_i, hi_i = lo.copy(), hi.copy()
        lo_i[imm], hi_i[imm] = x[imm], x[imm]
        for norm in ("l1", "linf", "l2"):
            got = nearest_linear(w, b, x, c, norm=norm, lower=lo, upper=hi, immutable=imm)
            want = (_l2_oracle(w, b, x, c, lo_i, hi_i) if norm == "l2"
                    else _lp_oracle(w, b, x, c, norm, lo_i, hi_i))
            if math.isinf(want):
                # scipy found nothing: the box really cannot reach c
                assert got.y is None and float(np.sum(np.maximum(w * (hi_i - x),
                                                                 w * (lo_i - x)))) < c
                continue
            assert got.y is not None
            assert got.cost == pytest.approx(want, rel=1e-6, abs=1e-9), (norm, got.cost, want)
            assert w @ got.y + b >= c - 1e-9
            assert np.all(got.y >= lo_i - 1e-12) and np.all(got.y <= hi_i + 1e-12)
            checked += 1
    assert checked > 100


def test_unbounded_linear_is_the_dual_norm_distance() -> None:
    w, b, x = np.array([3.0, -4.0, 1.0]), -2.0, np.zeros(3)
    gap = 2.0 + 1.0  # c = 1
    for norm, dual in (("l2", 5.0990195135927845), ("l1", 4.0), ("linf", 8.0)):
        assert nearest_linear(w, b, x, 1.0, norm=norm).cost == pytest.approx(gap / dual)


def test_recourse_exists_logistic_l2_just_below_the_boundary() -> None:
    """The case issue 18 reported as (None, 'unknown')."""
    X, y = _data(2, 200)
    m = LogisticRegression().fit(X, y)
    x = X[m.predict(X) == 0][0]
    f = float(m.decision_function(x[None])[0])
    for norm, dual in (("l2", 2), ("l1", np.inf), ("linf", 1)):
        dist = (MARGIN - f) / np.linalg.norm(m.coef_[0], ord=dual)
        u = Utility.reach_class(margin=MARGIN)
        assert recourse_exists(m, x, dist * (1 - 1e-9), u, norm=norm)[0] is False
        assert recourse_exists(m, x, dist * (1 + 1e-9), u, norm=norm)[0] is True


def test_regressor_score_utilities_closed_form() -> None:
    X, _ = _data(3, 100)
    yr = X @ np.array([1.0, -2.0, 0.5]) + 3
    lr = LinearRegression().fit(X, yr)
    sf = as_score(lr)
    assert sf.linear is not None and sf.output == "predict"
    x = X[0]
    res = nearest(lr, x, Utility.raise_by(2.0), norm="l2")
    assert res.cost == pytest.approx(2.0 / np.linalg.norm(lr.coef_))
    with pytest.raises(ValueError, match="regressor"):
        as_score(lr, output="proba")


# ---------------------------------------------------------------- trees: cell enumeration
def _data(d: int, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.7 * X[:, 1] ** 2 - 0.5 > 0).astype(int)
    return X, y


def _cells(model: object, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, norm: str,
           margin: float, free: list[int] | None = None) -> float:
    """Exact infimum over the open cells of the split arrangement (independent of the
    engine): the model is constant on every cell; distance from x to a cell per norm."""
    d = x.size
    thr = []
    for j in range(d):
        ts = set()
        for est in getattr(model, "estimators_", [model]):
            t = est.tree_
            ts |= {float(v) for f, v in zip(t.feature, t.threshold) if f == j}
        cuts = np.unique(np.concatenate([[lo[j], hi[j]], [v for v in ts if lo[j] < v < hi[j]]]))
        if free is not None and j not in free:
            cuts = np.array([x[j], x[j]])
        thr.append(cuts)
    best = math.inf
    score = class_score(model, 1)
    for idx in itertools.product(*[range(max(1, c.size - 1)) for c in thr]):
        a = np.array([thr[j][k] for j, k in enumerate(idx)])
        b = np.array([thr[j][min(k + 1, thr[j].size - 1)] for j, k in enumerate(idx)])
        mid = 0.5 * (a + b)
        if score(mid[None])[0] < margin:
            continue
        gap = np.maximum(0, np.maximum(a - x, x - b))
        dist = {"l1": gap.sum(), "linf": gap.max(), "l0": np.count_nonzero(gap)}[norm]
        best = min(best, float(dist))
    return best


@pytest.fixture(scope="module")
def small_forest() -> RandomForestClassifier:
    X, y = _data(2, 150)
    return RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)


def test_forest_l1_linf_against_cell_enumeration(small_forest: RandomForestClassifier) -> None:
    lo, hi = np.full(2, -3.0), np.full(2, 3.0)
    X, _ = _data(2, 150)
    u = Utility.reach_class(margin=MARGIN)
    xs = X[small_forest.predict(X) == 0][:4]
    for x in xs:
        for norm in ("l1", "linf"):
            want = _cells(small_forest, x, lo, hi, norm, MARGIN)
            got = nearest(small_forest, x, u, norm=norm, lower=lo, upper=hi)
            assert got.exact
            assert got.cost == pytest.approx(want, abs=1e-5), (norm, got.cost, want)
            ok_below = recourse_exists(small_forest, x, want - 1e-3, u, norm=norm,
                                       lower=lo, upper=hi)[0]
            ok_above = recourse_exists(small_forest, x, want + 1e-3, u, norm=norm,
                                       lower=lo, upper=hi)[0]
            assert ok_below is False and ok_above is True


def test_all_l0_supports_enumerates_ties() -> None:
    """Approved iff x0 > 1 or x1 > 1 (x2 irrelevant): from the origin both {0} and {1} are
    optimal single-feature supports; enumeration over subsets gives the same list."""
    g = np.linspace(-2, 2, 21)
    X = np.array(list(itertools.product(g, g, [-1.0, 1.0])))
    y = ((X[:, 0] > 1) | (X[:, 1] > 1)).astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    x = np.zeros(3)
    lo, hi = np.full(3, -2.0), np.full(3, 2.0)
    got = all_l0_supports(tree, x, Utility.reach_class(margin=MARGIN), lower=lo, upper=hi)
    want = []
    for k in range(1, 4):
        for S in itertools.combinations(range(3), k):
            if not want or len(want[0]) == k:
                if _cells(tree, x, lo, hi, "l1", MARGIN, free=list(S)) < math.inf and not any(
                        set(T) < set(S) for T in want):
                    want.append(S)
        if want:
            break
    assert got == sorted(want) == [(0,), (1,)]


# ---------------------------------------------------------------- ReLU network, L2
def test_relu_l2_outer_approximation_brackets_the_optimum() -> None:
    X, y = _data(2, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = MLPClassifier(hidden_layer_sizes=(6,), max_iter=600, random_state=0).fit(X, y)
    x = X[net.predict(X) == 0][0]
    lo, hi = np.full(2, -4.0), np.full(2, 4.0)
    res = nearest(net, x, Utility.reach_class(margin=MARGIN), norm="l2", lower=lo, upper=hi,
                  rtol=1e-4)
    assert res.y is not None and net.predict(res.y[None])[0] == 1
    # dense polar search: the smallest radius with an approved point (within the box)
    cs = class_score(net, 1)
    ang = np.linspace(0, 2 * np.pi, 3601)
    U = np.column_stack([np.cos(ang), np.sin(ang)])
    oracle = math.inf
    for r in np.linspace(0, 6, 6001):
        P = x + r * U
        inside = np.all((P >= lo) & (P <= hi), axis=1)
        if np.any((cs(P) >= MARGIN) & inside):
            oracle = r
            break
    assert res.lower_bound <= oracle + 1e-9
    assert res.cost <= oracle + 1e-3 + 1e-9  # grid steps: 1e-3 in r
    assert res.cost - res.lower_bound <= 1e-4 * res.cost + 1e-12

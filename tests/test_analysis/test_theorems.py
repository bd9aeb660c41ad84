"""Theorems 11 and 12 of [F] (issue 18), LIME details, counterfactual attributions with
utilities, PiecewiseLinear1D as a score and the public API — against independent
computations (the sign automaton, brute-force moves along each axis, lime's formulas)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.tree import DecisionTreeClassifier

import recourse.analysis as ra
from recourse.analysis import (
    Interval,
    IntervalSet,
    PiecewiseLinear1D,
    Utility,
    class_score,
    identical_intervals,
    recourse_sets,
    separated,
    single_feature_sets,
    theorem11,
    usable_criterion,
    verdict,
)

MARGIN = 1e-6


# ---------------------------------------------------------------- Theorem 11
def test_separated_definition_9() -> None:
    a = IntervalSet([Interval(-1, 0, False, True)])
    b = IntervalSet([Interval(0, 1, False, False)])
    c = IntervalSet([Interval(-1, 0, False, False)])
    assert not separated(a, b)  # disjoint but 0 ∈ a ∩ cl(b)
    assert separated(c, b)
    assert separated(IntervalSet(), b)


def test_theorem11_matches_the_sign_automaton() -> None:
    """Random step and piecewise-linear functions with a gain utility (O = ∅): Theorem 11
    (interval bookkeeping and separation) and Theorem 10's sign automaton are independent
    algorithms and must agree; A9 (x² interpolated) is impossible."""
    rng = np.random.default_rng(0)
    n_possible = n_impossible = 0
    for trial in range(150):
        k = int(rng.integers(1, 6))
        xs = np.sort(rng.choice(np.arange(-12, 13), size=k + 1, replace=False)) / 4.0
        if trial % 2:
            f = PiecewiseLinear1D.from_steps(xs[:-1], rng.integers(0, 4, size=k).tolist()
                                             + [int(rng.integers(0, 4))])
        else:
            f = PiecewiseLinear1D.from_points(xs, rng.integers(-3, 4, size=k + 1))
        u = Utility("gain", float(rng.choice([0.5, 1.0, 2.0])))
        delta = float(rng.choice([0.5, 1.0, 1.5]))
        sets = recourse_sets(f, delta, u)
        if not sets.O.empty:
            continue
        t11 = theorem11(sets)
        assert t11.possible == verdict(sets).possible, (f, delta, u)
        if t11.possible:
            n_possible += 1
            assert separated(t11.L_tilde, t11.R_tilde)
            assert t11.L_tilde.union(t11.R_tilde) == sets.L.union(sets.R)
        else:
            n_impossible += 1
    assert n_possible > 10 and n_impossible > 10
    sq = PiecewiseLinear1D.from_points(np.linspace(-3, 3, 601), np.linspace(-3, 3, 601) ** 2)
    assert not theorem11(recourse_sets(sq, 1.0, Utility("gain", 0.5))).possible


def test_identical_intervals_and_split() -> None:
    """L = R = [0, 1] ∪ [3, 4] (two identical intervals, K̃ of size 2): any split works."""
    s = IntervalSet([Interval(0, 1), Interval(3, 4)])
    assert identical_intervals(s, s) == [Interval(0, 1), Interval(3, 4)]
    from recourse.analysis.oned import RecourseSets

    res = theorem11(RecourseSets(s, s, IntervalSet(), 1.0, Utility("gain", 1.0)))
    assert res.possible and len(res.K_tilde) == 2


# ---------------------------------------------------------------- Theorem 12
def _tree(label: np.ndarray, X: np.ndarray) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(random_state=0).fit(X, label.astype(int))


@pytest.fixture(scope="module")
def grid2() -> np.ndarray:
    g = np.arange(-2, 2.0001, 0.1)
    return np.array([(a, b) for a in g for b in g])


def _brute(model: object, x: np.ndarray, i: int, s: int, delta: float, lo: float, hi: float,
           n: int = 4001) -> bool:
    a = np.linspace(0, delta, n)[1:]
    P = np.repeat(x[None], a.size, axis=0)
    P[:, i] += s * a
    P = P[(P[:, i] >= lo) & (P[:, i] <= hi)]
    return bool(P.size and np.any(class_score(model, 1)(P) >= MARGIN))


def test_theorem12_sets_match_brute_force_and_criterion_says_impossible(grid2) -> None:
    """Approved outside the square |x|_∞ <= 1 (tree), δ = 0.5, single-feature moves, box
    [-2, 2]²: L_i, R_i, O agree with brute-force moves at random points; the band inside
    the square links a point where only +e_1 works to one where only +e_2 works."""
    y = (np.abs(grid2[:, 0]) > 1) | (np.abs(grid2[:, 1]) > 1)
    tree = _tree(y, grid2)
    u = Utility.reach_class(margin=MARGIN)
    sfs = single_feature_sets(tree, [-2, -2], [2, 2], 0.5, u)
    rng = np.random.default_rng(1)
    for x in rng.uniform(-2, 2, size=(150, 2)):
        assert sfs.O(x) == bool(class_score(tree, 1)(x[None])[0] >= MARGIN)
        for i in range(2):
            assert sfs.L(i, x) == _brute(tree, x, i, -1, 0.5, -2, 2), (x, i)
            assert sfs.R(i, x) == _brute(tree, x, i, 1, 0.5, -2, 2), (x, i)
    res = usable_criterion(sfs)
    assert res.possible is False
    (p1, o1), (p2, o2) = res.witnesses
    # the witnesses are forced by brute force too
    for p, o in ((p1, o1), (p2, o2)):
        opts = {(i, s) for i in range(2) for s in (-1, 1) if _brute(tree, p, i, s, 0.5, -2, 2)}
        assert opts == {o}
    assert o1 != o2


def test_theorem12_constant_direction_when_one_option_covers(grid2) -> None:
    """p(x) = 1[x_1 > 0], gain τ = 0.5 on the probability: only moving up in x_1 helps, so
    phi = e_1 is continuous and recourse sensitive (the criterion finds it)."""
    tree = _tree(grid2[:, 0] > 0, grid2)
    sfs = single_feature_sets(tree, [-2, -2], [2, 2], 0.5, Utility("gain", 0.5))
    res = usable_criterion(sfs)
    assert res.possible is True and res.constant == (0, 1)
    assert not sfs.in_O.any()


# ---------------------------------------------------------------- LIME details
def test_lime_kernel_weights_and_quartiles() -> None:
    """docs/theory.md §C6: d = 20 → width 3.3541, a sample 4 bins away weighs 0.83713; the exposed
    quartiles are the training percentiles and the weights lime's kernel of the bin
    distance."""
    assert ra.lime_kernel_width(20) == pytest.approx(3.3541, abs=1e-4)
    assert ra.lime_kernel_weight(2.0, 20)[()] == pytest.approx(0.83713, abs=1e-5)
    rng = np.random.default_rng(0)
    T = rng.normal(size=(300, 3))
    f = ra.ScoreFunction(f=lambda X: np.atleast_2d(X) @ np.array([1.0, -1.0, 0.5]))
    x = np.array([0.1, -0.4, 1.2])
    phi, det = ra.lime_tabular(f, x, training_data=T, num_samples=400, seed=0,
                               return_details=True)
    for j in range(3):
        np.testing.assert_allclose(det["quartiles"][j], np.percentile(T[:, j], [25, 50, 75]))
        assert det["bins"][j] == int(np.searchsorted(det["quartiles"][j], x[j]))
    w = det["weights"]
    assert w[0] == 1.0 and w.shape == (400,)
    allowed = ra.lime_kernel_weight(np.sqrt(np.arange(4)), 3)
    assert np.all(np.min(np.abs(w[:, None] - allowed[None, :]), axis=1) < 1e-12)


# ---------------------------------------------------------------- counterfactuals
def test_counterfactual_attribution_regressor_utility_and_l0_l1() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    yr = 2 * X[:, 0] + np.sin(X[:, 1]) - X[:, 2]
    gb = GradientBoostingRegressor(n_estimators=15, max_depth=2, random_state=0).fit(X, yr)
    x = X[0]
    fx = float(gb.predict(x[None])[0])
    phi, det = ra.counterfactual_attribution(gb, x, norm="l1", utility=Utility.raise_by(1.0),
                                             return_details=True)
    assert gb.predict((x + phi)[None])[0] >= fx + 1.0 - 1e-6
    # its cost equals the L1 optimum by exact cell enumeration of the boosted trees
    ref = ra.nearest(gb, x, Utility.raise_by(1.0), norm="l1")
    assert det["cost"] == pytest.approx(ref.cost, abs=1e-6)
    phi2, det2 = ra.counterfactual_attribution(gb, x, norm="l0_l1",
                                               utility=Utility.raise_by(1.0),
                                               return_details=True)
    ref0 = ra.nearest(gb, x, Utility.raise_by(1.0), norm="l0")
    assert np.count_nonzero(phi2) == ref0.cost
    assert gb.predict((x + phi2)[None])[0] >= fx + 1.0 - 1e-6
    with pytest.raises(ValueError, match="norm"):
        ra.counterfactual_attribution(gb, x, norm="l2")


# ---------------------------------------------------------------- API
def test_piecewise_linear_1d_is_a_score_for_attributions() -> None:
    f = PiecewiseLinear1D.from_points([-1.0, 0.0, 2.0], [0.0, 1.0, -1.0])
    X = np.array([[-0.5], [1.0], [3.0]])
    np.testing.assert_allclose(ra.gradient(f, X)[:, 0], [1.0, -1.0, 0.0])
    phi, err = ra.integrated_gradients(f, np.array([1.0]), baseline=np.array([-1.0]), m=400,
                                       return_error=True)
    assert abs(err) < 1e-12  # the midpoint nodes split 200 / 200 between the two pieces
    assert phi[0] == pytest.approx(float(f(1.0) - f(-1.0)), abs=1e-9)
    with pytest.raises(ValueError, match="one feature"):
        ra.gradient(f, np.zeros((2, 2)))


def test_everything_documented_is_exported() -> None:
    import importlib

    for mod in ("attributions", "constructions", "intervals", "nearest", "oned", "robustness",
                "scores", "sensitivity", "smoothgrad_clime", "theorems", "tolerance",
                "utility", "user_model", "report"):
        m = importlib.import_module(f"recourse.analysis.{mod}")
        for name in m.__all__:
            if name in ("as_batch", "SOLVER_TOL", "write_html"):
                continue
            assert getattr(ra, name) is getattr(m, name), f"{mod}.{name}"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        old = ra.smoothgrad_expected_1d(PiecewiseLinear1D.linear(2.0, 0.0), 0.3, 0.5)
    assert any(issubclass(r.category, DeprecationWarning) for r in rec)
    assert old == pytest.approx(ra.expected_explanation(PiecewiseLinear1D.linear(2.0, 0.0),
                                                        0.3, 0.5))

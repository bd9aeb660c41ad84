"""Exact 1D sets and the characterisation verdict (docs/theory.md §A7, A9, A10, A15)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recourse.analysis.constructions import construction, construction_case
from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.oned import PiecewiseLinear1D, reaches, recourse_sets, verdict
from recourse.analysis.oned_tools import direction_set, recourse_sets_numeric
from recourse.analysis.smoothgrad_clime import expected_explanation
from recourse.analysis.utility import Utility

INF = math.inf


def S(*items: tuple[float, float, bool, bool]) -> IntervalSet:
    return IntervalSet.from_tuples(items)


# ------------------------------------------------------------------ intervals
def test_interval_algebra_against_membership() -> None:
    a = S((-1, 0, False, True), (0.5, 2, True, False))
    b = S((-0.5, 1, True, True))
    xs = np.linspace(-2, 3, 501)
    xs = np.concatenate([xs, [-1, 0, 0.5, 1, 2, -0.5]])
    for op, truth in [
        (a.union(b), a.contains_many(xs) | b.contains_many(xs)),
        (a.intersection(b), a.contains_many(xs) & b.contains_many(xs)),
        (a.difference(b), a.contains_many(xs) & ~b.contains_many(xs)),
        (a.complement(), ~a.contains_many(xs)),
    ]:
        assert np.array_equal(op.contains_many(xs), truth)
    # touching at a shared closed point merges; (-1, 0] and (0, 1) merge too (0 belongs)
    assert len(S((-1, 0, False, True), (0, 1, False, False))) == 1
    assert len(S((-1, 0, False, False), (0, 1, False, False))) == 2


# ------------------------------------------------------------------ A7
def test_a7_construction_shape_and_lipschitz() -> None:
    for delta, z1, z2 in [(1.0, -1.0, 1.0), (0.5, 0.0, 1.0), (2.0, 1.0, 2.0)]:
        f = construction(delta, z1, z2)
        x = np.arange(-1.2 * delta, 1.2 * delta, 1e-6)
        assert np.allclose(f(x), f(-x), rtol=0, atol=1e-12)  # even
        q = np.max(np.abs(np.diff(f(x)) / np.diff(x)))
        # relative 1e-6: rounding of difference quotients on a 1e-6 grid (docs/theory.md §A7)
        assert q == pytest.approx(8 * abs(z2 - z1) / delta, rel=1e-6)
        mid = x[np.abs(x) < 0.75 * delta]
        out = x[np.abs(x) > 0.875 * delta]
        assert np.all(f(mid) == z1) and np.all(f(out) == z2)


def test_a7_exact_sets_three_rows() -> None:
    c = construction_case("class")
    s = recourse_sets(c.f, 1.0, c.utility)
    assert s.L == S((-INF, 3 / 16, False, True), (13 / 16, INF, False, False))
    assert s.R == S((-INF, -13 / 16, False, False), (-3 / 16, INF, True, False))
    assert s.O == S((-INF, -13 / 16, False, True), (13 / 16, INF, True, False))
    assert s.L.intersection(s.R) == S((-INF, -13 / 16, False, False), (-3 / 16, 3 / 16, True, True),
                                      (13 / 16, INF, False, False))
    g = construction_case("gain")
    sg = recourse_sets(g.f, 1.0, g.utility)
    assert sg.L.intersection(sg.R) == S((-3 / 16, 3 / 16, True, True))
    r = construction_case("ratio")
    sr = recourse_sets(r.f, 1.0, r.utility)
    assert sr.L.intersection(sr.R) == S((-1 / 8, 1 / 8, True, True))
    for case in (c, g, r):
        assert not verdict(case.f, 1.0, case.utility).possible


# ------------------------------------------------------------------ A9
@pytest.mark.parametrize("delta,tau", [(1, 0.5), (2, 1), (0.5, 0.2)])
def test_a9_quadratic_half_lines_and_impossible(delta: float, tau: float) -> None:
    a = (delta ** 2 - tau) / (2 * delta)
    s = recourse_sets_numeric(lambda X: X[:, 0] ** 2, delta, Utility("gain", tau), -3, 3,
                              n_grid=601, n_window=401)
    # the fallback locates endpoints by bisection; 1e-9 is far above its 2^-60 resolution
    # and far below any grid step
    assert len(s.L) == 1 and len(s.R) == 1 and s.O.empty
    (iv_l,), (iv_r,) = s.L.intervals, s.R.intervals
    assert iv_l.lo == -3 and iv_l.hi == pytest.approx(a, abs=1e-9)
    assert iv_r.hi == 3 and iv_r.lo == pytest.approx(-a, abs=1e-9)
    assert not verdict(s).possible
    # the exact machinery on a fine piecewise-linear interpolant of x^2 agrees to O(h^2)
    # (on [-3, 3]: the sets near the endpoints ±a <= 0.75 depend on f within ±2.75)
    xs = np.linspace(-3, 3, 1501)
    pl = PiecewiseLinear1D.from_points(xs, xs ** 2, left_slope=-6, right_slope=6)
    se = recourse_sets(pl, delta, Utility("gain", tau))
    assert se.L.intervals[0].hi == pytest.approx(a, abs=1e-4)  # O(h^2), h = 4e-3
    assert not verdict(se).possible


# ------------------------------------------------------------------ A10
def test_a10_minus_abs_possible_and_constructed_phi_passes() -> None:
    f = PiecewiseLinear1D.from_points([0.0], [0.0], left_slope=1.0, right_slope=-1.0)
    u = Utility("gain", 0.5)
    v = verdict(f, 1.0, u)
    assert v.sets.L == S((0.5, INF, True, False))
    assert v.sets.R == S((-INF, -0.5, False, True))
    assert v.sets.O.empty
    assert v.possible and v.phi is not None
    for x in np.arange(-3, 3 + 1e-12, 1e-3):
        p = float(v.phi(x))
        if v.sets.covered.contains(x):
            assert p != 0
            assert reaches(f, x, int(np.sign(p)), 1.0, u)[0], x
    # T(x) empty on (-0.5, 0.5)
    assert not v.sets.covered.contains(0.49) and not v.sets.covered.contains(-0.3)


def test_a10_identity_class_possible() -> None:
    v = verdict(PiecewiseLinear1D.linear(1.0, 0.0), 1.0, Utility("class", 0.0))
    assert v.possible
    # O = [0, inf): phi may be 0 there; on [-1, 0) it must be positive
    for x in np.linspace(-0.999, -0.001, 50):
        assert float(v.phi(x)) > 0


def test_discontinuous_tree_point_in_L() -> None:
    """docs/theory.md §A10's example: f = 1 on (-0.3, 0), 0 elsewhere; x = 0 is in L."""
    f = PiecewiseLinear1D.from_steps([-0.3, 0.0], [0.0, 1.0, 0.0], point_values=[0.0, 0.0])
    s = recourse_sets(f, 1.0, Utility("class", 0.5))
    assert s.L.contains(0.0) and not s.O.contains(0.0)
    # [x - 1, x) meets (-0.3, 0) iff -0.3 < x < 1; (x, x + 1] meets it iff -1.3 < x < 0
    assert s.L == S((-0.3, 1.0, False, False))
    assert s.R == S((-1.3, 0.0, False, False))
    assert s.O == S((-0.3, 0.0, False, False))


def _brute(f: PiecewiseLinear1D, delta: float, u: Utility, h: float = 1e-4,
           lo: float = -2.0, hi: float = 2.0) -> tuple[np.ndarray, ...]:
    """Membership of L, R, O on a grid of step h with windows sampled on the same grid."""
    m = int(round(delta / h))
    G = np.arange(int(round(lo / h)) - m, int(round(hi / h)) + m + 1) * h
    fg = f(G)
    kappa, tau_p = u.linear_form
    s = pd.Series(fg)
    # max of f over y in [x - delta, x)  = rolling max of the m values before x
    left_max = s.rolling(m, min_periods=m).max().shift(1).to_numpy()
    right_max = s[::-1].rolling(m, min_periods=m).max().shift(1).to_numpy()[::-1]
    need = tau_p + kappa * fg
    inner = slice(m, G.size - m)
    return (G[inner], (left_max >= need)[inner], (right_max >= need)[inner],
            np.asarray(u.satisfied(fg, fg))[inner])


CASES = [
    ("A7 class", construction_case("class").f, Utility("class", 0.0)),
    ("A7 gain", construction_case("gain").f, Utility("gain", 0.5)),
    ("A7 ratio", construction_case("ratio").f, Utility("ratio", 2.0)),
    ("-|x| gain", PiecewiseLinear1D.from_points([0.0], [0.0], left_slope=1, right_slope=-1),
     Utility("gain", 0.5)),
    ("zigzag gain", PiecewiseLinear1D.from_points([-1.3, -0.4, 0.1, 0.9, 1.4],
                                                  [0.2, 1.0, -0.5, 0.7, 0.0]),
     Utility("gain", 0.6)),
    ("zigzag ratio", PiecewiseLinear1D.from_points([-1.3, -0.4, 0.1, 0.9, 1.4],
                                                   [1.2, 2.0, 0.5, 1.7, 1.0]),
     Utility("ratio", 1.5)),
    ("steps class", PiecewiseLinear1D.from_steps([-0.7, -0.3, 0.2, 0.65], [0, 1, 0, 2, 0]),
     Utility("class", 0.5)),
    ("steps gain", PiecewiseLinear1D.from_steps([-0.7, -0.3, 0.2, 0.65], [0, 1, 0, 2, 0.5]),
     Utility("gain", 0.75)),
]


@pytest.mark.parametrize("name,f,u", CASES, ids=[c[0] for c in CASES])
def test_exact_sets_match_brute_force_grid(name: str, f: PiecewiseLinear1D, u: Utility) -> None:
    """docs/theory.md §A10 (ii): exact L, R agree with brute force on a 1e-4 grid except within one
    grid step of an endpoint (the grid cannot see open ends or limits)."""
    h = 1e-4
    s = recourse_sets(f, 1.0, u)
    G, Lb, Rb, Ob = _brute(f, 1.0, u, h)
    for exact, brute in ((s.L, Lb), (s.R, Rb), (s.O, Ob)):
        ends = np.array(exact.endpoints() + f.breaks.tolist()
                        + (f.breaks + 1).tolist() + (f.breaks - 1).tolist())
        near = np.min(np.abs(G[:, None] - ends[None, :]), axis=1) <= 1.5 * h if ends.size \
            else np.zeros(G.size, bool)
        mism = exact.contains_many(G) != brute
        assert not np.any(mism & ~near), (name, G[mism & ~near][:5])


def test_verdicts_hand_built_both_ways() -> None:
    # possible: monotone increasing with class utility; -|x| with gain
    assert verdict(PiecewiseLinear1D.from_points([-1, 1], [-1, 1], left_slope=0,
                                                 right_slope=0), 0.5, Utility("class", 0.0)
                   ).possible
    # possible: a single bump that is reachable only from one side each, far apart
    bump = PiecewiseLinear1D.from_points([-0.1, 0.0, 0.1], [0.0, 1.0, 0.0])
    v = verdict(bump, 0.3, Utility("class", 0.5))
    assert v.possible  # L = (0.05, 0.35], R = [-0.35, -0.05): separated
    # impossible: two satisfying bumps 1.0 apart with budget 0.6 leave a middle where
    # both sides work, between regions where only one does
    two = PiecewiseLinear1D.from_points([-0.6, -0.5, -0.4, 0.4, 0.5, 0.6],
                                        [0, 1, 0, 0, 1, 0])
    v2 = verdict(two, 0.6, Utility("class", 0.5))
    assert not v2.possible and v2.witness is not None
    # the constructed phi of the possible cases is recourse sensitive on a grid
    for x in np.linspace(-1, 1, 2001):
        p = float(v.phi(x))  # type: ignore[union-attr]
        if v.sets.covered.contains(x) and not v.sets.O.contains(x):
            assert p != 0 and reaches(bump, x, int(np.sign(p)), 0.3, Utility("class", 0.5))[0]


def test_a15_set_valued_directions() -> None:
    # step 0.002 as before on [-2, 2] (the sets near 0 depend on f over [-1.3, 1.3] only;
    # the exact set computation is quadratic in the number of pieces)
    xs = np.linspace(-2, 2, 2001)
    pl = PiecewiseLinear1D.from_points(xs, xs ** 2, left_slope=-4, right_slope=4)
    s = recourse_sets(pl, 1.0, Utility("gain", 0.5))
    a = s.L.intervals[0].hi  # 0.25 up to the interpolation error O(h^2) = 4e-6
    assert a == pytest.approx(0.25, abs=1e-5)
    assert direction_set(s, -0.3) == {"left"}
    assert direction_set(s, 0.0) == {"left", "right"}
    assert direction_set(s, a) == {"left", "right"} and direction_set(s, -a) == {"left", "right"}
    assert direction_set(s, 0.3) == {"right"}
    # upper hemi-continuous at a: nearby sets are subsets of the set at a; not lower
    for e in (1e-3, 1e-6):
        assert direction_set(s, a + e) <= direction_set(s, a)
        assert direction_set(s, a + e) != direction_set(s, a)


def test_expected_explanation_1d_matches_numeric_convolution() -> None:
    f = construction(1.0, -1.0, 1.0)
    sigma = 0.25
    z = np.linspace(-10, 10, 400001)
    dens = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
    for x in (-0.6, -0.1, 0.0, 0.3, 0.8):
        h = 1e-7
        y = x + sigma * z
        slope = (f(y + h) - f(y - h)) / (2 * h)
        num = float(np.trapezoid(slope * dens, z))
        # trapezoid with step 5e-5 over kinks of f': error far below 1e-4
        assert float(expected_explanation(f, x, sigma)) == pytest.approx(num, abs=1e-4)
    assert float(expected_explanation(f, 0.0, sigma)) == pytest.approx(0.0, abs=1e-15)
    # a step: the jump term phi((b - x)/s)/s
    step = PiecewiseLinear1D.from_steps([0.0], [0.0, 1.0])
    assert float(expected_explanation(step, 0.2, 0.5)) == pytest.approx(0.73654, abs=1e-5)


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        PiecewiseLinear1D(np.array([1.0, 0.0]), np.zeros(3), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="positive"):
        recourse_sets(construction(1, -1, 1), 1.0, Utility("ratio", 2.0))
    with pytest.raises(ValueError, match="budget"):
        recourse_sets(construction(1, -1, 1), 0.0, Utility("class"))
    assert Interval(0, 0, True, False).empty


def test_forest_on_a_line_exact_sets_vs_model() -> None:
    """A forest restricted to a line is an exact step function; its L, R agree with brute
    force from the forest's own predict_proba on a grid (except next to endpoints)."""
    from sklearn.ensemble import RandomForestClassifier

    from recourse.analysis.oned_tools import model_on_line

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] ** 2 + X[:, 1] > 0.5).astype(int)
    rf = RandomForestClassifier(10, max_depth=4, random_state=0).fit(X, y)
    x0, u = np.array([0.1, -0.2]), np.array([0.8, 0.6])
    pl = model_on_line(rf, x0, u, output="proba")
    t = np.linspace(-2, 2, 4001)
    np.testing.assert_allclose(pl(t), rf.predict_proba(x0 + t[:, None] * u)[:, 1], atol=1e-12)
    util = Utility("gain", 0.2)
    s = recourse_sets(pl, 0.5, util)
    h = 1e-3
    m = int(round(0.5 / h))
    G = np.arange(-2500, 2501) * h
    fg = rf.predict_proba(x0 + G[:, None] * u)[:, 1]
    for k in range(m, G.size - m):
        left = np.max(fg[k - m:k]) - fg[k] >= 0.2
        right = np.max(fg[k + 1:k + m + 1]) - fg[k] >= 0.2
        ends = np.array(s.L.endpoints() + s.R.endpoints() + list(pl.breaks)
                        + list(pl.breaks + 0.5) + list(pl.breaks - 0.5))
        if np.min(np.abs(ends - G[k])) <= 1.5 * h:
            continue
        assert s.L.contains(G[k]) == left and s.R.contains(G[k]) == right, G[k]

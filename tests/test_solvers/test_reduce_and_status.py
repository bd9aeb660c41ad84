"""Model reduction against solving the unreduced model; the HiGHS status table."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recourse.solvers.highs import solve_highs
from recourse.solvers.reduce import reduce_model
from recourse.solvers.status import HIGHS_STATUS, Solution, Status


def _random_milp(rng):
    n, m = 12, 8
    A = sp.random(m, n, density=0.4, random_state=rng, data_rvs=lambda k: rng.integers(-3, 4, k))
    lb = np.zeros(n)
    ub = rng.integers(1, 4, n).astype(float)
    fixed = rng.random(n) < 0.4
    ub[fixed] = lb[fixed] = rng.integers(0, 2, fixed.sum())
    x = np.array([rng.integers(int(lo), int(hi) + 1) for lo, hi in zip(lb, ub)], dtype=float)
    act = A @ x
    lo = act - rng.integers(0, 3, m)
    hi = np.where(rng.random(m) < 0.5, np.inf, act + rng.integers(0, 3, m))
    c = rng.normal(size=n)
    return c, lb, ub, rng.random(n) < 0.7, sp.csr_matrix(A), lo, hi


@pytest.mark.parametrize("seed", range(12))
def test_reduced_model_has_the_same_optimum(seed):
    rng = np.random.default_rng(seed)
    c, lb, ub, integer, A, lo, hi = _random_milp(rng)
    full = solve_highs(c, 0.5, lb, ub, integer, A, lo, hi)
    red = reduce_model(c, 0.5, lb, ub, integer, A, lo, hi)
    assert not red.infeasible  # the generator plants a feasible point
    triv = red.trivial()
    if triv is not None:
        obj = float(red.c @ triv + red.c0)
    else:
        sol = solve_highs(red.c, red.c0, red.lb, red.ub, red.integer, red.A, red.row_lo,
                          red.row_hi)
        obj = sol.objective
        x = red.expand(sol.values)
        assert np.all(A @ x >= lo - 1e-7) and np.all(A @ x <= hi + 1e-7)
    assert full.status is Status.OPTIMAL
    assert obj == pytest.approx(full.objective, abs=1e-7)


def test_reduction_detects_infeasible_rows():
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    red = reduce_model(np.ones(2), 0.0, np.zeros(2), np.array([1.0, 0.0]), np.ones(2, bool),
                       A, np.array([1.5]), np.array([np.inf]))
    assert red.infeasible


@pytest.mark.parametrize("raw", sorted(HIGHS_STATUS))
def test_every_highs_status_maps_to_a_status(raw):
    with_sol, without = HIGHS_STATUS[raw]
    assert isinstance(with_sol, Status) and isinstance(without, Status)
    # a status without a solution never claims one (OPTIMAL or FEASIBLE need values)
    assert without in (Status.INFEASIBLE, Status.TIME_LIMIT, Status.ERROR), (raw, without)
    # optimality is claimed only where HiGHS itself proved it (an empty model is trivially
    # solved)
    assert (with_sol is Status.OPTIMAL) == (raw in ("Optimal", "Empty")), (raw, with_sol)
    if raw in ("Optimal", "Empty"):
        assert without is Status.ERROR  # "Optimal" without a solution is a broken run


def test_highs_reports_infeasible_and_optimal():
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    ok = solve_highs(np.array([1.0, 2.0]), 0.0, np.zeros(2), np.full(2, 3.0),
                     np.array([True, True]), A, np.array([2.5]), np.array([np.inf]))
    assert ok.status is Status.OPTIMAL and ok.objective == pytest.approx(3.0)
    assert ok.bound == pytest.approx(3.0) and ok.gap == pytest.approx(0.0)
    bad = solve_highs(np.array([1.0, 2.0]), 0.0, np.zeros(2), np.ones(2),
                      np.array([True, True]), A, np.array([2.5]), np.array([np.inf]))
    assert bad.status is Status.INFEASIBLE and bad.values is None
    assert isinstance(bad, Solution)


def test_a_first_solution_that_breaks_a_row_is_not_trusted(global_random_seed):
    """solve_phase searches below the first solution's cost and calls the first solution
    optimal when nothing cheaper exists; a point that breaks a row (here: the applicant's
    own assignment, cost 0, which misses the target row) must be discarded, not returned."""
    import time

    from recourse import FeatureSchema, RecourseEngine
    from recourse.solvers.problem import build_problem
    from recourse.solvers.search import solve_phase
    from synthdata import credit_frame, tree_pipeline

    from sklearn.tree import DecisionTreeClassifier

    X, y, _ = credit_frame(global_random_seed, n=300)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    denied = X[model.predict(X) == model.classes_[0]]
    assert len(denied) > 0
    applicant = denied.iloc[0]
    x0 = engine.space.encode(schema.validate_row(applicant))
    prob = build_problem(engine.encoding, engine.spec, x0, 1, norm="l1", margin=1e-6)
    own = engine.encoding.block_values(x0[None, :])[0]
    own = np.concatenate([own, np.zeros(prob.n - own.size)])
    out = solve_phase(prob, "l1", own, time.perf_counter() + 30)
    assert out["status"] is Status.OPTIMAL and not out["incumbent"]
    assert out["objective"] > 0
    ref = engine.explain(applicant, target=model.classes_[1])
    assert out["objective"] == pytest.approx(ref.cost, rel=1e-6, abs=1e-9)


def test_no_solver_is_started_after_the_deadline(monkeypatch):
    """With the deadline gone when the search reaches the solver, the search returns its
    incumbent unproven (or the bounds' own proof) without setting a solver up: starting
    HiGHS with a 1 ms limit cost 0.2-0.3 s of a loaded machine, past the deadline."""
    import time

    from sklearn.ensemble import RandomForestClassifier
    from synthdata import credit_frame, tree_pipeline

    from recourse import FeatureSchema, RecourseEngine
    from recourse.solvers import search
    from recourse.solvers.incumbent import find_incumbent
    from recourse.solvers.problem import build_problem

    X, y, _ = credit_frame(0, n=400)
    model = tree_pipeline(RandomForestClassifier(30, max_depth=5, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    denied = X[model.predict(X) == model.classes_[0]]
    calls = []
    monkeypatch.setattr(search, "solve", lambda *a, **k: calls.append(1) or 1 / 0)
    statuses = set()
    for i in range(min(6, len(denied))):
        x0 = engine.space.encode(schema.validate_row(denied.iloc[i]))
        prob = build_problem(engine.encoding, engine.spec, x0, 1, norm="l1", margin=1e-6)
        inc = find_incumbent(prob, "l1")
        out = search.solve_phase(prob, "l1", inc, time.perf_counter() - 1.0)
        statuses.add(out["status"])
        assert out["backend"] is None
        if out["status"] is Status.OPTIMAL:  # only a proof that needs no solver
            assert out["certified_by"] in ("tree-bounds", "bounds")
        else:
            assert out["status"] is (Status.FEASIBLE if inc is not None else Status.TIME_LIMIT)
            assert out["certified_by"] is None
            if inc is not None:
                assert np.array_equal(out["values"], inc)
    assert not calls
    assert Status.FEASIBLE in statuses  # the case was exercised

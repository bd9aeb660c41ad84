"""The ``race`` backend (HiGHS against CP-SAT, first proof wins) against enumeration and
brute force, and the stop events that end the loser.

The race must return what either route alone may return: the enumerated optimum (or
infeasibility) of small random MILPs, and, through the engine, the brute-force optimum of
small forests, with the winner's own route as its certificate. A stopped solver must
return quickly and claim nothing.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from engine_checks import TIME_LIMIT, check_against_oracle
from oracles import brute_force_tree_optimum
from sklearn.ensemble import RandomForestClassifier
from synthdata import credit_frame, tree_pipeline
from test_backends import _brute_force, _check, _random_integer_problem

from recourse import FeatureSchema, RecourseEngine
from recourse.solvers import race
from recourse.solvers.backends import MilpArrays, solve
from recourse.solvers.cpsat import solve_cpsat
from recourse.solvers.highs import solve_highs
from recourse.solvers.search import TRUSTED_ROUTES
from recourse.solvers.status import Status

pytest.importorskip("ortools")


@pytest.fixture
def always_race(monkeypatch):
    """Race on every problem, however small (the default sends small ones to HiGHS)."""
    monkeypatch.setattr(race, "RACE_MIN_VARS", 0)


@pytest.mark.parametrize("link", [False, "objective", "cut"])
@pytest.mark.parametrize("seed", range(8))
def test_race_agrees_with_enumeration(seed, link, always_race, global_random_seed):
    rng = np.random.default_rng(5000 + 1000 * global_random_seed + seed)
    p = _random_integer_problem(rng, link=link)
    expected = _brute_force(p)
    sol = solve(p, "race", time_limit=20)
    winner = sol.info["race_winner"]
    # the scaling error allowance of CP-SAT applies when CP-SAT answered
    _check(p, sol, expected, "cpsat" if winner == "cpsat" else "race")
    assert sol.backend == "race" and winner in race.ROUTES
    assert sol.info["route"] == ("cpsat" if winner == "cpsat" else "highs-presolve-off")
    assert sol.info["route"] in TRUSTED_ROUTES


def test_small_problems_go_to_highs_alone():
    p = _random_integer_problem(np.random.default_rng(3))
    assert p.n < race.RACE_MIN_VARS
    sol = solve(p, "race", time_limit=20)
    assert sol.info["race_winner"] == "highs" and "not run" in sol.info["race_loser"]


def _market_split(seed: int, m: int = 4, n: int = 40) -> MilpArrays:
    """A market-split instance (Cornuéjols and Dawande): hard for every MILP solver."""
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 100, size=(m, n)).astype(float)
    rhs = np.floor(A.sum(axis=1) / 2)
    return MilpArrays(c=np.zeros(n), c0=0.0, lb=np.zeros(n), ub=np.ones(n),
                      integer=np.ones(n, dtype=bool), A=sp.csr_matrix(A), row_lo=rhs,
                      row_hi=rhs)


@pytest.mark.parametrize("which", ["highs", "cpsat"])
def test_a_stopped_solver_returns_at_once_and_claims_nothing(which):
    p = _market_split(0)
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    t0 = time.perf_counter()
    if which == "highs":
        sol = solve_highs(p.c, p.c0, p.lb, p.ub, p.integer, p.A, p.row_lo, p.row_hi,
                          time_limit=30, stop=stop)
    else:
        sol = solve_cpsat(p, time_limit=30, stop=stop)
    took = time.perf_counter() - t0
    timer.cancel()
    assert took < 2.0, took
    assert sol.status not in (Status.OPTIMAL, Status.INFEASIBLE), sol.raw_status


def test_a_stop_set_before_the_solve_still_stops_cpsat():
    stop = threading.Event()
    stop.set()
    t0 = time.perf_counter()
    sol = solve_cpsat(_market_split(1), time_limit=30, stop=stop)
    assert time.perf_counter() - t0 < 2.0
    assert sol.status not in (Status.OPTIMAL, Status.INFEASIBLE)


def test_the_race_honours_its_time_limit(always_race):
    t0 = time.perf_counter()
    sol = solve(_market_split(2), "race", time_limit=0.5)
    assert time.perf_counter() - t0 < 0.5 + 1.0
    assert sol.status not in (Status.OPTIMAL, Status.INFEASIBLE)


@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_race_through_the_engine_finds_the_brute_force_optimum(norm, always_race,
                                                               global_random_seed):
    X, y, _ = credit_frame(global_random_seed + 21)
    model = tree_pipeline(RandomForestClassifier(n_estimators=5, max_depth=3,
                                                 random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    eng = RecourseEngine(model, schema, backend="race")
    pred = model.predict(X)
    classes = list(model.classes_)
    seen = set()
    for i in range(4):
        x = X.iloc[i].to_dict()
        target = classes[1] if pred[i] == classes[0] else classes[0]
        bf = brute_force_tree_optimum(model, schema, x, target, norm)
        res = eng.explain(x, target=target, norm=norm, time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, norm, bf)
        if res.status == "optimal":
            assert res.stats.certified_by in TRUSTED_ROUTES | {"tree-bounds", "bounds"}
        seen.add(res.stats.backend_used)
    assert None in seen or "race" in seen

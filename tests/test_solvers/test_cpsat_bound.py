"""CP-SAT's lower bound must hold when its time runs out in presolve.

Stopped inside its presolve, CP-SAT answers UNKNOWN with ``best_objective_bound`` left at
the proto's default 0. With negative objective coefficients and an offset (as a
RandomForest 1000x10 query at a 10 s limit had), that 0 read as a bound *above* the
optimum. The oracle is the enumerated optimum of small 0/1 problems; CP-SAT's own
``stop_after_presolve`` ends it in presolve deterministically."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from recourse.solvers.backends import MilpArrays
from recourse.solvers.cpsat import solve_cpsat
from recourse.solvers.status import Status

pytest.importorskip("ortools.sat.python.cp_model")


def problem(seed: int) -> tuple[MilpArrays, float]:
    """A random 0/1 problem whose costs are mostly negative, with a positive offset, and
    its enumerated optimum."""
    rng = np.random.default_rng(seed)
    n, m = 10, 6
    A = sp.csr_matrix(rng.integers(0, 2, (m, n)).astype(float))
    hi = rng.integers(1, 4, m).astype(float)
    c = -rng.uniform(0.1, 1.0, n)
    c[rng.integers(0, n)] *= -1.0
    c0 = 5.0
    best = np.inf
    for bits in itertools.product((0.0, 1.0), repeat=n):
        v = np.array(bits)
        if np.all(A @ v <= hi):
            best = min(best, float(c @ v) + c0)
    p = MilpArrays(c=c, c0=c0, lb=np.zeros(n), ub=np.ones(n), integer=np.ones(n, dtype=bool),
                   A=A, row_lo=np.full(m, -np.inf), row_hi=hi)
    return p, best


@pytest.mark.parametrize("seed", range(4))
def test_a_search_stopped_in_presolve_claims_no_bound_above_the_optimum(seed):
    p, best = problem(seed)
    assert best < p.c0  # the proto's default 0 would read as a bound of about c0
    sol = solve_cpsat(p, time_limit=10.0, stop_after_presolve=True)
    assert sol.status in (Status.TIME_LIMIT, Status.FEASIBLE, Status.OPTIMAL)
    if sol.status is Status.OPTIMAL:  # presolve alone solved it: then the bound is its
        assert sol.objective == pytest.approx(best, abs=1e-6)
    assert sol.bound is None or sol.bound <= best + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_a_full_search_proves_the_enumerated_optimum(seed):
    p, best = problem(seed)
    sol = solve_cpsat(p, time_limit=10.0)
    assert sol.status is Status.OPTIMAL
    assert sol.objective == pytest.approx(best, abs=1e-6)
    assert sol.bound == pytest.approx(best, abs=1e-6)

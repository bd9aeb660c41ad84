"""Every backend against brute-force enumeration and against each other, on the arrays.

Random small MILPs with real coefficients over small integer boxes (the shape of a tree
ensemble's score and cost rows), some with a continuous column defined by an equality
(the shape of the leaf-distance cuts), some infeasible. The oracle enumerates every
integer point of the box; HiGHS, CP-SAT and Pyomo must agree with it on the optimal cost
(CP-SAT: within its reported scaling error plus the gap tolerance).
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from recourse.solvers import backends
from recourse.solvers.backends import MilpArrays, capable, choose, solve
from recourse.solvers.cpsat import CPSAT_STATUS, scale_rows
from recourse.solvers.errors import BackendUnavailableError, UnsupportedProblemError
from recourse.solvers.highs import FEASIBILITY_TOL
from recourse.solvers.pyomo_backend import PYOMO_STATUS
from recourse.solvers.status import Status

pytest.importorskip("ortools")
pytest.importorskip("pyomo")

ALL = ("highs", "cpsat", "pyomo")


def _random_integer_problem(rng: np.random.Generator, *, link: str | bool = False
                            ) -> MilpArrays:
    """0/1 and small-integer columns, real rows (a planted point keeps most feasible).

    ``link``: add a continuous ``y = c @ v + c0`` and a row ``y >= d @ v + e`` (which may
    bind); ``"objective"``: minimise ``y``; ``"cut"``: ``y`` has no cost (as the engine's
    leaf-distance cuts), the cost stays on ``v``."""
    n = int(rng.integers(5, 9))
    m = int(rng.integers(2, 5))
    ub = np.where(rng.random(n) < 0.7, 1.0, rng.integers(2, 4, n).astype(float))
    lb = np.zeros(n)
    A = np.round(rng.normal(size=(m, n)) * (rng.random((m, n)) < 0.7), 6) / 7.0
    x = np.array([rng.integers(0, int(u) + 1) for u in ub], dtype=float)
    act = A @ x
    lo = np.where(rng.random(m) < 0.8, act - rng.random(m) * 0.3, -np.inf)
    hi = np.where(rng.random(m) < 0.4, act + rng.random(m) * 0.3, np.inf)
    if rng.random() < 0.15:  # now and then an infeasible one
        lo[0] = np.abs(A[0]) @ ub + 1.0
    c = np.round(rng.uniform(-1, 1, n), 6) / 3.0
    integer = np.ones(n, dtype=bool)
    c0 = float(rng.normal())
    if link:
        d = np.round(rng.normal(size=n), 6) / 5.0
        A = np.vstack([np.hstack([A, np.zeros((m, 1))]),
                       np.hstack([-c, [1.0]]),
                       np.hstack([-d, [1.0]])])
        lo = np.concatenate([lo, [c0], [float(np.round(rng.normal() * 0.3, 6))]])
        hi = np.concatenate([hi, [c0], [np.inf]])
        if link == "objective":
            c = np.concatenate([np.zeros(n), [1.0]])
            c0 = 0.0
        else:
            c = np.concatenate([c, [0.0]])
        y_lb = -0.2 if link == "cut" and rng.random() < 0.5 else -np.inf  # may bind
        lb, ub = np.append(lb, y_lb), np.append(ub, np.inf)
        integer = np.append(integer, False)
    return MilpArrays(c=c, c0=c0, lb=lb, ub=ub, integer=integer, A=sp.csr_matrix(A),
                      row_lo=lo, row_hi=hi)


def _brute_force(p: MilpArrays) -> float | None:
    """Exact optimum by enumerating the integer box (a defined continuous column is
    computed from its equality row)."""
    ints = np.flatnonzero(p.integer)
    grids = [range(int(p.lb[i]), int(p.ub[i]) + 1) for i in ints]
    V = np.zeros((0, p.n))
    pts = np.array(list(itertools.product(*grids)), dtype=float)
    V = np.zeros((pts.shape[0], p.n))
    V[:, ints] = pts
    A = p.A.toarray()
    for j in np.flatnonzero(~p.integer):  # defined by the row with lo == hi and a_j != 0
        r = next(r for r in range(p.m) if A[r, j] != 0 and p.row_lo[r] == p.row_hi[r])
        V[:, j] = (p.row_lo[r] - V @ A[r] + V[:, j] * A[r, j]) / A[r, j]
    act = V @ A.T
    ok = np.all((act >= p.row_lo - 1e-9) & (act <= p.row_hi + 1e-9), axis=1)
    ok &= np.all((V >= p.lb - 1e-9) & (V <= p.ub + 1e-9), axis=1)
    if not ok.any():
        return None
    return float((V[ok] @ p.c).min() + p.c0)


def _check(p: MilpArrays, sol, expected: float | None, name: str) -> None:
    if expected is None:
        assert sol.status is Status.INFEASIBLE, (name, sol)
        return
    assert sol.status is Status.OPTIMAL, (name, sol.status, sol.raw_status)
    err = sol.info.get("cost_error", 0.0) if name == "cpsat" else 0.0
    assert abs(sol.objective - expected) <= 1e-6 + err, (name, sol.objective, expected)
    v = sol.values
    act = p.A @ v
    assert np.all(act >= p.row_lo - 1e-6) and np.all(act <= p.row_hi + 1e-6), name
    assert np.all(np.abs(v[p.integer] - np.rint(v[p.integer])) <= 1e-6), name
    assert sol.bound is not None and sol.bound <= expected + 1e-6 + err, (name, sol.bound)


@pytest.mark.parametrize("link", [False, "objective", "cut"])
@pytest.mark.parametrize("seed", range(10))
def test_backends_agree_with_enumeration(seed, link, global_random_seed):
    rng = np.random.default_rng(1000 * global_random_seed + seed)
    p = _random_integer_problem(rng, link=link)
    expected = _brute_force(p)
    for name in ALL:
        _check(p, solve(p, name, time_limit=20), expected, name)


@pytest.mark.parametrize("seed", range(16))
def test_coarse_scaling_keeps_its_guarantees(seed, global_random_seed):
    """With 10-bit row scaling the rows are far off (and with 10-bit costs the objective
    too); the answer must still be feasible for the original rows, its bound valid, and
    "optimal" only when true."""
    rng = np.random.default_rng(2000 + 1000 * global_random_seed + seed)
    p = _random_integer_problem(rng, link=[False, "objective", "cut"][seed % 3])
    expected = _brute_force(p)
    obj_bits = 10 if seed % 4 < 2 else 30
    sol = solve(p, "cpsat", time_limit=20, options={"row_bits": 10, "obj_bits": obj_bits})
    assert sol.info["row_error"] > 1e-4  # the test means something: scaling is coarse
    if expected is None:
        assert sol.status is Status.INFEASIBLE  # a relaxation's proof holds for the original
        return
    # A solution exists: the answer is one (optimal or feasible). ERROR is accepted only
    # for its one documented cause -- the conservative re-solve of rows the coarse scaling
    # broke turned out infeasible -- and never with values.
    assert sol.status in (Status.OPTIMAL, Status.FEASIBLE, Status.ERROR), sol.status
    if sol.status is Status.ERROR:
        assert sol.values is None and sol.objective is None
        assert sol.raw_status == "INFEASIBLE (conservative rows)", sol.raw_status
        assert sol.info.get("conservative_rows", 0) > 0
    else:
        assert sol.values is not None and sol.objective is not None
    if sol.values is not None:
        act = p.A @ sol.values
        tol = FEASIBILITY_TOL
        assert np.all(act >= p.row_lo - tol) and np.all(act <= p.row_hi + tol)
        assert sol.objective >= expected - 1e-9
    assert sol.bound is None or sol.bound <= expected + 1e-9
    if sol.status is Status.OPTIMAL:
        assert abs(sol.objective - expected) <= 1e-6


def test_scaled_rows_bracket_the_original_row(global_random_seed):
    """Relaxed rows admit every point the original admits, and nothing violating it by
    more than ``delta``; conservative rows admit only points the original admits."""
    rng = np.random.default_rng(global_random_seed)
    for _ in range(30):
        n = 6
        a = rng.normal(size=(1, n)) / 3
        M = rng.integers(1, 3, n).astype(float)
        pts = np.array(list(itertools.product(*[range(int(u) + 1) for u in M])), dtype=float)
        act = pts @ a[0]
        lo, hi = np.quantile(act, [0.3, 0.8])
        for bits in (8, 12, 40):
            sr = scale_rows(sp.csr_matrix(a), np.array([lo]), np.array([hi]), M, bits)
            ai = pts @ sr.A.toarray()[0]
            relaxed = (ai >= sr.lo[0]) & (ai <= sr.hi[0])
            orig = (act >= lo) & (act <= hi)
            cons = ((ai >= sr.clo[0]) if sr.clo[0] is not None else True) & (
                (ai <= sr.chi[0]) if sr.chi[0] is not None else True)
            assert np.all(relaxed[orig])
            assert np.all(orig[cons])
            d = sr.delta[0]
            assert np.all((act[relaxed] >= lo - d) & (act[relaxed] <= hi + d))


def test_continuous_problem_is_refused_by_cpsat_with_the_alternatives():
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    p = MilpArrays(c=np.array([1.0, 2.0]), c0=0.0, lb=np.zeros(2), ub=np.full(2, 3.0),
                   integer=np.array([False, True]), A=A, row_lo=np.array([1.5]),
                   row_hi=np.array([np.inf]))
    with pytest.raises(UnsupportedProblemError, match=r"continuous.*\['highs', 'pyomo', 'race'\]"):
        solve(p, "cpsat")
    assert capable(p) == ["highs", "pyomo", "race"]
    assert choose(p) == "highs"
    h, y = solve(p, "highs"), solve(p, "pyomo")
    assert h.objective == pytest.approx(1.5) and y.objective == pytest.approx(1.5)


def test_unknown_backend_lists_the_registered_ones():
    p = _random_integer_problem(np.random.default_rng(0))
    with pytest.raises(UnsupportedProblemError, match=r"'highs', 'cpsat', 'pyomo', 'race', 'auto'"):
        solve(p, "gurobi")


def test_auto_follows_its_rule(monkeypatch):
    p = _random_integer_problem(np.random.default_rng(1))
    monkeypatch.setattr(backends, "AUTO_CPSAT_MIN_VARS", 0)
    assert choose(p) == "cpsat"
    monkeypatch.setattr(backends, "AUTO_CPSAT_MIN_VARS", p.n + 1)
    assert choose(p) == "highs"


@pytest.mark.parametrize("module, extra", [("ortools", "ortools"), ("pyomo", "pyomo")])
def test_missing_optional_dependency_names_the_extra(module, extra, monkeypatch):
    name = {"ortools": "cpsat", "pyomo": "pyomo"}[module]
    for mod in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    p = _random_integer_problem(np.random.default_rng(2))
    with pytest.raises(BackendUnavailableError, match=rf"recourse-engine\[{extra}\]"):
        solve(p, name)


def test_pyomo_reports_an_unreachable_solver():
    p = _random_integer_problem(np.random.default_rng(3))
    with pytest.raises(BackendUnavailableError, match="cannot reach the solver 'no_such_solver'"):
        solve(p, "pyomo", options={"solver": "no_such_solver"})


@pytest.mark.parametrize("table", [CPSAT_STATUS, PYOMO_STATUS], ids=["cpsat", "pyomo"])
def test_status_tables_never_claim_a_solution_they_lack(table):
    for raw, (with_sol, without) in table.items():
        assert isinstance(with_sol, Status) and isinstance(without, Status)
        assert without in (Status.INFEASIBLE, Status.TIME_LIMIT, Status.ERROR), raw
        if with_sol is Status.OPTIMAL:
            assert raw.lower().endswith("optimal") and raw != "locallyOptimal"


def test_import_recourse_loads_no_optional_solver():
    code = ("import sys, recourse, solvers.backends; "
            "print([m for m in ('ortools', 'pyomo') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("limit", [0.001, 0.05, 0.3])
def test_cpsat_keeps_short_time_limits_model_building_included(limit):
    """A large problem (20,000 rows) must not make CP-SAT overrun a short limit while its
    model is built: building is part of the time limit."""
    pytest.importorskip("ortools")
    from recourse.solvers.cpsat import solve_cpsat

    rng = np.random.default_rng(0)
    n, m = 6000, 20000
    A = sp.csr_matrix((rng.integers(1, 4, size=6 * m).astype(float),
                       (np.repeat(np.arange(m), 6), rng.integers(0, n, size=6 * m))),
                      shape=(m, n))
    p = MilpArrays(c=rng.uniform(0.5, 2.0, n), c0=0.0, lb=np.zeros(n), ub=np.ones(n),
                   integer=np.ones(n, dtype=bool), A=A,
                   row_lo=(A.getnnz(axis=1) > 0).astype(float),  # all ones is feasible
                   row_hi=np.full(m, np.inf))
    solve_cpsat(p, time_limit=0.3)  # warm: the first call imports and sets up OR-Tools
    t0 = __import__("time").perf_counter()
    sol = solve_cpsat(p, time_limit=limit)
    took = __import__("time").perf_counter() - t0
    assert took <= limit + 0.15, took
    assert sol.status in (Status.TIME_LIMIT, Status.FEASIBLE, Status.OPTIMAL)


def test_auto_leaves_short_solves_to_highs():
    """CP-SAT only with time to build its model: a large pure-integer problem goes to
    CP-SAT with time to spare and to HiGHS with under AUTO_CPSAT_MIN_TIME left."""
    pytest.importorskip("ortools")
    n = backends.AUTO_CPSAT_MIN_VARS + 10
    p = MilpArrays(c=np.ones(n), c0=0.0, lb=np.zeros(n), ub=np.ones(n),
                   integer=np.ones(n, dtype=bool), A=sp.csr_matrix(np.ones((1, n))),
                   row_lo=np.ones(1), row_hi=np.full(1, np.inf))
    assert choose(p) == "cpsat" and choose(p, 10.0) == "cpsat"
    assert choose(p, backends.AUTO_CPSAT_MIN_TIME / 2) == "highs"
    assert solve(p, "auto", time_limit=0.5).backend == "highs"
    assert solve(p, "auto", time_limit=30).backend == "cpsat"


@pytest.mark.parametrize("seed", range(3))
def test_cpsat_proves_wide_cost_rows_optimal(seed):
    """Thousands of real-valued costs (the shape of a 200-feature forest's threshold
    crossings) put the objective's worst-case scaling error far above the gap tolerance at
    a coarse scale; with the default scale CP-SAT's optimum must be claimed *optimal* and
    equal the closed form: cover at least ``k`` of ``n`` items, the ``k`` cheapest."""
    rng = np.random.default_rng(seed)
    n, k = 3000, 4
    c = rng.uniform(0.2, 2.0, n)
    c[rng.choice(n, 40, replace=False)] = rng.uniform(0.2, 0.6, 40)  # cost ~ 1 in all
    p = MilpArrays(c=c, c0=0.0, lb=np.zeros(n), ub=np.ones(n), integer=np.ones(n, bool),
                   A=sp.csr_matrix(np.ones((1, n))), row_lo=np.array([float(k)]),
                   row_hi=np.array([np.inf]))
    expected = float(np.sort(c)[:k].sum())
    coarse = solve(p, "cpsat", time_limit=20, options={"obj_bits": 40})
    assert coarse.info["cost_error"] > 1e-7 * expected  # the case: 40 bits cannot prove it
    sol = solve(p, "cpsat", time_limit=20)
    assert sol.status is Status.OPTIMAL, (sol.status, sol.info["cost_error"])
    assert abs(sol.objective - expected) <= 1e-7 * expected
    assert sol.bound is not None and expected - 1e-7 * expected <= sol.bound <= expected + 1e-9

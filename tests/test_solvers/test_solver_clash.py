"""highspy and OR-Tools in one process (highspy 1.15.x + ortools 9.15 clash; README, Notes).

OR-Tools bundles its own HiGHS; some highspy releases then fail at import time with
undefined symbols, in either import order. Each order runs in a fresh interpreter (a
clash can abort the process, and the import order only matters in a clean process), and
each solver must then solve the same small MILP to its known optimum:

    max 3x + 4y  s.t.  2x + 3y <= 12,  x - y <= 2,  x, y integer in [0, 10]

Integer optimum: x = 3, y = 2 (value 17); cross-checked below by enumeration.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("highspy")
pytest.importorskip("ortools")

OPTIMUM = 17.0

IMPORTS = {
    "highspy": "import highspy",
    "ortools": textwrap.dedent(
        """
        from ortools.linear_solver import pywraplp
        from ortools.sat.python import cp_model
        """
    ),
}

SOLVE = textwrap.dedent(
    """
    import highspy
    from ortools.linear_solver import pywraplp
    from ortools.sat.python import cp_model

    results = {}

    # 1. highspy's own HiGHS
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    x = h.addVariable(lb=0, ub=10, type=highspy.HighsVarType.kInteger)
    y = h.addVariable(lb=0, ub=10, type=highspy.HighsVarType.kInteger)
    h.addConstr(2 * x + 3 * y <= 12)
    h.addConstr(x - y <= 2)
    h.maximize(3 * x + 4 * y)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.getModelStatus()
    results["highspy"] = h.getInfo().objective_function_value
    results["highspy_version"] = getattr(highspy, "__version__", "?")

    # 2. CP-SAT
    m = cp_model.CpModel()
    cx = m.NewIntVar(0, 10, "x")
    cy = m.NewIntVar(0, 10, "y")
    m.Add(2 * cx + 3 * cy <= 12)
    m.Add(cx - cy <= 2)
    m.Maximize(3 * cx + 4 * cy)
    s = cp_model.CpSolver()
    s.parameters.num_workers = 1
    st = s.Solve(m)
    assert st == cp_model.OPTIMAL, s.StatusName(st)
    results["cpsat"] = s.ObjectiveValue()

    # 3. pywraplp with every MILP backend OR-Tools ships here (its bundled HiGHS is the
    #    one that clashes with highspy's symbols, so it must be exercised too)
    for name in ("HIGHS", "SCIP", "CBC"):
        solver = pywraplp.Solver.CreateSolver(name)
        if solver is None:
            results["pywraplp_" + name] = None
            continue
        px = solver.IntVar(0, 10, "x")
        py = solver.IntVar(0, 10, "y")
        solver.Add(2 * px + 3 * py <= 12)
        solver.Add(px - py <= 2)
        solver.Maximize(3 * px + 4 * py)
        st = solver.Solve()
        assert st == pywraplp.Solver.OPTIMAL, (name, st)
        results["pywraplp_" + name] = solver.Objective().Value()

    print(repr(results))
    """
)


def test_known_optimum_by_enumeration():
    best = max(
        3 * x + 4 * y
        for x, y in itertools.product(range(11), repeat=2)
        if 2 * x + 3 * y <= 12 and x - y <= 2
    )
    assert best == OPTIMUM


@pytest.mark.parametrize("order", [("highspy", "ortools"), ("ortools", "highspy")],
                         ids=["highspy_first", "ortools_first"])
def test_highspy_and_ortools_in_one_process(order):
    code = "\n".join(IMPORTS[o] for o in order) + "\n" + SOLVE
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (
        f"importing {order[0]} then {order[1]} and solving failed "
        f"(rc={proc.returncode}).\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    )
    last = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    results = ast.literal_eval(last)
    assert results["highspy"] == pytest.approx(OPTIMUM, abs=1e-6)
    assert results["cpsat"] == pytest.approx(OPTIMUM, abs=1e-6)
    solved = {k: v for k, v in results.items() if k.startswith("pywraplp_") and v is not None}
    # at least OR-Tools' own HiGHS or SCIP must be present to exercise a bundled MILP solver
    assert solved, f"no pywraplp MILP backend available: {results}"
    for name, value in solved.items():
        assert value == pytest.approx(OPTIMUM, abs=1e-6), (name, value)

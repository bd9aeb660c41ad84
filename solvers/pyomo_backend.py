"""Pyomo: the solver-neutral arrays as a ``ConcreteModel``, solved by any Pyomo solver.

The model has one indexed variable ``v`` (column ``i`` of the arrays is ``model.v[i]``, with
its bounds and domain), one indexed constraint ``rows`` (row ``r``: ``row_lo[r] <= A[r] v <=
row_hi[r]``) and the objective ``cost``. A user may add variables and constraints before
solving (see ``recourse.engine.custom``); :func:`solve_model` reads back ``v`` only.

The default solver is HiGHS through Pyomo's APPSI interface (``appsi_highs``, shipped with
highspy); any ``pyomo.environ.SolverFactory`` name works (``gurobi``, ``cplex``, ``scip``,
``cbc``, ...). Termination conditions map to :class:`recourse.solvers.status.Status` through
:data:`PYOMO_STATUS`; *optimal* is claimed only when the solver says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from recourse.solvers.errors import BackendUnavailableError, SolverError
from recourse.solvers.highs import (
    FEASIBILITY_JUMP,
    FEASIBILITY_TOL,
    MIP_ABS_GAP,
    MIP_REL_GAP,
    PRESOLVE,
    PRESOLVE_RULE_OFF,
)
from recourse.solvers.status import Solution, Status

if TYPE_CHECKING:
    from recourse.solvers.backends import MilpArrays

__all__ = ["to_pyomo", "solve_model", "solve_pyomo", "unavailable", "PYOMO_STATUS",
           "DEFAULT_SOLVER", "SOLVER_OPTIONS"]

DEFAULT_SOLVER = "appsi_highs"

#: Per solver: the gap and feasibility options that match the HiGHS backend's (exact
#: recourse needs tighter gaps than the usual 1e-4; for HiGHS also the same presolve and
#: heuristic settings and one thread, so that the two paths differ only by Pyomo).
#: Unknown solvers get none.
_HIGHS_OPTS = {"mip_rel_gap": MIP_REL_GAP, "mip_abs_gap": MIP_ABS_GAP,
               "mip_feasibility_tolerance": FEASIBILITY_TOL,
               "primal_feasibility_tolerance": FEASIBILITY_TOL,
               "presolve": PRESOLVE, "presolve_rule_off": PRESOLVE_RULE_OFF,
               "mip_heuristic_run_feasibility_jump": FEASIBILITY_JUMP, "threads": 1}
SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "appsi_highs": _HIGHS_OPTS,
    "highs": _HIGHS_OPTS,
    "gurobi": {"MIPGap": MIP_REL_GAP, "MIPGapAbs": MIP_ABS_GAP,
               "FeasibilityTol": FEASIBILITY_TOL, "IntFeasTol": FEASIBILITY_TOL},
    "gurobi_direct": {"MIPGap": MIP_REL_GAP, "MIPGapAbs": MIP_ABS_GAP},
    "gurobi_persistent": {"MIPGap": MIP_REL_GAP, "MIPGapAbs": MIP_ABS_GAP},
    "cplex": {"mip_tolerances_mipgap": MIP_REL_GAP, "mip_tolerances_absmipgap": MIP_ABS_GAP},
    "scip": {"limits/gap": MIP_REL_GAP, "limits/absgap": MIP_ABS_GAP},
}

#: Pyomo (legacy) termination condition -> (status with a solution, status without).
PYOMO_STATUS: dict[str, tuple[Status, Status]] = {
    "optimal": (Status.OPTIMAL, Status.ERROR),
    "globallyOptimal": (Status.OPTIMAL, Status.ERROR),
    "locallyOptimal": (Status.FEASIBLE, Status.ERROR),
    "feasible": (Status.FEASIBLE, Status.ERROR),
    "infeasible": (Status.INFEASIBLE, Status.INFEASIBLE),
    "infeasibleOrUnbounded": (Status.INFEASIBLE, Status.INFEASIBLE),
    "unbounded": (Status.ERROR, Status.ERROR),
    "maxTimeLimit": (Status.FEASIBLE, Status.TIME_LIMIT),
    "maxIterations": (Status.FEASIBLE, Status.TIME_LIMIT),
    "maxEvaluations": (Status.FEASIBLE, Status.TIME_LIMIT),
    "minStepLength": (Status.FEASIBLE, Status.ERROR),
    "minFunctionValue": (Status.FEASIBLE, Status.ERROR),
    "userInterrupt": (Status.FEASIBLE, Status.TIME_LIMIT),
    "resourceInterrupt": (Status.FEASIBLE, Status.TIME_LIMIT),
    "licensingProblems": (Status.ERROR, Status.ERROR),
    "solverFailure": (Status.ERROR, Status.ERROR),
    "internalSolverError": (Status.ERROR, Status.ERROR),
    "error": (Status.ERROR, Status.ERROR),
    "invalidProblem": (Status.ERROR, Status.ERROR),
    "intermediateNonInteger": (Status.FEASIBLE, Status.ERROR),
    "other": (Status.FEASIBLE, Status.ERROR),
    "unknown": (Status.FEASIBLE, Status.ERROR),
    "noSolution": (Status.ERROR, Status.ERROR),
}


def unavailable() -> str | None:
    """``None`` when Pyomo can be imported, else what to install."""
    try:
        import pyomo.environ  # noqa: F401
    except ImportError:
        return ("The 'pyomo' backend needs Pyomo: pip install 'recourse-engine[pyomo]' "
                "(or pip install 'pyomo>=6.8,<7').")
    return None


def _pyomo() -> Any:
    missing = unavailable()
    if missing is not None:
        raise BackendUnavailableError(missing)
    import pyomo.environ as pe

    return pe


def to_pyomo(p: MilpArrays) -> Any:
    """A ``ConcreteModel`` of ``p`` (see module docstring)."""
    pe = _pyomo()
    from pyomo.core.expr.numeric_expr import LinearExpression

    m = pe.ConcreteModel()
    n = p.n

    def bounds(_: Any, i: int) -> tuple[float | None, float | None]:
        lo, hi = p.lb[i], p.ub[i]
        return (float(lo) if np.isfinite(lo) else None, float(hi) if np.isfinite(hi) else None)

    def domain(_: Any, i: int) -> Any:
        if p.integer[i]:
            return pe.Binary if p.lb[i] >= 0 and p.ub[i] <= 1 else pe.Integers
        return pe.Reals

    m.v = pe.Var(range(n), domain=domain, bounds=bounds)
    A = p.A

    def row(_: Any, r: int) -> Any:
        s, e = A.indptr[r], A.indptr[r + 1]
        lo, hi = p.row_lo[r], p.row_hi[r]
        if s == e:
            return pe.Constraint.Feasible if lo <= 0 <= hi else pe.Constraint.Infeasible
        if not (np.isfinite(lo) or np.isfinite(hi)):
            return pe.Constraint.Skip
        if lo > hi:
            return pe.Constraint.Infeasible
        expr = LinearExpression(
            constant=0.0, linear_coefs=A.data[s:e].tolist(),
            linear_vars=[m.v[int(i)] for i in A.indices[s:e]])
        return (float(lo) if np.isfinite(lo) else None, expr,
                float(hi) if np.isfinite(hi) else None)

    m.rows = pe.Constraint(range(A.shape[0]), rule=row)
    nz = np.flatnonzero(p.c)
    m.cost = pe.Objective(expr=LinearExpression(
        constant=float(p.c0), linear_coefs=p.c[nz].tolist(),
        linear_vars=[m.v[int(i)] for i in nz]), sense=pe.minimize)
    return m


def solve_model(model: Any, *, solver: str = DEFAULT_SOLVER, time_limit: float = 60.0,
                options: dict[str, Any] | None = None) -> Solution:
    """Solve a model made by :func:`to_pyomo` (maybe with the user's own additions).

    Parameters
    ----------
    model : ConcreteModel
    solver : str
        A ``pyomo.environ.SolverFactory`` name.
    time_limit : float
    options : dict, optional
        Solver options, on top of :data:`SOLVER_OPTIONS` for that solver.

    Returns
    -------
    Solution
        ``values`` are those of ``model.v``; ``objective`` is ``model.cost`` there.
    """
    pe = _pyomo()
    t0 = time.perf_counter()
    opt = pe.SolverFactory(solver)
    if opt is None or not opt.available(exception_flag=False):
        raise BackendUnavailableError(
            f"Pyomo cannot reach the solver {solver!r} here (not installed or not licensed). "
            f"'{DEFAULT_SOLVER}' works with the highspy this package installs; for Gurobi, "
            "CPLEX or SCIP install the solver and its Python or command-line interface.")
    opts = {**SOLVER_OPTIONS.get(solver, {}), **(options or {})}
    try:
        results = opt.solve(model, load_solutions=False, timelimit=max(1e-3, time_limit),
                            options=opts)
    except (RuntimeError, ValueError) as exc:
        raise SolverError(f"Pyomo's {solver!r} failed: {exc}") from exc
    raw = str(results.solver.termination_condition)
    has_sol = len(results.solution) > 0
    if has_sol:
        model.solutions.load_from(results)
        values = np.array([pe.value(model.v[i], exception=False) for i in model.v],
                          dtype=float)
        has_sol = bool(np.all(np.isfinite(values)))
    with_sol, without = PYOMO_STATUS.get(raw, (Status.ERROR, Status.ERROR))
    status = with_sol if has_sol else without
    objective = float(pe.value(model.cost)) if has_sol else None
    lb = getattr(results.problem, "lower_bound", None)
    bound = float(lb) if lb is not None and np.isfinite(float(lb)) else None
    if status is Status.OPTIMAL and bound is None:
        bound = objective
    return Solution(status=status, values=values if has_sol else None, objective=objective,
                    bound=bound, time=time.perf_counter() - t0, backend="pyomo",
                    raw_status=raw, info={"solver": solver})


def solve_pyomo(p: MilpArrays, *, time_limit: float = 60.0, solver: str = DEFAULT_SOLVER,
                options: dict[str, Any] | None = None) -> Solution:
    """Build the Pyomo model of ``p`` and solve it (``info["build_time"]``: the building)."""
    t0 = time.perf_counter()
    model = to_pyomo(p)
    build = time.perf_counter() - t0
    sol = solve_model(model, solver=solver, time_limit=max(1e-3, time_limit - build),
                      options=options)
    return Solution(status=sol.status, values=sol.values, objective=sol.objective,
                    bound=sol.bound, time=time.perf_counter() - t0, backend="pyomo",
                    raw_status=sol.raw_status, info=dict(sol.info, build_time=build))

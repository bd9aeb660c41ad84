"""OR-Tools CP-SAT for pure-integer problems, with explicit and bounded integer scaling.

CP-SAT works over integers; tree ensembles in the 0/1 formulation are integer in their
variables, but their score row (leaf values), cost rows and objective have real
coefficients. This module turns a :class:`recourse.solvers.backends.MilpArrays` into a CP-SAT model
and back, and states what the answer is worth.

Preparation
-----------
1. *Defined continuous columns are substituted out.* A continuous column ``y`` that
   appears in an equality row whose other columns are all integer (``a y + R v = b``) is
   replaced by ``(b - R v) / a`` in every other row and the objective; its bounds become a
   row. (The leaf-distance cuts of ``recourse.solvers.prune.prune`` add such a column: the
   objective value.) Any other continuous column makes the problem unfit for CP-SAT
   (:func:`rejects`): linear models' value links go to HiGHS or Pyomo.
   *By default, when no such column has a cost, its rows are left out instead* (a
   relaxation; ``info["dropped_rows"]``): for the leaf-distance cuts, which are valid
   inequalities, CP-SAT then solves a 6x sparser model, 3-6x faster on credit_data's
   forests. The answer is checked against every original row; if it breaks one, the
   problem is solved again with the columns substituted (the first bound stays valid).
2. *Rows are scaled and rounded outward.* Row ``lo <= a v <= hi`` over integer ``v`` in
   a box with ``M_i = max(|lb_i|, |ub_i|)``: with ``S = 2^k`` (``k`` so that
   ``S * sum |a_i| M_i <= 2^row_bits``), ``a' = round(S a)`` and ``E = sum |a'_i - S a_i|
   M_i``, CP-SAT gets ``floor(S lo - E) - 1 <= a' v <= ceil(S hi + E) + 1``. Rows with
   integral coefficients are kept exactly (bounds rounded to integers).

Guarantees
----------
* *Relaxation.* Every point feasible for the original rows is feasible for CP-SAT's
  (``|a' v - S a v| <= E``). So CP-SAT's INFEASIBLE is a proof for the original problem,
  and its objective bound is a valid lower bound.
* *Row error.* A CP-SAT solution violates an original row by at most
  ``delta = (2E + 2) / S`` (reported as ``info["row_error"]``, the largest over rows;
  with the default 40 bits at most 5e-8 on German and 1.2e-6 on credit_data RF 100x6,
  a worst case over the whole box of a score row with thousands of leaves). Every
  solution is checked against the original rows in floating point with
  ``recourse.solvers.highs.FEASIBILITY_TOL``; rows it violates are replaced by their conservative
  rounding (``ceil(S lo + E) + 1 <= a' v``, which implies the original row) and the model
  is solved again; the bound stays that of the relaxation.
* *Bound.* CP-SAT's objective bound is taken only from a search that started: a time
  limit that ends CP-SAT inside its presolve leaves ``best_objective_bound`` at the proto's
  default 0, which on a RandomForest 1000x10 query at 10 s read as a bound above the
  optimum (the objective has negative coefficients and an offset).
* *Objective error.* Costs are scaled the same way (``S_c``, ``obj_bits``,
  error ``E_c``). For every point, ``|c' v - S_c c v| <= E_c``, so CP-SAT's bound ``B`` gives
  the original bound ``(B - E_c) / S_c + c0`` (``info["cost_error"] = 2 E_c / S_c`` is the
  most the scaled optimum can exceed the true one). The objective is recomputed unscaled on
  the solution. *Optimal* is claimed only when CP-SAT proved its model optimal and the
  unscaled gap ``cost - bound`` (at most ``cost_error`` after CP-SAT's OPTIMAL) is within
  HiGHS's gap tolerances (``recourse.solvers.highs.MIP_ABS_GAP`` / ``MIP_REL_GAP``); with the
  default 48 bits (``cpsat_scaling.OBJ_BITS``) it was on every benchmark query
  (``cost_error`` <= 5e-9 on costs of order 1, 200 features); otherwise, e.g. with a
  coarse ``obj_bits``, the answer is reported *feasible* with its gap. (Re-solving
  below a cut on the scaled cost cannot close a gap smaller than the scaling error, so
  it is not attempted.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recourse.solvers.cpsat_model import OutOfTime, build_model
from recourse.solvers.cpsat_scaling import (
    OBJ_BITS,
    ROW_BITS,
    scale_rows,
)
from recourse.solvers.errors import BackendUnavailableError, SolverError
from recourse.solvers.highs import FEASIBILITY_TOL, MIP_ABS_GAP, MIP_REL_GAP
from recourse.solvers.status import Solution, Status

if TYPE_CHECKING:
    from recourse.solvers.backends import MilpArrays

__all__ = ["solve_cpsat", "rejects", "unavailable", "scale_rows", "CPSAT_STATUS",
           "NUM_WORKERS", "ROW_BITS", "OBJ_BITS", "DEFAULT_PARAMS"]

#: CP-SAT workers. One, measured: with ``linearization_level = 2`` one worker beat two on
#: all six hard credit_data RF 100x6 queries tried (e.g. 1.4 s against 4.5 s, 24 s against
#: the 60 s limit) on these 2-core machines; ``backend_options={"num_workers": 2}`` for two.
NUM_WORKERS = 1
#: CP-SAT parameters set on every solve. ``presolve_inclusion_work_limit = 0`` switches off
#: the presolve step (ProcessAtMostOneAndLinear) that produced the false INFEASIBLE and
#: wrong OPTIMAL answers above on our exactly-one-leaf-per-tree rows; see
#: google/or-tools#5293 (the same step, a wrong optimality certificate, 9.15).
#: ``linearization_level = 2`` (CP-SAT's LP relaxation with all linear rows and cuts):
#: on five hard credit_data RF 100x6 queries 2.0-4.5 s against 1.4-21.5 s at the default.
#: Probing stays on: without it (``cp_model_probing_level = 0``) some slow RF 300x8 proofs
#: took half the time, but two proven in 45-49 s were left unproven at 60 s.
DEFAULT_PARAMS: dict[str, Any] = {"presolve_inclusion_work_limit": 0, "linearization_level": 2}

#: CP-SAT status name -> (status if a solution is held, status if none is held).
CPSAT_STATUS: dict[str, tuple[Status, Status]] = {
    "OPTIMAL": (Status.OPTIMAL, Status.ERROR),
    "FEASIBLE": (Status.FEASIBLE, Status.TIME_LIMIT),
    "INFEASIBLE": (Status.INFEASIBLE, Status.INFEASIBLE),
    "UNKNOWN": (Status.FEASIBLE, Status.TIME_LIMIT),
    "MODEL_INVALID": (Status.ERROR, Status.ERROR),
}


def unavailable() -> str | None:
    """``None`` when OR-Tools can be imported, else what to install."""
    try:
        from ortools.sat.python import cp_model  # noqa: F401
    except ImportError:
        return ("The 'cpsat' backend needs OR-Tools: pip install 'recourse-engine[ortools]' "
                "(or pip install 'ortools>=9.10,<10').")
    return None


# ----------------------------------------------------------------- preparation
@dataclass(frozen=True)
class _Integer:
    """The problem after substitution: integer columns only (``cols``), real rows."""

    cols: np.ndarray                 # kept (integer) columns of the original problem
    lb: np.ndarray
    ub: np.ndarray
    A: sp.csr_matrix                 # over ``cols``
    lo: np.ndarray
    hi: np.ndarray
    c: np.ndarray
    c0: float
    # substituted columns: v_j = d_j - R_j @ v (R over all original columns)
    subs: tuple[tuple[int, sp.csr_matrix, float], ...]
    dropped: int = 0                 # rows left out (through defined columns; relaxation)

    def expand(self, n: int, v: np.ndarray) -> np.ndarray:
        full = np.zeros(n)
        full[self.cols] = v
        for j, R, d in self.subs:
            full[j] = d - float((R @ full)[0])
        return full


def _integer_bounds(p: MilpArrays, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    lbi, ubi = np.ceil(p.lb[cols] - 1e-9), np.floor(p.ub[cols] + 1e-9)
    finite = np.isfinite(lbi) & np.isfinite(ubi)
    if not np.all(finite):
        bad = int(cols[np.flatnonzero(~finite)[0]])
        return lbi, ubi, (f"integer column {bad} has an infinite bound and CP-SAT needs "
                          "finite domains")
    return lbi, ubi, None


def _defining_rows(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, integer: np.ndarray,
                   cols: np.ndarray | None = None) -> dict[int, tuple[int, float] | None]:
    """For each continuous column (or each of ``cols``): the first equality row through it
    (by row index) whose other columns are all integer, as ``(row, coefficient)``, or
    None."""
    A = sp.csr_matrix(A)
    eq = np.isfinite(lo) & (lo == hi)
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    live = A.data != 0
    nonint = np.bincount(row_of[live & ~integer[A.indices]], minlength=A.shape[0])
    C = A.tocsc()
    out: dict[int, tuple[int, float] | None] = {}
    for j in np.flatnonzero(~integer) if cols is None else cols:
        s, e = C.indptr[j], C.indptr[j + 1]
        rows, vals = C.indices[s:e], C.data[s:e]
        ok = (vals != 0) & eq[rows] & (nonint[rows] == 1)  # j is the row's only continuous
        out[int(j)] = ((int(rows[ok][np.argmin(rows[ok])]), float(vals[ok][np.argmin(rows[ok])]))
                       if ok.any() else None)
    return out


def _drop_defined(p: MilpArrays) -> tuple[_Integer | None, str | None]:
    """Leave out every row through a defined, cost-free continuous column (a relaxation;
    the column's value is recomputed from its defining row)."""
    A = sp.csr_matrix(p.A)
    C = A.tocsc()
    touched = np.zeros(p.m, dtype=bool)
    subs: list[tuple[int, sp.csr_matrix, float]] = []
    for j, found in _defining_rows(A, p.row_lo, p.row_hi, p.integer).items():
        col_rows = C.indices[C.indptr[j]:C.indptr[j + 1]]
        if found is None:
            if col_rows.size:
                return None, (f"it has continuous variables (column {int(j)} of {p.n}, e.g. "
                              "a value link of a linear model) and CP-SAT works over "
                              "integers only")
            subs.append((int(j), sp.csr_matrix((1, p.n)), float(np.clip(0.0, p.lb[j], p.ub[j]))))
            continue
        r, a = found
        Rr = A[r].copy()
        Rr[0, j] = 0.0
        Rr.eliminate_zeros()
        subs.append((int(j), Rr / a, float(p.row_lo[r]) / a))
        touched[col_rows] = True
    cols = np.flatnonzero(p.integer)
    lbi, ubi, why = _integer_bounds(p, cols)
    if why is not None:
        return None, why
    keep = ~touched & (np.isfinite(p.row_lo) | np.isfinite(p.row_hi))
    return _Integer(cols=cols, lb=lbi, ub=ubi, A=A[keep][:, cols].tocsr(), lo=p.row_lo[keep],
                    hi=p.row_hi[keep], c=p.c[cols].astype(float), c0=float(p.c0),
                    subs=tuple(subs), dropped=int(touched.sum())), None


def _substitute(p: MilpArrays, drop: bool = False) -> tuple[_Integer | None, str | None]:
    """Substitute defined continuous columns out (module docstring, step 1); with
    ``drop``, leave their rows out instead when no such column has a cost."""
    if drop and np.any(~p.integer) and np.all(p.c[~p.integer] == 0):
        return _drop_defined(p)
    A = sp.csr_matrix(p.A, dtype=float, copy=True)
    lo, hi = p.row_lo.astype(float).copy(), p.row_hi.astype(float).copy()
    c, c0 = p.c.astype(float).copy(), float(p.c0)
    lb, ub, integer = p.lb, p.ub, p.integer
    alive = np.ones(p.n, dtype=bool)
    subs: list[tuple[int, sp.csr_matrix, float]] = []
    extra: list[tuple[sp.csr_matrix, float, float]] = []
    for j in np.flatnonzero(~integer):
        col = A[:, [j]].tocoo()
        row = _defining_rows(A, lo, hi, integer & alive, np.array([j]))[int(j)]
        if row is None:
            if A[:, [j]].nnz == 0 and c[j] == 0:
                alive[j] = False  # an unused continuous column: any value in its bounds
                subs.append((int(j), sp.csr_matrix((1, p.n)),
                             float(np.clip(0.0, lb[j], ub[j]))))
                continue
            return None, (f"it has continuous variables (column {int(j)} of {p.n}, e.g. a "
                          "value link of a linear model) and CP-SAT works over integers only")
        r, a = row
        Rr = A[r].copy()
        Rr[0, j] = 0.0
        Rr.eliminate_zeros()
        b = float(lo[r])
        # v_j = b/a - (Rr / a) v
        f = col.tocsr().toarray().ravel() / a
        f[r] = 0.0
        nz = np.flatnonzero(f)
        if nz.size:
            fs = sp.csr_matrix((f[nz], (nz, np.zeros(nz.size, dtype=int))), shape=(A.shape[0], 1))
            A = (A - fs @ Rr).tocsr()
            with np.errstate(invalid="ignore"):
                lo = lo - f * b
                hi = hi - f * b
        if c[j] != 0:
            c = c - (c[j] / a) * Rr.toarray().ravel()
            c0 += c[j] * b / a
            c[j] = 0.0
        A = A.tolil()
        A[:, j] = 0.0
        A[r, :] = 0.0
        A = A.tocsr()
        A.eliminate_zeros()
        lo[r], hi[r] = -np.inf, np.inf
        alive[j] = False
        subs.append((int(j), Rr / a, b / a))
        if np.isfinite(lb[j]) or np.isfinite(ub[j]):  # lb_j <= b/a - (Rr/a) v <= ub_j
            extra.append((-Rr / a, lb[j] - b / a, ub[j] - b / a))
    cols = np.flatnonzero(alive)
    if extra:
        A = sp.vstack([A] + [e[0] for e in extra]).tocsr()
        lo = np.concatenate([lo, [e[1] for e in extra]])
        hi = np.concatenate([hi, [e[2] for e in extra]])
    keep = np.isfinite(lo) | np.isfinite(hi)
    lbi, ubi, why = _integer_bounds(p, cols)
    if why is not None:
        return None, why
    return _Integer(cols=cols, lb=lbi, ub=ubi, A=A[keep][:, cols].tocsr(), lo=lo[keep],
                    hi=hi[keep], c=c[cols], c0=c0, subs=tuple(subs)), None


def rejects(p: MilpArrays) -> str | None:
    """``None`` when CP-SAT can take ``p``, else why not (as :func:`solve_cpsat` prepares
    it by default: rows through cost-free defined columns left out)."""
    return _substitute(p, drop=True)[1]


def solve_cpsat(p: MilpArrays, *, time_limit: float = 60.0, num_workers: int = NUM_WORKERS,
                row_bits: int = ROW_BITS, obj_bits: int = OBJ_BITS,
                hint: np.ndarray | None = None, drop_defined: bool = True,
                stop: threading.Event | None = None, **params: Any) -> Solution:
    """Solve the pure-integer problem ``p`` with CP-SAT (see module docstring).

    Parameters
    ----------
    p : MilpArrays
    time_limit : float
        Seconds for all CP-SAT calls together.
    num_workers : int
        CP-SAT's parallel workers.
    row_bits, obj_bits : int
        Precision of the integer scaling of rows and objective.
    hint : ndarray, optional
        A point (full length) given to CP-SAT as a solution hint.
    drop_defined : bool
        Leave out the rows through defined continuous columns with no cost (a relaxation,
        see module docstring) instead of substituting the columns into them.
    stop : threading.Event, optional
        Set by another thread to stop the search (``recourse.solvers.race``); CP-SAT's
        answer up to then is returned as it stands (a proof only if it had one).
    **params
        Further CP-SAT parameters (``CpSolver().parameters`` fields).

    Returns
    -------
    Solution
        ``info`` holds ``row_error`` (largest violation of an original row a relaxed row
        admits), ``cost_error`` (``2 E_c / S_c``), ``scale`` and the number of solves.
    """
    missing = unavailable()
    if missing is not None:
        raise BackendUnavailableError(missing)
    t0 = time.perf_counter()
    deadline = t0 + max(time_limit, 1e-3)
    if time_limit < MIN_TIME:  # too little time to build the model at all
        return _solution(Status.TIME_LIMIT, None, None, None, t0, "UNKNOWN",
                         {"solves": 0, "skipped": "no time left"})
    kw: dict[str, Any] = dict(num_workers=num_workers, row_bits=row_bits, obj_bits=obj_bits,
                              hint=hint, params=params, stop=stop)
    prep, reason = _substitute(p, drop=drop_defined)
    if prep is None:
        from recourse.solvers.errors import UnsupportedProblemError

        raise UnsupportedProblemError(f"The 'cpsat' backend cannot take this problem: {reason}.")
    sol = _solve_prepared(p, prep, t0, deadline, **kw)
    if not prep.dropped or sol.values is None or not _breaks(p, sol.values):
        return sol
    if stop is not None and stop.is_set():  # stopped: no re-solve, and no claim
        return Solution(status=Status.TIME_LIMIT, values=None, objective=None,
                        bound=sol.bound, time=time.perf_counter() - t0, backend="cpsat",
                        raw_status="stopped (another route answered first)", nodes=sol.nodes,
                        info=dict(sol.info, dropped_rows_broken=True))
    # The relaxation without the rows through defined columns broke one of them: solve
    # with those rows substituted in; the first bound stays valid (a relaxation's).
    full, _ = _substitute(p, drop=False)
    assert full is not None
    sol2 = _solve_prepared(p, full, t0, deadline, **kw)
    info = dict(sol2.info, solves=sol.info["solves"] + sol2.info["solves"], dropped_rows=0,
                dropped_rows_broken=True)
    bound = max((b for b in (sol.bound, sol2.bound) if b is not None), default=None)
    status = sol2.status
    if sol2.objective is not None and bound is not None:
        bound = min(bound, sol2.objective)
        status = Status.OPTIMAL if sol2.objective - bound <= _tol(sol2.objective) \
            else Status.FEASIBLE
    return Solution(status=status, values=sol2.values, objective=sol2.objective, bound=bound,
                    time=time.perf_counter() - t0, backend="cpsat",
                    raw_status=sol2.raw_status, nodes=sol.nodes + sol2.nodes, info=info)


def _breaks(p: MilpArrays, values: np.ndarray) -> bool:
    """Does ``values`` break a row or bound of ``p`` beyond HiGHS's feasibility tolerance?"""
    act = p.A @ values
    tol = FEASIBILITY_TOL
    return bool(np.any(act < p.row_lo - tol) or np.any(act > p.row_hi + tol)
                or np.any(values < p.lb - tol) or np.any(values > p.ub + tol))


def _solve_prepared(p: MilpArrays, prep: _Integer, t0: float, deadline: float, *,
                    num_workers: int, row_bits: int, obj_bits: int, hint: np.ndarray | None,
                    params: dict[str, Any], stop: threading.Event | None = None) -> Solution:
    from ortools.sat.python import cp_model

    M = np.maximum(np.abs(prep.lb), np.abs(prep.ub))
    rows = scale_rows(prep.A, prep.lo, prep.hi, M, row_bits)
    obj = scale_rows(sp.csr_matrix(prep.c[None, :]), np.array([-np.inf]), np.array([np.inf]),
                     M, obj_bits)
    c_int, S_c, E_c = obj.A.toarray().ravel(), float(obj.scale[0]), float(obj.error[0])
    info: dict[str, Any] = {
        "row_error": float(rows.delta.max(initial=0.0)),
        "cost_error": 2 * E_c / S_c,
        "scale": S_c, "solves": 0, "conservative_rows": 0, "n_int": int(prep.cols.size),
        "dropped_rows": prep.dropped,
    }
    conservative = np.zeros(rows.A.shape[0], dtype=bool)

    def run() -> tuple[str, np.ndarray | None, float | None]:
        try:
            model, x = build_model(prep, rows, conservative, c_int, hint, deadline)
        except OutOfTime:
            return "UNKNOWN", None, None
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = int(num_workers)
        solver.parameters.max_time_in_seconds = max(1e-3, deadline - time.perf_counter())
        for key, value in {**DEFAULT_PARAMS, **params}.items():
            setattr(solver.parameters, key, value)
        st = _solve_stoppable(solver, model, stop)
        info["solves"] += 1
        name = solver.status_name(st)
        has = st in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        v = np.array([solver.value(xi) for xi in x], dtype=float) if has else None
        b = float(solver.best_objective_bound)  # proven, with or without a solution ...
        # ... once the search has started: stopped in its presolve (a time limit there),
        # CP-SAT reports the proto's default 0, which is no bound (module docstring)
        searched = name == "OPTIMAL" or _searched(solver)
        B = b if name in ("OPTIMAL", "FEASIBLE", "UNKNOWN") and np.isfinite(b) and searched \
            else None
        info["nodes"] = info.get("nodes", 0) + int(solver.num_branches)
        return name, v, B

    def violated(v: np.ndarray) -> np.ndarray:
        act = prep.A @ v
        tol = FEASIBILITY_TOL
        return (act < prep.lo - tol) | (act > prep.hi + tol)

    raw, v, B = run()
    bound = (B - E_c) / S_c + prep.c0 if B is not None else None
    if raw == "INFEASIBLE":
        return _solution(Status.INFEASIBLE, None, None, None, t0, raw, info)
    # Re-solve with conservative rows while the solution breaks an original row.
    while v is not None and violated(v).any() and time.perf_counter() < deadline \
            and not (stop is not None and stop.is_set()):
        conservative |= violated(v)
        info["conservative_rows"] = int(conservative.sum())
        raw2, v, _ = run()
        raw = raw2 if raw2 != "INFEASIBLE" else "INFEASIBLE (conservative rows)"
    if v is not None and violated(v).any():
        v = None
    if v is None:
        _, without = CPSAT_STATUS.get(raw, (Status.ERROR, Status.ERROR))
        st = Status.TIME_LIMIT if without is Status.INFEASIBLE else without
        if raw.startswith("INFEASIBLE"):
            st = Status.TIME_LIMIT if time.perf_counter() >= deadline else Status.ERROR
        return _solution(st, None, None, bound, t0, raw, info)
    full = prep.expand(p.n, v)
    cost = float(p.c @ full + p.c0)
    if bound is not None:
        bound = min(bound, cost)
    status = Status.FEASIBLE
    if bound is not None and cost - bound <= _tol(cost):
        status = Status.OPTIMAL
    return _solution(status, full, cost, bound, t0, raw, info)


def _solve_stoppable(solver: Any, model: Any, stop: threading.Event | None) -> Any:
    """``solver.solve(model)``; a watcher thread calls ``stop_search`` once ``stop`` is set."""
    if stop is None:
        return solver.solve(model)
    over = threading.Event()

    def watch() -> None:  # until solve returns: a stop before solve starts is a no-op
        while not over.wait(_POLL):
            if stop.is_set():
                solver.stop_search()

    w = threading.Thread(target=watch, name="cpsat-stop", daemon=True)
    w.start()
    try:
        return solver.solve(model)
    finally:
        over.set()
        w.join()


def _searched(solver: Any) -> bool:
    """Whether CP-SAT got past its presolve into the search (it loaded variables)."""
    r = solver.response_proto
    return bool(r.num_booleans > 0 or r.num_integers > 0)


#: Below this many seconds CP-SAT is not started (building its model alone takes longer).
MIN_TIME = 0.02


#: Seconds between checks of a ``stop`` event while CP-SAT runs.
_POLL = 0.005


def _tol(cost: float) -> float:
    return max(MIP_ABS_GAP, MIP_REL_GAP * abs(cost))


def _solution(status: Status, values: np.ndarray | None, objective: float | None,
              bound: float | None, t0: float, raw: str, info: dict[str, Any]) -> Solution:
    if status is Status.ERROR and raw == "MODEL_INVALID":
        raise SolverError("CP-SAT rejected the model as invalid; this is a bug in the scaling, "
                          "please report it with the model.")
    return Solution(status=status, values=values, objective=objective, bound=bound,
                    time=time.perf_counter() - t0, backend="cpsat", raw_status=raw,
                    nodes=int(info.get("nodes", 0)), info=info)

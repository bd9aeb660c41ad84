"""HiGHS through ``highspy``: the whole model passed as arrays in one call."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.solvers.deadline import Deadline
from recourse.solvers.errors import BackendUnavailableError, SolverError
from recourse.solvers.status import HIGHS_STATUS, Solution, Status

__all__ = ["solve_highs", "available", "route", "PRESOLVE", "WATCHDOG_GRACE"]

#: Relative gap under which HiGHS may call a solution optimal (default 1e-4 is too loose
#: for exact recourse: costs of 1.0 and 1.0001 are different answers).
MIP_REL_GAP = 1e-7
MIP_ABS_GAP = 1e-9
#: Row / integrality feasibility tolerance (HiGHS's MIP default is 1e-6).
FEASIBILITY_TOL = 1e-7
#: HiGHS presolve rules switched off: bit 15 is probing, which on forest models spent
#: whole time limits in presolve (German RandomForest 300x8, a training applicant: > 60 s
#: in probing without it; 14 s to a proven optimum with it off; credit_data 100x6 hard
#: cases 5 % faster). Bit 13 too: with it on, HiGHS 1.16's presolve declared a feasible
#: reduced forest problem infeasible (credit_data RandomForest 100x6, test applicant 29:
#: "optimal" 1.2533 claimed, while 1.25 exists; CP-SAT and HiGHS without presolve find it;
#: kept as ``tests/test_solvers/data/highs_presolve_q29.npz``). Switching bit 13 or bit 16
#: off cures it; bit 13 measured faster (the same 50 applicants: 75 s in all against
#: 86.7 s before, median 0.120 s against 0.129 s). Tie rows between a value and its
#: threshold indicators need a gap well above the feasibility tolerance, or presolve cuts
#: optima off too (``recourse.solvers.values.TIE_GAP``).
PRESOLVE_RULE_OFF = (1 << 15) | (1 << 13)
#: HiGHS presolve for the MILPs of the search: ``"off"`` (the default) or ``"on"`` (with
#: :data:`PRESOLVE_RULE_OFF`). HiGHS 1.16's presolve has cut feasible optima off three
#: times (each cured by one more rule switched off, and the next one appeared) and can
#: hang far past its time limit (``benchmarks/highs_repro/``); without presolve none of
#: these happen, and the engine's own reduction (``recourse.solvers.reduce``) already
#: removes what the bounds decide. A claim of a solve with presolve on is confirmed by a
#: second route before it is reported (``recourse.solvers.search``).
PRESOLVE = "off"
#: Seconds a HiGHS call may overrun its time limit before the watchdog returns without it
#: (HiGHS 1.16 does not poll its time limit, nor a cancel request, inside some presolve
#: loops). The abandoned solve keeps running in its daemon thread until it ends.
WATCHDOG_GRACE = 0.25
#: HiGHS's feasibility-jump heuristic costs ~2.5 ms on every MIP, however small (a 61-column
#: model: 3.6 ms -> 1.1 ms without it); German logistic regression median 11.1 -> 8.7 ms,
#: forests unchanged (their incumbent comes from ``recourse.explain``).
FEASIBILITY_JUMP = False
#: Further HiGHS options, applied to every solve (for experiments and benchmarks).
EXTRA_OPTIONS: dict[str, object] = {}


_BANNER_SHOWN = False


def _new_highs(highspy: Any) -> Any:
    """A Highs instance; the first one in a process prints a banner to fd 1: swallow it."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        _BANNER_SHOWN = True
    return h


def available() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def solve_highs(
    c: np.ndarray,
    c0: float,
    lb: np.ndarray,
    ub: np.ndarray,
    integer: np.ndarray,
    A: sp.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    options: dict[str, object] | None = None,
    deadline: Deadline | None = None,
    presolve: str | None = None,
    stop: threading.Event | None = None,
) -> Solution:
    """Minimise ``c @ v + c0`` s.t. ``row_lo <= A v <= row_hi``, ``lb <= v <= ub``.

    Parameters
    ----------
    time_limit : float
        Seconds for this call; with ``deadline`` the smaller of the two counts.
    threads : int
    options : dict, optional
        Further HiGHS options for this solve only (after ``EXTRA_OPTIONS``).
    deadline : Deadline, optional
        The query's deadline: the call returns by then (plus :data:`WATCHDOG_GRACE`) even
        when HiGHS does not (the status is then ``TIME_LIMIT``, ``raw_status`` says why).
    presolve : {"off", "on"}, optional
        Default :data:`PRESOLVE`. The solution's ``info["route"]`` names the route the
        answer came by (:func:`route`: ``"highs-presolve-off"`` or ``"highs-presolve-on"``).
    stop : threading.Event, optional
        Set by another thread to cancel the solve (``recourse.solvers.race``): HiGHS is
        asked to stop and the call returns ``TIME_LIMIT`` (``info["cancelled"]``) without
        any claim.
    """
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a dependency
        raise BackendUnavailableError(
            "highspy is not installed: pip install 'highspy>=1.16,<1.17'"
        ) from exc
    t0 = time.perf_counter()
    if deadline is not None:
        time_limit = min(float(time_limit), deadline.remaining())
    time_limit = float(max(time_limit, 1e-3))
    presolve = PRESOLVE if presolve is None else presolve
    if presolve not in ("on", "off"):
        raise ValueError(f"presolve must be 'on' or 'off'. Got {presolve!r} instead.")
    h = _new_highs(highspy)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("time_limit", time_limit)
    h.setOptionValue("presolve", presolve)
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("mip_abs_gap", MIP_ABS_GAP)
    h.setOptionValue("mip_feasibility_tolerance", FEASIBILITY_TOL)
    h.setOptionValue("primal_feasibility_tolerance", FEASIBILITY_TOL)
    h.setOptionValue("presolve_rule_off", PRESOLVE_RULE_OFF)
    h.setOptionValue("mip_heuristic_run_feasibility_jump", FEASIBILITY_JUMP)
    for key, value in {**EXTRA_OPTIONS, **(options or {})}.items():
        h.setOptionValue(key, value)
    if stop is not None:  # highspy's cancelSolve is a no-op unless this is on
        h.HandleUserInterrupt = True
    inf = highspy.kHighsInf
    n, m = len(c), A.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.offset_ = float(c0)
    lp.col_lower_ = np.where(np.isfinite(lb), lb, -inf).astype(np.float64)
    lp.col_upper_ = np.where(np.isfinite(ub), ub, inf).astype(np.float64)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf).astype(np.float64)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf).astype(np.float64)
    csc = sp.csc_matrix(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    if np.any(integer):
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in integer
        ]
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise SolverError(
            f"HiGHS rejected the model ({n} columns, {m} rows); this is a bug in the "
            "problem construction, please report it with the model."
        )
    got = h.getOptionValue("presolve")  # EXTRA_OPTIONS / options may override it
    presolve = str(got[1] if isinstance(got, tuple) else got)
    finished = _run(h, time_limit + WATCHDOG_GRACE, stop)
    if stop is not None and stop.is_set():
        return Solution(
            status=Status.TIME_LIMIT, values=None, objective=None, bound=None,
            time=time.perf_counter() - t0, backend="highs",
            raw_status="cancelled (another route answered first)",
            info={"route": route(presolve), "cancelled": True, "finished": finished})
    if not finished:
        return Solution(
            status=Status.TIME_LIMIT, values=None, objective=None, bound=None,
            time=time.perf_counter() - t0, backend="highs",
            raw_status=f"HiGHS overran its {time_limit:.3g} s time limit (abandoned)",
            info={"route": route(presolve), "watchdog": True})
    raw = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    with_sol, without = HIGHS_STATUS.get(raw, (Status.ERROR, Status.ERROR))
    status = with_sol if has_sol else without
    values = np.array(h.getSolution().col_value) if has_sol else None
    objective = float(info.objective_function_value) if has_sol else None
    bound: float | None
    if np.any(integer):
        bound = float(info.mip_dual_bound)
        if not np.isfinite(bound):
            bound = None
    else:
        bound = objective if status is Status.OPTIMAL else None
    if status is Status.OPTIMAL and bound is None:
        bound = objective
    return Solution(
        status=status,
        values=values,
        objective=objective,
        bound=bound,
        time=time.perf_counter() - t0,
        backend="highs",
        raw_status=raw,
        nodes=int(getattr(info, "mip_node_count", 0) or 0),
        info={"route": route(presolve)},
    )


def route(presolve: str) -> str:
    """The certificate name of a HiGHS solve: ``"highs-presolve-off"`` or
    ``"highs-presolve-on"``."""
    return f"highs-presolve-{'off' if presolve == 'off' else 'on'}"


#: Solves the watchdog gave up on: kept referenced, so that no ``Highs`` object is freed
#: while its thread still runs.
_ABANDONED: list[tuple[Any, threading.Thread]] = []
#: Seconds between checks of a ``stop`` event while HiGHS runs.
_POLL = 0.005


def _run(h: Any, wall: float, stop: threading.Event | None = None) -> bool:
    """``h.run()`` in a daemon thread, waited for at most ``wall`` seconds (or until
    ``stop`` is set).

    Returns whether it finished. A solve past ``wall`` (or stopped) is asked to stop and
    abandoned (HiGHS 1.16 may not stop: see :data:`WATCHDOG_GRACE`).
    """
    done = threading.Event()

    def work() -> None:
        try:
            h.run()
        finally:
            done.set()

    t = threading.Thread(target=work, name="highs-solve", daemon=True)
    t.start()
    if stop is None:
        if done.wait(wall):
            return True
    else:
        end = time.perf_counter() + wall
        while not done.wait(min(_POLL, max(0.0, end - time.perf_counter()))):
            if stop.is_set() or time.perf_counter() >= end:
                break
        if done.is_set():
            return True
    try:
        h.cancelSolve()
    except Exception:  # pragma: no cover - older highspy
        pass
    if stop is not None and stop.is_set() and done.wait(WATCHDOG_GRACE):
        return True  # stopped and ended: nothing left running
    _ABANDONED.append((h, t))
    return False

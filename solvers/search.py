"""One objective, searched only below the incumbent: prune, reduce, solve, certify.

Every claim that ends a search ("the incumbent is optimal", "no answer exists", "this
answer is optimal") names its certificate in the phase result's ``certified_by``:

``"tree-bounds"``
    the engine's own tree bounds (``recourse.solvers.prune.prune``) leave no leaf of some
    tree reachable below the incumbent's cost;
``"bounds"``
    the row activity bounds of ``recourse.solvers.reduce`` prove the cost-bounded problem
    infeasible, or leave no row (each column at its cheaper bound is then optimal);
``"highs-presolve-off"``, ``"cpsat"``
    a solver route trusted on its own (:data:`TRUSTED_ROUTES`): HiGHS without presolve
    (whose reductions cut feasible optima off three times) or CP-SAT, which shares no code
    with HiGHS;
``None``
    nothing was proven (time limit, error, or routes that disagree without a re-solve).

A claim by any other route (HiGHS with presolve, Pyomo's solvers) is confirmed by
HiGHS without presolve on the same cost-bounded problem before it is reported
(:data:`CERTIFY`). When the two disagree, the better point that meets every row is kept,
the problem is re-solved below it by the trusted route, and ``certificate_disagreement``
records what each route said.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.solvers.backends import MilpArrays, check, route, solve
from recourse.solvers.deadline import Deadline
from recourse.solvers.incumbent import ascent_start
from recourse.solvers.problem import RecourseProblem
from recourse.solvers.prune import prune, reach_bound
from recourse.solvers.reduce import Reduced, reduce_model
from recourse.solvers.status import Solution, Status

__all__ = ["solve_phase", "satisfies", "CERTIFY", "TRUSTED_ROUTES", "CHECK_ROUTE"]

#: Solver routes whose optimality and infeasibility claims stand on their own.
TRUSTED_ROUTES = frozenset({"highs-presolve-off", "cpsat"})
#: The route that confirms the claims of every other route (backend, options).
CHECK_ROUTE: tuple[str, dict[str, Any]] = ("highs", {"presolve": "off"})
#: ``"untrusted"`` (default): confirm the claims of routes outside :data:`TRUSTED_ROUTES`;
#: ``"off"``: report every solver claim as its route's (for overhead measurements only).
CERTIFY = "untrusted"


def _as_deadline(deadline: float | Deadline) -> Deadline:
    if isinstance(deadline, Deadline):
        return deadline
    return Deadline(time.perf_counter(), float(deadline))


def solve_phase(prob: RecourseProblem, norm: str, incumbent: np.ndarray | None,
                 deadline: float | Deadline, backend: str = "highs",
                 options: Mapping[str, Any] | None = None,
                 ascent_deadline: Deadline | None = None) -> dict[str, Any]:
    """Minimise one objective, searching only for answers cheaper than the incumbent.

    Fixes each move that costs at least the incumbent on its own, drops the leaves that
    become unreachable or too far, bounds every tree (``prune``), removes what the bounds
    decide (``reduce_model``) and asks the solver for a strictly cheaper answer: an
    infeasible answer proves the incumbent optimal. (Restarting the solver with tighter
    pruning whenever it improves the incumbent was measured too: slower on credit_data's
    hard cases, as the solver loses its search tree.)

    ``backend`` names a ``recourse.solvers.backends`` backend (or ``"auto"``) and ``options`` its
    options; the result's ``backend`` says which one ran (``None``: the bounds decided).
    ``deadline`` is a :class:`~recourse.solvers.deadline.Deadline` (or, as before, an
    absolute ``time.perf_counter()`` time). With ``ascent_deadline``, a large reduced tree
    problem first gets a cheaper incumbent from the margin ascent
    (``recourse.solvers.incumbent.ascent_start``, until that deadline) and is pruned again
    below it: both work on the problem this search reduced anyway.

    Returns
    -------
    dict
        ``status``, ``values``, ``objective``, ``bound``, ``raw``, ``time``, ``backend``,
        ``incumbent``, ``problem``; ``certified_by`` (see the module docstring: what proved
        an ``OPTIMAL`` / ``INFEASIBLE`` status, ``None`` for every other status);
        ``certificate_disagreement`` (only when routes disagreed: a list of
        ``{"route", "status", "objective"}``, first the claim, then its check, then the
        re-solve); ``certify_time`` (seconds spent confirming, 0 when nothing was checked).
    """
    deadline = _as_deadline(deadline)
    c, c0 = prob.objective(norm)
    t0 = time.perf_counter()
    if backend not in ("highs", "auto"):  # fail early, whether or not a solver runs
        check(MilpArrays(c, c0, prob.lb, prob.ub, prob.integer, prob.A, prob.row_lo,
                         prob.row_hi), backend)
    if incumbent is not None and not satisfies(prob, incumbent):
        incumbent = None  # a heuristic's point that breaks a row is no valid cutoff
    upper = float(c @ incumbent + c0) if incumbent is not None else np.inf
    res: dict[str, Any] = {"incumbent": incumbent is not None, "backend": None,
                           "certified_by": None, "certify_time": 0.0}

    def done(status: Status, values: np.ndarray | None, bound: float | None,
             raw: str, by: str | None = None) -> dict[str, Any]:
        obj = float(c @ values + c0) if values is not None else None
        res.update(status=status, values=values, objective=obj, bound=bound, raw=raw,
                   time=time.perf_counter() - t0,
                   certified_by=by if status in (Status.OPTIMAL, Status.INFEASIBLE) else None)
        return res

    pruned, red = _below(prob, norm, upper)
    if ascent_deadline is not None and red is not None and not red.infeasible:
        better = ascent_start(prob, red, norm, incumbent, ascent_deadline)
        if better is not None and better is not incumbent and satisfies(prob, better):
            incumbent, upper = better, float(c @ better + c0)
            res["incumbent"] = True
            pruned, red = _below(prob, norm, upper)
    blocked = red is None
    res["problem"] = replace(pruned, stats=dict(
        pruned.stats, reduced_vars=0 if red is None else int(red.keep.size),
        reduced_rows=0 if red is None else int(red.A.shape[0])))
    if red is None or red.infeasible:
        raw = "proven by tree bounds" if blocked else "infeasible by bounds"
        bounds_by = "tree-bounds" if blocked else "bounds"
        if incumbent is None:
            return done(Status.INFEASIBLE, None, None, raw, bounds_by)
        return done(Status.OPTIMAL, incumbent, upper, raw, bounds_by)
    trivial = red.trivial()
    if trivial is not None:
        fixed = red.expand(trivial)[: prob.n]
        return done(Status.OPTIMAL, fixed, float(c @ fixed + c0), "solved by bounds",
                    "bounds")
    if deadline.remaining() < MIN_SOLVE_TIME:
        # no time left to start a solver (setting one up alone takes longer): the
        # incumbent stands, unproven
        raw = "time limit reached before a solver could start"
        if incumbent is not None:
            return done(Status.FEASIBLE, incumbent, _floor(prob, pruned, norm, upper, None),
                        raw)
        return done(Status.TIME_LIMIT, None, None, raw)
    milp = MilpArrays.of(red)
    sol = solve(milp, backend, options=options, deadline=deadline)
    res["backend"] = sol.backend
    info = {k: v for k, v in sol.info.items() if k != "route"}
    if info:
        res["problem"] = replace(res["problem"], stats=dict(
            res["problem"].stats, **{f"{sol.backend}_{k}": v for k, v in info.items()}))
    by: str | None = route(sol)
    if sol.status in (Status.INFEASIBLE, Status.OPTIMAL) and by not in TRUSTED_ROUTES \
            and CERTIFY != "off":
        t_check = time.perf_counter()
        sol, by = _confirm(prob, red, milp, sol, res, deadline, c, c0, upper)
        res["certify_time"] = time.perf_counter() - t_check
    values = red.expand(sol.values)[: prob.n] if sol.values is not None else None
    if sol.status is Status.INFEASIBLE:
        if incumbent is None:
            return done(Status.INFEASIBLE, None, None, sol.raw_status, by)
        return done(Status.OPTIMAL, incumbent, upper, sol.raw_status, by)
    if sol.status is Status.OPTIMAL:
        return done(Status.OPTIMAL, values, sol.bound, sol.raw_status, by)
    bound = _floor(prob, res["problem"], norm, upper, sol.bound)
    if values is not None:
        return done(Status.FEASIBLE, values, bound, sol.raw_status)
    if incumbent is not None:
        return done(Status.FEASIBLE, incumbent, bound, sol.raw_status)
    return done(sol.status, None, sol.bound, sol.raw_status)


def _floor(prob: RecourseProblem, pruned: RecourseProblem, norm: str, upper: float,
           solver_bound: float | None) -> float | None:
    """The proven lower bound of an unproven phase: the better of the solver's bound and
    the engine's own tree bound (``reach_bound``), capped by the incumbent's cost (the
    cost-bounded problem holds only what is cheaper); ``None`` when neither exists."""
    bounds = [b for b in (solver_bound, reach_bound(prob, pruned, norm)) if b is not None]
    if not bounds:
        return None
    return min(upper, max(bounds))


#: Seconds a solver needs at least to be worth starting: with less left, the search returns
#: its incumbent unproven (handing HiGHS a 1 ms limit cost 0.2-0.3 s on a loaded machine,
#: the model's setup alone, for nothing).
MIN_SOLVE_TIME = 0.01


def _below(prob: RecourseProblem, norm: str,
           upper: float) -> tuple[RecourseProblem, Reduced | None]:
    """``prob`` pruned below ``upper`` (with the cost row ``cost < upper``) and the
    reduced arrays; ``None`` for them when the tree bounds alone prove that nothing
    cheaper exists (nothing is left to reduce or solve)."""
    c0 = prob.objective(norm)[1]
    pruned, blocked = prune(prob, norm, upper)
    if blocked:
        return pruned, None
    cp, _ = pruned.objective(norm)  # prune may add a column (the leaf-distance cuts)
    if np.isfinite(upper):
        tol = 1e-9 * max(1.0, abs(upper))
        pruned = pruned.with_rows(sp.csr_matrix(cp[None, :]), np.array([-np.inf]),
                                  np.array([upper - c0 - tol]))
    red = reduce_model(cp, c0, pruned.lb, pruned.ub, pruned.integer, pruned.A,
                       pruned.row_lo, pruned.row_hi)
    return pruned, red


def _confirm(prob: RecourseProblem, red: Reduced, milp: MilpArrays, sol: Solution,
             res: dict[str, Any], deadline: Deadline, c: np.ndarray, c0: float,
             upper: float) -> tuple[Solution, str | None]:
    """Check a claim (``sol``: ``OPTIMAL`` or ``INFEASIBLE`` on the cost-bounded ``milp``)
    by :data:`CHECK_ROUTE`; returns the solution to report and its certificate.

    Agreement (both infeasible, or both optimal at the same cost within the solvers' gap)
    certifies the claim by the check's route. Otherwise the better of the two points that
    meet every row of ``prob`` is kept and ``milp`` is re-solved strictly below it by the
    check's route; ``res["certificate_disagreement"]`` records all three answers.
    """
    name, opts = CHECK_ROUTE
    chk = solve(milp, name, options=opts, deadline=deadline)
    by = route(chk)

    def said(s: Solution) -> dict[str, Any]:
        return {"route": route(s), "status": s.status.value,
                "objective": float(s.objective) if s.objective is not None else None}

    tol = 1e-6 * max(1.0, abs(upper) if np.isfinite(upper) else 1.0)
    if sol.status is Status.INFEASIBLE and chk.status is Status.INFEASIBLE:
        return sol, by
    if sol.status is Status.OPTIMAL and chk.status is Status.OPTIMAL and \
            abs(float(sol.objective) - float(chk.objective)) <= tol:  # type: ignore[arg-type]
        return sol, by
    if chk.status not in (Status.OPTIMAL, Status.INFEASIBLE, Status.FEASIBLE):
        return replace(sol, status=Status.FEASIBLE if sol.values is not None
                       else Status.TIME_LIMIT), None  # unconfirmed: no claim
    # the routes disagree: keep the better point that meets every row, re-solve below it
    record = [said(sol), said(chk)]
    best, best_cost = None, np.inf
    for s in (sol, chk):
        if s.values is None:
            continue
        v = red.expand(s.values)[: prob.n]
        cost = float(c @ v + c0)
        if satisfies(prob, v) and cost < best_cost:
            best, best_cost = s.values, cost
    if best is None:  # no point: the check found none either, yet did not prove it
        res["certificate_disagreement"] = record
        return replace(sol, status=Status.TIME_LIMIT, values=None, objective=None), None
    below = replace(milp, A=sp.vstack([milp.A, sp.csr_matrix(milp.c[None, :])]).tocsr(),
                    row_lo=np.append(milp.row_lo, -np.inf),
                    row_hi=np.append(milp.row_hi, best_cost - milp.c0
                                     - 1e-9 * max(1.0, abs(best_cost))))
    again = solve(below, name, options=opts, deadline=deadline)
    record.append(said(again))
    res["certificate_disagreement"] = record
    if again.status is Status.INFEASIBLE:  # nothing cheaper than the best point
        return Solution(status=Status.OPTIMAL, values=best, objective=best_cost,
                        bound=best_cost, time=sol.time + chk.time + again.time,
                        backend=chk.backend, raw_status="optimal after a re-solve",
                        info=chk.info), route(again)
    if again.status is Status.OPTIMAL:
        return again, route(again)
    if again.values is not None:
        return replace(again, status=Status.FEASIBLE), None
    return Solution(status=Status.FEASIBLE, values=best, objective=best_cost, bound=None,
                    time=sol.time + chk.time + again.time, backend=chk.backend,
                    raw_status="routes disagree; re-solve unfinished", info=chk.info), None


def satisfies(prob: RecourseProblem, v: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether ``v`` meets every bound, integrality and row of ``prob``: a first solution
    sets the cutoff (``cost < cost(v)``) and, when nothing cheaper exists, *is* the answer
    called optimal, so one that breaks a row (say, a margin or an exclusion the heuristic
    did not know) must not be used."""
    if v.shape != prob.lb.shape:
        return False
    if np.any(v < prob.lb - tol) or np.any(v > prob.ub + tol):
        return False
    if np.any(np.abs(v[prob.integer] - np.round(v[prob.integer])) > tol):
        return False
    Av = prob.A @ v
    scale = tol * np.maximum(1.0, np.abs(Av))
    return bool(np.all(Av >= prob.row_lo - scale) and np.all(Av <= prob.row_hi + scale))

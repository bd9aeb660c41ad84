"""One objective, searched only below the incumbent: prune, reduce, solve."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.solvers import variants
from recourse.solvers.backends import MilpArrays, check, solve
from recourse.solvers.local_search import LOCAL_BUDGET, improve
from recourse.solvers.problem import RecourseProblem, prune
from recourse.solvers.reduce import reduce_model
from recourse.solvers.status import Status

__all__ = ["solve_phase", "satisfies"]


def solve_phase(prob: RecourseProblem, norm: str, incumbent: np.ndarray | None,
                 deadline: float, backend: str = "highs",
                 options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Minimise one objective, searching only for answers cheaper than the incumbent.

    Fixes each move that costs at least the incumbent on its own, drops the leaves that
    become unreachable or too far, bounds every tree (``prune``), removes what the bounds
    decide (``reduce_model``) and asks the solver for a strictly cheaper answer: an
    infeasible answer proves the incumbent optimal. (Restarting the solver with tighter
    pruning whenever it improves the incumbent was measured too: slower on credit_data's
    hard cases, as the solver loses its search tree.)

    ``backend`` names a ``recourse.solvers.backends`` backend (or ``"auto"``) and ``options`` its
    options; the result's ``backend`` says which one ran (``None``: the bounds decided).
    """
    c, c0 = prob.objective(norm)
    t0 = time.perf_counter()
    if backend not in ("highs", "auto"):  # fail early, whether or not a solver runs
        check(MilpArrays(c, c0, prob.lb, prob.ub, prob.integer, prob.A, prob.row_lo,
                         prob.row_hi), backend)
    if incumbent is not None and not satisfies(prob, incumbent):
        incumbent = None  # a heuristic's point that breaks a row is no valid cutoff
    if incumbent is not None and variants.is_on("local"):  # solvers.local_search
        better = improve(prob, norm, incumbent, time_budget=min(
            LOCAL_BUDGET, 0.1 * max(0.0, deadline - time.perf_counter())))
        incumbent = better if satisfies(prob, better) else incumbent
    upper = float(c @ incumbent + c0) if incumbent is not None else np.inf
    res: dict[str, Any] = {"incumbent": incumbent is not None, "backend": None}

    def done(status: Status, values: np.ndarray | None, bound: float | None,
             raw: str) -> dict[str, Any]:
        obj = float(c @ values + c0) if values is not None else None
        res.update(status=status, values=values, objective=obj, bound=bound, raw=raw,
                   time=time.perf_counter() - t0)
        return res

    pruned, blocked = prune(prob, norm, upper)
    cp, _ = pruned.objective(norm)  # prune may add a column (the leaf-distance cuts)
    if np.isfinite(upper):
        tol = 1e-9 * max(1.0, abs(upper))
        pruned = pruned.with_rows(sp.csr_matrix(cp[None, :]), np.array([-np.inf]),
                                  np.array([upper - c0 - tol]))
    red = reduce_model(cp, c0, pruned.lb, pruned.ub, pruned.integer, pruned.A,
                       pruned.row_lo, pruned.row_hi)
    res["problem"] = replace(pruned, stats=dict(
        pruned.stats, reduced_vars=int(red.keep.size), reduced_rows=int(red.A.shape[0])))
    if blocked or red.infeasible:
        raw = "proven by tree bounds" if blocked else "infeasible by bounds"
        if incumbent is None:
            return done(Status.INFEASIBLE, None, None, raw)
        return done(Status.OPTIMAL, incumbent, upper, raw)
    trivial = red.trivial()
    if trivial is not None:
        fixed = red.expand(trivial)[: prob.n]
        return done(Status.OPTIMAL, fixed, float(c @ fixed + c0), "solved by bounds")
    sol = solve(MilpArrays.of(red), backend, options=options,
                time_limit=max(1e-3, deadline - time.perf_counter()))
    res["backend"] = sol.backend
    if sol.info:
        res["problem"] = replace(res["problem"], stats=dict(
            res["problem"].stats, **{f"{sol.backend}_{k}": v for k, v in sol.info.items()}))
    values = red.expand(sol.values)[: prob.n] if sol.values is not None else None
    if sol.status is Status.INFEASIBLE:
        if incumbent is None:
            return done(Status.INFEASIBLE, None, None, sol.raw_status)
        return done(Status.OPTIMAL, incumbent, upper, sol.raw_status)
    if sol.status is Status.OPTIMAL:
        return done(Status.OPTIMAL, values, sol.bound, sol.raw_status)
    bound = min(upper, sol.bound) if sol.bound is not None else None
    if values is not None:
        return done(Status.FEASIBLE, values, bound, sol.raw_status)
    if incumbent is not None:
        return done(Status.FEASIBLE, incumbent, bound, sol.raw_status)
    return done(sol.status, None, sol.bound, sol.raw_status)


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

"""Stage 3, solve: one objective (L1 or L0), or fewest changes then the cheapest of those
(``l0_l1``: the L0 optimum fixed by a row, then L1), each searched only below the best
starting point (``recourse.solvers.search.solve_phase``: prune, reduce, solve, certify).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.engine.build import HEURISTICS_SHARE, build
from recourse.engine.query import SolveContext
from recourse.solvers.highs import WATCHDOG_GRACE
from recourse.solvers.incumbent import find_incumbent
from recourse.solvers.problem import RecourseProblem, decode
from recourse.solvers.search import satisfies, solve_phase
from recourse.solvers.status import Status
from recourse.solvers.values import fill_values

__all__ = ["Phase", "solve"]


@dataclass
class Phase:
    """What a solve hands on (typed; see ``recourse.solvers.search.solve_phase``).

    ``status`` is the solver-level status, ``values`` the point (None: none),
    ``bound`` the proven lower bound of the phase's objective (``l0_bound``: of the L0
    phase of ``l0_l1``), ``raw`` the backend's own status text, ``certified_by`` how an
    optimality or infeasibility claim was proven, ``backend`` which backend ran (None:
    the engine's own bounds decided).
    """

    status: Status
    values: np.ndarray | None
    bound: float | None
    raw: str
    time: float
    problem: RecourseProblem
    backend: str | None = None
    incumbent: bool = False
    l0_bound: float | None = None
    certified_by: str | None = None
    certify_time: float = 0.0
    disagreement: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, out: dict[str, Any]) -> Phase:
        return cls(status=out["status"], values=out["values"], bound=out.get("bound"),
                   raw=str(out.get("raw", "")), time=float(out.get("time", 0.0)),
                   problem=out["problem"], backend=out.get("backend"),
                   incumbent=bool(out.get("incumbent", False)),
                   certified_by=out.get("certified_by"),
                   certify_time=float(out.get("certify_time", 0.0) or 0.0),
                   disagreement=out.get("certificate_disagreement"))


#: Share of a query's time limit kept back from the solver (at most 0.25 s) for what
#: follows it: decoding, verification with the model's own predict, the result; and at
#: least twice the model's last measured verification time; the solver's deadline is
#: earlier still by the HiGHS watchdog's grace (``recourse.solvers.highs.WATCHDOG_GRACE``).
VERIFY_RESERVE = 0.1


def _phase(prob: RecourseProblem, norm: str, inc: np.ndarray | None,
           ctx: SolveContext, ascent: bool = False) -> Phase:
    P, d = ctx.prepared, ctx.query.deadline
    reserve = max(min(0.25, VERIFY_RESERVE * d.limit), 2.0 * P.timing.get("verify", 0.0))
    # a HiGHS call may overrun its own limit by the watchdog's grace before it returns
    solver_deadline = d.before(reserve + WATCHDOG_GRACE)
    return Phase.of(solve_phase(prob, norm, inc, solver_deadline, P.backend,
                                P.backend_options,
                                ascent_deadline=ctx.info.get("ascent") if ascent else None))


def solve(ctx: SolveContext) -> Phase:
    """Build and solve one attempt of a query (see module docstring)."""
    q = ctx.query
    prob, inc = build(ctx)
    first = _phase(prob, "l1" if q.norm == "l1" else "l0", inc, ctx, ascent=True)
    if q.norm != "l0_l1" or first.values is None:
        return first
    k_star = float(prob.l0 @ first.values + prob.l0_0)
    tol = 1e-7 * max(1.0, k_star)
    prob2 = prob.with_rows(sp.csr_matrix(prob.l0[None, :]), np.array([-np.inf]),
                           np.array([k_star - prob.l0_0 + tol]))
    inc2 = first.values
    alt = None
    # the second phase's start gets the heuristics' share of what is left, as the first's
    hd = q.deadline.share(HEURISTICS_SHARE)
    if ctx.view is not None and ctx.plain is not None:
        alt = find_incumbent(ctx.plain, "l1", _ref(ctx), l0_cap=k_star + tol,
                             deadline=hd)
        alt = fill_values(prob2, ctx.view, decode(ctx.plain, alt)) if alt is not None else None
        alt = alt if alt is not None and satisfies(prob2, alt) else None
    elif ctx.use_incumbent and ctx.causal_vars is None and ctx.view is None:
        alt = find_incumbent(prob, "l1", _ref(ctx), l0_cap=k_star + tol, deadline=hd)
    if alt is not None and prob.l1 @ alt < prob.l1 @ inc2:
        inc2 = alt
    second = _phase(prob2, "l1", inc2, ctx)
    second.time += first.time
    if first.status is not Status.OPTIMAL and second.status is Status.OPTIMAL:
        second.status = Status.FEASIBLE
    second.l0_bound = first.bound
    # the answer is proven only when both phases are: name both certificates
    second.certified_by = (f"{first.certified_by} (L0), {second.certified_by} (L1)"
                           if first.certified_by and second.certified_by else None)
    second.certify_time += first.certify_time
    if first.disagreement is not None:
        second.disagreement = [first.disagreement, second.disagreement]
    return second


def _ref(ctx: SolveContext) -> np.ndarray | None:
    P, q = ctx.prepared, ctx.query
    if P.ref is None:
        return None
    return P.ref if q.goal is not None else P.ref[P.ref_pred == q.t_idx]

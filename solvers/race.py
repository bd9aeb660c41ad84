"""Two solver routes on one problem at once, the first proof wins: HiGHS against CP-SAT.

HiGHS (one thread, without presolve) and CP-SAT (its own worker count, one by default)
each solve the same :class:`~recourse.solvers.backends.MilpArrays` in a thread of their
own, under the same time limit. The first to *prove* something (``OPTIMAL`` or
``INFEASIBLE``) wins and the other is stopped (CP-SAT by ``stop_search``, HiGHS by
``cancelSolve``; a HiGHS solve that does not stop within
``recourse.solvers.highs.WATCHDOG_GRACE`` is abandoned as the watchdog abandons it). When
neither proves anything before the limit, the better point found is returned with the
larger of the two lower bounds (both are valid bounds of the same problem).

The answer keeps its own route's name (``info["route"]``: ``"cpsat"`` or
``"highs-presolve-off"``), so ``recourse.solvers.search`` certifies it as it would
certify that route alone; ``info["race_winner"]`` and ``info["race_loser"]`` (the
loser's status when stopped) say what happened. Problems CP-SAT cannot take (continuous
variables), and problems below :data:`RACE_MIN_VARS` variables, go to HiGHS alone.

Measured, and not the default: on a 2-core machine shared with other work, the race was
slower than CP-SAT alone (``backend="auto"``) on the hard forests and slower than HiGHS
on small ones (``python benchmarks/peers.py --datasets credit_data --models
rf100x6,rf300x8 --n 15 --time-limit 30 --variants race,auto --no-peer``, per-query time
ratios against HiGHS in one run, medians: credit_data RF 100x6 race 1.16, auto 0.86;
RF 300x8 race 1.01, auto 0.99, medians 24.8 s and 16.0 s against 27.2 s; German RF
100x6 race 1.65, auto 1.08). Each route gets half the machine, so the winner finishes
about half as fast as it would alone; the race pays only where a second core is free.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recourse.solvers.status import Solution, Status

if TYPE_CHECKING:
    from recourse.solvers.backends import MilpArrays

__all__ = ["solve_race", "ROUTES"]

#: The racing routes, in the order they are started.
ROUTES = ("highs", "cpsat")
#: Problems with fewer variables go to HiGHS alone: a race's second thread and CP-SAT's
#: model build cost more than they can save where HiGHS is fast anyway (below 300
#: reduced variables HiGHS beat CP-SAT on every query measured, see
#: ``recourse.solvers.backends.AUTO_RULE``).
RACE_MIN_VARS = 300
_DECISIVE = (Status.OPTIMAL, Status.INFEASIBLE)


def _route_of(sol: Solution) -> str:
    """The certificate name of a HiGHS or CP-SAT answer (as ``backends.route``)."""
    return str(sol.info.get("route", sol.backend))


def solve_race(p: MilpArrays, time_limit: float, options: Mapping[str, Any]) -> Solution:
    """Solve ``p`` by HiGHS and CP-SAT at once; the first proof wins (module docstring).

    ``options``: ``{"highs": {...}, "cpsat": {...}}``, each passed to that backend.
    """
    from recourse.solvers.cpsat import rejects, solve_cpsat, unavailable
    from recourse.solvers.highs import solve_highs

    unknown = set(options) - set(ROUTES)
    if unknown:
        from recourse.solvers.errors import UnsupportedProblemError

        raise UnsupportedProblemError(
            f"Unknown option(s) {sorted(unknown)} for the 'race' backend; it takes one "
            f"dict of options per route: {list(ROUTES)}.")
    h_opts = dict(options.get("highs", {}))
    c_opts = dict(options.get("cpsat", {}))
    if set(h_opts) - {"threads", "presolve"} or h_opts.get("presolve") not in (None, "on", "off"):
        from recourse.solvers.errors import UnsupportedProblemError

        raise UnsupportedProblemError(
            f"The 'race' backend's HiGHS options are 'threads' and 'presolve' ('off' or "
            f"'on'). Got {h_opts!r} instead.")
    alone = ("not run (below RACE_MIN_VARS variables)" if p.n < RACE_MIN_VARS else
             "not run (CP-SAT cannot take it)"
             if unavailable() is not None or rejects(p) is not None else None)
    presolve = h_opts.get("presolve")

    def highs(stop: threading.Event | None = None) -> Solution:
        return solve_highs(p.c, p.c0, p.lb, p.ub, p.integer, p.A, p.row_lo, p.row_hi,
                           time_limit=time_limit, threads=int(h_opts.get("threads", 1)),
                           presolve=None if presolve is None else str(presolve), stop=stop)

    if alone is not None:
        sol = highs()
        return replace(sol, info=dict(sol.info, route=_route_of(sol), race_winner="highs",
                                      race_loser=alone))
    t0 = time.perf_counter()
    stops = {name: threading.Event() for name in ROUTES}
    calls: dict[str, Callable[[], Solution]] = {
        "highs": lambda: highs(stops["highs"]),
        "cpsat": lambda: solve_cpsat(p, time_limit=time_limit, stop=stops["cpsat"], **c_opts),
    }
    out: queue.Queue[tuple[str, Solution | BaseException]] = queue.Queue()

    def work(name: str) -> None:
        try:
            out.put((name, calls[name]()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            out.put((name, exc))

    threads = [threading.Thread(target=work, args=(name,), name=f"race-{name}", daemon=True)
               for name in ROUTES]
    for t in threads:
        t.start()
    got: dict[str, Solution | BaseException] = {}
    winner: str | None = None
    while len(got) < len(ROUTES):
        name, res = out.get()
        got[name] = res
        if winner is None and isinstance(res, Solution) and res.status in _DECISIVE:
            winner = name
            for other in ROUTES:
                if other != name:
                    stops[other].set()
    # every thread has returned: a stopped CP-SAT returns at once, a stopped HiGHS after
    # at most its watchdog's grace (then abandoned, as the watchdog does)
    sols = {k: v for k, v in got.items() if isinstance(v, Solution)}
    if not sols:
        raise next(iter(got.values()))  # type: ignore[misc]
    if winner is None:  # no proof: the better point, the better bound
        with_point = [s for s in sols.values() if s.values is not None]
        best = min(with_point, key=lambda s: float(s.objective or 0.0)) if with_point \
            else next(iter(sols.values()))
        winner = best.backend
        bounds = [s.bound for s in sols.values() if s.bound is not None]
        bound = max(bounds) if bounds else None
        if bound is not None and best.objective is not None:
            bound = min(bound, float(best.objective))
        status = best.status if best.values is not None else Status.TIME_LIMIT
        if status in _DECISIVE:  # pragma: no cover - excluded by winner is None
            status = Status.FEASIBLE
        sol = replace(best, bound=bound, status=status)
    else:
        sol = sols[winner]
    loser = [k for k in ROUTES if k != winner][0]
    lost = got.get(loser)
    info = dict(sol.info, route=_route_of(sol), race_winner=winner,
                race_loser=(lost.status.value if isinstance(lost, Solution)
                            else f"error: {lost!r}"))
    return replace(sol, backend="race", time=time.perf_counter() - t0, info=info)

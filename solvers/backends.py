"""One interface to every MILP backend: a registry of name -> :class:`Backend`.

A backend takes a :class:`MilpArrays` (the reduced, solver-neutral problem

    minimise ``c @ v + c0``  s.t.  ``row_lo <= A v <= row_hi``,  ``lb <= v <= ub``,
    ``v_i`` integer where ``integer[i]``)

and returns a :class:`recourse.solvers.status.Solution`. Every backend claims ``OPTIMAL`` only when
its solver proved it (CP-SAT: after accounting for its integer scaling, see
``recourse.solvers.cpsat``). The registry knows, per backend, whether it is installed (and which
extra installs it) and whether it can take a given problem, so a user gets a clear error
naming the backends that can.

``"auto"`` picks a backend per problem (:func:`choose`); the rule and the measurements
behind it are in :data:`AUTO_RULE`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.solvers.deadline import Deadline
from recourse.solvers.errors import BackendUnavailableError, UnsupportedProblemError
from recourse.solvers.status import Solution

__all__ = ["MilpArrays", "Backend", "BACKENDS", "backend_names", "get_backend", "choose",
           "solve", "check", "capable", "route", "AUTO_RULE", "AUTO_CPSAT_MIN_VARS",
           "AUTO_CPSAT_MIN_TIME"]


@dataclass(frozen=True)
class MilpArrays:
    """A MILP in arrays (see module docstring); ``A`` is CSR, infinite bounds are ``inf``."""

    c: np.ndarray
    c0: float
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray

    @property
    def n(self) -> int:
        return int(self.lb.shape[0])

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @classmethod
    def of(cls, obj: Any) -> MilpArrays:
        """From anything with the eight attributes (e.g. ``recourse.solvers.reduce.Reduced``)."""
        return cls(c=np.asarray(obj.c, dtype=float), c0=float(obj.c0),
                   lb=np.asarray(obj.lb, dtype=float), ub=np.asarray(obj.ub, dtype=float),
                   integer=np.asarray(obj.integer, dtype=bool), A=sp.csr_matrix(obj.A),
                   row_lo=np.asarray(obj.row_lo, dtype=float),
                   row_hi=np.asarray(obj.row_hi, dtype=float))


SolveFn = Callable[[MilpArrays, float, Mapping[str, Any]], Solution]


@dataclass(frozen=True)
class Backend:
    """A registered backend.

    Attributes
    ----------
    name : str
    solve : callable ``(problem, time_limit, options) -> Solution``
    unavailable : callable ``() -> str | None``
        ``None`` when the backend can run here, else why not and what to install.
    rejects : callable ``(problem) -> str | None``
        ``None`` when the backend can take ``problem``, else why not.
    description : str
    """

    name: str
    solve: SolveFn
    unavailable: Callable[[], str | None]
    rejects: Callable[[MilpArrays], str | None]
    description: str


def _highs_solve(p: MilpArrays, time_limit: float, options: Mapping[str, Any]) -> Solution:
    from recourse.solvers.highs import solve_highs

    unknown = set(options) - {"threads", "presolve"}
    if unknown:
        raise UnsupportedProblemError(
            f"Unknown option(s) {sorted(unknown)} for the 'highs' backend; it takes "
            "'threads' and 'presolve' ('off' or 'on').")
    presolve = options.get("presolve")
    if presolve is not None and presolve not in ("off", "on"):
        raise UnsupportedProblemError(
            f"The 'highs' backend's 'presolve' option must be 'off' or 'on'. Got "
            f"{presolve!r} instead.")
    return solve_highs(p.c, p.c0, p.lb, p.ub, p.integer, p.A, p.row_lo, p.row_hi,
                       time_limit=time_limit, threads=int(options.get("threads", 1)),
                       presolve=None if presolve is None else str(presolve))


def _highs_unavailable() -> str | None:
    from recourse.solvers.highs import available

    return None if available() else "highspy is not installed: pip install 'highspy>=1.16,<1.17'"


def _cpsat_solve(p: MilpArrays, time_limit: float, options: Mapping[str, Any]) -> Solution:
    from recourse.solvers.cpsat import solve_cpsat

    return solve_cpsat(p, time_limit=time_limit, **dict(options))


def _cpsat_unavailable() -> str | None:
    from recourse.solvers.cpsat import unavailable

    return unavailable()


def _cpsat_rejects(p: MilpArrays) -> str | None:
    from recourse.solvers.cpsat import rejects

    return rejects(p)


def _pyomo_solve(p: MilpArrays, time_limit: float, options: Mapping[str, Any]) -> Solution:
    from recourse.solvers.pyomo_backend import solve_pyomo

    return solve_pyomo(p, time_limit=time_limit, **dict(options))


def _pyomo_unavailable() -> str | None:
    from recourse.solvers.pyomo_backend import unavailable

    return unavailable()


def _race_solve(p: MilpArrays, time_limit: float, options: Mapping[str, Any]) -> Solution:
    from recourse.solvers.race import solve_race

    return solve_race(p, time_limit, options)


BACKENDS: dict[str, Backend] = {
    "highs": Backend("highs", _highs_solve, _highs_unavailable, lambda p: None,
                     "HiGHS through highspy (any MILP; the default)"),
    "cpsat": Backend("cpsat", _cpsat_solve, _cpsat_unavailable, _cpsat_rejects,
                     "OR-Tools CP-SAT (pure-integer problems: tree ensembles)"),
    "pyomo": Backend("pyomo", _pyomo_solve, _pyomo_unavailable, lambda p: None,
                     "a Pyomo model solved by any Pyomo solver (default appsi_highs)"),
    "race": Backend("race", _race_solve, _highs_unavailable, lambda p: None,
                    "HiGHS and CP-SAT in two threads on one problem, the first proof wins "
                    "(CP-SAT only where it can take the problem)"),
}

#: Reduced tree problems with at least this many variables go to CP-SAT under "auto"
#: (see AUTO_RULE for the measurements behind it).
AUTO_CPSAT_MIN_VARS = 500
#: ``"auto"`` picks CP-SAT only with at least this many seconds left for the solve: with
#: less, HiGHS (whose limit a watchdog enforces) gets it (a 1 s query on credit_data's
#: RandomForest 300x8 overran to 1.8 s under load with CP-SAT).
AUTO_CPSAT_MIN_TIME = 2.0

AUTO_RULE = """\
backend="auto": HiGHS for every problem CP-SAT cannot take (continuous variables: linear
models) and for pure-integer problems below AUTO_CPSAT_MIN_VARS (500) variables after
pruning and reduction; CP-SAT (one worker) from there on, when OR-Tools is installed and
at least AUTO_CPSAT_MIN_TIME (2 s) are left for the solve (with less, HiGHS: building a
CP-SAT model of a large forest can take half a second under load).

Measured (python benchmarks/backends.py --backends highs,cpsat,cpsat:num_workers=2,pyomo,auto;
RandomForest 100x6, 50 denied applicants each of German credit and credit_data, one run,
2-core Xeon): of the 62 queries a solver had to run, HiGHS was faster on all 20 below 300
reduced variables, CP-SAT on 23 of the 31 from 500 up. Sum of the per-query times with
the rule at 500: 53.6 s; HiGHS everywhere 89.0 s; CP-SAT everywhere 53.9 s. credit_data
RF 100x6: HiGHS median 0.172 s / p90 5.33 s / max 21.5 s; CP-SAT 0.152 / 1.59 / 25.4 s;
auto (rule at 1000 in that run) 0.160 / 1.71 / 25.2 s; all 100 % proven optimal and
verified. German: all three 0.022-0.023 s median.
"""


def backend_names() -> tuple[str, ...]:
    """Registered backend names, plus ``"auto"``."""
    return (*BACKENDS, "auto")


def get_backend(name: str) -> Backend:
    """The registered backend ``name`` (error lists the registered ones)."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnsupportedProblemError(
            f"The 'backend' parameter must be one of {backend_names()}. Got {name!r} "
            "instead.") from None


def choose(p: MilpArrays, time_left: float = np.inf) -> str:
    """The backend ``"auto"`` uses for problem ``p`` with ``time_left`` seconds (see
    :data:`AUTO_RULE`): CP-SAT only with at least :data:`AUTO_CPSAT_MIN_TIME` seconds left,
    as building its model alone can take half a second on large forests under load."""
    if p.n >= AUTO_CPSAT_MIN_VARS and time_left >= AUTO_CPSAT_MIN_TIME \
            and BACKENDS["cpsat"].unavailable() is None \
            and BACKENDS["cpsat"].rejects(p) is None:
        return "cpsat"
    return "highs"


def capable(p: MilpArrays) -> list[str]:
    """Registered backends that can take ``p`` (installed or not)."""
    return [b.name for b in BACKENDS.values() if b.rejects(p) is None]


def solve(p: MilpArrays, backend: str = "highs", *, time_limit: float = 60.0,
          options: Mapping[str, Any] | None = None,
          deadline: Deadline | None = None) -> Solution:
    """Solve ``p`` with ``backend`` (``"auto"``: :func:`choose`).

    With a ``deadline`` the call gets the smaller of ``time_limit`` and the time left.

    Raises
    ------
    BackendUnavailableError
        The backend's library is not installed (the message names the extra).
    UnsupportedProblemError
        The backend cannot take this problem (the message names the ones that can).
    """
    options = dict(options or {})
    if deadline is not None:
        time_limit = min(float(time_limit), deadline.remaining())
    if backend == "auto":  # options per backend name: {"cpsat": {...}, "highs": {...}}
        name = check(p, choose(p, time_limit))  # the one that runs, with the time left
        options = dict(options.get(name, {}))
    else:
        name = check(p, backend)
    return get_backend(name).solve(p, max(1e-3, float(time_limit)), options)


def route(sol: Solution) -> str:
    """The route a solution came by, as certificates name it: ``"highs-presolve-off"``,
    ``"highs-presolve-on"``, ``"cpsat"``, ``"pyomo-<solver>"``."""
    if "route" in sol.info:
        return str(sol.info["route"])
    if sol.backend == "pyomo":
        return f"pyomo-{sol.info.get('solver', 'unknown')}"
    return sol.backend


def check(p: MilpArrays, backend: str) -> str:
    """The backend that will solve ``p`` (resolving ``"auto"``); raises as :func:`solve`."""
    name = choose(p) if backend == "auto" else backend
    b = get_backend(name)
    missing = b.unavailable()
    if missing is not None:
        raise BackendUnavailableError(missing)
    reason = b.rejects(p)
    if reason is not None:
        raise UnsupportedProblemError(
            f"The {name!r} backend cannot take this problem: {reason}. Backends that can: "
            f"{capable(p)} (or backend='auto').")
    return name

"""Why a solver stopped and what it holds: one table per backend, no if/elif ladders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

__all__ = ["Status", "Solution", "HIGHS_STATUS"]


class Status(str, Enum):
    """Termination of a solve, as the problem layer sees it."""

    OPTIMAL = "optimal"          # proven optimal (within the stated gap tolerance)
    FEASIBLE = "feasible"        # a solution, optimality not proven (see gap)
    INFEASIBLE = "infeasible"    # proven: no solution
    TIME_LIMIT = "time_limit"    # stopped by the time limit with no solution
    ERROR = "error"              # anything else


@dataclass(frozen=True)
class Solution:
    """What a backend returns: status, values (if any), objective, bound, time."""

    status: Status
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    time: float
    backend: str
    raw_status: str = ""
    nodes: int = 0
    #: Backend-specific facts worth reporting (e.g. CP-SAT's scaling error bounds).
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return max(0.0, self.objective - self.bound) / max(1e-12, abs(self.objective))


#: HiGHS model status string -> (status if a solution is held, status if none is held).
HIGHS_STATUS: dict[str, tuple[Status, Status]] = {
    "Optimal": (Status.OPTIMAL, Status.ERROR),
    "Infeasible": (Status.INFEASIBLE, Status.INFEASIBLE),
    "Time limit reached": (Status.FEASIBLE, Status.TIME_LIMIT),
    "Iteration limit reached": (Status.FEASIBLE, Status.TIME_LIMIT),
    "Solution limit reached": (Status.FEASIBLE, Status.TIME_LIMIT),
    "Interrupted by user": (Status.FEASIBLE, Status.TIME_LIMIT),
    "Interrupted by HiGHS": (Status.FEASIBLE, Status.TIME_LIMIT),
    "Memory limit reached": (Status.FEASIBLE, Status.ERROR),
    "Bound on objective reached": (Status.FEASIBLE, Status.INFEASIBLE),
    "Target for objective reached": (Status.FEASIBLE, Status.ERROR),
    "Primal infeasible or unbounded": (Status.INFEASIBLE, Status.INFEASIBLE),
    "Unbounded": (Status.ERROR, Status.ERROR),
    "Empty": (Status.OPTIMAL, Status.ERROR),
    "Load error": (Status.ERROR, Status.ERROR),
    "Model error": (Status.ERROR, Status.ERROR),
    "Presolve error": (Status.ERROR, Status.ERROR),
    "Solve error": (Status.ERROR, Status.ERROR),
    "Postsolve error": (Status.ERROR, Status.ERROR),
    "Unknown": (Status.FEASIBLE, Status.ERROR),
    "Not Set": (Status.ERROR, Status.ERROR),
}

"""Solver-layer errors (re-exported from the shared error tree)."""

from recourse.encoders.errors import BackendUnavailableError, SolverError

__all__ = ["BackendUnavailableError", "SolverError", "UnsupportedProblemError"]


class UnsupportedProblemError(SolverError, ValueError):
    """The chosen backend cannot take this kind of problem (e.g. CP-SAT and continuous
    variables); the message names the backends that can."""

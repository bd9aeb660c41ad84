"""Solver-layer errors (re-exported from the shared error tree)."""

from encoders.errors import BackendUnavailableError, SolverError

__all__ = ["BackendUnavailableError", "SolverError"]

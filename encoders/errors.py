"""Error tree of recourse-engine.

The base class lives in the lowest layer (``encoders``) so that every layer can raise a
subclass; ``recourse.errors`` re-exports the whole tree so users catch one base class.
Each class also inherits the matching built-in exception.
"""

from __future__ import annotations

__all__ = [
    "RecourseError",
    "UnsupportedModelError",
    "EncodingError",
    "SchemaError",
    "InputValidationError",
    "BackendUnavailableError",
    "SolverError",
    "UntrustedModelError",
]


class RecourseError(Exception):
    """Base class of every error raised by recourse-engine."""


class UnsupportedModelError(RecourseError, TypeError):
    """The fitted model (or a pipeline step) has a type no encoder supports."""


class EncodingError(RecourseError, ValueError):
    """The model is supported but cannot be encoded as given (e.g. missing bounds)."""


class SchemaError(RecourseError, ValueError):
    """The feature schema or action set is contradictory or malformed."""


class InputValidationError(RecourseError, ValueError):
    """An applicant row is invalid: NaN/inf, wrong columns, unknown category, bad type."""


class BackendUnavailableError(RecourseError, ImportError):
    """The requested solver backend is not installed or not usable."""


class SolverError(RecourseError, RuntimeError):
    """The solver failed in a way that is not an answer (not infeasible, not a time limit)."""


class UntrustedModelError(RecourseError, ValueError):
    """Loading this model file would execute arbitrary code and trust was not given."""


def cap_list(items: object, most: int = 5) -> str:
    """Format a list for an error message, showing at most ``most`` items."""
    seq = [repr(i) for i in items]  # type: ignore[attr-defined]
    if len(seq) <= most:
        return "[" + ", ".join(seq) + "]"
    return "[" + ", ".join(seq[:most]) + f", ... ({len(seq) - most} more)]"

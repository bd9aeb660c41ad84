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


def name_mismatch(expected: list[str], got: list[str], *, extra: str, missing: str) -> str:
    """``""`` when ``got`` has the names of ``expected``, else what is extra and missing
    (capped lists, sklearn style), e.g. ``"unexpected columns ['x']; missing columns ['y']"``."""
    parts = []
    unexpected = [n for n in got if n not in expected]
    absent = [n for n in expected if n not in got]
    if unexpected:
        parts.append(f"{extra} {cap_list(unexpected)}")
    if absent:
        parts.append(f"{missing} {cap_list(absent)}")
    return "; ".join(parts)


def cap_list(items: object, most: int = 5) -> str:
    """Format a list for an error message, showing at most ``most`` items."""
    seq = [repr(i) for i in items]  # type: ignore[attr-defined]
    if len(seq) <= most:
        return "[" + ", ".join(seq) + "]"
    return "[" + ", ".join(seq[:most]) + f", ... ({len(seq) - most} more)]"

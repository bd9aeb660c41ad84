"""The whole error tree, re-exported so users catch one base class: ``RecourseError``."""

from recourse.encoders.errors import (
    BackendUnavailableError,
    EncodingError,
    InputValidationError,
    RecourseError,
    SchemaError,
    SolverError,
    UnsupportedModelError,
    UntrustedModelError,
)

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

"""recourse-engine: exact, verified recourse for fitted machine-learning models."""

from recourse.errors import (
    BackendUnavailableError,
    EncodingError,
    InputValidationError,
    RecourseError,
    SchemaError,
    SolverError,
    UnsupportedModelError,
    UntrustedModelError,
)
from recourse.causal import (
    CausalGraphError,
    CausalModel,
    LinearEquation,
    PiecewiseLinearEquation,
)
from recourse.explain import NORMS, RecourseEngine, find_recourse
from recourse.result import STATUSES, Change, RecourseResult
from recourse.schema import Feature, FeatureSchema

__version__ = "0.1.0"

__all__ = [
    "Feature",
    "FeatureSchema",
    "CausalModel",
    "LinearEquation",
    "PiecewiseLinearEquation",
    "CausalGraphError",
    "RecourseEngine",
    "find_recourse",
    "RecourseResult",
    "Change",
    "NORMS",
    "STATUSES",
    "RecourseError",
    "UnsupportedModelError",
    "EncodingError",
    "SchemaError",
    "InputValidationError",
    "BackendUnavailableError",
    "SolverError",
    "UntrustedModelError",
    "__version__",
]

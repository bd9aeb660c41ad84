"""recourse-engine: exact, verified recourse for fitted machine-learning models."""

from recourse.causal import (
    CausalGraphError,
    CausalModel,
    LinearEquation,
    PiecewiseLinearEquation,
)
from recourse.encoders.isolation import PlausibleModel
from recourse.encoders.multi import ModelSet
from recourse.engine import NORMS, Option, RecourseEngine, find_recourse
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
from recourse.letters import render_letter, write_letter, write_letters
from recourse.result import STATUSES, Change, RecourseOptions, RecourseResult
from recourse.robust import CertifiedBox, certified_box
from recourse.schema import Feature, FeatureSchema
from recourse.seen import SeenTogether
from recourse.stats import Stats
from recourse.support import DataSupport
from recourse.utility import Utility
from recourse.version import __version__

__all__ = [
    "Feature",
    "FeatureSchema",
    "CausalModel",
    "LinearEquation",
    "PiecewiseLinearEquation",
    "CausalGraphError",
    "RecourseEngine",
    "Option",
    "find_recourse",
    "Utility",
    "RecourseResult",
    "Stats",
    "RecourseOptions",
    "Change",
    "CertifiedBox",
    "ModelSet",
    "PlausibleModel",
    "certified_box",
    "SeenTogether",
    "DataSupport",
    "render_letter",
    "write_letter",
    "write_letters",
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

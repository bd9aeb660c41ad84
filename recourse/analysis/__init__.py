"""Attribution methods versus recourse (THEORY.md, issue 5).

Attributions with one interface (``attributions``), the recourse-sensitivity ray test and
existence checks (``sensitivity``), continuity measurements (``robustness``), the exact 1D
analysis (``oned``), the paper's counterexamples (``constructions``), SmoothGrad ≡ C-LIME
(``smoothgrad_clime``) and the impossibility report (``report``, ``plots``).
"""

from recourse.analysis.attributions import (
    METHODS,
    attribute,
    clime,
    counterfactual_attribution,
    gradient,
    integrated_gradients,
    kernel_shap,
    lime_tabular,
    projection_attribution_linear,
    shapley_exact,
    smoothgrad,
)
from recourse.analysis.constructions import construction, construction_case, embed_line
from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.oned import (
    PiecewiseLinear1D,
    RecourseSets,
    Verdict,
    recourse_sets,
    verdict,
)
from recourse.analysis.scores import ScoreFunction, as_score
from recourse.analysis.sensitivity import RayResult, ray_test, ray_test_model, recourse_exists
from recourse.analysis.utility import Utility

__all__ = [
    "METHODS",
    "attribute",
    "clime",
    "counterfactual_attribution",
    "gradient",
    "integrated_gradients",
    "kernel_shap",
    "lime_tabular",
    "projection_attribution_linear",
    "shapley_exact",
    "smoothgrad",
    "construction",
    "construction_case",
    "embed_line",
    "Interval",
    "IntervalSet",
    "PiecewiseLinear1D",
    "RecourseSets",
    "Verdict",
    "recourse_sets",
    "verdict",
    "ScoreFunction",
    "as_score",
    "RayResult",
    "ray_test",
    "ray_test_model",
    "recourse_exists",
    "Utility",
]

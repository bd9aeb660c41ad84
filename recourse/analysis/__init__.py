"""Attribution methods versus recourse (docs/theory.md, issue 5).

Attributions with one interface (``attributions``), the recourse-sensitivity ray test and
existence checks (``sensitivity``), continuity measurements (``robustness``), the exact 1D
analysis (``oned``), the paper's counterexamples (``constructions``), SmoothGrad ≡ C-LIME
(``smoothgrad_clime``), the impossibility report (``report``, ``plots``), nearest
satisfying points and exact existence (``nearest``), the zero tolerance (``tolerance``),
Theorems 11 and 12 (``theorems``) and the analysis of a user's own model
(``user_model``). Everything documented is importable from ``recourse.analysis``.

Implementation notes (relative to docs/theory.md)
-------------------------------------------------
* A5: seeded C-LIME with probe distance ``ε = 1e-6`` gave ``L̂ = 1.9e-9`` (not ``<= 1e-9``)
  for ``w = (3, −1, 0.5)``, ``b = 1``: least-squares rounding divided by ``ε`` depends on the
  magnitudes. The tests use ``ε = 1e-5`` for the 1e-9 bound.
* A4: the minimum-distance counterfactual lies exactly on the utility's boundary; the
  step ``x + 1·(y − x)`` need not reproduce ``y`` bit for bit, so its ray test needs a
  utility tolerance (``Utility(tol=1e-12)``).
* A9 concerns ``x²``, which is not piecewise linear: the exact set machinery covers
  piecewise-linear ``f``; ``x²`` goes through the documented numeric fallback
  (:func:`oned.recourse_sets_numeric`, grid plus bisection) and, as a cross-check, through
  the exact machinery on a fine piecewise-linear interpolant.
* A10: docs/theory.md suggests projecting polygons; :mod:`oned` uses an equivalent
  candidate-point method (see its docstring).
* C6: in ``lime``'s regression mode ``local_exp[0]`` holds the *negated* coefficients and
  ``local_exp[1]`` the coefficients — easy to compare with the wrong sign. Feature selection
  (``num_features < d``) is not implemented (all features kept), as A14 requires anyway.
* C5: the sampled Kernel SHAP is a simplification of ``shap``'s scheme (documented in
  :func:`attributions.kernel_shap`); with full enumeration it is exact.
* A8: only the Euclidean budget is used by the report (oblique lines under L1 budgets,
  ``δ·max|u_i|``, are not implemented).
"""

from recourse.analysis.attributions import (
    METHODS,
    attribute,
    clime,
    counterfactual_attribution,
    gradient,
    integrated_gradients,
    kernel_shap,
    lime_kernel_weight,
    lime_kernel_width,
    lime_tabular,
    projection_attribution_linear,
    shapley_exact,
    shapley_kernel_weight,
    smoothgrad,
)
from recourse.analysis.constructions import (
    CASES,
    ConstructionCase,
    construction,
    construction_case,
    embed_coordinate,
    embed_line,
    gaussian_bump,
    quadratic,
    ring,
    ring_counterfactual,
)
from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.nearest import (
    NEAREST_NORMS,
    Nearest,
    all_l0_supports,
    nearest,
    nearest_linear,
    recourse_exists,
)
from recourse.analysis.oned import (
    PiecewiseLinear1D,
    RecourseSets,
    Verdict,
    reaches,
    recourse_sets,
    verdict,
)
from recourse.analysis.oned_tools import (
    direction_set,
    model_on_line,
    nearest_satisfying,
    recourse_sets_numeric,
    restrict_to_line,
    smoothgrad_expected_1d,
    superlevel_set,
)
from recourse.analysis.report import (
    ImpossibilityReport,
    MethodFinding,
    default_methods,
    impossibility_report,
    write_report,
)
from recourse.analysis.robustness import (
    SegmentReport,
    jump_at,
    lipschitz_bound_bounded_output,
    lipschitz_bound_smoothgrad,
    lipschitz_claim_agarwal,
    local_lipschitz,
    segment_jumps,
)
from recourse.analysis.scores import ScoreFunction, as_score, class_score, linear_form
from recourse.analysis.sensitivity import (
    NORMS,
    RayResult,
    attainable,
    line_breakpoints,
    ray_test,
    ray_test_encoded,
    ray_test_model,
)
from recourse.analysis.smoothgrad_clime import (
    ConvergenceResult,
    convergence_experiment,
    expected_explanation,
    sin_square,
    sin_square_closed_form,
)
from recourse.analysis.theorems import (
    CriterionResult,
    SingleFeatureSets,
    Theorem11Result,
    identical_intervals,
    maximal_intervals,
    separated,
    single_feature_sets,
    theorem11,
    usable_criterion,
)
from recourse.analysis.tolerance import ZERO_RTOL, is_zero, zero_tolerance
from recourse.analysis.user_model import (
    USER_METHODS,
    MethodSummary,
    UserModelReport,
    analyze_model,
    run_analyze,
    write_user_report,
)
from recourse.analysis.utility import ENGINE_MARGIN, UTILITY_KINDS, Utility

__all__ = [
    # attributions
    "METHODS", "attribute", "clime", "counterfactual_attribution", "gradient",
    "integrated_gradients", "kernel_shap", "lime_kernel_weight", "lime_kernel_width",
    "lime_tabular", "projection_attribution_linear", "shapley_exact", "shapley_kernel_weight",
    "smoothgrad",
    # constructions
    "CASES", "ConstructionCase", "construction", "construction_case", "embed_coordinate",
    "embed_line", "gaussian_bump", "quadratic", "ring", "ring_counterfactual",
    # sets, 1-D analysis, theorems
    "Interval", "IntervalSet", "PiecewiseLinear1D", "RecourseSets", "Verdict", "direction_set",
    "model_on_line", "nearest_satisfying", "reaches", "recourse_sets", "recourse_sets_numeric",
    "restrict_to_line", "superlevel_set", "verdict", "CriterionResult", "SingleFeatureSets",
    "Theorem11Result", "identical_intervals", "maximal_intervals", "separated",
    "single_feature_sets", "theorem11", "usable_criterion",
    # nearest points, existence, ray tests
    "NEAREST_NORMS", "Nearest", "all_l0_supports", "nearest", "nearest_linear",
    "recourse_exists", "NORMS", "RayResult", "attainable", "line_breakpoints", "ray_test",
    "ray_test_encoded", "ray_test_model", "ZERO_RTOL", "is_zero", "zero_tolerance",
    # scores and utilities
    "ScoreFunction", "as_score", "class_score", "linear_form", "ENGINE_MARGIN",
    "UTILITY_KINDS", "Utility",
    # robustness, SmoothGrad = C-LIME, reports
    "SegmentReport", "jump_at", "lipschitz_bound_bounded_output", "lipschitz_bound_smoothgrad",
    "lipschitz_claim_agarwal", "local_lipschitz", "segment_jumps", "ConvergenceResult",
    "convergence_experiment", "expected_explanation", "sin_square", "sin_square_closed_form",
    "ImpossibilityReport", "MethodFinding", "default_methods", "impossibility_report",
    "write_report", "USER_METHODS", "MethodSummary", "UserModelReport", "analyze_model",
    "run_analyze", "write_user_report",
    # deprecated alias (one name per quantity: expected_explanation)
    "smoothgrad_expected_1d",
]

"""Attribution methods versus recourse (docs/theory.md, issue 5).

Attributions with one interface (``attributions``), the recourse-sensitivity ray test and
existence checks (``sensitivity``), continuity measurements (``robustness``), the exact 1D
analysis (``oned``), the paper's counterexamples (``constructions``), SmoothGrad ≡ C-LIME
(``smoothgrad_clime``) and the impossibility report (``report``, ``plots``).

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

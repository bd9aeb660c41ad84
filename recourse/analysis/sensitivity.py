"""Recourse sensitivity of an attribution at one point (docs/theory.md §A2–A4).

Two questions per point ``x`` with budget ``δ``, a norm and a utility:

1. **Does the direction ``v = phi(x)`` provide recourse?** (the *ray test*) — is there
   ``s in (0, δ/||v||]`` with ``u_f(x, x + s v) >= τ``?
2. **Is recourse possible at all within δ** (``T(x) ≠ ∅``)?

``phi`` violates recourse sensitivity at ``x`` iff (2) holds and (1) fails.

Ray test, by model kind (:func:`ray_test_model`):

* **trees / forests** (``encoders`` gives the split thresholds in the user's units): along
  the ray every threshold indicator ``z_i = [x_j + s v_j > t_i]`` is a step function of
  ``s`` switching at ``s_i = (t_i − x_j)/v_j``, so the model is constant between
  consecutive breakpoints. Evaluating the model's own score at every breakpoint, at every
  midpoint between consecutive breakpoints and at ``s_max`` decides the question exactly,
  with a verified witness — simpler than a MILP and exact. (A point *exactly* on a
  threshold is the floating-point ``x + s_i v``; which side sklearn's float32 comparison
  puts it on is decided by the model itself.)
* **encodings whose features enter as values** (linear models now; ReLU networks when
  their encoder lands): a MILP over the model's ``EncodedModel`` block plus one scalar
  ``s in [s_lo, s_max]`` with ``x_var = x0_j + v_j s`` and the utility row
  ``score − κ f(x) >= τ'`` (or the block's ``target_rows`` for "reach a class"), solved by
  HiGHS; written against ``EncodedModel`` only.
* anything else: :func:`ray_test` — the documented line search of docs/theory.md §A4 (uniform grid
  plus geometric steps ``s_max 2^-k``, stopped well above machine precision).

Strictness ``s > 0``: when ``x`` is already satisfied, ``s = 0`` would trivially work; the
exact tests then require ``s >= eps_s`` (default ``1e-9 · s_max``): the direction must keep
the user satisfied for some positive step.

Existence of recourse: :func:`recourse.analysis.nearest.recourse_exists` (re-exported
here), exact for linear models in L1/L2/L∞/L0 and for every engine-supported model in
L1/L∞/L0.

Zero attributions: ``v`` counts as zero when ``||v||_∞ <= zero_tolerance(x, f(x), δ)``
(:mod:`recourse.analysis.tolerance`; ``zero_tol=None``, the default, uses it, a number
overrides it). The class utility is ``class_score(y) >= margin`` in both :func:`ray_test`
(give it ``class_score(model)``) and :func:`ray_test_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.analysis.encoding import (  # noqa: F401 - re-exported
    _all_value_links,
    _encode,
    line_breakpoints,
)
from recourse.analysis.nearest import recourse_exists
from recourse.analysis.scores import ScoreFunction, as_score, class_score
from recourse.analysis.tolerance import is_zero, zero_tolerance
from recourse.analysis.utility import Utility

__all__ = [
    "RayResult",
    "ray_test",
    "ray_test_model",
    "ray_test_encoded",
    "line_breakpoints",
    "recourse_exists",
    "attainable",
    "NORMS",
]

NORMS = ("l2", "l1", "linf")


def _norm(v: np.ndarray, norm: str) -> float:
    if norm == "l2":
        return float(np.linalg.norm(v))
    if norm == "l1":
        return float(np.abs(v).sum())
    if norm == "linf":
        return float(np.abs(v).max()) if v.size else 0.0
    raise ValueError(f"norm must be one of {NORMS}; got {norm!r}.")


@dataclass(frozen=True)
class RayResult:
    """Outcome of a ray test: ``provides`` recourse, the step ``s`` and point ``y``
    that witness it, and how it was decided (``method``: exact-trees, milp, closed-form,
    line-search, zero)."""

    provides: bool
    s: float | None
    y: np.ndarray | None
    method: str
    note: str = ""


def attainable(x: np.ndarray, v: np.ndarray, *, k: int | None = None,
               immutable: Any = None, tol: float = 0.0) -> bool:
    """Is the ray ``x + s v`` allowed by the constraint families of docs/theory.md §A2?

    ``k``: at most ``k`` features may change (family b); ``immutable``: indices that may
    not change (family c). Entries with ``|v_j| <= tol`` count as zero.
    """
    nz = np.abs(np.asarray(v, dtype=float)) > tol
    if k is not None and int(nz.sum()) > k:
        return False
    if immutable is not None and np.any(nz[np.asarray(immutable, dtype=int)]):
        return False
    return True


def ray_test(f: Any, x: Any, v: Any, delta: float, utility: Utility, *, norm: str = "l2",
             n_grid: int = 1000, n_geometric: int = 40, zero_tol: float | None = None,
             k: int | None = None, immutable: Any = None) -> RayResult:
    """Line search of docs/theory.md §A4 for any score (numerical fallback).

    Scans ``s`` on the uniform grid ``s_max·(1..n_grid)/n_grid`` plus the geometric steps
    ``s_max·2^-k`` (``k = 1..n_geometric``), keeping only steps with
    ``s·||v||_∞ > 1e4·eps·max(1, ||x||_∞)`` (so that ``x + s v`` differs from ``x``).
    ``||v||_∞ <= zero_tol`` counts as zero (default ``None``: the scale-aware
    :func:`recourse.analysis.tolerance.zero_tolerance` of ``x``, ``f(x)`` and ``δ``): it
    provides recourse only if ``x`` is already satisfied. Utilities are compared with
    ``utility.tol``.
    """
    sf = as_score(f)
    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float)
    fx = float(sf(x[None, :])[0])
    if zero_tol is None:
        zero_tol = zero_tolerance(x, fx, delta)
    if is_zero(v, zero_tol):
        sat0 = bool(utility.satisfied(fx, fx))
        return RayResult(sat0, 0.0 if sat0 else None, x.copy() if sat0 else None, "zero",
                         "zero attribution")
    if not attainable(x, v, k=k, immutable=immutable, tol=zero_tol):
        return RayResult(False, None, None, "constraints", "direction not allowed")
    s_max = delta / _norm(v, norm)
    S = np.concatenate([s_max * np.arange(1, n_grid + 1) / n_grid,
                        s_max * 2.0 ** -np.arange(1, n_geometric + 1)])
    floor = 1e4 * np.finfo(float).eps * max(1.0, float(np.abs(x).max()))
    S = np.unique(S[S * np.abs(v).max() > floor])
    Y = x[None, :] + S[:, None] * v[None, :]
    ok = utility.satisfied(fx, sf(Y))
    if ok.any():
        i = int(np.flatnonzero(ok)[0])
        return RayResult(True, float(S[i]), Y[i], "line-search")
    return RayResult(False, None, None, "line-search", f"{S.size} steps checked")


# ---------------------------------------------------------------- exact tests
def ray_test_model(model: Any, x: Any, v: Any, delta: float, utility: Utility, *,
                   norm: str = "l2", target: Any = None, eps_s: float | None = None,
                   zero_tol: float | None = None, k: int | None = None,
                   immutable: Any = None, output: str = "auto") -> RayResult:
    """Exact ray test for sklearn models (see module docstring); line search otherwise.

    For ``utility.kind == "class"`` with a classifier, the condition is
    ``class_score(y) >= utility.tau`` (the margin; :func:`recourse.analysis.scores.
    class_score`, default target: the class not predicted at ``x``) — the same condition
    :func:`ray_test` checks when given ``class_score(model)``. For other utilities ``f`` is
    ``as_score(model, output=output)``. ``zero_tol``: as in :func:`ray_test`.
    """
    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float)
    is_clf = hasattr(model, "predict") and hasattr(model, "classes_")
    use_class = utility.kind == "class" and is_clf
    if use_class:
        sf = class_score(model, target, x=x)
        target = sf.target
    else:
        sf = as_score(model, output=output)
    if use_class:
        fx = float(sf(x[None, :])[0])

        def sat(Y: np.ndarray) -> np.ndarray:
            return utility.satisfied(0.0, sf(Y))
        x_sat = bool(utility.satisfied(0.0, fx))
    else:
        fx = float(sf(x[None, :])[0])

        def sat(Y: np.ndarray) -> np.ndarray:
            return utility.satisfied(fx, sf(Y))
        x_sat = bool(utility.satisfied(fx, fx))
    if zero_tol is None:
        zero_tol = zero_tolerance(x, fx, delta)
    if is_zero(v, zero_tol):
        return RayResult(x_sat, 0.0 if x_sat else None, x.copy() if x_sat else None, "zero",
                         "zero attribution")
    if not attainable(x, v, k=k, immutable=immutable, tol=zero_tol):
        return RayResult(False, None, None, "constraints", "direction not allowed")
    s_max = delta / _norm(v, norm)
    s_lo = (1e-9 * s_max if eps_s is None else eps_s) if x_sat else 0.0
    end = x + s_max * v  # the segment's box bounds every variable of the encoding
    pad = 1e-9 * np.maximum(1.0, np.abs(np.concatenate([x, end]))).max()
    try:
        enc = _encode(model, x.size, np.minimum(x, end) - pad, np.maximum(x, end) + pad)
    except Exception:  # noqa: BLE001 - any unsupported model falls back to the line search
        enc = None
    if enc is not None and enc.tree is not None:
        b = line_breakpoints(model, x, v, 0.0, s_max)
        b = b[b > 0]
        knots = np.unique(np.concatenate([[0.0], b, [s_max]]))
        mids = 0.5 * (knots[:-1] + knots[1:])
        S = np.unique(np.concatenate([b, mids, [s_max]]))
        S = S[(S > 0) & (S <= s_max)]
        if x_sat:  # s = 0 does not count; every open piece is represented by its midpoint
            S = S[S >= s_lo]
        Y = x[None, :] + S[:, None] * v[None, :]
        ok = sat(Y)
        if ok.any():
            i = int(np.flatnonzero(ok)[0])
            return RayResult(True, float(S[i]), Y[i], "exact-trees")
        return RayResult(False, None, None, "exact-trees",
                         f"{b.size} breakpoints on (0, {s_max:.6g}]")
    if enc is not None and _all_value_links(enc):
        fx_val = float(sf(x[None, :])[0])
        # The MILP maximises s, so its point sits on the utility's boundary, where the
        # solver's feasibility tolerance (1e-7) and the model's rounding can disagree: a point
        # that fails verification is retried with the condition tightened into the interior.
        scale = max(1.0, abs(fx_val), abs(utility.tau))
        res = RayResult(False, None, None, "milp", "not solved")
        for extra in (0.0, 1e-6 * scale, 1e-4 * scale):
            res = ray_test_encoded(enc, x, v, s_lo if x_sat else 0.0, s_max, utility,
                                   fx=fx_val, target_index=(list(enc.classes).index(target)
                                                            if use_class else None),
                                   margin=utility.tau if use_class else 0.0,
                                   strict_positive=not x_sat, extra=extra)
            if res.provides and x_sat and res.s is not None and res.s < s_lo:
                return RayResult(False, None, None, "milp",
                                 f"only steps below eps_s = {s_lo:.3g} keep the utility")
            if not res.provides:
                return res if extra == 0.0 else RayResult(
                    False, None, None, "milp", "only points within the solver's tolerance of "
                    "the boundary satisfy the utility")
            assert res.y is not None
            if bool(sat(res.y[None, :])[0]):
                return res
        return RayResult(False, res.s, res.y, "milp",
                         "the MILP point failed verification with the model")
    return ray_test(sf, x, v, delta, utility, norm=norm, zero_tol=zero_tol, k=k,
                    immutable=immutable)


def _rows(model: Any, Y: np.ndarray) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return Y
    import pandas as pd

    return pd.DataFrame(Y, columns=list(names))


def ray_test_encoded(enc: Any, x: np.ndarray, v: np.ndarray, s_lo: float, s_hi: float,
                     utility: Utility, *, fx: float, target_index: int | None = None,
                     margin: float = 0.0, strict_positive: bool = True,
                     extra: float = 0.0) -> RayResult:
    """MILP ray test on a solver-neutral :class:`encoders.EncodedModel` whose features all
    enter as values (``ValueLink``): variables = block + one step ``s in [s_lo, s_hi]``;
    rows = the block's rows, ``x_var − v_j s = x_j`` per feature, and either the block's
    ``target_rows(target_index, margin)`` (the class margin, ``utility.tau``) or
    ``score_0 − κ·fx >= τ'`` (the score must be
    the one ``fx`` was computed with: the sign-decision margin / logit). Objective: maximise
    ``s`` (any feasible point decides the question). With ``strict_positive`` a solution
    ``s = 0`` does not count (``x`` itself is not a step). ``extra`` tightens the
    utility row by that amount (a point strictly inside the satisfying set).
    """
    from recourse.solvers.highs import solve_highs
    from recourse.solvers.status import Status

    nb = enc.n_vars
    n = nb + 1
    lb = np.concatenate([enc.lb, [s_lo]])
    ub = np.concatenate([enc.ub, [s_hi]])
    integer = np.concatenate([enc.integer, [False]])
    rows = [sp.hstack([enc.rows, sp.csr_matrix((enc.rows.shape[0], 1))])]
    lo, hi = [enc.row_lo], [enc.row_hi]
    link_rows = []
    link_rhs = []
    for link in enc.links:
        r = np.zeros(n)
        r[link.var] = 1.0
        r[nb] = -v[link.feature]
        link_rows.append(r)
        link_rhs.append(x[link.feature])
    if link_rows:
        rows.append(sp.csr_matrix(np.array(link_rows)))
        lo.append(np.array(link_rhs))
        hi.append(np.array(link_rhs))
    if target_index is not None:
        G, glo = enc.target_rows(target_index, margin, margin)
        rows.append(sp.hstack([G, sp.csr_matrix((G.shape[0], 1))]))
        lo.append(glo + extra)
        hi.append(np.full(glo.size, np.inf))
    else:
        if enc.decision != "sign":
            raise ValueError("Score utilities on the MILP path need a binary (sign) encoding.")
        kappa, tau_p = utility.linear_form
        rows.append(sp.hstack([enc.score[0], sp.csr_matrix((1, 1))]))
        lo.append(np.array([tau_p + kappa * fx - enc.score0[0] - utility.tol + extra]))
        hi.append(np.array([np.inf]))
    A = sp.vstack(rows).tocsr()
    c = np.zeros(n)
    c[nb] = -1.0
    sol = solve_highs(c, 0.0, lb, ub, integer, A, np.concatenate(lo), np.concatenate(hi),
                      time_limit=60.0)
    if sol.status is Status.INFEASIBLE:
        return RayResult(False, None, None, "milp", "proven infeasible")
    if sol.values is None or sol.status not in (Status.OPTIMAL, Status.FEASIBLE):
        raise RuntimeError(f"The ray MILP ended with {sol.raw_status}; cannot decide.")
    s = float(sol.values[nb])
    if strict_positive and s <= 0:
        return RayResult(False, None, None, "milp", "only s = 0 satisfies")
    return RayResult(True, s, x + s * v, "milp")


def _linear_weights(model: Any, sf: ScoreFunction, x: np.ndarray) -> np.ndarray | None:
    if sf.grad is not None and hasattr(model, "coef_"):
        return np.asarray(sf.grad(x[None, :]))[0]
    return None


def step_bound(delta: float, v: np.ndarray, norm: str) -> float:
    """``δ / ||v||``: the largest step along ``v`` within the budget."""
    nv = _norm(v, norm)
    return math.inf if nv == 0 else delta / nv

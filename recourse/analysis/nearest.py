"""Nearest satisfying points and the existence of recourse within a budget (docs/theory.md
§A2–A4, §C7).

``nearest(model, x, utility, norm=...)`` returns the minimum-cost ``y`` with
``u_f(x, y) >= τ`` (and ``y`` inside the box ``[lower, upper]``, immutable features kept);
``recourse_exists`` compares that optimum with the budget ``δ``. How each case is decided:

=====================  =========================================================================
linear score / binary  **closed form** (``f = w·x + b``, the class score of a linear
linear classifier      classifier): L1 moves the features with the largest ``|w_j|`` first
                       (fractional knapsack, exact with bounds), L∞ moves every free feature
                       by ``t`` in the direction of ``sign(w_j)`` until a bound stops it, L2 is
                       the projection on the half-space ``w·y >= c`` inside the box
                       (``y(λ) = clip(x + λ w, lower, upper)``, ``λ`` found exactly on its
                       piecewise-linear path). Without bounds these are the distance to a
                       hyperplane in the dual norm, ``gap / ||w||_*``.
trees, forests,        **the engine** (:class:`recourse.engine.RecourseEngine`, public API):
boosting, ReLU nets    L1 and L0 are the engine's own norms (unit scales, so the cost is
                       ``||y − x||_1``, resp. the number of changed features); L∞ is a box:
                       ``||y − x||_∞ <= t`` iff ``y`` lies in ``[x − t, x + t]``, so one engine
                       call with those bounds decides existence exactly, and the smallest
                       ``t`` is found over the finite candidate set ``{|θ − x_j|}`` (split
                       thresholds ``θ``) for tree models — exact, the infimum reported and a
                       witness at ``t + η`` — and by bisection with a certified bracket
                       ``[lower_bound, cost]`` for ReLU networks.
ReLU networks, L2      **outer approximation** (Kelley's cutting planes): a MILP over the
                       network's encoding minimises ``t`` subject to ``t >= g·(y − x)`` for a
                       growing set of unit vectors ``g`` (outer approximation of the ball).
                       Each optimum ``t*`` is a *lower bound* of the distance; its point ``y``,
                       verified with the model, gives the *upper bound* ``||y − x||_2``; a cut
                       at ``(y − x)/||y − x||`` is added until the bounds meet within
                       ``rtol``. The result states both bounds (``lower_bound``, ``cost``).
                       (Pyomo's MIQP route needs a MIQP solver; none ships with the project.)
=====================  =========================================================================

The class utility (:meth:`Utility.reach_class`) is one definition everywhere:
``class_score(y) >= margin``, the score of :func:`recourse.analysis.scores.class_score` (the
engine's own units), so the engine is called with ``margin=utility.tau``. Score utilities
(regressors, binary classifiers' decision scores) become the threshold ``c = τ' + κ f(x)``
and the engine's ``Utility.reach``; the engine's answers meet ``f(y) >= c`` up to the
solver's feasibility tolerance (``1e-7``), which :data:`SOLVER_TOL` allows for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.analysis.closed_forms import NEAREST_NORMS, Nearest, _box, _norm, nearest_linear
from recourse.analysis.scores import ScoreFunction, as_score, class_score, linear_form
from recourse.analysis.utility import Utility

__all__ = [
    "Nearest",
    "nearest",
    "nearest_linear",
    "recourse_exists",
    "all_l0_supports",
    "NEAREST_NORMS",
    "SOLVER_TOL",
]

#: Slack allowed when an engine answer is checked against ``f(y) >= c`` (the MILP solver's
#: feasibility tolerance is 1e-7; the engine's margin of 1e-6 keeps answers clear of it).
SOLVER_TOL = 1e-6
#: Default box of the features when no bounds are given (the engine needs finite bounds).
DEFAULT_BOUND = 1e6
#: Score margin the engine is given for score utilities (its default).
ENGINE_MARGIN = 1e-6


# ---------------------------------------------------------------- the engine
def _names(model: Any, d: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j}" for j in range(d)]


def _schema(model: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, imm: np.ndarray) -> Any:
    from recourse.schema import Feature, FeatureSchema

    lo = np.where(np.isfinite(lo), lo, -DEFAULT_BOUND)
    hi = np.where(np.isfinite(hi), hi, DEFAULT_BOUND)
    feats = []
    for j, n in enumerate(_names(model, x.size)):
        if imm[j]:
            feats.append(Feature(n, "continuous", lower=float(min(lo[j], x[j])),
                                 upper=float(max(hi[j], x[j])), immutable=True, scale=1.0))
        else:
            feats.append(Feature(n, "continuous", lower=float(lo[j]), upper=float(hi[j]),
                                 scale=1.0))
    return FeatureSchema(tuple(feats))


@dataclass
class _Target:
    """How a utility is handed to the engine: a class with a margin, or a score threshold."""

    target: Any
    margin: float
    threshold: float | None
    check: Any  # (Y) -> bool array, the utility itself


def _engine_target(model: Any, x: np.ndarray, utility: Utility, target: Any) -> _Target:
    if utility.kind == "class" and hasattr(model, "classes_"):
        cs = class_score(model, target=target, x=x)
        if not utility.tau > 0:
            raise ValueError(
                "The class utility is class_score(y) >= margin; the engine (and sklearn's "
                "predict, which needs a strict win) requires margin > 0. Use "
                "Utility.reach_class(margin=1e-6) (the engine's default margin).")
        return _Target(cs.target, float(utility.tau), None,
                       lambda Y: np.asarray(cs(Y) >= utility.tau - SOLVER_TOL))
    if utility.kind == "lower_ratio":
        raise ValueError("lower_ratio has no linear form; the engine cannot encode it.")
    sf = as_score(model)
    fx = float(sf(x[None, :])[0])
    kappa, tau_p = utility.linear_form
    c = tau_p + kappa * fx
    if utility.kind == "ratio" and fx <= 0:
        raise ValueError("A ratio utility needs f(x) > 0; use a gain utility.")
    return _Target(None, ENGINE_MARGIN, c,
                   lambda Y: np.asarray(sf(Y) >= c - utility.tol - SOLVER_TOL))


def _engine_solve(model: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, imm: np.ndarray,
                  tg: _Target, norm: str, exclude: Any = (), time_limit: float = 60.0
                  ) -> tuple[str, np.ndarray | None, float]:
    """``(status, y, cost)`` from one engine call; y verified against the utility."""
    from recourse.engine import RecourseEngine
    from recourse.utility import Utility as EngineUtility

    schema = _schema(model, x, lo, hi, imm)
    engine = RecourseEngine(model, schema, margin=tg.margin)
    kw: dict[str, Any] = {"norm": norm, "time_limit": time_limit, "exclude": exclude}
    if tg.threshold is not None:
        kw["utility"] = EngineUtility.reach(tg.threshold - ENGINE_MARGIN)
    else:
        kw["target"] = tg.target
    res = engine.explain(list(x), **kw)
    if res.status == "already_target":
        return "optimal", x.copy(), 0.0
    if res.status == "no_recourse":
        return "infeasible", None, math.inf
    if res.status != "optimal" or res.counterfactual is None:
        raise RuntimeError(f"The engine returned {res.status!r} ({getattr(res, 'message', '')});"
                           " the answer is not proven. Raise time_limit.")
    y = np.array([float(res.counterfactual[n]) for n in schema.names])
    if not bool(tg.check(y[None, :])[0]):
        raise RuntimeError("The engine's answer does not satisfy the utility when checked with "
                           "the model's own score.")
    return "optimal", y, float(res.cost or 0.0)


def _tree_candidates(model: Any, x: np.ndarray, imm: np.ndarray) -> np.ndarray | None:
    """``{|θ − x_j|}`` over the split thresholds of a tree model (None: not a tree model)."""
    from recourse.analysis.encoding import _encode
    from recourse.encoders.block import ThresholdLink

    try:
        enc = _encode(model, x.size)
    except Exception:  # noqa: BLE001 - not encodable without a box: not a tree model
        return None
    if enc.tree is None or not all(isinstance(lk, ThresholdLink) for lk in enc.links):
        return None
    out = [np.zeros(1)]
    for lk in enc.links:
        if not imm[lk.feature]:
            out.append(np.abs(np.asarray(lk.thresholds, dtype=float) - x[lk.feature]))
    return np.unique(np.concatenate(out))


def _linf_engine(model: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, imm: np.ndarray,
                 tg: _Target, rtol: float, time_limit: float) -> Nearest:
    def feasible(t: float) -> np.ndarray | None:
        blo = np.where(imm, x, np.maximum(lo, x - t))
        bhi = np.where(imm, x, np.minimum(hi, x + t))
        status, y, _ = _engine_solve(model, x, blo, bhi, imm, tg, "l1", time_limit=time_limit)
        return y if status == "optimal" else None

    span = float(np.max(np.maximum(np.where(np.isfinite(hi), hi - x, DEFAULT_BOUND),
                                   np.where(np.isfinite(lo), x - lo, DEFAULT_BOUND))))
    y_far = feasible(span)
    if y_far is None:
        return Nearest(None, math.inf, math.inf, True, "engine (linf box, whole box infeasible)")
    if bool(tg.check(x[None, :])[0]):
        return Nearest(x.copy(), 0.0, 0.0, True, "engine (already satisfied)")
    cands = _tree_candidates(model, x, imm)
    scale = max(1.0, float(np.abs(x).max()))
    if cands is not None:  # feasibility changes only just above a candidate
        eta = 1e-9 * scale
        cands = cands[cands <= span]
        lo_i, hi_i = 0, cands.size - 1
        best = None
        while lo_i <= hi_i:
            mid = (lo_i + hi_i) // 2
            y = feasible(float(cands[mid]) + eta)
            if y is not None:
                best, hi_i = (mid, y), mid - 1
            else:
                lo_i = mid + 1
        if best is None:
            return Nearest(y_far, _norm(y_far - x, "linf"), 0.0, False, "engine (linf box)")
        k, y = best
        return Nearest(y, float(cands[k]), float(cands[k]), True,
                       f"engine (linf box, exact over {cands.size} split distances; witness "
                       f"within {eta:.1g})")
    a, b, yb = 0.0, _norm(y_far - x, "linf"), y_far
    while b - a > rtol * max(b, 1e-12):
        m = 0.5 * (a + b)
        y = feasible(m)
        if y is None:
            a = m
        else:
            b, yb = _norm(y - x, "linf"), y
    return Nearest(yb, b, a, b - a <= 1e-12 * max(1.0, b),
                   f"engine (linf box, bisection: optimum in [{a:.6g}, {b:.6g}])")


def _l2_relu(model: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, imm: np.ndarray,
             tg: _Target, rtol: float, max_iter: int, time_limit: float) -> Nearest:
    """Kelley's cutting planes on the network's encoding (module docstring)."""
    import scipy.sparse as sp

    from recourse.analysis.encoding import _all_value_links, _encode
    from recourse.solvers.highs import solve_highs
    from recourse.solvers.status import Status

    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("L2 recourse for a ReLU network needs finite bounds (lower, upper): "
                         "the network's big-M rows are built over that box.")
    enc = _encode(model, x.size, lo, hi)
    if not _all_value_links(enc):
        raise ValueError("L2 recourse by outer approximation needs a model whose features enter "
                         "as values (linear models, ReLU networks).")
    d, nb = x.size, enc.n_vars
    n = nb + 1  # + t
    var = {lk.feature: lk.var for lk in enc.links}
    base_rows = [sp.hstack([enc.rows, sp.csr_matrix((enc.rows.shape[0], 1))])]
    blo, bhi = [enc.row_lo], [enc.row_hi]
    if tg.threshold is None:
        t_idx = list(enc.classes).index(tg.target)
        G, glo = enc.target_rows(t_idx, tg.margin, tg.margin)
    else:
        G, glo = enc.score[0], np.array([tg.threshold - enc.score0[0]])
    base_rows.append(sp.hstack([G, sp.csr_matrix((G.shape[0], 1))]))
    blo.append(glo)
    bhi.append(np.full(glo.size, np.inf))
    lb = np.concatenate([enc.lb, [0.0]])
    ub = np.concatenate([enc.ub, [np.inf]])
    for j in range(d):
        lb[var[j]] = max(lb[var[j]], lo[j])
        ub[var[j]] = min(ub[var[j]], hi[j])
    integer = np.concatenate([enc.integer, [False]])
    c = np.zeros(n)
    c[nb] = 1.0
    cuts = [g for j in range(d) for g in (np.eye(d)[j], -np.eye(d)[j])]
    best_y, best, lower = None, math.inf, 0.0
    for _ in range(max_iter):
        R = np.zeros((len(cuts), n))
        for r, g in enumerate(cuts):
            R[r, nb] = 1.0
            for j in range(d):
                R[r, var[j]] -= g[j]
        rlo = np.array([-float(g @ x) for g in cuts])
        A = sp.vstack(base_rows + [sp.csr_matrix(R)]).tocsr()
        sol = solve_highs(c, 0.0, lb, ub, integer, A, np.concatenate(blo + [rlo]),
                          np.concatenate(bhi + [np.full(len(cuts), np.inf)]),
                          time_limit=time_limit)
        if sol.status is Status.INFEASIBLE:
            return Nearest(None, math.inf, math.inf, True, "outer approximation (infeasible)")
        if sol.status is not Status.OPTIMAL or sol.values is None:
            raise RuntimeError(f"The L2 cutting-plane MILP ended with {sol.raw_status}.")
        lower = max(lower, float(sol.values[nb]))
        y = np.array([float(sol.values[var[j]]) for j in range(d)])
        dist = _norm(y - x, "l2")
        if dist < best and bool(tg.check(y[None, :])[0]):
            best, best_y = dist, y
        if best - lower <= rtol * max(best, 1e-12) or dist == 0:
            break
        cuts.append((y - x) / dist)
    if best_y is None:
        raise RuntimeError("No cutting-plane point passed the model's own check.")
    return Nearest(best_y, best, lower, best - lower <= rtol * max(best, 1e-12),
                   f"outer approximation ({len(cuts)} cuts): optimum in [{lower:.6g}, "
                   f"{best:.6g}]")


def nearest(model: Any, x: Any, utility: Utility, *, norm: str = "l1", target: Any = None,
            lower: Any = None, upper: Any = None, immutable: Any = None, ties: bool = False,
            rtol: float = 1e-6, max_iter: int = 200, time_limit: float = 60.0) -> Nearest:
    """Minimum-cost ``y`` with ``u_f(x, y) >= τ`` in the box (module docstring).

    Parameters
    ----------
    model : fitted sklearn model (any the engine supports) or linear ScoreFunction
        Linear models (``coef_``) and :class:`ScoreFunction` objects with ``linear=(w, b)``
        use the closed forms.
    x : array-like, shape (d,)
    utility : Utility
        ``Utility.reach_class(margin)`` for a classifier's class; ``reach_class`` /
        ``raise_by`` / ``raise_by_fraction`` for a score.
    norm : {"l1", "l2", "linf", "l0"}
        Unit feature scales: the cost is the plain norm of ``y − x`` (L0: the number of
        changed features).
    target : class label, optional
        The class to reach (default: the class not predicted at ``x``; binary models).
    lower, upper : array-like, optional
        The box (default ``±1e6`` for the engine; unbounded for closed forms).
    immutable : sequence of int, optional
        Features that may not change.
    ties : bool
        L0 only: also enumerate every optimal support (``Nearest.supports``), see
        :func:`all_l0_supports`.
    rtol : float
        Relative gap at which the L∞ bisection (ReLU networks) and the L2 cutting planes stop.
    max_iter : int
        Largest number of cutting planes (L2, ReLU networks).
    time_limit : float
        Seconds per engine / MILP call.

    Raises
    ------
    ValueError
        Unknown norm; a norm this model does not support (L2 for trees); a class margin
        ``<= 0``; bounds that exclude ``x``.
    """
    x = np.asarray(x, dtype=float)
    if norm not in NEAREST_NORMS:
        raise ValueError(f"norm must be one of {NEAREST_NORMS}; got {norm!r}.")
    lo, hi, imm = _box(x, lower, upper, immutable)
    lin = linear_form(model, target=target, x=x, oriented=utility.kind == "class")
    if lin is not None and not (norm == "l0" and ties):
        w, b = lin
        if utility.kind == "class" and hasattr(model, "classes_"):
            c = float(utility.tau)
        else:
            kappa, tau_p = utility.linear_form
            c = tau_p + kappa * (float(w @ x) + b)
        return nearest_linear(w, b, x, c - utility.tol, norm=norm, lower=lo, upper=hi,
                              immutable=np.flatnonzero(imm))
    if isinstance(model, ScoreFunction) or not hasattr(model, "predict"):
        raise ValueError("nearest needs a fitted sklearn model the engine supports, or a "
                         "linear model / ScoreFunction with linear=(w, b) for the closed forms.")
    tg = _engine_target(model, x, utility, target)
    if norm in ("l1", "l0"):
        status, y, cost = _engine_solve(model, x, lo, hi, imm, tg, norm, time_limit=time_limit)
        if y is None:
            return Nearest(None, math.inf, math.inf, True, f"engine ({norm}, no recourse)")
        out = Nearest(y, _norm(y - x, norm), _norm(y - x, norm), True, f"engine ({norm})")
        if norm == "l0" and ties:
            out.supports = all_l0_supports(model, x, utility, target=target, lower=lo,
                                           upper=hi, immutable=np.flatnonzero(imm),
                                           time_limit=time_limit)
        return out
    if norm == "linf":
        return _linf_engine(model, x, lo, hi, imm, tg, rtol, time_limit)
    return _l2_relu(model, x, lo, hi, imm, tg, rtol, max_iter, time_limit)


def all_l0_supports(model: Any, x: Any, utility: Utility, *, target: Any = None,
                    lower: Any = None, upper: Any = None, immutable: Any = None,
                    limit: int = 1000, time_limit: float = 60.0) -> list[tuple[int, ...]]:
    """Every optimal L0 support: the sets of features a minimum-count change can touch.

    The engine's L0 optimum is solved again and again with every support found so far
    excluded (``explain(..., exclude=...)``: the next answer changes neither that set nor
    a superset), until the optimum grows or no recourse is left. Returns sorted tuples of
    feature indices (``[()]`` when ``x`` already satisfies the utility).

    Raises
    ------
    RuntimeError
        More than ``limit`` optimal supports.
    """
    x = np.asarray(x, dtype=float)
    lo, hi, imm = _box(x, lower, upper, immutable)
    tg = _engine_target(model, x, utility, target)
    names = _names(model, x.size)
    found: list[tuple[int, ...]] = []
    best = None
    while True:
        excl = [{names[j] for j in s} for s in found]
        status, y, _ = _engine_solve(model, x, lo, hi, imm, tg, "l0", exclude=excl,
                                     time_limit=time_limit)
        if y is None:
            break
        supp = tuple(int(j) for j in np.flatnonzero(y != x))
        if best is None:
            best = len(supp)
        if len(supp) > best:
            break
        if not supp:
            return [()]
        if supp in found:
            raise RuntimeError(f"The engine repeated the excluded support {supp}.")
        found.append(supp)
        if len(found) > limit:
            raise RuntimeError(f"More than {limit} optimal L0 supports; raise limit.")
    return sorted(found)


def recourse_exists(model: Any, x: Any, delta: float, utility: Utility, *, norm: str = "l2",
                    target: Any = None, lower: Any = None, upper: Any = None,
                    immutable: Any = None, time_limit: float = 60.0
                    ) -> tuple[bool | None, str]:
    """Is ``T(x) ≠ ∅``, i.e. does a ``y`` with ``||y − x|| <= δ`` satisfy the utility?

    Exact (returns ``True``/``False``) for linear scores and linear classifiers in L1, L2,
    L∞ and L0 (closed forms with the box and immutable features), and for every model the
    engine supports in L1, L0 and L∞ (L∞: one engine call over the box
    ``[x − δ, x + δ]``); for ReLU networks in L2 the cutting planes decide it unless ``δ``
    falls inside the final bracket (then ``None``). Returns ``(answer, how)``.
    """
    x = np.asarray(x, dtype=float)
    if not delta >= 0:
        raise ValueError(f"delta must be >= 0; got {delta}.")
    lin = linear_form(model, target=target, x=x, oriented=utility.kind == "class")
    if norm == "linf" and lin is None:
        lo, hi, imm = _box(x, lower, upper, immutable)
        tg = _engine_target(model, x, utility, target)
        if bool(tg.check(x[None, :])[0]):
            return True, "already satisfied"
        blo = np.maximum(lo, x - delta)
        bhi = np.minimum(hi, x + delta)
        status, y, _ = _engine_solve(model, x, blo, bhi, imm, tg, "l1", time_limit=time_limit)
        return y is not None, "engine over the box [x − δ, x + δ]"
    res = nearest(model, x, utility, norm=norm, target=target, lower=lower, upper=upper,
                  immutable=immutable, time_limit=time_limit)
    if res.y is None:
        return False, res.method
    if res.exact or res.cost <= delta:
        return bool(res.cost <= delta), f"{res.method}: optimum {res.cost:.6g}"
    if res.lower_bound > delta:
        return False, f"{res.method}: lower bound {res.lower_bound:.6g} > δ"
    return None, f"{res.method}: δ inside the bracket"

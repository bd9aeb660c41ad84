"""Attribution methods with one interface (docs/theory.md §A1, B1–B3, C1–C7).

Every method is ``method(model, X, **params)``: ``model`` is anything
:func:`recourse.analysis.scores.as_score` accepts (sklearn model, callable, or
:class:`ScoreFunction`), ``X`` one point ``(d,)`` or a batch ``(n, d)``; the result has the
same shape as ``X``.

Seeding contract (stochastic methods): ``seed`` fixes the random draws, and **the same
draws are used for every point of a batch** (common random numbers). So a batch call
equals row-by-row calls with the same seed, and for a fixed seed the estimator is a
deterministic function of ``x`` — which is what continuity checks need (docs/theory.md §A5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import comb
from scipy.stats import truncnorm

from recourse.analysis.counterfactuals import (
    counterfactual_attribution,
    projection_attribution_linear,
)
from recourse.analysis.scores import ScoreFunction, as_batch, as_score

__all__ = [
    "gradient",
    "smoothgrad",
    "clime",
    "integrated_gradients",
    "shapley_exact",
    "kernel_shap",
    "shapley_kernel_weight",
    "lime_tabular",
    "lime_kernel_width",
    "lime_kernel_weight",
    "counterfactual_attribution",
    "projection_attribution_linear",
    "METHODS",
    "attribute",
]


def _out(phi: np.ndarray, single: bool) -> np.ndarray:
    return phi[0] if single else phi


def gradient(model: Any, X: Any, *, h: float = 1e-5) -> np.ndarray:
    """Vanilla gradient ``∇f(x)`` (C1): exact for linear models and ReLU MLPs, central
    differences with step ``h`` otherwise (zero almost everywhere for trees)."""
    sf = as_score(model)
    A, single = as_batch(X)
    return _out(sf.gradient(A, h=h), single)


def smoothgrad(model: Any, X: Any, *, sigma: float = 0.1, n: int = 50, seed: int = 0,
               estimator: str = "auto", h: float = 1e-5) -> np.ndarray:
    """SmoothGrad (B1, C2) with ``Σ = σ² I``.

    ``estimator="gradient"``: ``(1/n) Σ_k ∇f(x + σ ε_k)`` (exact gradients where known,
    else central differences). ``"stein"``: the score-function estimator
    ``(1/((n−1)σ²)) Σ_k (a_k − x)(f(a_k) − f̄)`` (unbiased for the gradient of the smoothed
    model; the right definition for trees, docs/theory.md §B3). ``"auto"``: Stein for
    piecewise-constant models (trees, forests), gradient otherwise.
    """
    if estimator not in ("auto", "gradient", "stein"):
        raise ValueError(f"estimator must be 'auto', 'gradient' or 'stein'; got {estimator!r}.")
    _check_noise(sigma, n)
    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    E = np.random.default_rng(seed).standard_normal((n, d))
    if estimator == "auto":
        estimator = "stein" if sf.piecewise_constant else "gradient"
    P = (A[:, None, :] + sigma * E[None]).reshape(-1, d)
    if estimator == "gradient":
        G = sf.gradient(P, h=h).reshape(N, n, d)
        return _out(G.mean(axis=1), single)
    if n < 2:
        raise ValueError("The Stein estimator needs n >= 2 perturbations.")
    v = sf(P).reshape(N, n)
    v = v - v.mean(axis=1, keepdims=True)
    phi = np.einsum("nk,kd->nd", v, E) / ((n - 1) * sigma)
    return _out(phi, single)


def clime(model: Any, X: Any, *, sigma: float = 0.1, n: int = 50, seed: int = 0,
          intercept: bool = True, centred: bool = True) -> np.ndarray:
    """C-LIME (B2): ordinary least squares of ``f(a_k)`` on ``a_k``, ``a_k ~ N(x, σ² I)``.

    Defaults: centred design ``a_k − x`` with an intercept (same slope, better
    conditioning). ``intercept=False`` is offered only to show that it changes the answer.
    """
    _check_noise(sigma, n)
    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    if n < d + int(intercept):
        raise ValueError(f"C-LIME needs at least d + 1 = {d + int(intercept)} perturbations.")
    E = np.random.default_rng(seed).standard_normal((n, d))
    P = A[:, None, :] + sigma * E[None]
    v = sf(P.reshape(-1, d)).reshape(N, n)
    out = np.empty((N, d))
    for i in range(N):
        D = sigma * E if centred else P[i]
        if intercept:
            D = np.column_stack([np.ones(n), D])
        coef, *_ = np.linalg.lstsq(D, v[i], rcond=None)
        out[i] = coef[1:] if intercept else coef
    return _out(out, single)


def _check_noise(sigma: float, n: int) -> None:
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}.")
    if int(n) != n or n < 1:
        raise ValueError(f"n (number of perturbations) must be a positive integer; got {n}.")


_RULES = ("midpoint", "right", "left", "trapezoid", "gauss")


def integrated_gradients(model: Any, X: Any, *, baseline: Any = None, m: int = 200,
                         rule: str = "midpoint", return_error: bool = False, h: float = 1e-5
                         ) -> Any:
    """Integrated Gradients (C3) with an ``m``-step Riemann (or Gauss–Legendre) rule.

    Returns ``phi``, or ``(phi, completeness_error)`` with
    ``error = Σ_i phi_i − (f(x) − f(x'))`` per point when ``return_error``. For
    piecewise-constant models IG is 0 and the error is ``−(f(x) − f(x'))``: always look at it.
    """
    if rule not in _RULES:
        raise ValueError(f"rule must be one of {_RULES}; got {rule!r}.")
    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    base = np.zeros(d) if baseline is None else np.asarray(baseline, dtype=float)
    if base.shape != (d,):
        raise ValueError(f"baseline must have shape ({d},); got {base.shape}.")
    k = np.arange(1, m + 1)
    if rule == "midpoint":
        alpha, w = (k - 0.5) / m, np.full(m, 1.0 / m)
    elif rule == "right":
        alpha, w = k / m, np.full(m, 1.0 / m)
    elif rule == "left":
        alpha, w = (k - 1) / m, np.full(m, 1.0 / m)
    elif rule == "trapezoid":
        alpha = np.linspace(0, 1, m + 1)
        w = np.full(m + 1, 1.0 / m)
        w[[0, -1]] *= 0.5
    else:
        g, gw = np.polynomial.legendre.leggauss(m)
        alpha, w = 0.5 * (g + 1), 0.5 * gw
    diff = A - base
    P = base[None, None, :] + alpha[None, :, None] * diff[:, None, :]
    G = sf.gradient(P.reshape(-1, d), h=h).reshape(N, alpha.size, d)
    phi = diff * np.einsum("k,nkd->nd", w, G)
    if not return_error:
        return _out(phi, single)
    err = phi.sum(axis=1) - (sf(A) - sf(base[None, :])[0])
    return _out(phi, single), (err[0] if single else err)


def _background(background: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    B = np.atleast_2d(np.asarray(background, dtype=float))
    if B.shape[1] != d:
        raise ValueError(f"The background has {B.shape[1]} columns; the points have {d}.")
    return B, np.full(B.shape[0], 1.0 / B.shape[0])


def _coalition_values(sf: ScoreFunction, x: np.ndarray, B: np.ndarray, wts: np.ndarray,
                      masks: np.ndarray) -> np.ndarray:
    """``v(S) = Σ_k w_k f(x_S, b^k_{N∖S})`` for boolean masks (rows)."""
    P = np.where(masks[:, None, :], x[None, None, :], B[None, :, :])
    vals = sf(P.reshape(-1, x.size)).reshape(masks.shape[0], B.shape[0])
    return np.asarray(vals @ wts)


MAX_EXACT_D = 12


def shapley_exact(model: Any, X: Any, *, background: Any = None) -> np.ndarray:
    """Exact interventional Shapley values (C4) by enumerating all ``2^d`` coalitions.

    ``background``: one baseline row or several rows (their mean value function); default
    the zero vector. Limited to ``d <= 12`` (``2^d · m`` model calls per point).
    """
    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    if d > MAX_EXACT_D:
        raise ValueError(f"Exact Shapley values enumerate 2^d coalitions; d = {d} > "
                         f"{MAX_EXACT_D}. Use kernel_shap instead.")
    B, wts = _background(np.zeros(d) if background is None else background, d)
    ids = np.arange(2 ** d)
    masks = ((ids[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)
    size = masks.sum(axis=1)
    fact = np.array([math.factorial(k) for k in range(d + 1)], dtype=float)
    out = np.empty((N, d))
    for n_i in range(N):
        v = _coalition_values(sf, A[n_i], B, wts, masks)
        for i in range(d):
            without = ids[~masks[:, i]]
            s = size[without]
            w = fact[s] * fact[d - s - 1] / fact[d]
            out[n_i, i] = np.sum(w * (v[without | (1 << i)] - v[without]))
    return _out(out, single)


def shapley_kernel_weight(d: int, size: int) -> float:
    """Shapley kernel ``π(z) = (d − 1) / (C(d, |z|) |z| (d − |z|))`` for ``0 < |z| < d``."""
    return (d - 1) / (comb(d, size, exact=True) * size * (d - size))


def kernel_shap(model: Any, X: Any, *, background: Any = None, nsamples: int | str = "auto",
                seed: int = 0) -> np.ndarray:
    """Kernel SHAP (C5): Shapley-kernel weighted least squares with the efficiency
    constraint imposed by eliminating the last feature.

    ``nsamples="auto"`` is ``2d + 2048`` (the ``shap`` default). When it covers all
    ``2^d − 2`` coalitions they are enumerated and the result equals exact Shapley values.
    Otherwise (a simplification of ``shap``'s scheme, documented here): coalition sizes are
    drawn with probability proportional to their kernel mass, members uniformly, each
    draw paired with its complement, every sample with weight 1 (importance sampling of the
    kernel). No L1 feature selection (``shap``'s ``l1_reg`` is not applied).
    """
    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    if d < 2:
        raise ValueError("Kernel SHAP needs d >= 2 (with d = 1 the answer is f(x) − v(∅)).")
    B, wts = _background(np.zeros(d) if background is None else background, d)
    budget = 2 * d + 2048 if nsamples == "auto" else int(nsamples)
    if 2 ** d - 2 <= budget:
        Z = [np.array([(i >> j) & 1 for j in range(d)], dtype=bool) for i in range(1, 2 ** d - 1)]
        masks = np.array(Z)
        pw = np.array([shapley_kernel_weight(d, int(z.sum())) for z in masks])
    else:
        rng = np.random.default_rng(seed)
        sizes = np.arange(1, d)
        mass = np.array([shapley_kernel_weight(d, int(s)) * comb(d, int(s), exact=True)
                         for s in sizes])
        half = max(1, budget // 2)
        draw = rng.choice(sizes, size=half, p=mass / mass.sum())
        rows = []
        for s in draw:
            z = np.zeros(d, dtype=bool)
            z[rng.choice(d, size=int(s), replace=False)] = True
            rows += [z, ~z]
        masks = np.array(rows)
        pw = np.ones(masks.shape[0])
    out = np.empty((N, d))
    ends_m = np.array([np.zeros(d, bool), np.ones(d, bool)])
    allm = np.concatenate([masks, ends_m])
    # few model calls: chunks of points share one call (at most ~200 000 rows each)
    per_point = allm.shape[0] * B.shape[0]
    chunk = max(1, 200_000 // per_point)
    vals = np.empty((N, allm.shape[0]))
    for c0 in range(0, N, chunk):
        Ac = A[c0:c0 + chunk]
        P = np.where(allm[None, :, None, :], Ac[:, None, None, :], B[None, None, :, :])
        vals[c0:c0 + chunk] = sf(P.reshape(-1, d)).reshape(Ac.shape[0], allm.shape[0],
                                                           B.shape[0]) @ wts
    Zf = masks.astype(float)
    Xd = Zf[:, :-1] - Zf[:, -1:]
    sw = np.sqrt(pw)
    for n_i in range(N):
        v = vals[n_i, : masks.shape[0]]
        v0, vN = vals[n_i, -2], vals[n_i, -1]
        total = vN - v0
        y = v - v0 - Zf[:, -1] * total
        coef, *_ = np.linalg.lstsq(Xd * sw[:, None], y * sw, rcond=None)
        out[n_i, :-1] = coef
        out[n_i, -1] = total - coef.sum()
    return _out(out, single)


# ---------------------------------------------------------------- tabular LIME (C6)
def lime_kernel_width(d: int) -> float:
    """``0.75 √d`` (``lime`` 0.2.0.1 default)."""
    return 0.75 * math.sqrt(d)


def lime_kernel_weight(distance: Any, d: int, kernel_width: float | None = None) -> np.ndarray:
    """``lime``'s kernel ``√(exp(−D²/w²))`` at distances ``D`` (default ``w = 0.75 √d``).
    With quartile discretisation ``D² =`` the number of features whose bin differs."""
    w = lime_kernel_width(d) if kernel_width is None else float(kernel_width)
    D = np.asarray(distance, dtype=float)
    return np.asarray(np.sqrt(np.exp(-(D ** 2) / w ** 2)))


def lime_tabular(model: Any, X: Any, *, training_data: Any, discretize: bool = True,
                 num_samples: int = 5000, kernel_width: float | None = None, seed: int = 0,
                 sample_around_instance: bool = False, alpha: float = 1.0,
                 return_raw: bool = False, return_details: bool = False) -> Any:
    """Tabular LIME as ``lime`` 0.2.0.1 defines it (docs/theory.md §C6), on a scalar score.

    Implemented from the specification (quartile discretiser, bin frequencies, truncated
    normal un-discretisation, kernel ``exp(−D²/(2 w²))`` with ``w = 0.75 √d``, weighted
    ``Ridge(alpha=1)`` surrogate). Differences from the package, stated: all features are
    kept (no feature selection, i.e. ``num_features >= d``); the random numbers come from
    ``numpy.random.RandomState(seed)`` re-created for every explained point (a fresh
    explainer per point), but are not drawn in the package's order, so results agree with
    ``lime`` in distribution, not bit for bit. ``model`` is explained through its scalar
    score (in classification mode ``lime`` regresses the probability of the label; pass
    ``as_score(model, output="proba")`` for the same target).

    Returned direction (a design choice, docs/theory.md §D.6): without discretisation, the surrogate
    coefficient per training standard deviation divided by that standard deviation (a
    slope per unit of the feature). With discretisation, the coefficient of the indicator
    "feature ``j`` is in the same quartile bin as ``x``" (positive: staying in the bin
    helps), i.e. exactly what ``lime`` reports; ``return_raw`` is accepted for symmetry.

    ``return_details=True`` returns ``(phi, details)``; ``details`` holds ``kernel_width``,
    ``quartiles`` (per feature, the training 25/50/75 % percentiles with duplicates
    removed, as ``lime`` cuts; ``None`` without discretisation), ``bins`` (per point, the
    bin index of every feature) and ``weights`` (per point, the kernel weight of every
    sample; the first sample is the point itself, weight 1).
    """
    from sklearn.linear_model import Ridge

    sf = as_score(model)
    A, single = as_batch(X)
    N, d = A.shape
    T = np.asarray(training_data, dtype=float)
    if T.ndim != 2 or T.shape[1] != d:
        raise ValueError(f"training_data must be (rows, {d}); got {T.shape}.")
    width = lime_kernel_width(d) if kernel_width is None else float(kernel_width)
    out = np.empty((N, d))
    all_w: list[np.ndarray] = []
    all_bins: list[np.ndarray] = []
    qs: list[np.ndarray] = []
    mean, std = T.mean(axis=0), T.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    if discretize:
        qs = [np.unique(np.percentile(T[:, j], [25, 50, 75])) for j in range(d)]
        tbins = np.column_stack([np.searchsorted(qs[j], T[:, j]) for j in range(d)])
        stats: list[tuple[np.ndarray, ...]] = []
        for j in range(d):
            nb = qs[j].size + 1
            freq = np.array([(tbins[:, j] == b).mean() for b in range(nb)])
            mus: list[float] = []
            sds: list[float] = []
            mins: list[float] = []
            maxs: list[float] = []
            for b in range(nb):
                col = T[tbins[:, j] == b, j]
                if col.size == 0:
                    col = np.array([qs[j][min(b, qs[j].size - 1)]])
                mus.append(col.mean())
                sds.append(col.std())
                mins.append(col.min())
                maxs.append(col.max())
            stats.append((freq, np.array(mus), np.array(sds), np.array(mins), np.array(maxs)))
    designs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i in range(N):
        rs = np.random.RandomState(seed)
        x = A[i]
        if discretize:
            xb = np.array([np.searchsorted(qs[j], x[j]) for j in range(d)])
            bins = np.empty((num_samples, d), dtype=np.int64)
            raw = np.empty((num_samples, d))
            for j in range(d):
                freq, b_mu, b_sd, b_min, b_max = stats[j]
                bins[:, j] = rs.choice(freq.size, size=num_samples, replace=True, p=freq)
                bins[0, j] = xb[j]
                mu, sd = b_mu[bins[:, j]], b_sd[bins[:, j]]
                lo, hi = b_min[bins[:, j]], b_max[bins[:, j]]
                val = mu.copy()
                ok = sd > 0
                a = (lo[ok] - mu[ok]) / sd[ok]
                b = (hi[ok] - mu[ok]) / sd[ok]
                val[ok] = truncnorm.rvs(a, b, loc=mu[ok], scale=sd[ok], random_state=rs)
                raw[:, j] = val
            raw[0] = x
            all_bins.append(xb)
            Zint = (bins == xb[None, :]).astype(float)
            D = np.sqrt(((Zint - Zint[0]) ** 2).sum(axis=1))
        else:
            G = rs.normal(0, 1, size=(num_samples, d))
            raw = G * std + (x if sample_around_instance else mean)
            raw[0] = x
            Zint = (raw - mean) / std
            D = np.sqrt(((Zint - Zint[0]) ** 2).sum(axis=1))
        weights = np.sqrt(np.exp(-(D ** 2) / width ** 2))
        all_w.append(weights)
        designs.append((raw, Zint, weights))
    # one model call for the samples of every point
    ys = sf(np.concatenate([r for r, _, _ in designs])).reshape(N, -1) if N else np.zeros((0,))
    for i, (raw, Zint, weights) in enumerate(designs):
        y = ys[i]
        reg = Ridge(alpha=alpha, fit_intercept=True)
        reg.fit(Zint, y, sample_weight=weights)
        coef = np.asarray(reg.coef_, dtype=float)
        out[i] = coef if (discretize or return_raw) else coef / std
    if return_details:
        det = {"kernel_width": width, "quartiles": qs if discretize else None,
               "bins": (all_bins[0] if single else all_bins) if discretize else None,
               "weights": all_w[0] if single else all_w}
        return _out(out, single), det
    return _out(out, single)


METHODS = {
    "gradient": gradient,
    "smoothgrad": smoothgrad,
    "clime": clime,
    "integrated_gradients": integrated_gradients,
    "shapley_exact": shapley_exact,
    "kernel_shap": kernel_shap,
    "lime_tabular": lime_tabular,
    "counterfactual": counterfactual_attribution,
}


def attribute(method: str, model: Any, X: Any, **params: Any) -> np.ndarray:
    """Dispatch by name (``METHODS``)."""
    if method not in METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; known: {sorted(METHODS)}.")
    return METHODS[method](model, X, **params)  # type: ignore[operator]


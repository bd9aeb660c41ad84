"""Where a continuous split changes side in user units, when float64 cannot tell.

A tree split ``float32(model_input) <= t_m`` changes side, in user units, at the float32
rounding boundary mapped back through the preprocessing's affine map
(:func:`float32_boundaries`). The engine places a counterfactual a
thousandth of that float32 cell beyond the boundary. Where the cell is tiny next to the
size of the numbers the preprocessing works with (a standardised split near 0: a float32
cell of 1e-11 against a mean of 60), the float64 rounding of the preprocessing itself,
and of the affine map recovered from it, is a sizeable part of that thousandth, and the
mapped-back boundary can sit on the wrong side of the point the model actually switches
at. For those splits :func:`exact_boundaries` finds the switch with the fitted
preprocessor itself, by a few rounds of grid refinement evaluated in one call each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["continuous_cuts", "float32_boundaries", "rounding_error", "exact_boundaries",
           "PLACEMENT", "ROUNDING_SAFETY"]

#: Fraction of a float32 cell beyond a threshold at which a counterfactual is placed
#: (``recourse.solvers.problem.decode``).
PLACEMENT = 1e-3
#: A boundary is checked with the preprocessor when the placement gap is below this many
#: float64 rounding errors of the numbers the preprocessing adds and multiplies.
ROUNDING_SAFETY = 1e4
_GRID = 33
_ROUNDS = 16


def float32_boundaries(a: np.ndarray, b: np.ndarray,
                       t_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """User values where the splits ``float32(a x + b) <= t_m`` change side, and the
    widths (user units) of the float32 cells there (arrays).

    The model sees ``a x + b`` rounded to float32: every value below the midpoint between
    the largest float32 ``<= t_m`` and the next float32 rounds left, every value above it
    rounds right. So the boundary in user units is that midpoint mapped back, not
    ``(t_m - b) / a`` (which can put an applicant on the wrong side: 0.15 against a
    threshold 0.1500000022 is below it in float64, above it in float32).
    """
    t_m = np.asarray(t_m, dtype=np.float64)
    f = t_m.astype(np.float32)
    left = np.where(f.astype(np.float64) <= t_m, f, np.nextafter(f, np.float32(-np.inf)))
    right = np.nextafter(left, np.float32(np.inf))
    lf, rf = left.astype(np.float64), right.astype(np.float64)
    return ((lf + rf) / 2.0 - b) / a, (rf - lf) / np.abs(a)


def rounding_error(a: np.ndarray, b: np.ndarray, t: np.ndarray,
                   t_m: np.ndarray) -> np.ndarray:
    """A bound (user units, with :data:`ROUNDING_SAFETY`) on how far float64 rounding of
    the preprocessing and of its recovered affine map may move a boundary near ``t``."""
    return (ROUNDING_SAFETY * np.finfo(float).eps
            * (np.abs(a * t) + np.abs(b) + np.abs(t_m)) / np.abs(a))


def exact_boundaries(feat: np.ndarray, inp: np.ndarray, t_m: np.ndarray, a: np.ndarray,
                     t: np.ndarray, step: np.ndarray, err: np.ndarray,
                     exact: Any) -> np.ndarray:
    """User-unit boundaries of splits found with the fitted preprocessor (NaN where the
    switch was not bracketed).

    Per split (arrays): its feature, model input, threshold ``t_m``, the affine map's
    slope ``a``, the mapped-back boundary ``t``, the float32 cell's width ``step`` and
    the rounding bound ``err`` (both user units). ``exact`` is the input map's
    ``exact({feature: values})`` (model inputs computed by the preprocessor). The
    result is the smallest value found on the upper side (``z = 1``) within a hundredth
    of the placement gap (or four float64 steps, if more) of the last value found on the
    lower side.
    """
    n = len(t)
    if n == 0 or exact is None:
        return np.full(n, np.nan)
    up = a > 0  # x increasing: input increasing
    gap = PLACEMENT * step
    # how close the two sides must be found: a hundredth of the gap, or a few float64
    # steps where the gap itself is only a few (a cell near 0 mapped to a mean of 60)
    tol = np.maximum(1e-2 * gap, 4 * np.spacing(np.abs(t)))
    width = np.maximum(gap, err)
    lo, hi = t - width, t + width

    def upper(X: np.ndarray) -> np.ndarray:
        """Per split (rows of ``X``), which values lie on the upper side (z = 1)."""
        batch: dict[int, list[np.ndarray]] = {}
        for i in range(X.shape[0]):
            batch.setdefault(int(feat[i]), []).append(X[i])
        out = exact({f: np.concatenate(v) for f, v in batch.items()})
        res = np.empty(X.shape, dtype=bool)
        pos = dict.fromkeys(batch, 0)
        for i in range(X.shape[0]):
            f = int(feat[i])
            z = np.asarray(out[f][pos[f] : pos[f] + X.shape[1], inp[i]], dtype=np.float32)
            pos[f] += X.shape[1]
            right = z.astype(np.float64) > t_m[i]  # sklearn: float32 input vs float64 t
            res[i] = right if up[i] else ~right
        return res

    rows = np.arange(n)
    ok = np.zeros(n, dtype=bool)
    for _ in range(4):  # widen until the switch is bracketed
        ends = upper(np.stack([lo, hi], axis=1))
        ok = ~ends[:, 0] & ends[:, 1]
        if ok.all():
            break
        lo, hi = np.where(ok, lo, t - 16 * (t - lo)), np.where(ok, hi, t + 16 * (hi - t))
    frac = np.linspace(0.0, 1.0, _GRID)
    for _ in range(_ROUNDS):
        if np.all(~ok | (hi - lo <= tol)):
            break
        X = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
        X[:, -1] = hi
        U = upper(X)
        ok &= ~U[:, 0]  # lo must stay on the lower side (a monotone map)
        U[:, -1] = True  # hi is known to be on the upper side
        first = np.argmax(U, axis=1)  # the upper side is a suffix
        lo, hi = X[rows, np.maximum(first - 1, 0)], X[rows, first]
    return np.where(ok & (hi - lo <= tol), hi, np.nan)


def continuous_cuts(trees: list[dict[str, np.ndarray]], imap: Any, space: Any,
                    ) -> dict[tuple[int, float], tuple[float, float, bool]]:
    """``{(model input, t_m): (t, step, decided)}`` for every continuous split of
    ``trees``, computed in one vectorised pass: the user boundary ``t`` and the float32
    cell's width ``step`` of :func:`float32_boundaries`. Where that boundary is in doubt
    (:func:`rounding_error` reaches the placement gap) and the input map can run the
    preprocessor, ``t`` is the one :func:`exact_boundaries` found and ``decided`` is
    True (``t`` itself is then on the upper side)."""
    pairs = [np.stack([ta["feature"][ta["left"] != -1].astype(np.float64),
                       ta["threshold"][ta["left"] != -1].astype(np.float64)], axis=1)
             for ta in trees]
    if not pairs:
        return {}
    P = np.unique(np.concatenate(pairs), axis=0)
    inp = P[:, 0].astype(np.int64)
    f = imap.source[inp]
    continuous = np.array([not space.is_group(j) and not space.integer[j]
                           for j in range(space.n_features)] + [False], dtype=bool)
    numeric = continuous[np.where(f >= 0, f, space.n_features)]  # -1, -2: no feature
    inp, t_m, f = inp[numeric], P[numeric, 1], f[numeric]
    a = imap.A[inp, space.start[f]]
    b = imap.b[inp]
    t, step = float32_boundaries(a, b, t_m)
    decided = np.zeros(t.size, dtype=bool)
    d = np.flatnonzero(PLACEMENT * step < rounding_error(a, b, t, t_m))
    if d.size and imap.exact is not None:
        found = exact_boundaries(f[d], inp[d], t_m[d], a[d], t[d], step[d],
                                 rounding_error(a[d], b[d], t[d], t_m[d]), imap.exact)
        ok = np.isfinite(found)
        t[d[ok]] = found[ok]
        decided[d[ok]] = True
    return {(int(i), float(m)): (float(x), float(w), bool(k))
            for i, m, x, w, k in zip(inp, t_m, t, step, decided)}

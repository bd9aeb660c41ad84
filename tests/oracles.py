"""Independent oracles for recourse tests.

Nothing here imports the engine (``recourse.explain``, ``encoders``, ``solvers``): the
only project code used is the *data* of a :class:`recourse.schema.FeatureSchema` (its
features' kind, bounds, direction, weight, scale, categories). The cost definition is
re-implemented from the schema module's docstring:

* L1 = sum over numeric features of ``weight * |x' - x| / scale``
       + ``weight`` for every categorical feature that changes level
       + ``weight * |rank' - rank| / scale`` for ordinal features;
* L0 = sum of ``weight`` over the features that change.

Action set (as the brief and ``recourse.solvers.spec.ActionSpec.numeric_range`` state it):
immutable features keep their value; an increase-only feature never decreases (and
a decrease-only one never increases); a numeric feature stays within its bounds, except
that the applicant's own value is always allowed. Where the applicant lies *outside* the
bounds the repository's ``ActionSpec.numeric_range`` reads the reachable set as the hull
``[min(lower, x), max(upper, x)]``; the oracles follow that reading by default
(``bounds_mode="hull"``) and offer ``bounds_mode="strict"`` (``[lower, upper] ∪ {x}``).
Tests that should not depend on this choice draw bounds that contain the applicant.

Oracles
-------
``brute_force_tree_optimum``
    Exact optimum for (small) decision trees and forests, bare or behind a
    ``ColumnTransformer`` (OneHotEncoder / StandardScaler / MinMaxScaler / passthrough),
    by enumerating one candidate value per feature and per split region.
``linear_lp_optimum`` / ``linear_rows_lp_optimum`` / ``linear_integer_grid_optimum``
    L1 optimum for linear models on numeric features with ``scipy.optimize.linprog``
    (integer features by enumerating their values around the LP).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TOL_ABS",
    "TOL_REL",
    "OracleOptimum",
    "costs_close",
    "point_cost",
    "reachable_interval",
    "actionability_violations",
    "model_predict",
    "brute_force_tree_optimum",
    "tree_boundaries",
    "float32_slack",
    "affine_decision",
    "linear_lp_optimum",
    "linear_rows_lp_optimum",
    "linear_integer_grid_optimum",
]

#: Continuous optima are infima (a tree split needs ``x > t`` strictly, float32 rounding):
#: compare optimal costs with this tolerance.
TOL_REL = 1e-4
TOL_ABS = 1e-6


def costs_close(a: float, b: float, rel: float = TOL_REL, abs_: float = TOL_ABS) -> bool:
    return abs(float(a) - float(b)) <= abs_ + rel * max(abs(float(a)), abs(float(b)))


@dataclass
class OracleOptimum:
    """An oracle's answer: the optimal cost under ``norm`` and one optimal point."""

    cost: float
    l1: float
    l0: float
    point: dict[str, Any]
    norm: str = "l1"
    n_candidates: int = 0
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- costs
def _is_group(f: Any) -> bool:
    return f.kind in ("categorical", "ordinal")


def _num_bounds(f: Any) -> tuple[float, float]:
    lo = -math.inf if f.lower is None else float(f.lower)
    hi = math.inf if f.upper is None else float(f.upper)
    if f.kind == "binary":
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return lo, hi


def _same(a: Any, b: Any) -> bool:
    """Equality of two feature values (numbers compared as floats)."""
    if isinstance(a, (int, float, np.integer, np.floating)) and isinstance(
        b, (int, float, np.integer, np.floating)
    ):
        return float(a) == float(b)
    return a == b


def feature_cost(f: Any, before: Any, after: Any) -> tuple[float, float]:
    """(L1, L0) cost of changing feature ``f`` from ``before`` to ``after``."""
    if _same(before, after):
        return 0.0, 0.0
    if f.kind == "categorical":
        return float(f.weight), float(f.weight)
    if f.kind == "ordinal":
        cats = list(f.categories)
        r = abs(cats.index(after) - cats.index(before))
        return float(f.weight) * r / float(f.scale), float(f.weight)
    return float(f.weight) * abs(float(after) - float(before)) / float(f.scale), float(f.weight)


def point_cost(schema: Any, x: Mapping[str, Any], xp: Mapping[str, Any]) -> tuple[float, float]:
    """(L1, L0) cost of moving the applicant ``x`` to ``xp`` (both ``{name: value}``)."""
    l1 = l0 = 0.0
    for f in schema.features:
        a, b = feature_cost(f, x[f.name], xp[f.name])
        l1 += a
        l0 += b
    return l1, l0


def reachable_interval(f: Any, x0: float, bounds_mode: str = "hull") -> tuple[float, float]:
    """Closed interval of values numeric feature ``f`` may take from ``x0``.

    With ``bounds_mode="strict"`` the set is this interval intersected with the bounds,
    plus ``x0`` itself; see :func:`_numeric_allowed`.
    """
    if f.immutable:
        return x0, x0
    lo, hi = _num_bounds(f)
    if f.direction == "increase":
        lo = x0
    elif f.direction == "decrease":
        hi = x0
    if bounds_mode == "hull":
        return min(lo, x0), max(hi, x0)
    return lo, hi


def _numeric_allowed(f: Any, x0: float, v: np.ndarray, bounds_mode: str) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if f.immutable:
        return v == x0
    lo, hi = reachable_interval(f, x0, bounds_mode)
    ok = (v >= lo) & (v <= hi)
    if f.kind in ("integer", "binary"):
        ok &= v == np.round(v)
    return ok | (v == x0)


def _group_allowed(f: Any, x0: Any) -> list[Any]:
    cats = list(f.categories)
    if f.immutable:
        return [x0]
    if f.kind == "ordinal" and f.direction != "any":
        r0 = cats.index(x0)
        if f.direction == "increase":
            return cats[r0:]
        return cats[: r0 + 1]
    return cats


def actionability_violations(
    schema: Any, x: Mapping[str, Any], cf: Mapping[str, Any], bounds_mode: str = "hull"
) -> list[str]:
    """Every rule of the action set that ``cf`` breaks (empty list: actionable)."""
    out: list[str] = []
    missing = [n for n in schema.names if n not in cf]
    if missing:
        return [f"counterfactual lacks features {missing}"]
    for f in schema.features:
        a, b = x[f.name], cf[f.name]
        if f.immutable and not _same(a, b):
            out.append(f"immutable {f.name!r} changed {a!r} -> {b!r}")
            continue
        if _is_group(f):
            if b not in list(f.categories):
                out.append(f"{f.name!r}: {b!r} is not a category of the schema")
            elif b not in _group_allowed(f, a):
                out.append(f"{f.name!r}: {a!r} -> {b!r} breaks direction {f.direction}")
            continue
        try:
            bv = float(b)
        except (TypeError, ValueError):
            out.append(f"{f.name!r}: non-numeric value {b!r}")
            continue
        if not math.isfinite(bv):
            out.append(f"{f.name!r}: non-finite value {b!r}")
            continue
        if f.kind in ("integer", "binary") and bv != round(bv):
            out.append(f"{f.name!r} is {f.kind} but the counterfactual has {b!r}")
        if f.direction == "increase" and bv < float(a):
            out.append(f"increase-only {f.name!r} decreased {a!r} -> {b!r}")
        if f.direction == "decrease" and bv > float(a):
            out.append(f"decrease-only {f.name!r} increased {a!r} -> {b!r}")
        if bv != float(a):
            lo, hi = reachable_interval(f, float(a), bounds_mode)
            if not (lo <= bv <= hi):
                out.append(f"{f.name!r} = {b!r} outside the allowed range [{lo}, {hi}]")
    return out


# ------------------------------------------------------------------ model access
def _frame(schema: Any, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    data = {}
    for f in schema.features:
        col = columns[f.name]
        data[f.name] = (
            np.asarray(col, dtype=object) if _is_group(f) else np.asarray(col, dtype=float)
        )
    return pd.DataFrame(data, columns=schema.names)


def _model_input(model: Any, schema: Any, frame: pd.DataFrame) -> Any:
    """The model's input: a frame when it was fitted on one, else a float array."""
    if hasattr(model, "feature_names_in_") or any(_is_group(f) for f in schema.features):
        return frame
    return frame.to_numpy(dtype=float)


def model_predict(model: Any, schema: Any, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """``model.predict`` on rows given as ``{name: value}`` dicts (user units)."""
    frame = _frame(schema, {n: [r[n] for r in rows] for n in schema.names})
    return np.asarray(model.predict(_model_input(model, schema, frame)))


# ------------------------------------------------------------------- trees: setup
def _split_pipeline(model: Any) -> tuple[Any, Any]:
    """(preprocessor or None, final estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        if len(model.steps) == 1:
            return None, model.steps[-1][1]
        pre = model[:-1]
        return pre, model.steps[-1][1]
    return None, model


def _trees_of(est: Any) -> list[Any]:
    if hasattr(est, "tree_"):
        return [est]
    if hasattr(est, "estimators_"):
        out = []
        for e in np.ravel(np.asarray(est.estimators_, dtype=object)):
            out.extend(_trees_of(e))
        return out
    raise TypeError(f"brute_force_tree_optimum: not a tree model: {type(est).__name__}")


def _numeric_output_columns(pre: Any, schema: Any) -> dict[str, int]:
    """For every numeric schema feature, the column of ``pre``'s output that it becomes
    (a 1:1 scaler or passthrough); group features (one-hot) are not mapped."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(pre, Pipeline):
        if len(pre.steps) != 1:
            raise TypeError("oracle supports a single ColumnTransformer before the estimator")
        pre = pre.steps[0][1]
    if not isinstance(pre, ColumnTransformer):
        raise TypeError(f"oracle supports ColumnTransformer preprocessing, got {type(pre)}")
    names_in = list(pre.feature_names_in_)
    out: dict[str, int] = {}
    for name, trans, cols in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        sl = pre.output_indices_[name]
        if isinstance(cols, slice) or np.ndim(cols) == 0:
            cols = [cols]
        cols = [names_in[c] if isinstance(c, (int, np.integer)) else str(c) for c in cols]
        numeric = [c for c in cols if not _is_group(schema[c])]
        if not numeric:
            continue
        width = sl.stop - sl.start
        if width != len(cols):
            raise TypeError(f"transformer {name!r} mixes numeric columns with a many-output "
                            "encoder; the oracle needs one output column per numeric feature")
        for i, c in enumerate(cols):
            if not _is_group(schema[c]):
                out[c] = sl.start + i
    return out


def _transform_fn(model: Any, schema: Any, x: Mapping[str, Any]):
    """``(T, cols)``: ``T(names, values)`` gives, for every row ``r``, the model-input value
    (after preprocessing, before the tree's float32 cast) of feature ``names[r]`` set to
    ``values[r]`` (other features at ``x``); ``cols`` maps numeric features to the
    model-input column the trees split on."""
    pre, _ = _split_pipeline(model)
    if pre is None:
        cols = {f.name: j for j, f in enumerate(schema.features)}

        def ident(names: np.ndarray, values: np.ndarray) -> np.ndarray:
            return np.asarray(values, dtype=float)

        return ident, cols
    cols = _numeric_output_columns(pre, schema)

    def through(names: np.ndarray, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        names = np.asarray(names, dtype=object)
        data = {}
        for n in schema.names:
            if n in cols:
                col = np.full(len(values), float(x[n]))
                sel = names == n
                col[sel] = values[sel]
            else:
                col = [x[n]] * len(values)
            data[n] = col
        z = pre.transform(_frame(schema, data))
        if hasattr(z, "toarray"):
            z = z.toarray()
        z = np.asarray(z, dtype=float)
        return z[np.arange(len(values)), [cols[n] for n in names]]

    return through, cols


def _passes(T, names: np.ndarray, u: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Does value ``u`` go right at a split ``z <= t``? sklearn casts the (transformed)
    input to float32 and compares it, as a double, with the float64 threshold."""
    z = T(names, u).astype(np.float32).astype(np.float64)
    return z > t


def _boundaries(T, names: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For thresholds ``t`` (model-input units) on features ``names``: ``lo`` = the largest
    float64 user value that goes left, ``hi`` = the smallest that goes right (``hi`` is the
    next float64 after ``lo``). Found by bisection through the real preprocessing: the map
    from the user value to the float32 the tree sees is monotone non-decreasing."""
    t = np.asarray(t, dtype=float)
    names = np.asarray(names, dtype=object)
    # affine first guess of the inverse transform, per feature
    uniq = sorted(set(names.tolist()))
    probe_names = np.array([n for n in uniq for _ in (0, 1)], dtype=object)
    probe = T(probe_names, np.tile([0.0, 1.0], len(uniq))).reshape(-1, 2)
    z0 = {n: p[0] for n, p in zip(uniq, probe)}
    slope = {n: p[1] - p[0] for n, p in zip(uniq, probe)}
    for n in uniq:
        if not slope[n] > 0:
            raise TypeError(f"transform of {n!r} is not increasing (slope {slope[n]})")
    u0 = np.array([(ti - z0[n]) / slope[n] for n, ti in zip(names, t)])
    d = np.maximum(1e-9, 1e-6 * np.abs(u0))
    lo, hi = u0 - d, u0 + d
    for _ in range(200):
        bad_lo = _passes(T, names, lo, t)
        bad_hi = ~_passes(T, names, hi, t)
        if not (bad_lo.any() or bad_hi.any()):
            break
        d = d * 4
        lo = np.where(bad_lo, u0 - d, lo)
        hi = np.where(bad_hi, u0 + d, hi)
    else:  # pragma: no cover
        raise RuntimeError("could not bracket a threshold")
    # a search in 16 parts per round (4 bits each, all points through the preprocessing in
    # one call: a call costs far more than a row) until lo and hi are adjacent floats
    frac = np.arange(1, _PARTS) / _PARTS
    rows = np.arange(len(t))
    for _ in range(2000):
        pts = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
        inside = (pts > lo[:, None]) & (pts < hi[:, None])
        if not inside.any():
            break
        right = _passes(T, np.repeat(names, frac.size), pts.ravel(),
                        np.repeat(t, frac.size)).reshape(pts.shape)
        # a point on or beyond an end takes that end's side; the map is monotone, so a
        # row of ``right`` is False up to its first True and True after it
        right = np.where(inside, right, pts >= hi[:, None])
        first = np.where(right.any(axis=1), np.argmax(right, axis=1), frac.size)
        hi = np.where(first < frac.size, pts[rows, np.minimum(first, frac.size - 1)], hi)
        lo = np.where(first > 0, pts[rows, np.maximum(first - 1, 0)], lo)
    assert not _passes(T, names, lo, t).any() and _passes(T, names, hi, t).all()
    assert np.all(np.nextafter(lo, np.inf) == hi)  # adjacent: nothing lies between
    return lo, hi


#: Parts per round of the boundary search in :func:`_boundaries`.
_PARTS = 16


_BOUNDARY_CACHE: dict[int, tuple[Any, Any, dict[str, np.ndarray]]] = {}


def tree_boundaries(model: Any, schema: Any, x: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """For every numeric feature, the user-unit boundaries of the ensemble's split regions:
    an array of shape ``(k, 2)`` with rows ``(lo, hi)`` (see :func:`_boundaries`).

    They depend neither on ``x`` (a ColumnTransformer maps each column on its own) nor on
    the action set; they are cached per model object and feature layout."""
    key = id(model)
    layout = tuple((f.name, _is_group(f)) for f in schema.features)
    hit = _BOUNDARY_CACHE.get(key)
    if hit is not None and hit[0] is model and hit[1] == layout:
        return hit[2]
    _, est = _split_pipeline(model)
    trees = _trees_of(est)
    T, cols = _transform_fn(model, schema, x)
    by_col: dict[int, set[float]] = {}
    for tr in trees:
        tt = tr.tree_
        inner = tt.feature >= 0
        for k, th in zip(tt.feature[inner], tt.threshold[inner]):
            by_col.setdefault(int(k), set()).add(float(th))
    names, ths = [], []
    for name, k in cols.items():
        for th in sorted(by_col.get(k, ())):
            names.append(name)
            ths.append(th)
    out: dict[str, np.ndarray] = {name: np.zeros((0, 2)) for name in cols}
    if ths:
        names_a = np.array(names, dtype=object)
        lo, hi = _boundaries(T, names_a, np.array(ths))
        for name in cols:
            sel = names_a == name
            if sel.any():
                out[name] = np.column_stack([lo[sel], hi[sel]])
    if len(_BOUNDARY_CACHE) > 64:
        _BOUNDARY_CACHE.clear()
    _BOUNDARY_CACHE[key] = (model, layout, out)
    return out


def _numeric_candidates(f: Any, x0: float, bnd: np.ndarray, bounds_mode: str) -> np.ndarray:
    vals = [x0]
    if f.immutable:
        return np.array(vals)
    lo, hi = _num_bounds(f)
    integer = f.kind in ("integer", "binary")
    for b_lo, b_hi in bnd:
        if integer:
            vals += [math.floor(b_lo), math.ceil(b_hi)]
        else:
            vals += [b_lo, b_hi]
    for b in (lo, hi):
        if math.isfinite(b):
            vals.append(b)
    if integer:
        if math.isfinite(lo):
            vals.append(math.ceil(lo))
        if math.isfinite(hi):
            vals.append(math.floor(hi))
    v = np.unique(np.asarray(vals, dtype=float))
    return v[_numeric_allowed(f, x0, v, bounds_mode)]


def _affine_maps(model: Any, schema: Any, x: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """``{feature: (z0, slope)}``: the (affine) map from a numeric feature's user value to
    the model-input value the trees split on."""
    T, cols = _transform_fn(model, schema, x)
    names = np.array([n for n in cols for _ in (0, 1)], dtype=object)
    z = T(names, np.tile([0.0, 1.0], len(cols))).reshape(-1, 2)
    return {n: (float(p[0]), float(p[1] - p[0])) for n, p in zip(cols, z)}


def float32_slack(oracle: OracleOptimum, schema: Any, x: Mapping[str, Any],
                  cf: Mapping[str, Any]) -> float:
    """How much dearer than the exact (float64) optimum a counterfactual may be when it
    places every moved continuous feature on a float32 value of the model input next to a
    threshold, as docs/formulations.md (Float32 threshold handling) describes: two float32
    spacings (in user units, through the scaler) per moved continuous feature, times its
    unit cost."""
    maps = oracle.info.get("affine", {})
    slack = 0.0
    for f in schema.features:
        if f.kind != "continuous" or _same(x[f.name], cf[f.name]) or f.name not in maps:
            continue
        z0, slope = maps[f.name]
        z = z0 + slope * float(cf[f.name])
        ulp = float(np.spacing(np.float32(abs(z))))
        slack += float(f.weight) / float(f.scale) * 2.0 * ulp / slope
    return slack


# ------------------------------------------------------------------ trees: oracle
def _grid(model: Any, schema: Any, x: Mapping[str, Any], bounds_mode: str,
          max_points: int) -> tuple[list[Any], list[int], int]:
    """Per feature, the candidate values whose product visits the cheapest point of every
    cell (see :func:`brute_force_tree_optimum`); their counts and the product's size."""
    bnds = tree_boundaries(model, schema, x)
    cand: list[Any] = []
    for f in schema.features:
        if _is_group(f):
            cand.append(_group_allowed(f, x[f.name]))
        else:
            cand.append(_numeric_candidates(f, float(x[f.name]), bnds[f.name], bounds_mode))
    sizes = [len(c) for c in cand]
    total = int(np.prod(sizes))
    if total > max_points:
        raise ValueError(f"brute force too large: {sizes} -> {total} points > {max_points}")
    return cand, sizes, total


def brute_force_tree_optimum(
    model: Any,
    schema: Any,
    x: Mapping[str, Any],
    target: Any,
    norm: str = "l1",
    *,
    bounds_mode: str = "hull",
    max_points: int = 60_000,
    chunk: int = 8192,
    min_proba_margin: float | None = None,
) -> OracleOptimum | None:
    """Exact minimal-cost counterfactual of a tree / forest by enumeration.

    ``x`` is the applicant as ``{name: value}`` (user units). Returns ``None`` when no
    admissible point is predicted ``target``.

    Why this is exact. Collect, over all trees, the split thresholds on every numeric
    feature. They cut that feature's axis into regions; inside the product of one region
    per feature (and one level per categorical feature) every tree takes the same path,
    so ``model.predict`` is constant there. The cost is separable (a sum of one term per
    feature, each non-decreasing in the distance ``|x'_j - x_j|`` and equal to 0 only at
    ``x_j``), so the cheapest admissible point of a product cell is obtained feature by
    feature: the admissible point of the region closest to ``x_j``. The admissible set
    of a feature is an interval (bounds and direction) plus ``x_j`` itself, so that
    closest point is ``x_j`` (if the region contains it), an end of the region, or a
    bound. The region ends are computed in the tree's own arithmetic: the largest user
    value sent left (``float32(T(u)) <= t``) and the smallest sent right, found by
    bisection through the real preprocessing ``T`` (for integer features the nearest
    integers on each side). So the candidate set below contains the cheapest point of
    every cell, enumerating its Cartesian product visits every cell's best point, and the
    cheapest of them predicted ``target`` is the optimum. For continuous features a
    right-going region end is the *smallest float64 that goes right*, i.e. the optimum
    up to float64 resolution (the engine may pick a float32 value: slightly dearer).
    For L0 the same candidates suffice (any point of a cell not equal to ``x_j`` costs
    the same ``weight``), and for ``l0_l1`` (lexicographic) too. With
    ``min_proba_margin`` a point counts only when ``model.predict_proba`` gives the
    target at least that much more than every other class (constant on a cell too).
    """
    if norm not in ("l1", "l0", "l0_l1"):
        raise ValueError(f"unknown norm {norm!r}")
    feats = list(schema.features)
    cand, sizes, total = _grid(model, schema, x, bounds_mode, max_points)
    l1_parts, l0_parts = [], []
    for f, c in zip(feats, cand):
        costs = [feature_cost(f, x[f.name], v) for v in c]
        l1_parts.append(np.array([a for a, _ in costs]))
        l0_parts.append(np.array([b for _, b in costs]))
    idx = [g.ravel() for g in np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")]
    l1 = np.zeros(total)
    l0 = np.zeros(total)
    for j in range(len(feats)):
        l1 += l1_parts[j][idx[j]]
        l0 += l0_parts[j][idx[j]]
    if norm == "l1":
        order = np.argsort(l1, kind="stable")
    else:  # l0 and l0_l1: fewest (weighted) changes first, then the smallest L1
        order = np.lexsort((l1, l0))
    for s in range(0, total, chunk):
        sel = order[s: s + chunk]
        cols = {}
        for j, f in enumerate(feats):
            c = cand[j]
            if _is_group(f):
                cols[f.name] = [c[i] for i in idx[j][sel]]
            else:
                cols[f.name] = np.asarray(c)[idx[j][sel]]
        frame = _frame(schema, cols)
        if min_proba_margin is None:
            pred = np.asarray(model.predict(_model_input(model, schema, frame)))
            hit = np.flatnonzero(pred == target)
        else:
            P = np.asarray(model.predict_proba(_model_input(model, schema, frame)))
            t = list(model.classes_).index(target)
            gap = P[:, t] - np.delete(P, t, axis=1).max(axis=1)
            hit = np.flatnonzero(gap >= min_proba_margin - 1e-12)
        if hit.size:
            i = sel[hit[0]]
            point = {}
            for j, f in enumerate(feats):
                v = cand[j][idx[j][i]]
                point[f.name] = v if _is_group(f) else float(v)
            cost = float(l1[i]) if norm == "l1" else float(l0[i])
            return OracleOptimum(cost=cost, l1=float(l1[i]), l0=float(l0[i]), point=point,
                                 norm=norm, n_candidates=total,
                                 info={"sizes": sizes,
                                       "affine": _affine_maps(model, schema, x)})
    return None


# ---------------------------------------------------------------------- linear
def affine_decision(model: Any, schema: Any, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and intercept of ``model.decision_function`` in *user* units, found
    by probing the model (valid when it is affine in the numeric features, e.g. a linear
    model behind StandardScaler / MinMaxScaler). Returns ``(W, b)`` with ``W`` of shape
    ``(k, n)`` and ``b`` of shape ``(k,)`` (``k = 1`` for binary models). Group features
    stay at ``x``'s level: their columns of ``W`` are 0 and their effect is in ``b``."""
    names = schema.names
    num = [f.name for f in schema.features if not _is_group(f)]
    base = {n: (x[n] if n not in num else float(x[n])) for n in names}
    rows = [dict(base)]
    for n in num:
        r = dict(base)
        r[n] = base[n] + 1.0
        rows.append(r)
    frame = _frame(schema, {n: [r[n] for r in rows] for n in names})
    d = np.asarray(model.decision_function(_model_input(model, schema, frame)), dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    W = np.zeros((d.shape[1], len(names)))
    for k, n in enumerate(num):
        W[:, names.index(n)] = d[1 + k] - d[0]
    x0 = np.array([base[n] if n in num else 0.0 for n in names])
    b = d[0] - W @ x0
    return W, b


def linear_rows_lp_optimum(
    A: np.ndarray,
    c: np.ndarray,
    schema: Any,
    x: Mapping[str, Any],
    margin: float = 0.0,
    *,
    fixed: Mapping[str, float] | None = None,
    bounds_mode: str = "hull",
) -> OracleOptimum | None:
    """min L1 cost s.t. ``A @ x' + c >= margin`` (every row), by ``scipy.optimize.linprog``.

    Variables ``x' = x0 + p - n`` with ``p, n >= 0`` per numeric feature; cost
    ``weight / scale * (p + n)``. Features in ``fixed`` are set to the given value (their
    cost is added); all features must be numeric. Integrality is ignored (use
    :func:`linear_integer_grid_optimum` for integer features). Returns ``None`` if
    infeasible.
    """
    from scipy.optimize import linprog

    feats = list(schema.features)
    if any(_is_group(f) for f in feats):
        raise TypeError("linear LP oracle: numeric features only")
    fixed = dict(fixed or {})
    A = np.atleast_2d(np.asarray(A, dtype=float))
    c = np.atleast_1d(np.asarray(c, dtype=float))
    n = len(feats)
    x0 = np.array([float(x[f.name]) for f in feats])
    base = x0.copy()
    extra = 0.0
    ub_p = np.zeros(n)
    ub_n = np.zeros(n)
    w = np.array([float(f.weight) / float(f.scale) for f in feats])
    for j, f in enumerate(feats):
        if f.name in fixed:
            v = float(fixed[f.name])
            if not _numeric_allowed(f, x0[j], np.array([v]), bounds_mode)[0]:
                return None
            base[j] = v
            extra += w[j] * abs(v - x0[j])
            continue
        if f.immutable:
            continue
        lo, hi = reachable_interval(f, x0[j], bounds_mode)
        if bounds_mode == "strict" and not (lo <= x0[j] <= hi):
            raise NotImplementedError("strict bounds with an applicant outside them")
        ub_p[j] = max(0.0, hi - x0[j])
        ub_n[j] = max(0.0, x0[j] - lo)
    # A (base + p - n) + c >= margin   <=>   -A p + A n <= A base + c - margin
    # scale every row to unit max-norm (the LP's feasibility tolerance is absolute)
    norms = np.max(np.abs(A), axis=1)
    norms[norms == 0] = 1.0
    A_ub = np.hstack([-A, A]) / norms[:, None]
    b_ub = (A @ base + c - margin) / norms
    cost = np.concatenate([w, w])
    bounds = [(0.0, None if math.isinf(u) else u) for u in np.concatenate([ub_p, ub_n])]
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs",
                  options={"primal_feasibility_tolerance": 1e-10,
                           "dual_feasibility_tolerance": 1e-10})
    if res.status == 2:  # infeasible
        return None
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    xs = base + res.x[:n] - res.x[n:]
    point = {f.name: float(v) for f, v in zip(feats, xs)}
    l1, l0 = point_cost(schema, x, point)
    return OracleOptimum(cost=float(res.fun) + extra, l1=l1, l0=l0, point=point, norm="l1",
                         info={"lp": res})


def linear_lp_optimum(
    coef: Sequence[float],
    intercept: float,
    schema: Any,
    x: Mapping[str, Any],
    target_sign: int,
    margin: float = 0.0,
    *,
    fixed: Mapping[str, float] | None = None,
    bounds_mode: str = "hull",
) -> OracleOptimum | None:
    """Binary linear model ``s(x) = coef @ x + intercept`` (user units): the minimal L1
    cost to reach ``target_sign * s(x') >= margin``. sklearn predicts ``classes_[1]`` iff
    ``s > 0``: use ``target_sign=+1`` (the infimum: ``margin=0``) for ``classes_[1]`` and
    ``target_sign=-1`` for ``classes_[0]`` (there ``s <= 0`` is enough)."""
    if target_sign not in (1, -1):
        raise ValueError("target_sign must be +1 or -1")
    coef = np.asarray(coef, dtype=float).ravel()
    return linear_rows_lp_optimum(target_sign * coef[None, :],
                                  np.array([target_sign * float(intercept)]),
                                  schema, x, margin, fixed=fixed, bounds_mode=bounds_mode)


def linear_integer_grid_optimum(
    A: np.ndarray,
    c: np.ndarray,
    schema: Any,
    x: Mapping[str, Any],
    margin: float = 0.0,
    *,
    bounds_mode: str = "hull",
    max_points: int = 20_000,
) -> OracleOptimum | None:
    """Like :func:`linear_rows_lp_optimum` with integer/binary features: enumerate every
    admissible integer value of those features (their reachable range must be finite)
    and solve the LP over the continuous ones for each; return the cheapest."""
    ints = [f for f in schema.features if f.kind in ("integer", "binary") and not f.immutable]
    ranges = []
    for f in ints:
        lo, hi = reachable_interval(f, float(x[f.name]), bounds_mode)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"integer feature {f.name!r} needs finite bounds for the grid")
        vals = np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=float)
        vals = vals[_numeric_allowed(f, float(x[f.name]), vals, bounds_mode)]
        ranges.append(vals)
    if int(np.prod([len(r) for r in ranges] or [1])) > max_points:
        raise ValueError("integer grid too large")
    best: OracleOptimum | None = None
    for combo in itertools.product(*ranges):
        fixed = {f.name: v for f, v in zip(ints, combo)}
        r = linear_rows_lp_optimum(A, c, schema, x, margin, fixed=fixed, bounds_mode=bounds_mode)
        if r is not None and (best is None or r.cost < best.cost):
            best = r
    return best


# ------------------------------------------------------------ one tree: per-leaf minima
def tree_leaf_minima(model: Any, schema: Any, x: Mapping[str, Any], norm: str = "l1",
                     *, bounds_mode: str = "hull",
                     max_points: int = 60_000) -> dict[int, float]:
    """For a single decision tree (bare or in a Pipeline): ``{leaf id: least cost}`` over
    the admissible points that reach each leaf (sklearn's own ``apply``), by the same
    enumeration as :func:`brute_force_tree_optimum` (whose docstring says why it visits
    the cheapest point of every cell). Leaves no admissible point reaches are absent."""
    pre, est = _split_pipeline(model)
    feats = list(schema.features)
    cand, sizes, total = _grid(model, schema, x, bounds_mode, max_points)
    idx = [g.ravel() for g in np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")]
    cost = np.zeros(total)
    cols = {}
    for j, f in enumerate(feats):
        parts = np.array([feature_cost(f, x[f.name], v)[0 if norm == "l1" else 1]
                          for v in cand[j]])
        cost += parts[idx[j]]
        cols[f.name] = ([cand[j][i] for i in idx[j]] if _is_group(f)
                        else np.asarray(cand[j], dtype=float)[idx[j]])
    inp = _model_input(model, schema, _frame(schema, cols))
    leaf = est.apply(pre.transform(inp) if pre is not None else inp)
    out: dict[int, float] = {}
    for lf, c in zip(leaf.tolist(), cost.tolist()):
        if c < out.get(lf, math.inf):
            out[lf] = c
    return out


def tree_leaves_of(model: Any, schema: Any, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """sklearn's leaf ids of ``rows`` in a single decision tree, in one call."""
    pre, est = _split_pipeline(model)
    inp = _model_input(model, schema, _frame(schema, {f.name: [r[f.name] for r in rows]
                                                      for f in schema.features}))
    return [int(v) for v in est.apply(pre.transform(inp) if pre is not None else inp)]

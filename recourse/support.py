"""Data support: believable recourse lies near real approved applicants (issue 8, 1b).

A minimal counterfactual can sit where no applicant ever was. :class:`DataSupport` asks
the counterfactual to lie within ``radius`` of at least ``k`` observed rows (typically
training applicants the model approves: :meth:`DataSupport.from_model`), or, with
``hull=True``, within ``radius`` of the convex hull of the observed rows that share its
categorical levels. Given to the engine (``RecourseEngine(..., support=DataSupport...)``)
it becomes exact MILP rows (``recourse.solvers.support``), for every model type and with causal
models; every answer is re-checked with numpy on the data, never read from the solver.

Distance
--------
Scaled per feature, as in Wachter et al. (2017) and DiCE (Mothilal et al. 2020): a
numeric feature's difference is divided by its median absolute deviation (``scale="mad"``,
the default, computed on the data given; where the MAD is 0 the mean absolute deviation,
then 1, as the schema's costs do), or by its observed range (``scale="range"``), or by the
schema's cost scale (``scale="schema"``), or by given values (a mapping). A categorical or
ordinal mismatch counts 1. ``metric="linf"``: the largest scaled difference (a category
mismatch is therefore allowed only when ``radius >= 1``); ``metric="l1"``: their sum.
Features the model does not read may move too, at their cost, when that brings the
answer near enough to observed rows (the value view gives them columns of their own).

Hull
----
``hull=True`` (linf only): the counterfactual's numeric features lie within ``radius`` (in
scaled units, per feature) of a convex combination of the rows that hold exactly the
counterfactual's categorical levels, and at least ``k`` rows hold them.

Reporting
---------
Every result of an engine that has support data gets ``stats.support`` (the number of
rows within the radius; with ``hull=True`` the number of rows sharing the levels) and
``stats.support_distance`` (the distance to the ``k``-th nearest row; with
``hull=True`` the distance to the hull), whether or not the constraint is enforced
(``enforce=False`` reports only; ``already_target`` results carry no stats). With the
constraint on, the engine also prices it (``stats.cost_without["support"]``, the
optimum without it; ``RecourseEngine(price_options=False)`` skips that solve), names it
when it alone blocks recourse (``stats.blocking_option == "support"``), and reports
the pruning: ``support_candidates`` (rows), ``support_reachable`` (rows some actionable
point brings within the radius), ``support_kept`` (those left after the cost cut of the
starting solution, tree models) and ``support_cut``.

Verification re-checks every answer with numpy on the data (:meth:`DataSupport.measure`,
slack ``CHECK_TOL`` on scaled distances); an answer with fewer than ``k`` rows within the
radius is never returned as verified. ``utility=`` queries are refused while the
constraint is on (their verification does not know it yet).

Examples
--------
>>> sup = DataSupport.from_model(X_train, model, schema, target="good", k=3,
...                              radius=0.5)                          # doctest: +SKIP
>>> engine = RecourseEngine(model, schema, support=sup)              # doctest: +SKIP
>>> res = engine.explain(applicant, target="good")                   # doctest: +SKIP
>>> res.stats.support, res.stats.cost_without["support"]       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.schema import FeatureSchema, robust_scale
from recourse.solvers.support import (
    METRICS,
    SupportSpec,
    distances,
)

__all__ = ["DataSupport", "SCALES", "DEFAULT_RADIUS"]

SCALES = ("mad", "range", "schema")
#: Default radius, in scaled units (half a median absolute deviation per feature, linf).
DEFAULT_RADIUS = 0.5
#: Slack of the numpy re-check on scaled distances (the solver's row tolerance is 1e-7
#: in user units).
CHECK_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class DataSupport:
    """Observed rows near which recourse must lie (see the module docstring).

    Build with :meth:`fit` or :meth:`from_model`. Attributes are plain data: ``rows`` (a
    DataFrame of the support rows, schema columns), ``features`` (the features the
    distance reads), ``scale`` (``{numeric feature: scale}``), ``radius``, ``k``,
    ``metric``, ``hull``, ``enforce``.
    """

    rows: pd.DataFrame = field(repr=False)
    features: tuple[str, ...]
    scale: dict[str, float]
    radius: float
    k: int
    metric: str = "linf"
    hull: bool = False
    enforce: bool = True
    schema_names: tuple[str, ...] = field(default=(), repr=False)

    # ------------------------------------------------------------ construction
    @classmethod
    def fit(cls, X: pd.DataFrame, schema: FeatureSchema, *, k: int = 1,
            radius: float = DEFAULT_RADIUS, metric: str = "linf",
            scale: str | Mapping[str, float] = "mad", hull: bool = False,
            features: Iterable[str] | None = None, enforce: bool = True) -> DataSupport:
        """Support rows ``X`` (e.g. the training applicants the model approves).

        Parameters
        ----------
        X : DataFrame
            Rows with the schema's columns (extra columns are ignored); every value must
            be valid for the schema (finite, known categories).
        schema : FeatureSchema
        k : int
            At least this many rows (counted with repeats) within ``radius``.
        radius : float
            In scaled units (module docstring); must be > 0.
        metric : {"linf", "l1"}
        scale : {"mad", "range", "schema"} or mapping
            How numeric differences are scaled; a mapping gives ``{feature: scale}``
            (features it leaves out use the MAD).
        hull : bool
            Near the convex hull of the rows that share the counterfactual's levels
            (linf only).
        features : iterable of str, optional
            The features the distance reads (default: all of the schema's).
        enforce : bool
            False: only report ``stats.support`` and the distance, do not constrain.

        Raises
        ------
        InputValidationError
            Missing columns, NaN/inf or unknown categories (the row is named), ``k`` not
            a positive integer or larger than the number of rows, ``radius <= 0``, an
            unknown metric or scale, ``hull`` with ``metric="l1"``.
        """
        if not isinstance(schema, FeatureSchema):
            raise InputValidationError(
                f"schema must be a FeatureSchema, got {type(schema).__name__}.")
        if not isinstance(X, pd.DataFrame):
            raise InputValidationError(
                f"DataSupport.fit needs a pandas DataFrame with the schema's columns, got "
                f"{type(X).__name__}.")
        missing = [n for n in schema.names if n not in X.columns]
        if missing:
            raise InputValidationError(
                f"The support data lack the columns {cap_list(missing)}; pass rows with the "
                f"schema's columns {cap_list(schema.names)}.")
        if metric not in METRICS:
            raise InputValidationError(
                f"The 'metric' parameter must be one of {METRICS}. Got {metric!r} instead.")
        if hull and metric != "linf":
            raise InputValidationError(
                "hull=True measures the distance to the hull per feature (metric='linf'); "
                "use metric='linf' or hull=False.")
        try:
            r = float(radius)
        except (TypeError, ValueError):
            r = float("nan")
        if not np.isfinite(r) or r <= 0:
            raise InputValidationError(
                f"radius must be a finite number > 0 (in scaled units: {DEFAULT_RADIUS} is "
                f"half a median absolute deviation); got {radius!r}.")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputValidationError(f"k must be a positive integer, got {k!r}.")
        names = tuple(schema.names if features is None else features)
        unknown = [n for n in names if n not in schema]
        if unknown or not names:
            raise InputValidationError(
                f"features must name schema features; unknown: {cap_list(unknown)} (known: "
                f"{cap_list(schema.names)}).")
        frame = X[schema.names].reset_index(drop=True)
        rows = []
        for i in range(len(frame)):
            try:
                rows.append(schema.validate_row(frame.iloc[i]))
            except InputValidationError as exc:
                raise InputValidationError(
                    f"Support row {i} (index {X.index[i]!r}) is invalid: {exc} Drop or "
                    "impute such rows before DataSupport.fit.") from None
        if int(k) > len(rows):
            raise InputValidationError(
                f"k={k} is larger than the number of support rows ({len(rows)}); lower k or "
                "give more rows.")
        clean = pd.DataFrame(rows, columns=schema.names)
        scales = _scales(clean, schema, names, scale)
        return cls(rows=clean, features=names, scale=scales, radius=r, k=int(k),
                   metric=metric, hull=bool(hull), enforce=bool(enforce),
                   schema_names=tuple(schema.names))

    @classmethod
    def from_model(cls, X: pd.DataFrame, model: Any, schema: FeatureSchema, *,
                   target: Any, k: int = 1, radius: float = DEFAULT_RADIUS,
                   metric: str = "linf", scale: str | Mapping[str, float] = "mad",
                   hull: bool = False, features: Iterable[str] | None = None,
                   enforce: bool = True) -> DataSupport:
        """:meth:`fit` on the rows of ``X`` that ``model.predict`` puts in ``target``.

        The scales (``"mad"``, ``"range"``) are computed on all of ``X``, as DiCE computes
        the MAD on the training data, so the distance does not depend on the model.

        Raises
        ------
        InputValidationError
            As :meth:`fit`; or the model approves no row of ``X`` (or fewer than ``k``).
        """
        from recourse.verify import model_predict

        if not isinstance(X, pd.DataFrame):
            raise InputValidationError(
                f"DataSupport.from_model needs a pandas DataFrame, got {type(X).__name__}.")
        base = cls.fit(X, schema, k=1, radius=radius, metric=metric, scale=scale,
                       hull=hull, features=features, enforce=enforce)
        rows = base.rows.to_dict("records")
        pred = np.asarray(model_predict(model, schema, rows), dtype=object)
        hit = np.array([p == target or str(p) == str(target) for p in pred], dtype=bool)
        if not hit.any():
            raise InputValidationError(
                f"The model predicts {target!r} for none of the {len(rows)} rows; check the "
                f"target class (predicted classes: {cap_list(sorted(set(map(str, pred))))}).")
        return cls.fit(base.rows[hit], schema, k=k, radius=radius, metric=metric,
                       scale=dict(base.scale), hull=hull, features=features,
                       enforce=enforce)

    # ------------------------------------------------------------------ lower
    def lower(self, schema: FeatureSchema) -> SupportSpec:
        """The support as plain arrays for ``recourse.solvers.support`` (identical rows merged)."""
        if tuple(schema.names) != self.schema_names:
            raise InputValidationError(
                "The DataSupport was fitted with another schema (different features); fit "
                "it with the engine's schema.")
        num = [n for n in self.features if not schema[n].is_group]
        cat = [n for n in self.features if schema[n].is_group]
        A = self.rows[num].to_numpy(dtype=float) if num else np.zeros((len(self.rows), 0))
        C = np.zeros((len(self.rows), len(cat)), dtype=np.int64)
        for q, n in enumerate(cat):
            levels = list(schema[n].categories or ())
            C[:, q] = [levels.index(v) for v in self.rows[n]]
        key = np.concatenate([A, C.astype(float)], axis=1)
        uniq, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        order = np.argsort(first)
        first, counts = first[order], counts[order]
        idx = {n: j for j, n in enumerate(schema.names)}
        return SupportSpec(
            num_feat=np.array([idx[n] for n in num], dtype=np.int64),
            cat_feat=np.array([idx[n] for n in cat], dtype=np.int64),
            A=A[first], C=C[first], weight=counts.astype(np.int64),
            scale=np.array([self.scale[n] for n in num], dtype=float),
            radius=self.radius, k=self.k, metric=self.metric, hull=self.hull)

    # ---------------------------------------------------------------- measure
    def measure(self, row: Mapping[str, Any], schema: FeatureSchema) -> dict[str, Any]:
        """Support of one row, computed with numpy from the data (independent of any
        solver): ``{"support": count, "support_distance": d, "supported": bool}``.

        ``count`` is the number of rows within the radius (hull: rows sharing the row's
        levels); ``d`` the distance to the ``k``-th nearest row (hull: to the hull of the
        rows sharing the levels, ``inf`` when fewer than ``k`` share them).
        """
        sup = self.lower(schema)
        xn = np.array([float(row[schema.names[j]]) for j in sup.num_feat])
        xc = np.array([list(schema[schema.names[j]].categories or ()).index(
            row[schema.names[j]]) for j in sup.cat_feat], dtype=np.int64)
        if self.hull:
            same = np.all(sup.C == xc[None, :], axis=1)
            count = int(sup.weight[same].sum())
            d = _hull_distance(sup.A[same], sup.scale, xn) if count >= self.k else np.inf
            return {"support": count, "support_distance": float(d),
                    "supported": bool(count >= self.k and d <= self.radius + CHECK_TOL)}
        d = distances(sup, xn[None, :], xc[None, :])[0]
        count = int(sup.weight[d <= self.radius + CHECK_TOL].sum())
        order = np.argsort(d, kind="stable")
        cum = np.cumsum(sup.weight[order])
        kth = float(d[order[int(np.searchsorted(cum, self.k))]])
        return {"support": count, "support_distance": kth,
                "supported": bool(count >= self.k)}


def _scales(rows: pd.DataFrame, schema: FeatureSchema, names: tuple[str, ...],
            scale: str | Mapping[str, float]) -> dict[str, float]:
    num = [n for n in names if not schema[n].is_group]
    if isinstance(scale, Mapping):
        bad = {n: v for n, v in scale.items()
               if n in num and not (np.isfinite(float(v)) and float(v) > 0)}
        if bad:
            raise InputValidationError(f"Support scales must be positive numbers; got {bad}.")
        return {n: float(scale[n]) if n in scale else robust_scale(rows[n].to_numpy(float))
                for n in num}
    if scale not in SCALES:
        raise InputValidationError(
            f"The 'scale' parameter must be one of {SCALES} or a mapping of feature to "
            f"scale. Got {scale!r} instead.")
    out = {}
    for n in num:
        v = rows[n].to_numpy(float)
        if scale == "mad":
            out[n] = robust_scale(v)
        elif scale == "range":
            width = float(v.max() - v.min()) if v.size else 0.0
            out[n] = width if width > 0 else 1.0
        else:
            out[n] = float(schema[n].scale)
    return out


def _hull_distance(A: np.ndarray, scale: np.ndarray, x: np.ndarray) -> float:
    """min over convex weights ``l`` of ``max_j |x_j - (l @ A)_j| / scale_j`` (an LP)."""
    from scipy.optimize import linprog

    m, p = A.shape
    if m == 0:
        return float("inf")
    if p == 0:
        return 0.0
    # variables: l (m), t; minimise t
    c = np.r_[np.zeros(m), 1.0]
    As = A / scale[None, :]
    xs = x / scale
    A_ub = np.block([[As.T, -np.ones((p, 1))], [-As.T, -np.ones((p, 1))]])
    b_ub = np.r_[xs, -xs]
    A_eq = np.r_[np.ones(m), 0.0][None, :]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0],
                  bounds=[(0, None)] * m + [(0, None)], method="highs")
    if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        return float("inf")
    return float(res.x[-1])


# ------------------------------------------------------------------ engine side

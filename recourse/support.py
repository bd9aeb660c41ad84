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
Every result of an engine that has support data gets ``stats["support"]`` (the number of
rows within the radius; with ``hull=True`` the number of rows sharing the levels) and
``stats["support_distance"]`` (the distance to the ``k``-th nearest row; with
``hull=True`` the distance to the hull), whether or not the constraint is enforced
(``enforce=False`` reports only; ``already_target`` results carry no stats). With the
constraint on, the engine also prices it (``stats["cost_without"]["support"]``, the
optimum without it; ``RecourseEngine(price_options=False)`` skips that solve), names it
when it alone blocks recourse (``stats["blocking_option"] == "support"``), and reports
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
>>> res.stats["support"], res.stats["cost_without"]["support"]       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.schema import FeatureSchema, robust_scale
from recourse.solvers.incumbent import point_cost_matrix, project
from recourse.solvers.problem import RecourseProblem
from recourse.solvers.search import satisfies
from recourse.solvers.support import (
    METRICS,
    SupportSpec,
    SupportVars,
    add_support,
    bound_to_rows,
    column_range,
    distances,
    min_costs,
    support_values,
)
from recourse.solvers.values import fill_values, value_point

__all__ = ["DataSupport", "SCALES", "DEFAULT_RADIUS"]

SCALES = ("mad", "range", "schema")
#: Default radius, in scaled units (half a median absolute deviation per feature, linf).
DEFAULT_RADIUS = 0.5
#: The anchor decomposition (k = 1) runs when at most this many candidate rows are left
#: after the cost cut; with more, one MILP over all of them was faster (German and
#: credit_data RF 100x6: 25 anchors 27 s -> 1.0 s; 150 anchors 1.3 s -> 26 s).
MAX_ANCHORS = 30
#: The decomposition runs for ``k`` up to this. Measured in one run (German RF 100x6, 15
#: denied applicants, radius 1): k = 1 p90 8.1 s -> 1.1 s (median 0.08 -> 0.13 s); k = 5
#: no gain (p90 5.7 s either way, median 0.37 -> 0.57 s), so k > 1 solves one MILP.
DECOMPOSE_MAX_K = 1
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
            False: only report ``stats["support"]`` and the distance, do not constrain.

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
class SupportRows:
    """The engine's value constraint (``RecourseEngine._value_constraints``): adds the
    support rows to every problem through the value view and offers a starting solution
    from the support rows themselves (projected into the action set), whose cost then
    prunes every candidate row that cannot be reached more cheaply. ``name`` and ``text``
    let the engine price the option (``stats["cost_without"]["support"]``) and name it
    when it blocks recourse (``stats["blocking_option"] == "support"``)."""

    name = "support"

    def __init__(self, support: DataSupport, schema: FeatureSchema) -> None:
        self.support = support
        self.text = (
            f"the data-support option (the answer must lie within radius "
            f"{support.radius:g} of the hull of at least {support.k} observed rows sharing "
            "its categorical levels)" if support.hull else
            f"the data-support option (the answer must lie within radius {support.radius:g} "
            f"({support.metric}) of at least {support.k} observed row(s))")
        self.spec = support.lower(schema)
        space = schema.search_space()
        # search vectors of every support row (projected later, per applicant)
        self.R = np.array([space.encode(r) for r in support.rows.to_dict("records")])
        self._vars: SupportVars | None = None
        self._nbrs: list[np.ndarray] | None = None
        self._before: RecourseProblem | None = None
        self._after: tuple[int, int] = (-1, -1)

    def _groups(self) -> list[np.ndarray]:
        """Per distinct row, itself and its nearest other rows (linf, scaled numeric
        features; for ``radius < 1`` only rows with the same levels) until their
        multiplicities reach ``k``: a set of rows whose boxes may share a point."""
        if self._nbrs is not None:
            return self._nbrs
        from sklearn.neighbors import NearestNeighbors

        sup = self.spec
        n = sup.n_rows
        out: list[np.ndarray] = [np.array([i]) for i in range(n)]
        keys = ([tuple(c) for c in sup.C.tolist()] if sup.radius < 1.0
                else [()] * n)
        by_key: dict[tuple[Any, ...], list[int]] = {}
        for i, kk in enumerate(keys):
            by_key.setdefault(kk, []).append(i)
        Z = sup.A / sup.scale if sup.num_feat.size else np.zeros((n, 1))
        for members in by_key.values():
            idx = np.array(members)
            m = min(idx.size, sup.k)
            if m <= 1 or sup.k <= 1:
                continue
            nn = NearestNeighbors(n_neighbors=m, metric="chebyshev").fit(Z[idx])
            _, nb = nn.kneighbors(Z[idx])
            for a, i in enumerate(idx.tolist()):
                group = idx[nb[a]]
                cum = np.cumsum(sup.weight[group])
                out[i] = group[: int(np.searchsorted(cum, sup.k)) + 1]
        self._nbrs = out
        return out

    def _box_points(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
                    sv: SupportVars) -> np.ndarray:
        """linf: for each kept row and its nearest rows (:meth:`_groups`), the common box
        within the action set, and in it the points nearest the row and nearest the
        applicant (search vectors; the caller checks them)."""
        sup, space = self.spec, engine.space
        lo = np.array([prob.lb[view.x[j]] for j in sup.num_feat])
        hi = np.array([prob.ub[view.x[j]] for j in sup.num_feat])
        x0n, x0c = _split(sup, space, x0[None, :])
        groups = self._groups()
        pts = []
        for i in sv.rows.tolist():
            g = groups[i]
            if int(sup.weight[g].sum()) < sup.k:
                continue
            b_lo = np.maximum(sup.A[g].max(axis=0) - sup.radius * sup.scale, lo)
            b_hi = np.minimum(sup.A[g].min(axis=0) + sup.radius * sup.scale, hi)
            if np.any(b_lo > b_hi):
                continue
            levels = sup.C[i] if sup.radius < 1.0 else x0c[0]
            for target in (sup.A[i], x0n[0]):
                v = x0.copy()
                v[space.start[sup.num_feat]] = np.clip(target, b_lo, b_hi)
                for q, j in enumerate(sup.cat_feat.tolist()):
                    st, en = int(space.start[j]), int(space.start[j + 1])
                    v[st:en] = 0.0
                    v[st + int(levels[q])] = 1.0
                ints = space.integer[sup.num_feat]
                if ints.any():  # integer features: the nearest integer inside the box
                    cols = space.start[sup.num_feat][ints]
                    v[cols] = np.clip(np.round(v[cols]), np.ceil(b_lo[ints]),
                                      np.floor(b_hi[ints]))
                pts.append(v)
        return np.array(pts) if pts else np.zeros((0, x0.size))

    def _cheapest(self, engine: Any, H: np.ndarray, x0: np.ndarray, t_idx: int,
                  norm: str, most: int = 20, chunk: int = 64) -> list[np.ndarray]:
        """Up to ``most`` of the points ``H``, cheapest first, that the encoding assigns
        to the target and that lie within the radius of ``k`` rows (numpy)."""
        if not H.shape[0]:
            return []
        cost = point_cost_matrix(engine.spec, x0, H, "l1" if norm == "l1" else "l0")
        order = np.argsort(cost, kind="stable")
        tol = 1e-9 * max(1.0, self.spec.radius)
        out: list[np.ndarray] = []
        for a in range(0, order.size, chunk):
            B = H[order[a: a + chunk]]
            B = B[engine.encoding.predict_index(B) == t_idx]
            if not B.shape[0]:
                continue
            xn, xc = _split(self.spec, engine.space, B)
            near = distances(self.spec, xn, xc) <= self.spec.radius + tol
            B = B[near.astype(float) @ self.spec.weight >= self.spec.k]
            out += list(B[: most - len(out)])
            if len(out) >= most:
                break
        return out

    def add(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
            t_idx: int) -> RecourseProblem:
        self._before = prob
        prob, self._vars = add_support(prob, view, self.spec)
        self._after = (prob.n, prob.A.shape[0])
        return prob

    def warm_start(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
              t_idx: int, norm: str, inc: np.ndarray | None,
              use: bool, deadline: float | None = None
              ) -> tuple[RecourseProblem, np.ndarray | None]:
        """A starting solution that meets the support rows, and the candidates its cost
        rules out fixed at ``s_i = 0`` (``stats["support_cut"]``); for ``k = 1`` (linf)
        then the anchor decomposition (:meth:`_decompose`) until ``deadline``."""
        sv = self._vars
        enc = engine.encoding
        if (sv is None or not use or enc.tree is None or engine.causal is not None
                or self.spec.hull):
            return prob, inc
        c, c0 = prob.objective(norm)
        best, best_cost = None, np.inf
        pts = [] if inc is None else [value_point(prob, view, inc)]
        H = project(prob, self.R)
        if self.spec.metric == "linf":
            H = np.vstack([H, self._box_points(engine, prob, view, x0, sv)])
        pts += self._cheapest(engine, H, x0, t_idx, norm)
        best_s = None
        for s in pts:
            xn, xc = _split(self.spec, engine.space, s[None, :])
            full = support_values(prob, view, self.spec, sv, fill_values(prob, view, s),
                                  xn[0], xc[0])
            if full is None or not satisfies(prob, full):
                continue
            cost_s = float(c @ full + c0)
            if cost_s < best_cost:
                best, best_cost, best_s = full, cost_s, s
        if best is None or best_s is None:
            return prob, None
        sp_ = engine.spec
        xn0, xc0 = _split(self.spec, engine.space, x0[None, :])
        unit = sp_.unit_cost[self.spec.num_feat]
        lc = [sp_.level_costs(int(j), int(xc0[0][q]))
              for q, j in enumerate(self.spec.cat_feat)]
        if norm == "l1":
            low = min_costs(self.spec, xn0[0], xc0[0], unit, lc)
        else:
            low = min_costs(self.spec, xn0[0], xc0[0], unit, lc,
                            l0_weight=sp_.l0_weight[self.spec.num_feat],
                            cat_l0=sp_.l0_weight[self.spec.cat_feat])
        cut = low > best_cost + 1e-9 * max(1.0, abs(best_cost))
        rebuilt = self._rebuild(engine, prob, view, norm, best_cost, cut, best_s)
        if rebuilt is not None:
            prob, best = rebuilt
        else:
            ub = prob.ub.copy()
            ub[sv.s[cut[sv.rows]]] = 0.0
            n_cut = int(self.spec.weight[sv.rows][cut[sv.rows]].sum())
            prob = replace(prob.with_bounds(np.minimum(prob.lb, ub), ub),
                           stats=dict(prob.stats, support_cut=n_cut))
        if deadline is not None and rebuilt is not None:
            return self._decompose(engine, prob, view, norm, best, low, deadline)
        return prob, best

    def _decompose(self, engine: Any, prob: RecourseProblem, view: Any, norm: str,
                   best: np.ndarray, low: np.ndarray,
                   deadline: float) -> tuple[RecourseProblem, np.ndarray]:
        """linf: every supported point lies in the box of some kept row (its anchor).
        Solve the problem within each anchor's box on its own (levels fixed to the
        anchor's when ``radius < 1``; for ``k > 1`` with support rows over the other
        kept rows whose boxes meet it, needing ``k - w_i`` of them), cheapest lower
        bound first, with the row ``cost <= best``: the box fixes most threshold
        indicators, so each is small. A row proven to support nothing as cheap as the
        best answer is fixed at ``s_i = 0``; the full problem then only decides among
        the rest (``stats["support_anchors_solved"]``, ``support_anchors_dropped``). A
        solve that runs out of time leaves its row (and the later ones) in place."""
        from recourse.solvers.search import solve_phase
        from recourse.solvers.status import Status

        sup, sv = self.spec, self._vars
        if (sup.metric != "linf" or sup.hull or sv is None or self._before is None
                or sup.k > DECOMPOSE_MAX_K):
            return prob, best
        base = self._before
        c, c0 = prob.objective(norm)
        cb, cb0 = base.objective(norm)
        best_cost = float(c @ best + c0)
        ub = prob.ub.copy()
        if int((ub[sv.s] > 0.5).sum()) > MAX_ANCHORS:
            return prob, best  # many boxes: one MILP over all of them is faster
        cols = self._cols(base, view)
        r, sc = sup.radius, sup.scale
        solved = dropped = 0
        for a in np.argsort(low[sv.rows], kind="stable").tolist():
            s_a, i = int(sv.s[a]), int(sv.rows[a])
            if ub[s_a] < 0.5:
                continue
            tol = 1e-7 * max(1.0, abs(best_cost))
            if low[i] > best_cost + tol:
                ub[s_a] = 0.0
                dropped += 1
                continue
            sub = bound_to_rows(base, view, sup, np.array([i]), *cols)
            if r < 1.0:
                sub = _fix_levels(sub, view, sup, i)
            need = sup.k - int(sup.weight[i])
            if need > 0:
                alive = sv.rows[(ub[sv.s] > 0.5) & (sv.rows != i)]
                meet = np.all(np.abs(sup.A[alive] - sup.A[i]) <= 2 * r * sc, axis=1)
                if r < 1.0:
                    meet &= np.all(sup.C[alive] == sup.C[i], axis=1)
                others = alive[meet]
                if int(sup.weight[others].sum()) < need:
                    ub[s_a] = 0.0  # too few rows near it: it supports no answer
                    dropped += 1
                    continue
                sub, _ = add_support(sub, view, replace(
                    sup, A=sup.A[others], C=sup.C[others], weight=sup.weight[others],
                    k=need))
            sub = sub.with_rows(sp.csr_matrix(np.r_[cb, np.zeros(sub.n - base.n)][None, :]),
                                np.array([-np.inf]), np.array([best_cost - cb0 + tol]))
            out = solve_phase(sub, norm, None, deadline, engine.backend,
                              engine.backend_options)
            solved += 1
            if out["status"] is Status.INFEASIBLE:
                ub[s_a] = 0.0  # nothing it supports costs at most the best answer
                dropped += 1
                continue
            if out["status"] is not Status.OPTIMAL or out["values"] is None:
                break  # time: keep this row and the rest for the full problem
            if float(cb @ out["values"][: base.n] + cb0) < best_cost - tol:
                pt = value_point(sub, view, out["values"])
                xn, xc = _split(sup, engine.space, pt[None, :])
                full = support_values(prob, view, sup, sv, fill_values(prob, view, pt),
                                      xn[0], xc[0])
                if full is not None and satisfies(prob, full):
                    best, best_cost = full, float(c @ full + c0)
        prob = replace(prob.with_bounds(np.minimum(prob.lb, ub), ub),
                       stats=dict(prob.stats, support_anchors_solved=solved,
                                  support_anchors_dropped=dropped))
        return prob, best

    def _cols(self, prob: RecourseProblem, view: Any) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
        """Value columns of the spec's numeric features and their bounds in ``prob``."""
        nf = self.spec.num_feat.size
        cols, lo, hi = np.full(nf, -1), np.zeros(nf), np.zeros(nf)
        for p, j in enumerate(self.spec.num_feat.tolist()):
            cols[p], lo[p], hi[p] = column_range(prob, view, j)
        return cols, lo, hi

    def _rebuild(self, engine: Any, prob: RecourseProblem, view: Any, norm: str,
                 upper: float, cut: np.ndarray,
                 s_best: np.ndarray) -> tuple[RecourseProblem, np.ndarray] | None:
        """The support rows built again over the problem as it was before them, without
        the candidates ``cut`` rules out and, for L1, with every numeric value column
        bounded by the budget (``|x_j - x0_j| <= upper / unit_cost_j`` holds for every
        answer that costs at most ``upper``): smaller big-M values, fewer candidates.
        None when another constraint added columns after the support rows."""
        if self._before is None or (prob.n, prob.A.shape[0]) != self._after:
            return None
        base = self._before
        if norm == "l1":
            lb, ub = base.lb.copy(), base.ub.copy()
            space = engine.space
            for j in view.numeric.tolist():
                u = float(engine.spec.unit_cost[j])
                col = int(view.x[j])
                if u > 0 and col >= 0:
                    x = float(base.x0[int(space.start[j])])
                    room = upper / u * (1 + 1e-9) + 1e-9
                    lb[col], ub[col] = max(lb[col], x - room), min(ub[col], x + room)
            base = base.with_bounds(lb, ub)
        new, sv = add_support(base, view, self.spec, cost_cut=cut)
        xn, xc = _split(self.spec, engine.space, s_best[None, :])
        full = support_values(new, view, self.spec, sv, fill_values(new, view, s_best),
                              xn[0], xc[0])
        if full is None or not satisfies(new, full):
            return None
        self._vars = sv
        reach = int(prob.stats["support_reachable"])  # by the action set alone
        return replace(new, stats=dict(new.stats, support_reachable=reach,
                                       support_cut=reach - int(new.stats["support_kept"]))
                       ), full


def _fix_levels(prob: RecourseProblem, view: Any, sup: SupportSpec,
                i: int) -> RecourseProblem:
    """``prob`` with every categorical feature the model reads fixed at row ``i``'s
    level."""
    ub = prob.ub.copy()
    for q, j in enumerate(sup.cat_feat.tolist()):
        level_cols = view.levels[j]
        if level_cols is not None:
            cols = np.asarray(level_cols)
            keep = cols[int(sup.C[i, q])]
            ub[cols[cols != keep]] = 0.0
    return prob.with_bounds(np.minimum(prob.lb, ub), ub)


def _split(sup: SupportSpec, space: Any, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numeric values and level indices (spec order) of search vectors ``H``."""
    xn = H[:, space.start[sup.num_feat]] if sup.num_feat.size else np.zeros((H.shape[0], 0))
    xc = np.zeros((H.shape[0], sup.cat_feat.size), dtype=np.int64)
    for q, j in enumerate(sup.cat_feat.tolist()):
        s, e = int(space.start[j]), int(space.start[j + 1])
        xc[:, q] = np.argmax(H[:, s:e], axis=1)
    return xn, xc


def attach_support(engine: Any, support: Any) -> None:
    """Validate ``support`` and hook it into ``engine`` (``RecourseEngine.__init__``)."""
    engine.support = support
    if support is None:
        return
    if not isinstance(support, DataSupport):
        raise InputValidationError(
            f"support must be a recourse.DataSupport (DataSupport.fit(X_approved, schema) "
            f"or DataSupport.from_model(X, model, schema, target=...)), got "
            f"{type(support).__name__}.")
    support.lower(engine.schema)  # same schema, or a clear error
    if support.enforce:
        engine._value_constraints.append(SupportRows(support, engine.schema))


def support_stats(engine: Any, cf: Mapping[str, Any]) -> dict[str, Any]:
    """What every result of an engine with support data reports (enforced or not):
    ``support``, ``support_distance``, ``supported`` (numpy on the data, see
    :meth:`DataSupport.measure`) and the option's ``support_k``, ``support_radius``,
    ``support_enforced``."""
    sup: DataSupport | None = engine.support
    if sup is None:
        return {}
    return dict(sup.measure(cf, engine.schema), support_k=sup.k, support_radius=sup.radius,
                support_enforced=_enforced(engine))


def support_violations(engine: Any, cf: Mapping[str, Any]) -> list[str]:
    """The verification's support check: empty unless the support rows are on (not
    switched off to price them) and fewer than ``k`` rows lie within the radius of
    ``cf`` by numpy on the data."""
    sup: DataSupport | None = engine.support
    if sup is None or not _enforced(engine):
        return []
    m = sup.measure(cf, engine.schema)
    if m["supported"]:
        return []
    what = "share its levels with a hull" if sup.hull else "lie"
    return [f"only {m['support']} support row(s) {what} within radius {sup.radius:g} "
            f"(k={sup.k}; distance {m['support_distance']:.6g})"]


def _enforced(engine: Any) -> bool:
    return any(isinstance(c, SupportRows) for c in engine._value_constraints)

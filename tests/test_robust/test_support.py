"""Data support (issue 8, item 1b): recourse within a radius of at least k observed rows.

Oracles (none reads the engine's encoding or MILP; they use the fitted models' own
parameters or ``predict`` and the schema's costs):

* trees, linf: the grid of every split threshold, every support box edge
  ``a_ij +- r scale_j``, the action bounds and the applicant's value splits the plane
  into boxes on which both the model and the number of covering rows are constant; the
  cheapest point of an admissible box is the clip of the applicant (closed form);
* trees, l1: per model cell (threshold grid) and per k-subset of the rows one
  ``scipy.optimize.linprog``;
* linear models: per k-subset one LP (half-space within the intersection of the boxes);
* ReLU networks: per activation pattern and per support row one LP (the network is
  affine on each pattern's polyhedron);
* causal: per action subset and support row one LP over a linear SCM.

Every verified answer is re-checked here with numpy: at least k rows lie within the
radius of the counterfactual.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from oracles import reachable_interval
from recourse import (
    CausalModel,
    FeatureSchema,
    InputValidationError,
    LinearEquation,
    RecourseEngine,
    SeenTogether,
)
import recourse.engine.options.support as support_mod
from recourse.support import DataSupport
from synthdata import credit_frame, tree_pipeline

TOL = 1e-4


# ---------------------------------------------------------------- helpers
def _data(seed: int, n: int = 160, p: int = 2):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{j}": np.round(rng.uniform(0, 10, size=n), 3) for j in range(p)})
    score = X.sum(axis=1) - 5.0 * p + rng.normal(0, 1.5, size=n)
    return X, (score > 0).astype(int).to_numpy()


def _rows_within(sup: DataSupport, schema: FeatureSchema, cf: dict) -> int:
    """Rows of the support data within the radius of ``cf`` (numpy, from the data)."""
    d = []
    for n in sup.features:
        if schema[n].is_group:
            d.append((sup.rows[n].to_numpy() != cf[n]).astype(float))
        else:
            d.append(np.abs(sup.rows[n].to_numpy(float) - float(cf[n])) / sup.scale[n])
    D = np.column_stack(d)
    dist = D.max(axis=1) if sup.metric == "linf" else D.sum(axis=1)
    return int((dist <= sup.radius + 1e-6).sum())


#: Per test, how many answers the support made dearer (tests assert some did: an oracle
#: comparison where the constraint never binds would prove little).
DEARER: list[int] = []


def _check(res, model, schema, sup, target):
    assert res.verified and res.status == "optimal", res.message
    cf = res.counterfactual
    assert model.predict(schema.row_frame(cf))[0] == target
    assert _rows_within(sup, schema, cf) >= sup.k
    assert res.stats.support >= sup.k and res.stats.supported
    cw = res.stats.cost_without["support"]
    assert cw is not None and cw <= res.cost + 1e-9
    if res.cost > cw + 1e-6:
        DEARER.append(1)


@pytest.fixture(autouse=True)
def _reset_dearer():
    DEARER.clear()


def _thresholds(model, j):
    ests = getattr(model, "estimators_", [model])
    ests = np.ravel(ests)
    return np.unique(np.concatenate([e.tree_.threshold[e.tree_.feature == j] for e in ests]))


def _reach(schema, x):
    return [reachable_interval(f, float(x[f.name])) for f in schema.features]


def _grid_oracle(model, schema, x, sup, target, norm="l1"):
    """Trees, linf: the exact optimum over the grid of thresholds and box edges.

    Per feature, a point is either one of the grid values itself (a threshold, a box edge:
    a support ball is closed, so a point exactly on the edges of k boxes is supported even
    where no open cell beside it is) or inside an open cell between two grid values (the
    model and the cover are constant there; its cheapest point is the applicant's value
    clipped into the cell, approached from inside)."""
    names = schema.names
    x0 = np.array([float(x[n]) for n in names])
    A = sup.rows[names].to_numpy(float)
    sc = np.array([sup.scale[n] for n in names])
    r = sup.radius
    evals, costs = [], []
    for j, (lo, hi) in enumerate(_reach(schema, x)):
        pts = np.concatenate([[lo, hi, x0[j]], _thresholds(model, j), A[:, j] - r * sc[j],
                              A[:, j] + r * sc[j]])
        g = np.unique(pts[(pts >= lo) & (pts <= hi)])
        cells_lo, cells_hi = g[:-1], g[1:]
        evals.append(np.concatenate([g, (cells_lo + cells_hi) / 2]))
        costs.append(np.concatenate([g, np.clip(x0[j], cells_lo, cells_hi)]))
    # every combination (itertools.product's order), built by numpy
    idx = np.stack(np.meshgrid(*[np.arange(e.size) for e in evals], indexing="ij"),
                   axis=-1).reshape(-1, len(names))
    mid = np.column_stack([evals[j][idx[:, j]] for j in range(len(names))])
    pt = np.column_stack([costs[j][idx[:, j]] for j in range(len(names))])
    ok = model.predict(pd.DataFrame(mid, columns=names)) == target
    cand = np.flatnonzero(ok)  # the cover only where the model approves
    dist = (np.abs(mid[cand, None, :] - A[None, :, :]) / sc).max(axis=2)
    ok[cand] = (dist <= r * (1 + 1e-12) + 1e-12).sum(axis=1) >= sup.k
    if not ok.any():
        return None
    pt = pt[ok]
    unit = np.array([f.weight / f.scale for f in schema.features])
    if norm == "l1":
        cost = (np.abs(pt - x0) * unit).sum(axis=1)
    else:
        cost = ((np.abs(pt - x0) > 0) * np.array([f.weight for f in schema.features])).sum(1)
    return float(cost.min())


def _denied(model, X, n):
    return [X.iloc[i].to_dict() for i in np.flatnonzero(model.predict(X) == 0)[:n]]


# ---------------------------------------------------------------- trees
@pytest.mark.parametrize("kind", ["tree", "forest"])
@pytest.mark.parametrize("k,radius", [(1, 0.2), (3, 0.4)])
def test_trees_linf_match_grid_oracle(kind, k, radius, global_random_seed, monkeypatch):
    monkeypatch.setattr(support_mod, "DECOMPOSE_MAX_K", 5)  # the oracle checks every k
    X, y = _data(global_random_seed)
    model = (DecisionTreeClassifier(max_depth=4, random_state=global_random_seed)
             if kind == "tree" else
             RandomForestClassifier(n_estimators=4, max_depth=3,
                                    random_state=global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["x1"])
    approved = X[model.predict(X) == 1].iloc[:30]
    sup = DataSupport.fit(approved, schema, k=k, radius=radius)
    eng = RecourseEngine(model, schema, support=sup)
    started = anchors = 0
    for x in _denied(model, X, 5):
        best = _grid_oracle(model, schema, x, sup, 1)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse", (res.status, res.cost)
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL), (x, res.counterfactual)
        started += "support_cut" in res.stats.problem
        anchors += res.stats.problem.get("support_anchors_solved", 0)
    # the start from support rows (and the rows rebuilt under its budget) and the anchor
    # decomposition were exercised, so the oracle checked them
    assert started and anchors
    assert DEARER, "the support never changed an answer: the comparison proves little"


def test_trees_l0_match_grid_oracle(global_random_seed):
    X, y = _data(global_random_seed + 1, p=3)
    model = RandomForestClassifier(n_estimators=3, max_depth=3,
                                   random_state=global_random_seed).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    sup = DataSupport.fit(X[model.predict(X) == 1].iloc[:20], schema, k=2, radius=0.5)
    eng = RecourseEngine(model, schema, support=sup)
    for x in _denied(model, X, 4):
        best = _grid_oracle(model, schema, x, sup, 1, norm="l0")
        res = eng.explain(x, target=1, norm="l0")
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, abs=1e-9)
    assert DEARER, "the support never changed an answer: the comparison proves little"


def _l1_oracle(model, schema, x, sup, target):
    """Trees, l1: per model cell and k-subset, one LP."""
    names = schema.names
    p = len(names)
    x0 = np.array([float(x[n]) for n in names])
    A = sup.rows[names].to_numpy(float)
    sc = np.array([sup.scale[n] for n in names])
    unit = np.array([f.weight / f.scale for f in schema.features])
    r, k = sup.radius, sup.k
    reach = _reach(schema, x)
    grids = []
    for j, (lo, hi) in enumerate(reach):
        t = _thresholds(model, j)
        grids.append(np.unique(np.concatenate([[lo, hi], t[(t > lo) & (t < hi)]])))
    best = None
    for cell in itertools.product(*[range(g.size - 1) for g in grids]):
        lo = np.array([g[c] for g, c in zip(grids, cell)])
        hi = np.array([g[c + 1] for g, c in zip(grids, cell)])
        if model.predict(pd.DataFrame([(lo + hi) / 2], columns=names))[0] != target:
            continue
        gap = (np.maximum(0, np.maximum(lo - A, A - hi)) / sc).sum(axis=1)
        rows = np.flatnonzero(gap <= r)
        for S in itertools.combinations(rows.tolist(), k):
            m = len(S)
            # variables: x (p), u (p), e (m * p)
            nv = 2 * p + m * p
            c = np.r_[np.zeros(p), unit, np.zeros(m * p)]
            A_ub, b_ub = [], []
            for j in range(p):  # u >= +-(x - x0)
                row = np.zeros(nv)
                row[j], row[p + j] = 1, -1
                A_ub.append(row)
                b_ub.append(x0[j])
                row = np.zeros(nv)
                row[j], row[p + j] = -1, -1
                A_ub.append(row)
                b_ub.append(-x0[j])
            for a, i in enumerate(S):
                for j in range(p):  # e >= +-(x - a)/sc
                    ei = 2 * p + a * p + j
                    row = np.zeros(nv)
                    row[j], row[ei] = 1 / sc[j], -1
                    A_ub.append(row)
                    b_ub.append(A[i, j] / sc[j])
                    row = np.zeros(nv)
                    row[j], row[ei] = -1 / sc[j], -1
                    A_ub.append(row)
                    b_ub.append(-A[i, j] / sc[j])
                row = np.zeros(nv)
                row[2 * p + a * p: 2 * p + (a + 1) * p] = 1
                A_ub.append(row)
                b_ub.append(r)
            bounds = [(lo[j], hi[j]) for j in range(p)] + [(0, None)] * (nv - p)
            res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, bounds=bounds, method="highs")
            if res.status == 0 and (best is None or res.fun < best):
                best = float(res.fun)
    return best


@pytest.mark.parametrize("k", [1, 2])
def test_trees_l1_metric_match_lp_oracle(k, global_random_seed):
    X, y = _data(global_random_seed + 2)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    sup = DataSupport.fit(X[model.predict(X) == 1].iloc[:12], schema, k=k, radius=0.6,
                          metric="l1")
    eng = RecourseEngine(model, schema, support=sup)
    for x in _denied(model, X, 4):
        best = _l1_oracle(model, schema, x, sup, 1)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL)
    assert DEARER, "the support never changed an answer: the comparison proves little"


# ---------------------------------------------------------------- linear
def _linear_oracle(w, b, schema, x, sup, margin=0.0):
    """min weighted L1 s.t. w.x + b >= margin, x within the boxes of k rows (one LP per
    k-subset whose boxes meet)."""
    names = schema.names
    x0 = np.array([float(x[n]) for n in names])
    A = sup.rows[names].to_numpy(float)
    sc = np.array([sup.scale[n] for n in names])
    unit = np.array([f.weight / f.scale for f in schema.features])
    reach = np.array(_reach(schema, x))
    r, p = sup.radius, len(names)
    best = None
    for S in itertools.combinations(range(len(A)), sup.k):
        lo = np.max(np.vstack([A[list(S)] - r * sc, reach[:, 0]]), axis=0)
        hi = np.min(np.vstack([A[list(S)] + r * sc, reach[:, 1]]), axis=0)
        if np.any(lo > hi):
            continue
        # x = x0 + pos - neg
        c = np.r_[unit, unit]
        A_ub = np.r_[-w, w][None, :]
        b_ub = [w @ x0 + b - margin]
        bounds = ([(max(0, lo[j] - x0[j]), max(0, hi[j] - x0[j])) for j in range(p)]
                  + [(max(0, x0[j] - hi[j]), max(0, x0[j] - lo[j])) for j in range(p)])
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if res.status == 0 and (best is None or res.fun < best):
            best = float(res.fun)
    return best


@pytest.mark.parametrize("k", [1, 2])
def test_linear_matches_lp_oracle(k, global_random_seed):
    X, y = _data(global_random_seed + 3, p=3)
    model = LogisticRegression().fit(X, y)
    schema = FeatureSchema.from_frame(X, decrease_only=["x2"])
    sup = DataSupport.fit(X[model.predict(X) == 1].iloc[:25], schema, k=k, radius=0.3)
    eng = RecourseEngine(model, schema, support=sup)
    w, b = model.coef_[0], float(model.intercept_[0])
    for x in _denied(model, X, 5):
        best = _linear_oracle(w, b, schema, x, sup)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL)
    assert DEARER, "the support never changed an answer: the comparison proves little"


# ---------------------------------------------------------------- ReLU
def _relu_oracle(mlp, schema, x, sup):
    """One hidden ReLU layer: per activation pattern the logit is affine; one LP per
    (pattern, support row) (k = 1)."""
    W1, W2 = mlp.coefs_
    b1, b2 = mlp.intercepts_
    names = schema.names
    x0 = np.array([float(x[n]) for n in names])
    A = sup.rows[names].to_numpy(float)
    sc = np.array([sup.scale[n] for n in names])
    unit = np.array([f.weight / f.scale for f in schema.features])
    reach = np.array(_reach(schema, x))
    r, p, h = sup.radius, len(names), W1.shape[1]
    best = None
    for pat in itertools.product([0, 1], repeat=h):
        on = np.array(pat, dtype=float)
        # logit = W2^T (on * (W1^T x + b1)) + b2 >= 1e-9
        g = (W1 * on[None, :]) @ W2[:, 0]
        g0 = float((on * b1) @ W2[:, 0] + b2[0])
        # pattern rows: on -> W1^T x + b1 >= 0 ; off -> <= 0
        sgn = np.where(on > 0, -1.0, 1.0)
        P = sgn[:, None] * W1.T
        q = -sgn * b1
        for i in range(len(A)):
            lo = np.maximum(A[i] - r * sc, reach[:, 0])
            hi = np.minimum(A[i] + r * sc, reach[:, 1])
            if np.any(lo > hi):
                continue
            c = np.r_[np.zeros(p), unit]
            A_ub = [np.r_[-g, np.zeros(p)]]
            b_ub = [g0 - 1e-9]
            for j in range(p):
                e = np.zeros(p)
                e[j] = 1
                A_ub += [np.r_[e, -e], np.r_[-e, -e]]
                b_ub += [x0[j], -x0[j]]
            A_ub += [np.r_[P[u], np.zeros(p)] for u in range(h)]
            b_ub += list(q)
            res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub,
                          bounds=[(lo[j], hi[j]) for j in range(p)] + [(0, None)] * p,
                          method="highs")
            if res.status == 0 and (best is None or res.fun < best):
                best = float(res.fun)
    return best


def test_relu_matches_region_enumeration(global_random_seed):
    X, y = _data(global_random_seed + 4)
    mlp = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3000,
                        random_state=global_random_seed).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    sup = DataSupport.fit(X[mlp.predict(X) == 1].iloc[:15], schema, k=1, radius=0.25)
    eng = RecourseEngine(mlp, schema, support=sup)
    for x in _denied(mlp, X, 3):
        best = _relu_oracle(mlp, schema, x, sup)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, mlp, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=1e-3, abs=1e-3)
    assert DEARER, "the support never changed an answer: the comparison proves little"


# ---------------------------------------------------------------- causal
def test_causal_linear_scm_matches_action_subsets():
    """x1 = 0.5 x0 + u (fixed equation); a linear model; k = 1: per support row and per
    action subset ({x0}, {x1}, {x0, x1}) one LP."""
    X, y = _data(5)
    X["x1"] = np.round(0.5 * X["x0"] + np.random.default_rng(5).uniform(0, 5, len(X)), 3)
    model = LogisticRegression().fit(X, (X["x0"] + 2 * X["x1"] > 12).astype(int))
    schema = FeatureSchema.from_frame(X)
    cm = CausalModel.fit(nx.DiGraph([("x0", "x1")]), X, schema,
                         fixed={"x1": LinearEquation({"x0": 0.5})})
    sup = DataSupport.fit(X[model.predict(X) == 1].iloc[:20], schema, k=1, radius=0.2)
    eng = RecourseEngine(model, schema, causal=cm, support=sup)
    w, b = model.coef_[0], float(model.intercept_[0])
    sc = np.array([sup.scale["x0"], sup.scale["x1"]])
    unit = np.array([1 / f.scale for f in schema.features])
    A = sup.rows[["x0", "x1"]].to_numpy(float)
    L = np.array([schema["x0"].lower, schema["x1"].lower])
    H = np.array([schema["x0"].upper, schema["x1"].upper])
    for x in _denied(model, X, 4):
        x0 = np.array([x["x0"], x["x1"]])
        u = x0[1] - 0.5 * x0[0]
        best = None
        for i in range(len(A)):
            lo = np.maximum(A[i] - 0.2 * sc, L)
            hi = np.minimum(A[i] + 0.2 * sc, H)
            if np.any(lo > hi):
                continue
            # variables x0', x1', t0, t1 ; w.x + b >= 0
            for acts in ((0,), (1,), (0, 1)):
                c = np.r_[0, 0, unit[0] * (0 in acts), unit[1] * (1 in acts)]
                A_ub = [[-w[0], -w[1], 0, 0], [1, 0, -1, 0], [-1, 0, -1, 0],
                        [0, 1, 0, -1], [0, -1, 0, -1]]
                b_ub = [b, x0[0], -x0[0], x0[1], -x0[1]]
                A_eq, b_eq = [], []
                if 1 not in acts:  # x1 follows its equation
                    A_eq.append([-0.5, 1, 0, 0])
                    b_eq.append(u)
                if 0 not in acts:
                    A_eq.append([1, 0, 0, 0])
                    b_eq.append(x0[0])
                res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq or None, b_eq=b_eq or None,
                              bounds=[(lo[0], hi[0]), (lo[1], hi[1]), (0, None), (0, None)],
                              method="highs")
                if res.status == 0 and (best is None or res.fun < best):
                    best = float(res.fun)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL)
    assert DEARER, "the support never changed an answer: the comparison proves little"


# ---------------------------------------------------------------- properties
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(1, 3),
       radius=st.floats(0.1, 1.0), n_trees=st.integers(1, 4))
def test_property_random_forests(seed, k, radius, n_trees):
    X, y = _data(seed, n=80)
    if len(set(y)) < 2:
        return
    model = RandomForestClassifier(n_estimators=n_trees, max_depth=3,
                                   random_state=seed).fit(X, y)
    approved = X[model.predict(X) == 1]
    if len(approved) < k:
        return
    schema = FeatureSchema.from_frame(X)
    sup = DataSupport.fit(approved.iloc[:15], schema, k=k, radius=radius)
    eng = RecourseEngine(model, schema, support=sup)
    for x in _denied(model, X, 2):
        res = eng.explain(x, target=1)
        best = _grid_oracle(model, schema, x, sup, 1)
        if best is None:
            assert res.status == "no_recourse"
            assert res.stats.blocking_option == "support"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL)


def test_categorical_levels_must_match_below_radius_one(global_random_seed):
    """linf, radius < 1: a supporting row must share the counterfactual's housing level.
    Oracle: per housing level, the grid oracle over the rows holding that level (plus 1
    when the level changes). A categorical feature the model does not read keeps the
    applicant's level (the engine never changes a feature the model ignores), so then
    only the applicant's level is tried."""
    X, y, _ = credit_frame(global_random_seed, n=160)
    X = X.drop(columns=["age"])
    num = ["income", "debt"]
    model = tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0),
                          numeric=num, scaler="passthrough").fit(X, y)
    schema = FeatureSchema.from_frame(X)
    approved = X[model.predict(X) == 1].iloc[:40]
    sup = DataSupport.fit(approved, schema, k=1, radius=0.3)
    eng = RecourseEngine(model, schema, support=sup)
    tree = model.named_steps["model"].tree_
    unit = np.array([1 / schema[n].scale for n in num])
    sc = np.array([sup.scale[n] for n in num])
    for x in _denied(model, X, 4):
        x0 = np.array([x[n] for n in num])
        best = None
        reads = bool(np.any(tree.feature >= len(num)))  # a split on a housing column
        for level in schema["housing"].categories if reads else [x["housing"]]:
            A = approved.loc[approved["housing"] == level, num].to_numpy(float)
            grids = []
            for j, n in enumerate(num):
                lo, hi = schema[n].lower, schema[n].upper
                pts = np.concatenate([[lo, hi, x0[j]], tree.threshold[tree.feature == j],
                                      A[:, j] - 0.3 * sc[j], A[:, j] + 0.3 * sc[j]])
                grids.append(np.unique(pts[(pts >= lo) & (pts <= hi)]))
            lo_c = np.array(list(itertools.product(grids[0][:-1], grids[1][:-1])))
            hi_c = np.array(list(itertools.product(grids[0][1:], grids[1][1:])))
            mid = (lo_c + hi_c) / 2
            frame = pd.DataFrame(mid, columns=num).assign(housing=level)[X.columns]
            ok = model.predict(frame) == 1
            if A.size:
                ok &= (np.abs(mid[:, None, :] - A[None]) / sc <= 0.3).all(axis=2).any(axis=1)
            else:
                ok &= False
            if ok.any():
                pt = np.clip(x0, lo_c[ok], hi_c[ok])
                cost = (np.abs(pt - x0) * unit).sum(axis=1).min() + (level != x["housing"])
                best = cost if best is None else min(best, cost)
        res = eng.explain(x, target=1)
        if best is None:
            assert res.status == "no_recourse"
            continue
        _check(res, model, schema, sup, 1)
        assert res.cost == pytest.approx(best, rel=TOL, abs=TOL)
    assert DEARER


def test_causal_forest_and_feature_subset():
    """A forest with a causal model: every answer verified and supported (numpy); the
    distance may read a subset of the features."""
    X, y = _data(11, p=3)
    X["x1"] = np.round(0.5 * X["x0"] + np.random.default_rng(11).uniform(0, 5, len(X)), 3)
    model = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    cm = CausalModel.fit(nx.DiGraph([("x0", "x1")]), X, schema,
                         fixed={"x1": LinearEquation({"x0": 0.5})})
    approved = X[model.predict(X) == 1]
    for feats in (None, ["x0", "x2"]):
        sup = DataSupport.fit(approved, schema, k=2, radius=0.4, features=feats)
        eng = RecourseEngine(model, schema, causal=cm, support=sup)
        for x in _denied(model, X, 3):
            res = eng.explain(x, target=1)
            _check(res, model, schema, sup, 1)
            cf = res.counterfactual
            assert cf["x1"] - 0.5 * cf["x0"] == pytest.approx(x["x1"] - 0.5 * x["x0"]) or (
                "x1" in [c.feature for c in res.actions])
    assert sup.features == ("x0", "x2")


# ---------------------------------------------------------------- options together
def test_with_categorical_seen_together_options_and_boosting(global_random_seed):
    X, y, _ = credit_frame(global_random_seed)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    for est in (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
                GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0)):
        model = tree_pipeline(est).fit(X, y)
        sup = DataSupport.from_model(X, model, schema, target=1, k=2, radius=1.0)
        rule = SeenTogether.fit(X, schema)
        eng = RecourseEngine(model, schema, support=sup, seen_together=rule)
        for x in _denied(model, X, 2):
            for norm in ("l1", "l0_l1"):
                res = eng.explain(x, target=1, norm=norm)
                _check(res, model, schema, sup, 1)
            opts = eng.options(x, k=2, target=1)
            sets = [frozenset(c.feature for c in o.changes) for o in opts.options]
            for o in opts.options:
                assert o.verified and _rows_within(sup, schema, o.counterfactual) >= 2
            for a, b in itertools.combinations(sets, 2):
                assert not a <= b  # later options never repeat an earlier change set


def test_report_only_and_hull():
    X, y = _data(7)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    approved = X[model.predict(X) == 1]
    x = _denied(model, X, 1)[0]
    plain = RecourseEngine(model, schema).explain(x, target=1)
    rep = DataSupport.fit(approved, schema, k=3, radius=0.1, enforce=False)
    res = RecourseEngine(model, schema, support=rep).explain(x, target=1)
    assert res.cost == pytest.approx(plain.cost)  # nothing enforced
    assert res.stats.support == _rows_within(rep, schema, res.counterfactual)
    A = approved[schema.names].to_numpy(float)
    sc = np.array([rep.scale[n] for n in schema.names])
    cf = np.array([res.counterfactual[n] for n in schema.names])
    d = np.sort(np.abs(A - cf).__truediv__(sc).max(axis=1))
    assert res.stats.support_distance == pytest.approx(d[2])
    hull = DataSupport.fit(approved, schema, k=3, radius=0.05, hull=True)
    res = RecourseEngine(model, schema, support=hull).explain(x, target=1)
    assert res.status == "optimal" and res.verified
    assert model.predict(schema.row_frame(res.counterfactual))[0] == 1
    cf = np.array([res.counterfactual[n] for n in schema.names])
    # the counterfactual is within 0.05 (scaled, per feature) of a convex combination
    lam = linprog(np.zeros(len(A)), A_ub=np.r_[A.T / sc[:, None], -A.T / sc[:, None]],
                  b_ub=np.r_[cf / sc + 0.05 + 1e-6, -cf / sc + 0.05 + 1e-6],
                  A_eq=np.ones((1, len(A))), b_eq=[1], bounds=[(0, None)] * len(A))
    assert lam.status == 0
    assert res.stats.support_distance <= 0.05 + 1e-6
    assert res.cost >= plain.cost - 1e-9


# ---------------------------------------------------------------- no recourse, bad input
def test_blocking_support_is_named():
    X, y = _data(8)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["x0"])
    x = _denied(model, X, 1)[0]
    # approved rows whose immutable x0 is far from the applicant's: none is reachable
    far = X[(model.predict(X) == 1) & (np.abs(X["x0"] - x["x0"]) > 3)]
    sup = DataSupport.fit(far, schema, k=1, radius=0.2)
    res = RecourseEngine(model, schema, support=sup).explain(x, target=1)
    plain = RecourseEngine(model, schema).explain(x, target=1)
    assert plain.has_recourse
    assert res.status == "no_recourse"
    assert res.stats.blocking_option == "support"
    assert "data-support" in res.message
    assert res.stats.problem["support_reachable"] == 0  # pruned: none can be reached


def test_bad_input():
    X, y = _data(9, n=40)
    schema = FeatureSchema.from_frame(X)
    bad = X.copy()
    bad.loc[3, "x0"] = np.nan
    with pytest.raises(InputValidationError, match="Support row 3"):
        DataSupport.fit(bad, schema)
    with pytest.raises(InputValidationError, match="lack the columns"):
        DataSupport.fit(X.drop(columns=["x1"]), schema)
    with pytest.raises(InputValidationError, match="larger than the number"):
        DataSupport.fit(X.iloc[:3], schema, k=4)
    for r in (0, -1.0, np.nan):
        with pytest.raises(InputValidationError, match="radius"):
            DataSupport.fit(X, schema, radius=r)
    with pytest.raises(InputValidationError, match="metric"):
        DataSupport.fit(X, schema, metric="l2")
    with pytest.raises(InputValidationError, match="hull"):
        DataSupport.fit(X, schema, hull=True, metric="l1")
    with pytest.raises(InputValidationError, match="k must"):
        DataSupport.fit(X, schema, k=0)
    with pytest.raises(InputValidationError, match="scale"):
        DataSupport.fit(X, schema, scale="std")
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    with pytest.raises(InputValidationError, match="none of the"):
        DataSupport.from_model(X, model, schema, target=7)
    with pytest.raises(InputValidationError, match="DataSupport"):
        RecourseEngine(model, schema, support=X)

"""Multi-model and isolation-forest recourse for every model type (``recourse.solvers.stack``).

Oracles, none of which imports the engine:

* region enumeration (``causal_oracle.causal_optimum``): the target region of a model
  set is the intersection of one target region per model (the half-space(s) of a linear
  model, the box of a target leaf of a tree); one ``scipy.optimize.linprog`` per
  (action subset, combination of regions). With no equations every node is a root, so
  the same oracle gives plain (non-causal) L1 and L0 optima;
* isolation cells: the grid of every isolation split threshold; a cell is plausible when
  sklearn's own ``score_samples`` at its centre reaches ``min_score``; the optimum is the
  cheapest LP over plausible cells intersected with the classifier's half-space
  (branch and bound on the cells' distance from the applicant);
* a dense grid over the action box for ReLU members (an upper bound on the optimum, and
  a lower bound up to one grid step per feature);
* every answer is checked with every model's own ``predict`` (and the isolation forest's
  ``score_samples``).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sklearn.ensemble import (
    GradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test_causal"))
from causal_oracle import SCM, STRICT, causal_optimum, tree_regions  # noqa: E402
from oracles import model_predict  # noqa: E402
from synthdata import credit_frame, tree_pipeline  # noqa: E402
from test_causal_oracle import causal_model, make_schema, rules_for  # noqa: E402

from recourse.encoders.errors import InputValidationError
from recourse.encoders.isolation import PlausibleModel, average_path_length  # noqa: E402
from recourse.encoders.multi import ModelSet  # noqa: E402
from recourse import RecourseEngine  # noqa: E402

COLS = ["a", "b"]
TOL = 1e-5
#: The oracle's regions are strict by ``causal_oracle.STRICT`` (1e-5, above the engine's
#: margin 1e-6) on every split and score: its optimum may exceed the engine's verified one
#: by that much times a unit cost (at most 2 here) per active row.
COST_TOL = 1e-4


def _data(seed: int, n: int = 200, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 10.0, size=(n, k))
    s = X.sum(axis=1) + rng.normal(0.0, 1.5, n)
    y = (s > 10.0).astype(int)
    y3 = np.digitize(X[:, 0] - 0.5 * X[:, 1] + rng.normal(0.0, 1.0, n), [-1.0, 3.0])
    return X, y, y3


def linear_regions_any(model, target: int) -> list[list[tuple[np.ndarray, float]]]:
    """Rows ``a @ x >= b`` of a linear model's target region (binary or multiclass)."""
    W = np.atleast_2d(model.coef_)
    b = np.ravel(model.intercept_)
    if W.shape[0] == 1:
        sign = 1.0 if target == 1 else -1.0
        return [[(sign * W[0], -sign * b[0] + STRICT)]]
    return [[(W[target] - W[k], -(b[target] - b[k]) + STRICT)
             for k in range(W.shape[0]) if k != target]]


def set_regions(models, target: int) -> list[list[tuple[np.ndarray, float]]]:
    """The target region of a set: one region of every model, intersected."""
    regions = [[]]
    for m in models:
        own = (tree_regions(m, target) if hasattr(m, "tree_")
               else linear_regions_any(m, target))
        regions = [r + s for r in regions for s in own]
    return regions


def _oracle(models, x0, norm, rules, scm=None, target=1):
    scm = scm or SCM(list(COLS))
    best, _ = causal_optimum(scm, rules, x0, list(COLS), set_regions(models, target), norm)
    return best


def _check_every_model(res, models, schema, target=1):
    assert res.verified and res.counterfactual is not None
    for m in models:
        assert model_predict(m, schema, [res.counterfactual])[0] == target, m


# ---------------------------------------------------------------- mixed ModelSets
@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_logreg_and_tree_match_enumeration(norm, global_random_seed):
    X, y, _ = _data(global_random_seed)
    lr = LogisticRegression().fit(X, y)
    dt = DecisionTreeClassifier(max_depth=3, random_state=global_random_seed).fit(
        X[:150], y[:150])
    rules = rules_for(COLS, lo=0.0, hi=10.0, unit={"a": 1.0, "b": 0.7},
                      weight={"a": 1.0, "b": 1.5})
    schema = make_schema(COLS, rules)
    engine = RecourseEngine(ModelSet([lr, dt]), schema)
    assert engine.encoding.kind == "stack"
    denied = np.flatnonzero((lr.predict(X) == 0) | (dt.predict(X) == 0))[:5]
    for i in denied:
        x0 = dict(zip(COLS, X[i].tolist()))
        res = engine.explain(x0, target=1, norm=norm)
        want = _oracle([lr, dt], x0, norm, rules)
        if not np.isfinite(want):
            assert res.status == "no_recourse"
            continue
        assert res.status == "optimal", res.message
        _check_every_model(res, [lr, dt], schema)
        assert res.cost == pytest.approx(want, rel=TOL, abs=COST_TOL)


def test_two_multiclass_logistic_models_match_lp(global_random_seed):
    X, _, y3 = _data(global_random_seed, n=300)
    m1 = LogisticRegression().fit(X, y3)
    m2 = LogisticRegression(C=0.05).fit(X[::2], y3[::2])
    rules = rules_for(COLS, lo=0.0, hi=10.0)
    schema = make_schema(COLS, rules)
    engine = RecourseEngine(ModelSet([m1, m2]), schema)
    checked = 0
    for i in range(12):
        x0 = dict(zip(COLS, X[i].tolist()))
        for target in (0, 2):
            if m1.predict(X[i:i + 1])[0] == target and m2.predict(X[i:i + 1])[0] == target:
                continue
            res = engine.explain(x0, target=target)
            want = _oracle([m1, m2], x0, "l1", rules, target=target)
            assert np.isfinite(want)
            assert res.status == "optimal", res.message
            _check_every_model(res, [m1, m2], schema, target)
            assert res.cost == pytest.approx(want, rel=TOL, abs=COST_TOL)
            checked += 1
    assert checked >= 6


def test_relu_member_matches_grid(global_random_seed):
    X, y, _ = _data(global_random_seed)
    lr = LogisticRegression(C=0.1).fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=600,
                        random_state=global_random_seed).fit(X, 1 - (X[:, 0] < 3.0) * y)
    rules = rules_for(COLS, lo=0.0, hi=10.0)
    schema = make_schema(COLS, rules)
    ms = ModelSet([mlp, lr])  # the ReLU network is the main encoding here
    engine = RecourseEngine(ms, schema)
    g = np.linspace(0.0, 10.0, 401)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    ok = (lr.predict(G) == 1) & (mlp.predict(G) == 1)
    step = g[1] - g[0]
    done = 0
    for i in np.flatnonzero(ms.predict(X) != 1)[:4]:
        res = engine.explain(dict(zip(COLS, X[i].tolist())), target=1)
        cost = np.abs(G - X[i]).sum(axis=1)
        if not ok.any():
            assert res.status == "no_recourse"
            continue
        best = float(cost[ok].min())
        assert res.status == "optimal", res.message
        _check_every_model(res, [mlp, lr], schema)
        assert best - 2 * step - TOL <= res.cost <= best + TOL
        done += 1
    assert done


# ------------------------------------------------------------ causal + ModelSet
def test_causal_model_set_matches_enumeration(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    scm = SCM(["a", "b"], coef={"b": {"a": 0.6}}, intercept={"b": 1.0})
    X = rng.uniform(0.0, 10.0, size=(200, 2))
    y = (X[:, 0] + 1.5 * X[:, 1] > 12.0).astype(int)
    lr = LogisticRegression().fit(X, y)
    dt = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, (X[:, 1] > 4.0) | y)
    rules = rules_for(COLS, lo=0.0, hi=10.0, unit={"a": 1.0, "b": 2.5})
    schema = make_schema(COLS, rules)
    engine = RecourseEngine(ModelSet([lr, dt]), schema, causal=causal_model(scm))
    done = 0
    for x in X[:40]:
        x0 = {"a": float(x[0]), "b": float(scm.f("b", {"a": x[0]}) + rng.normal(0, 0.5))}
        x0["b"] = min(max(x0["b"], 0.0), 10.0)
        row = np.array([[x0["a"], x0["b"]]])
        if lr.predict(row)[0] == 1 and dt.predict(row)[0] == 1:
            continue
        for norm in ("l1", "l0"):
            res = engine.explain(x0, target=1, norm=norm)
            want = _oracle([lr, dt], x0, norm, rules, scm=scm)
            if not np.isfinite(want):
                assert res.status == "no_recourse"
                continue
            assert res.status == "optimal", res.message
            _check_every_model(res, [lr, dt], schema)
            assert res.cost == pytest.approx(want, rel=TOL, abs=COST_TOL)
            cf, acted = res.counterfactual, {c.feature for c in res.actions}
            if "b" not in acted:  # b follows its equation with the applicant's own noise
                u = x0["b"] - scm.f("b", x0)
                assert cf["b"] == pytest.approx(scm.f("b", cf) + u, abs=1e-7)
            done += 1
        if done >= 6:
            break
    assert done >= 4


# ----------------------------------------------------- isolation forest, any model
def _sk_mean_path(iso, frame):
    """Mean path length from sklearn's own score_samples: s = -2 ** (-E / c(psi))."""
    return -np.log2(-iso.score_samples(frame)) * average_path_length(iso._max_samples)


def _iso_optimum(lr, iso, min_score, x0, unit, lo=0.0, hi=10.0):
    """Cheapest L1 point in a plausible isolation cell and the classifier's half-space."""
    cuts = []
    for j in range(2):
        t = [e.tree_.threshold[e.tree_.feature == j] for e in iso.estimators_]
        cuts.append(np.unique(np.concatenate([[lo, hi], *t]).clip(lo, hi)))
    A, B = np.meshgrid(np.arange(cuts[0].size - 1), np.arange(cuts[1].size - 1),
                       indexing="ij")
    A, B = A.ravel(), B.ravel()
    lo_a, hi_a, lo_b, hi_b = cuts[0][A], cuts[0][A + 1], cuts[1][B], cuts[1][B + 1]
    centre = np.column_stack([(lo_a + hi_a) / 2, (lo_b + hi_b) / 2])
    plausible = iso.score_samples(centre) >= min_score
    x0v = np.array([x0["a"], x0["b"]])
    dist = (unit[0] * np.maximum(0, np.maximum(lo_a - x0v[0], x0v[0] - hi_a))
            + unit[1] * np.maximum(0, np.maximum(lo_b - x0v[1], x0v[1] - hi_b)))
    w, b0 = lr.coef_[0], float(lr.intercept_[0])
    best = np.inf
    for c in np.flatnonzero(plausible)[np.argsort(dist[plausible])]:
        if dist[c] >= best:
            break
        val = _cell_lp(unit, w, b0, x0v, (lo_a[c], hi_a[c]), (lo_b[c], hi_b[c]))
        if val is not None:
            best = min(best, val)
    return best


def _cell_lp(unit, w, b0, x0v, ra, rb):
    """min sum unit |x - x0| over the box ``ra x rb`` with ``w @ x + b0 >= STRICT``:
    variables (x, t) with t >= +-(x - x0)."""
    c = np.concatenate([[0.0, 0.0], unit])
    A = [[-w[0], -w[1], 0, 0], [1, 0, -1, 0], [-1, 0, -1, 0], [0, 1, 0, -1], [0, -1, 0, -1]]
    b = [b0 - STRICT, x0v[0], -x0v[0], x0v[1], -x0v[1]]
    res = linprog(c, A_ub=np.array(A, dtype=float), b_ub=np.array(b),
                  bounds=[ra, rb, (0, None), (0, None)], method="highs")
    return float(res.fun) if res.status == 0 else None


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_isolation_any_model_path_and_optimum(kind, global_random_seed):
    X, y, _ = _data(global_random_seed, n=300)
    X = X[(X[:, 0] - 5) ** 2 + (X[:, 1] - 5) ** 2 < 16]  # a disc: corners are implausible
    y = (X.sum(axis=1) > 10.5).astype(int)
    clf = (LogisticRegression().fit(X, y) if kind == "logreg" else
           MLPClassifier(hidden_layer_sizes=(6,), max_iter=800, random_state=0).fit(X, y))
    iso = IsolationForest(n_estimators=10, max_samples=32, random_state=global_random_seed)
    iso.fit(X)
    rules = rules_for(COLS, lo=0.0, hi=10.0, unit={"a": 1.0, "b": 0.8})
    schema = make_schema(COLS, rules)
    pm = PlausibleModel(clf, iso)
    engine = RecourseEngine(pm, schema)
    plain = RecourseEngine(clf, schema)
    found = 0
    for i in np.flatnonzero(clf.predict(X) == 0)[:4]:
        x0 = dict(zip(COLS, X[i].tolist()))
        res = engine.explain(x0, target=1)
        base = plain.explain(x0, target=1)
        assert res.stats.plausibility_score is not None or res.status == "no_recourse"
        if res.status == "no_recourse":
            assert res.stats.blocking_option == "plausibility"
            continue
        assert res.status == "optimal", res.message
        found += 1
        cf = pd.DataFrame([res.counterfactual])[COLS].to_numpy()
        assert clf.predict(cf)[0] == 1
        assert iso.score_samples(cf)[0] >= pm.min_score
        assert res.stats.plausibility_score == pytest.approx(iso.score_samples(cf)[0])
        # the test: the MILP's path length is sklearn's on the returned point
        s = engine.space.encode(res.counterfactual)
        milp = engine.encoding.path_sum(s[None, :])[0] / len(iso.estimators_)
        assert milp == pytest.approx(_sk_mean_path(iso, cf)[0], rel=1e-9, abs=1e-9)
        assert res.cost >= base.cost - 1e-9
        assert res.stats.cost_without["plausibility"] == pytest.approx(base.cost)
        if kind == "logreg":
            want = _iso_optimum(clf, iso, pm.min_score, x0, np.array([1.0, 0.8]))
            assert res.cost == pytest.approx(want, rel=TOL, abs=COST_TOL)
    assert found


# ----------------------------------------------------------- infeasible options
def test_opposite_models_block_recourse(global_random_seed):
    X, y, _ = _data(global_random_seed)
    lr = LogisticRegression().fit(X, y)
    rev = copy.deepcopy(lr)
    rev.coef_, rev.intercept_ = -lr.coef_, -lr.intercept_  # approves where lr denies
    schema = make_schema(COLS, rules_for(COLS))
    x0 = dict(zip(COLS, X[int(np.flatnonzero(lr.predict(X) == 0)[0])].tolist()))
    res = RecourseEngine(ModelSet([lr, rev]), schema).explain(x0, target=1)
    assert res.status == "no_recourse"
    assert res.stats.blocking_option == "models"
    assert all(c is not None for c in res.stats.cost_without["models"])
    # the plausibility option blocks when no point reaches its score
    iso = IsolationForest(n_estimators=8, max_samples=32, random_state=0).fit(X)
    pm = PlausibleModel(lr, iso, min_score=min(-1e-3, float(iso.score_samples(X).max()) + 0.2))
    g = np.linspace(0, 10, 101)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    assert iso.score_samples(G).max() < pm.min_score
    res = RecourseEngine(pm, schema).explain(x0, target=1)
    assert res.status == "no_recourse"
    assert res.stats.blocking_option == "plausibility"
    with pytest.raises(InputValidationError, match="implausible"):
        RecourseEngine(pm, schema).explain(x0)  # no default class to leave
    assert res.stats.cost_without["plausibility"] is not None


# ------------------------------------------ mixed pipelines, margins, every type
def test_mixed_pipelines_verified_by_every_model(global_random_seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from recourse import FeatureSchema

    X, y, _ = credit_frame(global_random_seed)

    def pipe(est):
        pre = ColumnTransformer([("num", StandardScaler(), ["age", "income", "debt"]),
                                 ("cat", OneHotEncoder(), ["housing"])])
        return Pipeline([("pre", pre), ("model", est)]).fit(X, y)

    lr = pipe(LogisticRegression())
    rf = tree_pipeline(RandomForestClassifier(n_estimators=5, max_depth=3,
                                              random_state=0)).fit(X, y)
    mlp = pipe(MLPClassifier(hidden_layer_sizes=(6,), max_iter=500, random_state=0))
    gb = tree_pipeline(GradientBoostingClassifier(n_estimators=4, max_depth=2,
                                                  random_state=0)).fit(X, y)
    models = [lr, rf, mlp, gb]
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    engine = RecourseEngine(ModelSet(models), schema)
    alone = [RecourseEngine(m, schema) for m in models]
    done = 0
    for i in np.flatnonzero(ModelSet(models).predict(X) == 0)[:3]:
        x = X.iloc[i].to_dict()
        res = engine.explain(x, target=1)
        assert res.status == "optimal", res.message
        _check_every_model(res, models, schema)
        single = [e.explain(x, target=1) for e in alone]
        assert res.cost >= max(s.cost for s in single) - 1e-7
        assert res.stats.cost_without["models"] == pytest.approx([s.cost for s in single])
        m = 0.3
        robust = engine.explain(x, target=1, min_margin=m)
        assert robust.status == "optimal", robust.message
        _check_every_model(robust, models, schema)
        got = robust.stats.margin
        assert len(got) == 4 and min(got) >= m - 1e-9
        frame = pd.DataFrame([robust.counterfactual])[schema.names]
        p = rf.predict_proba(frame)[0]
        assert got[1] == pytest.approx(p[1] - p[0])  # the forest's margin in probability
        assert got[0] == pytest.approx(lr.decision_function(frame)[0])
        assert robust.cost >= res.cost - 1e-9
        done += 1
    assert done


def test_torch_member():
    torch = pytest.importorskip("torch")
    from recourse.encoders.mlp import TorchClassifier

    X, y, _ = _data(0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(np.random.default_rng(0).normal(size=(6, 2))))
    tc = TorchClassifier(net.double(), classes=[0, 1])
    lr = LogisticRegression().fit(X, y)
    schema = make_schema(COLS, rules_for(COLS))
    ms = ModelSet([lr, tc])
    engine = RecourseEngine(ms, schema)
    for i in np.flatnonzero(ms.predict(X) != 1)[:3]:
        res = engine.explain(dict(zip(COLS, X[i].tolist())), target=1)
        if res.has_recourse:
            _check_every_model(res, [lr, tc], schema)


# ------------------------------------------------------------ property test
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), depth=st.integers(1, 3), two_linear=st.booleans(),
       norm=st.sampled_from(["l1", "l0"]))
def test_random_mixed_sets_match_enumeration(seed, depth, two_linear, norm):
    X, y, _ = _data(seed, n=120)
    rng = np.random.default_rng(seed)
    models = [LogisticRegression(C=float(rng.uniform(0.05, 2.0))).fit(X, y),
              DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(X[:90], y[:90])]
    if two_linear:
        models.append(LogisticRegression().fit(X[30:], y[30:]))
    rules = rules_for(COLS, lo=0.0, hi=10.0,
                      unit={"a": float(rng.uniform(0.5, 2)), "b": float(rng.uniform(0.5, 2))},
                      direction={"a": int(rng.integers(-1, 2)), "b": 0})
    schema = make_schema(COLS, rules)
    engine = RecourseEngine(ModelSet(models), schema)
    x = X[int(rng.integers(0, X.shape[0]))]
    x0 = dict(zip(COLS, x.tolist()))
    if all(m.predict(x[None, :])[0] == 1 for m in models):
        return
    res = engine.explain(x0, target=1, norm=norm)
    want = _oracle(models, x0, norm, rules)
    if not np.isfinite(want):
        assert res.status == "no_recourse"
        assert res.stats.blocking_option in (None, "models")
        return
    assert res.status == "optimal", res.message
    _check_every_model(res, models, schema)
    assert res.cost == pytest.approx(want, rel=TOL, abs=COST_TOL)


def test_joint_tree_set_margin_per_model(global_random_seed):
    X, y, _ = _data(global_random_seed)
    a = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y)
    b = DecisionTreeClassifier(max_depth=3, random_state=1).fit(X[50:], y[50:])
    schema = make_schema(COLS, rules_for(COLS))
    ms = ModelSet([a, b])
    engine = RecourseEngine(ms, schema)
    assert engine.encoding.kind == "trees"  # all trees: the joint block
    done = 0
    for i in np.flatnonzero(ms.predict(X) != 1)[:3]:
        x0 = dict(zip(COLS, X[i].tolist()))
        plain = engine.explain(x0, target=1)
        res = engine.explain(x0, target=1, min_margin=0.3)
        if res.status == "no_recourse":
            assert res.stats.blocking_option == "min_margin"
            continue
        assert res.status == "optimal", res.message
        cf = np.array([[res.counterfactual[c] for c in COLS]])
        want = [float(m.predict_proba(cf)[0, 1] - m.predict_proba(cf)[0, 0]) for m in (a, b)]
        assert res.stats.margin == pytest.approx(want)
        assert min(want) >= 0.3 - 1e-9
        assert res.stats.margin_units == ["probability", "probability"]
        assert res.stats.cost_without["min_margin"] == pytest.approx(plain.cost)
        assert res.cost >= plain.cost - 1e-9
        done += 1
    assert done


def test_options_and_plausible_causal(global_random_seed):
    """Different advice (exclude rows on the value block's change indicators) and a
    PlausibleModel(logreg) under a causal model, all verified by the models' own predict."""
    X, y, _ = _data(global_random_seed)
    lr = LogisticRegression().fit(X, y)
    dt = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    rules = rules_for(COLS)
    schema = make_schema(COLS, rules)
    engine = RecourseEngine(ModelSet([lr, dt]), schema)
    i = int(np.flatnonzero((lr.predict(X) == 0) & (dt.predict(X) == 0))[0])
    x0 = dict(zip(COLS, X[i].tolist()))
    opts = engine.options(x0, k=3, target=1)
    sets = [frozenset(c.feature for c in o.changes) for o in opts.options]
    assert len(opts.options) >= 2
    for k, o in enumerate(opts.options):
        _check_every_model(o, [lr, dt], schema)
        assert not any(prev <= sets[k] for prev in sets[:k])
    assert opts.options[0].cost <= opts.options[1].cost + 1e-9
    scm = SCM(["a", "b"], coef={"b": {"a": 0.5}})
    iso = IsolationForest(n_estimators=8, max_samples=32, random_state=0).fit(X)
    pm = PlausibleModel(lr, iso)
    res = RecourseEngine(pm, schema, causal=causal_model(scm)).explain(x0, target=1)
    assert res.has_recourse, res.message
    cf = np.array([[res.counterfactual[c] for c in COLS]])
    assert lr.predict(cf)[0] == 1 and iso.score_samples(cf)[0] >= pm.min_score
    if "b" not in {c.feature for c in res.actions}:
        assert res.counterfactual["b"] == pytest.approx(
            x0["b"] + 0.5 * (res.counterfactual["a"] - x0["a"]), abs=1e-7)


def test_applicant_on_a_split_of_a_joint_set():
    """An applicant within float32 rounding of a split: the side is decided with every
    member's own preprocessing (it used to run a ModelSet of Pipelines as one bare model)."""
    from recourse.encoders.block import ThresholdLink
    from recourse import FeatureSchema

    X, y, _ = credit_frame(0)
    members = [tree_pipeline(RandomForestClassifier(n_estimators=3, max_depth=3,
                                                    random_state=s)).fit(X, y) for s in (0, 1)]
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(ModelSet(members), schema)
    link = next(lk for lk in engine.encoding.links if isinstance(lk, ThresholdLink)
                and engine.space.names[lk.feature] == "income")
    x = X.iloc[0].to_dict()
    for t in link.thresholds[:3]:
        x["income"] = float(t)
        res = engine.explain(x, target=1)
        if res.status == "already_target":
            assert all(model_predict(m, schema, [x])[0] == 1 for m in members)
            continue
        assert res.status == "optimal", res.message
        _check_every_model(res, members, schema)

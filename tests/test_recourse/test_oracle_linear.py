"""Linear models: the engine's optimum equals an LP / enumeration oracle.

The decision function is read off the fitted model by probing it (``affine_decision``),
so the oracle is independent of how the engine reads coefficients and scalers; the LP
(``scipy.optimize.linprog``) uses its own formulation ``x' = x + p - n``. sklearn
predicts ``classes_[1]`` iff the decision is ``> 0``: the oracle's margin-0 optimum is
the infimum the engine approaches from the admissible side.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from engine_checks import TIME_LIMIT, check_against_oracle
from oracles import (
    OracleOptimum,
    affine_decision,
    linear_integer_grid_optimum,
    linear_lp_optimum,
    linear_rows_lp_optimum,
    point_cost,
)
from recourse import FeatureSchema, RecourseEngine, find_recourse
from synthdata import credit_frame, tree_pipeline


def _continuous_frame(seed, n=200):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "income": rng.uniform(10, 100, n),
        "debt": rng.uniform(0, 50, n),
        "savings": rng.uniform(0, 20, n),
    })
    s = X.income - 1.5 * X.debt + 0.8 * X.savings + rng.normal(0, 8, n)
    return X, (s > np.median(s)).astype(int), np.digitize(s, np.quantile(s, [1 / 3, 2 / 3]))


def _sign_for(model, target):
    return 1 if target == model.classes_[1] else -1


LINEAR = {
    "logreg": lambda: LogisticRegression(max_iter=1000),
    "linsvc_scaled": lambda: make_pipeline(StandardScaler(), LinearSVC(C=0.5)),
    "logreg_scaled": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.3)),
}

ACTIONS = {
    "free": {},
    "restricted": dict(immutable=["savings"], increase_only=["income"],
                       weights={"debt": 2.0}),
    "bounded": dict(decrease_only=["debt"], bounds={"income": (None, 60.0)}),
}


@pytest.mark.parametrize("actions", list(ACTIONS))
@pytest.mark.parametrize("name", list(LINEAR))
def test_binary_linear_l1_matches_lp(name, actions, global_random_seed):
    X, y, _ = _continuous_frame(global_random_seed)
    model = LINEAR[name]().fit(X, y)
    schema = FeatureSchema.from_frame(X, **ACTIONS[actions])
    pred = model.predict(X)
    n_found = 0
    for i in range(0, 60, 5):
        x = X.iloc[i].to_dict()
        target = model.classes_[1] if pred[i] == model.classes_[0] else model.classes_[0]
        W, b = affine_decision(model, schema, x)
        lp = linear_lp_optimum(W[0], b[0], schema, x, _sign_for(model, target), 0.0)
        res = find_recourse(model, x, schema, target=target, norm="l1", time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, "l1", lp)
        n_found += lp is not None
    assert n_found >= 3


def test_linear_l0_matches_subset_enumeration(global_random_seed):
    """L0 for a linear model: the cheapest set of features that, alone allowed to move,
    can reach the target (LP feasibility per subset)."""
    X, y, _ = _continuous_frame(global_random_seed + 1)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    schema = FeatureSchema.from_frame(X, weights={"income": 1.0, "debt": 1.5, "savings": 0.7},
                                      bounds={"savings": (0, 25)})
    pred = model.predict(X)
    for i in range(0, 40, 5):
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        W, b = affine_decision(model, schema, x)
        sign = _sign_for(model, target)
        best = None
        for r in range(0, len(schema) + 1):
            for subset in itertools.combinations(schema.names, r):
                s2 = schema
                for n in schema.names:
                    if n not in subset:
                        s2 = s2.replace(n, immutable=True, direction="any")
                # strict side (class 1 needs > 0) approached with a tiny margin
                lp = linear_lp_optimum(W[0], b[0], s2, x, sign, 1e-7 if sign > 0 else 0.0)
                if lp is None:
                    continue
                w = sum(schema[n].weight for n in subset)
                if best is None or w < best.cost - 1e-12:
                    best = OracleOptimum(cost=w, l1=lp.cost, l0=w, point=lp.point, norm="l0")
        res = find_recourse(model, x, schema, target=target, norm="l0", time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, "l0", best)


@pytest.mark.parametrize("name", ["logreg", "linsvc_scaled"])
def test_linear_with_integer_feature_matches_grid(name, global_random_seed):
    """``age`` is integer: the oracle enumerates every admissible age and solves the LP
    over the continuous features for each."""
    X, y, _ = credit_frame(global_random_seed + 2, categorical=False)
    model = LINEAR[name]().fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], scales={"age": 2.0},
                                      bounds={"income": (None, 70.0)})
    assert schema["age"].kind == "integer"
    pred = model.predict(X)
    for i in range(0, 50, 5):
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        W, b = affine_decision(model, schema, x)
        sign = _sign_for(model, target)
        grid = linear_integer_grid_optimum(sign * W, sign * b, schema, x, 0.0)
        res = find_recourse(model, x, schema, target=target, time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, "l1", grid)
        if res.counterfactual is not None:
            assert float(res.counterfactual["age"]).is_integer()


def test_integer_only_linear_is_exact(global_random_seed):
    """Only integer features mutable: the optimum is a finite enumeration, exact."""
    rng = np.random.default_rng(global_random_seed + 3)
    X = pd.DataFrame({"a": rng.integers(0, 20, 200), "b": rng.integers(0, 10, 200),
                      "u": rng.uniform(0, 1, 200)})
    y = (X.a + 2 * X.b + rng.normal(0, 2, 200) > 19).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["u"], scales={"a": 1.0, "b": 1.0})
    pred = model.predict(X)
    grid_a = np.arange(schema["a"].lower, schema["a"].upper + 1)
    grid_b = np.arange(schema["b"].lower, schema["b"].upper + 1)
    A, B = np.meshgrid(grid_a, grid_b, indexing="ij")
    for i in range(0, 40, 4):
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        rows = pd.DataFrame({"a": A.ravel(), "b": B.ravel(), "u": np.full(A.size, x["u"])})
        ok = model.predict(rows) == target
        cost = np.abs(A.ravel() - x["a"]) + np.abs(B.ravel() - x["b"])
        if ok.any():
            k = int(np.argmin(np.where(ok, cost, np.inf)))
            pt = {"a": float(A.ravel()[k]), "b": float(B.ravel()[k]), "u": x["u"]}
            l1, l0 = point_cost(schema, x, pt)
            oracle = OracleOptimum(cost=l1, l1=l1, l0=l0, point=pt)
        else:
            oracle = None
        res = find_recourse(model, x, schema, target=target, time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, "l1", oracle)
        if oracle is not None:
            assert res.cost == pytest.approx(oracle.cost, abs=1e-9)  # integers: exact


def test_multiclass_linear_named_target(global_random_seed):
    X, _, y3 = _continuous_frame(global_random_seed + 4)
    labels = np.array(["low", "mid", "high"])[y3]
    model = LogisticRegression(max_iter=2000).fit(X, labels)
    schema = FeatureSchema.from_frame(X, immutable=["savings"])
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    classes = list(model.classes_)
    for i in (0, 5, 9, 14):
        x = X.iloc[i].to_dict()
        W, b = affine_decision(model, schema, x)
        for target in classes:
            if target == pred[i]:
                continue
            t = classes.index(target)
            others = [j for j in range(len(classes)) if j != t]
            A = np.array([W[t] - W[j] for j in others])
            c = np.array([b[t] - b[j] for j in others])
            lp = linear_rows_lp_optimum(A, c, schema, x, 0.0)
            res = engine.explain(x, target=target, norm="l1", time_limit=TIME_LIMIT)
            check_against_oracle(res, model, schema, x, target, "l1", lp)


def test_linear_pipeline_with_categorical(global_random_seed):
    """OneHotEncoder + StandardScaler + LogisticRegression: enumerate the housing level,
    LP over the continuous features (age immutable), add the level-change cost."""
    X, y, _ = credit_frame(global_random_seed + 5)
    model = tree_pipeline(LogisticRegression(max_iter=1000)).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["age"], weights={"housing": 0.8})
    num = FeatureSchema(tuple(f for f in schema.features if f.kind != "categorical"))
    pred = model.predict(X)
    for i in range(0, 40, 5):
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        sign = 1 if target == 1 else -1
        best = None
        for level in schema["housing"].categories:
            xl = dict(x, housing=level)
            W, b = affine_decision(model, schema, xl)
            keep = [schema.names.index(n) for n in num.names]
            # the numeric part only, housing fixed at `level` (its effect is in b)
            lp = linear_lp_optimum(W[0][keep], b[0], num, x, sign, 0.0)
            if lp is None:
                continue
            extra = 0.0 if level == x["housing"] else schema["housing"].weight
            if best is None or lp.cost + extra < best.cost:
                pt = dict(lp.point, housing=level)
                l1, l0 = point_cost(schema, x, pt)
                best = OracleOptimum(cost=l1, l1=l1, l0=l0, point=pt)
        res = find_recourse(model, x, schema, target=target, time_limit=TIME_LIMIT)
        check_against_oracle(res, model, schema, x, target, "l1", best)

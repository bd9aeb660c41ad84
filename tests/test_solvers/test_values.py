"""The value view (``recourse.solvers.values``): explicit value columns for every feature.

Without any constraint on the values, the optimum over points must equal the optimum over
cells (the cheapest point of a cell is the one nearest the applicant): the engine with the
value view forced on is compared with the brute-force oracle (``oracles``) on small tree
models, with the ordinary engine on the bundled data for every model family, and with the
causal engine. ``append_block`` is checked by appending a model's own encoding to its
problem (the answer must not change) and a second, different model (the answer must be
approved by both models' own predict and cost at least as much as either alone).
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import TIME_LIMIT, check_against_oracle
from oracles import brute_force_tree_optimum, costs_close
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from synthdata import credit_frame, tree_pipeline

from recourse import encoders
from recourse import FeatureSchema, Option, RecourseEngine
from recourse.solvers.values import append_block, shift


def _denied(model, X, k):
    pred = model.predict(X)
    classes = list(model.classes_)
    rows = [i for i in range(len(X)) if pred[i] == classes[0]][:k]
    return [X.iloc[i].to_dict() for i in rows], classes[1]


class ValuesOnly(Option):
    """The value view without any constraint (an engine option that adds nothing)."""

    needs_values = True


def _value_engine(model, schema, **kw):
    return RecourseEngine(model, schema, options=[ValuesOnly()], **kw)


@pytest.mark.parametrize("norm", ["l1", "l0"])
@pytest.mark.parametrize("make", [
    lambda s: DecisionTreeClassifier(max_depth=4, random_state=s),
    lambda s: RandomForestClassifier(n_estimators=3, max_depth=3, random_state=s),
], ids=["tree", "forest"])
def test_value_view_matches_bruteforce(make, norm, global_random_seed):
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(make(global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})
    eng = _value_engine(model, schema)
    cases, target = _denied(model, X, 4)
    for x in cases:
        res = eng.explain(x, target=target, norm=norm, time_limit=TIME_LIMIT)
        bf = brute_force_tree_optimum(model, schema, x, target, norm)
        check_against_oracle(res, model, schema, x, target, norm, bf)
        assert "value_vars" in res.stats.problem


@pytest.mark.parametrize("kind", ["logreg", "rf100x6", "gb100"])
def test_value_view_matches_engine_on_german(kind):
    from recourse.datasets import make_model, train_test

    X_tr, X_te, y_tr, _, schema = train_test("german")
    model = make_model(kind, X_tr, y_tr, schema=schema)
    plain, values = RecourseEngine(model, schema), _value_engine(model, schema)
    pred = model.predict(X_te)
    rows = [X_te.iloc[i] for i in range(len(X_te)) if pred[i] != "good"][:4]
    for row in rows:
        for norm in ("l1", "l0_l1"):
            a = plain.explain(row, target="good", norm=norm, time_limit=TIME_LIMIT)
            b = values.explain(row, target="good", norm=norm, time_limit=TIME_LIMIT)
            assert a.status == b.status == "optimal"
            assert b.verified
            assert costs_close(a.cost, b.cost) and costs_close(a.l1_cost, b.l1_cost)


def test_value_view_with_causal_model():
    from recourse.datasets import make_model, train_test
    from recourse.datasets.graphs import example_causal_model

    X_tr, X_te, y_tr, _, schema = train_test("german")
    causal = example_causal_model("german")
    model = make_model("tree", X_tr, y_tr, schema=schema)
    plain = RecourseEngine(model, schema, causal=causal)
    values = _value_engine(model, schema, causal=causal)
    pred = model.predict(X_te)
    rows = [X_te.iloc[i] for i in range(len(X_te)) if pred[i] != "good"][:5]
    for row in rows:
        a = plain.explain(row, target="good", time_limit=TIME_LIMIT)
        b = values.explain(row, target="good", time_limit=TIME_LIMIT)
        assert a.status == b.status
        if a.has_recourse:
            assert b.verified and costs_close(a.cost, b.cost)
            assert [c.feature for c in b.actions] or [c.feature for c in b.changes]


def _appended(eng, other_model, x, target, norm="l1"):
    """Solve ``eng``'s problem for ``x`` with ``other_model`` appended and its target rows
    added (an ad-hoc value constraint through the engine's hook)."""
    other = encoders.encode(other_model, eng.space)
    t_other = list(other.classes).index(target)

    class Also(Option):
        needs_values = True

        def view_rows(self, ctx, prob, view):
            prob, off = append_block(prob, other, view)
            G, lo = other.target_rows(t_other, eng.margin)
            return prob.with_rows(shift(G, off, prob.n), lo, np.full(lo.size, np.inf))

    with_other = RecourseEngine(eng.model, eng.schema, options=[Also()])
    return with_other.explain(x, target=target, norm=norm, time_limit=TIME_LIMIT)


def test_append_own_encoding_changes_nothing(global_random_seed):
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(RandomForestClassifier(n_estimators=3, max_depth=3,
                                                 random_state=global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    eng = RecourseEngine(model, schema)
    cases, target = _denied(model, X, 3)
    for x in cases:
        a = eng.explain(x, target=target, time_limit=TIME_LIMIT)
        b = _appended(eng, model, x, target)
        assert a.status == b.status == "optimal"
        assert costs_close(a.cost, b.cost)


def test_append_linear_block_to_tree_problem(global_random_seed):
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    logreg = LogisticRegression(max_iter=1000).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    eng = RecourseEngine(tree, schema)
    lin_eng = RecourseEngine(logreg, schema)
    pred = tree.predict(X) + logreg.predict(X)
    rows = [X.iloc[i].to_dict() for i in range(len(X)) if pred[i] == 0][:4]
    assert rows
    for x in rows:
        both = _appended(eng, logreg, x, 1)
        if both.status == "no_recourse":
            continue
        assert both.status == "optimal" and both.verified
        cf = [both.counterfactual]
        assert tree.predict(schema.row_frame(cf[0]))[0] == 1
        assert logreg.predict(schema.row_frame(cf[0]))[0] == 1
        alone = [eng.explain(x, target=1, time_limit=TIME_LIMIT),
                 lin_eng.explain(x, target=1, time_limit=TIME_LIMIT)]
        for a in alone:
            assert a.cost <= both.cost + 1e-6 * max(1.0, both.cost)


def test_support_may_change_a_categorical_feature_the_model_ignores():
    """The model reads only ``income``; approved rows all hold housing "own" and the
    applicant "rent". Below radius 1 (linf) a supporting row must share the level, so the
    answer changes housing although the model ignores it. Oracle: per approved row, its
    income window intersected with the bounds, the model's approved incomes there found
    from the tree's thresholds, cost by ``oracles.point_cost``."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from oracles import point_cost
    from recourse import DataSupport

    rng = np.random.default_rng(0)
    n = 120
    income = np.round(rng.uniform(10, 100, n), 2)
    housing = np.where(income > 60, "own", rng.choice(["rent", "free"], n))
    X = pd.DataFrame({"income": income, "housing": housing})
    y = (income > 60).astype(int)
    model = Pipeline([("pre", ColumnTransformer([("num", "passthrough", ["income"])])),
                      ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    radius, scale = 0.5, {"income": 10.0}
    approved = X[model.predict(X) == 1]
    assert set(approved["housing"]) == {"own"}
    sup = DataSupport.fit(approved, schema, k=1, radius=radius, scale=scale)
    eng = RecourseEngine(model, schema, support=sup)
    x = {"income": 40.0, "housing": "rent"}
    res = eng.explain(x, target=1)
    assert res.status == "optimal" and res.verified, res.message
    assert res.counterfactual["housing"] == "own"
    t = model.named_steps["tree"].tree_.threshold
    t = t[t > -2]
    lo, hi = schema["income"].lower, schema["income"].upper
    best = np.inf
    for a in approved["income"]:
        w_lo, w_hi = max(a - radius * 10.0, lo), min(a + radius * 10.0, hi)
        cands = [min(max(x["income"], w_lo), w_hi), w_lo, w_hi]
        cands += [float(np.nextafter(np.float32(v), np.float32(np.inf))) for v in t]
        for v in cands:
            if not (w_lo <= v <= w_hi):
                continue
            row = {"income": v, "housing": "own"}
            if model.predict(pd.DataFrame([row]))[0] == 1:
                best = min(best, point_cost(schema, x, row)[0])
    assert np.isfinite(best)
    assert costs_close(res.cost, best, rel=1e-4, abs_=1e-4)
    assert res.stats.support >= 1

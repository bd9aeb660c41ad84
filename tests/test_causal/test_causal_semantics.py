"""Causal recourse semantics: integer consequences, holds, l0_l1, pipelines and forests,
the bundled example graphs, and the CLI."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from causal_oracle import SCM, causal_optimum, linear_regions
from sklearn.ensemble import RandomForestClassifier
from test_causal_oracle import CASES, _logreg, causal_model, check_answer, rules_for
from typer.testing import CliRunner

from recourse import Feature, FeatureSchema, RecourseEngine, find_recourse
from recourse.causal import CausalModel, LinearEquation
from recourse.datasets import make_model, train_test
from recourse.datasets.graphs import causal_differences, example_causal_model


# ----------------------------------------------------------- integer consequences
def _integer_brute_force(model, x0, lo, hi, unit, coef, direction):
    """Enumerate every action subset and every integer action value: b follows
    round(coef * a + u) unless acted on; c is a root."""
    u_b = x0["b"] - coef * x0["a"]
    best = math.inf
    for S in itertools.chain.from_iterable(itertools.combinations("abc", r) for r in range(4)):
        ranges = []
        for n in S:
            a_lo, a_hi = lo[n], hi[n]
            if direction.get(n, 0) > 0:
                a_lo = x0[n]
            ranges.append(range(int(a_lo), int(a_hi) + 1))
        for vals in itertools.product(*ranges):
            x = dict(x0)
            x.update(dict(zip(S, vals)))
            if "b" not in S:
                x["b"] = math.floor(coef * x["a"] + u_b + 0.5)
                if not lo["b"] <= x["b"] <= hi["b"]:
                    continue
            if model.predict(np.array([[x["a"], x["b"], x["c"]]]))[0] != 1:
                continue
            best = min(best, sum(unit[n] * abs(x[n] - x0[n]) for n in S))
    return best


# Every score w.x + b0 on the integer grid is a multiple of 0.1 plus 0.05: no point lies
# on the decision boundary, where the model's predict turns on the sign of a rounding error
# (with b0 = -12.5, a = 7, b = 12, c = 5 scores 0 exactly, which scikit-learn 1.9 computes
# as +1.8e-15 and calls approved, while the engine asks a tie to be won by its margin).
@pytest.mark.parametrize("x0a, w, b0", [(2, [0.0, 1.0, 0.3], -9.25), (5, [0.2, 1.0, -0.5], -11.05),
                                        (0, [-0.3, 0.8, 1.0], -12.45)])
def test_integer_consequence_is_rounded(x0a, w, b0):
    coef = 1.15  # 1.15 k is never k' + 1/2: no ties in the rounding
    x0 = {"a": x0a, "b": 4, "c": 3}
    lo = {"a": 0, "b": 0, "c": 0}
    hi = {"a": 8, "b": 12, "c": 6}
    unit = {"a": 0.5, "b": 1.0, "c": 1.5}
    schema = FeatureSchema(tuple(
        Feature(n, "integer", lower=lo[n], upper=hi[n], scale=1.0 / unit[n],
                direction="increase" if n == "a" else "any") for n in "abc"))
    model = _logreg(w, b0)
    cm = CausalModel(nx.DiGraph([("a", "b")]), {"b": LinearEquation({"a": coef})})
    res = RecourseEngine(model, schema, causal=cm).explain(x0, target=1)
    want = _integer_brute_force(model, x0, lo, hi, unit, coef, {"a": 1})
    assert res.status == "optimal"
    assert res.cost == pytest.approx(want, abs=1e-6)
    cf = res.counterfactual
    assert all(isinstance(cf[n], int) for n in "abc")
    if "b" not in {c.feature for c in res.actions}:
        assert cf["b"] == math.floor(coef * cf["a"] + x0["b"] - coef * x0["a"] + 0.5)
    assert model.predict(np.array([[cf["a"], cf["b"], cf["c"]]]))[0] == 1


# ------------------------------------------------------------------ holds, l0_l1
def test_hold_is_an_action_and_free_under_l1():
    """effect_cancels: raise a and keep b where it is (b would follow a and undo half)."""
    scm, rules, x0, w, b = CASES["effect_cancels"]
    model = _logreg(w, b)
    schema = FeatureSchema(tuple(Feature(n, "continuous", lower=0, upper=10) for n in "abc"))
    res = RecourseEngine(model, schema, causal=causal_model(scm)).explain(
        [x0[c] for c in "abc"], target=1)
    acts = {c.feature: c for c in res.actions}
    assert set(acts) == {"a", "b"} and acts["b"].before == acts["b"].after
    assert res.cost == pytest.approx(1.5, abs=1e-5) and res.l0 == 2.0
    assert res.consequences == []
    assert res.feature_costs.get("b", 0.0) == 0.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_l0_l1_matches_oracle(name):
    scm, rules, x0, w, b = CASES[name]
    cols = sorted(x0)
    w_by = dict(zip(scm.order, w))
    model = _logreg([w_by[c] for c in cols], b)
    dirs = {1: "increase", -1: "decrease", 0: "any"}
    schema = FeatureSchema(tuple(
        Feature(n, "continuous", lower=rules.lo[n], upper=rules.hi[n],
                immutable=not rules.mutable[n], direction=dirs[rules.direction[n]],
                scale=rules.weight[n] / rules.unit[n], weight=rules.weight[n]) for n in cols))
    res = RecourseEngine(model, schema, causal=causal_model(scm)).explain(
        [x0[c] for c in cols], target=1, norm="l0_l1")
    (k, l1), _ = causal_optimum(scm, rules, x0, cols, linear_regions(model, cols, 1), "l0_l1")
    assert res.status == "optimal"
    assert res.cost == pytest.approx(k) and res.l1_cost == pytest.approx(l1, rel=1e-4, abs=1e-4)
    check_answer(res, scm, x0, model, cols, 1)


# ------------------------------------------------- pipelines, forests, examples
@pytest.fixture(scope="module")
def german():
    X_tr, X_te, y_tr, y_te, schema = train_test("german", seed=0)
    return X_tr, X_te, schema, example_causal_model("german")


@pytest.mark.parametrize("kind", ["logreg", "rf", "mlp", "gb100"])
def test_pipeline_models_on_the_german_graph(german, kind):
    """One-hot pipeline + forest, logistic regression, ReLU network or gradient boosting:
    every answer verified, every
    consequence equal to the example model's own propagation of the actions, and the
    causal L1 never above the independent L1 (holds are free, so the independent answer
    is always an intervention of the same cost)."""
    X_tr, X_te, schema, cm = german
    y = pd.Series(np.where(X_tr["duration_in_month"] > 20, "bad", "good"), index=X_tr.index)
    y[X_tr["credit_amount"] < 1500] = "good"
    if kind == "rf":
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder
        groups = [f.name for f in schema if f.is_group]
        prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore",
                                   categories=[list(schema[g].categories) for g in groups]),
                                   groups)], remainder="passthrough")
        model = Pipeline([("prep", prep), ("model", RandomForestClassifier(
            n_estimators=15, max_depth=4, random_state=0))]).fit(X_tr, y)
    elif kind == "mlp":  # a small ReLU network: causal problems bound it over the whole
        # action set (no forward-pass budget), so a 32x32 network is slow here
        from sklearn.compose import ColumnTransformer
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
        groups = [f.name for f in schema if f.is_group]
        nums = [f.name for f in schema if not f.is_group]
        prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore",
                                   categories=[list(schema[g].categories) for g in groups]),
                                   groups), ("num", StandardScaler(), nums)])
        model = Pipeline([("prep", prep), ("model", MLPClassifier(
            hidden_layer_sizes=(6,), max_iter=3000, random_state=0))]).fit(X_tr, y)
    else:
        model = make_model(kind, X_tr, y, schema=schema)
    plain = RecourseEngine(model, schema, reference=X_tr)
    eng = RecourseEngine(model, schema, reference=X_tr, causal=cm)
    denied = X_te[model.predict(X_te) == "bad"].head(6)
    assert len(denied) >= 3
    integer = [n for n in cm.order if schema[n].is_integer]
    for _, row in denied.iterrows():
        a = plain.explain(row, target="good")
        r = eng.explain(row, target="good")
        assert r.status == "optimal" and r.verified, r.message
        assert model.predict(pd.DataFrame([r.counterfactual])[schema.names])[0] == "good"
        acts = {c.feature: c.after for c in r.actions if c.feature in cm.graph}
        want = cm.propagate(r.factual, acts, integer=integer)
        for n in cm.order:
            assert r.counterfactual[n] == pytest.approx(want[n], abs=1e-6), n
        assert r.l1_cost <= a.l1_cost + 1e-6


def test_example_graphs_and_differences(german):
    cm = example_causal_model("credit_data")
    assert sorted(cm.graph.edges) == [("Amount", "Time"), ("Price", "Amount"),
                                      ("Seniority", "Age")]
    assert cm.equations["Age"].coef == {"Seniority": 1.0}
    X_tr, X_te, schema, gcm = german
    model = make_model("logreg", X_tr, pd.Series(
        np.where(X_tr["credit_amount"] > 3000, "bad", "good"), index=X_tr.index), schema=schema)
    found = list(causal_differences(model, X_te, schema, gcm, target="good", limit=5))
    assert found
    for _, a, b, broken in found:
        assert b.cost <= a.cost + 1e-6
        assert broken or b.cost < a.cost - 1e-6


def test_find_recourse_takes_causal():
    model = _logreg([0.0, 1.0], -6.0)  # approve iff b > 6
    schema = FeatureSchema(tuple(Feature(n, "continuous", lower=0, upper=10) for n in "ab"))
    cm = CausalModel(nx.DiGraph([("a", "b")]), {"b": LinearEquation({"a": 2.0})})
    r = find_recourse(model, {"a": 1.0, "b": 2.0}, schema, causal=cm)
    r0 = find_recourse(model, {"a": 1.0, "b": 2.0}, schema)
    assert [c.feature for c in r.actions] == ["a"] and r0.actions == []
    # b = 2 a + u: raising a by 2 raises b from 2 to 6 (cost 2, against 4 for b itself)
    assert r0.cost == pytest.approx(4.0, abs=1e-5) and r.cost == pytest.approx(2.0, abs=1e-5)
    assert "If you change a from 1 to" in r.causal_summary()


def test_scm_helper_agrees_with_causal_model():
    scm = SCM(["a", "b"], coef={"b": {"a": 2.0}}, intercept={"b": 1.0})
    cm = causal_model(scm)
    row = {"a": 1.0, "b": 5.0}
    cf = cm.propagate(row, {"a": 3.0})
    assert cf["b"] == pytest.approx(scm.f("b", {"a": 3.0}) + row["b"] - scm.f("b", row))
    assert rules_for("ab").unit == {"a": 1.0, "b": 1.0}


# ------------------------------------------------------------------------ CLI
def test_cli_causal(tmp_path):
    from recourse.cli import app
    from recourse.io import save_model

    runner = CliRunner()
    out = runner.invoke(app, ["causal-graph", "--dataset", "credit_data",
                              "--out", str(tmp_path / "g.yaml")])
    assert out.exit_code == 0, out.output
    cm = CausalModel.from_yaml(tmp_path / "g.yaml")
    assert ("Seniority", "Age") in cm.graph.edges
    X_tr, X_te, y_tr, y_te, schema = train_test("credit_data", seed=0)
    model = make_model("logreg", X_tr, y_tr, schema=schema)
    pos = int(np.flatnonzero(model.predict(X_te) == "bad")[0])
    X_te.iloc[[pos]].to_csv(tmp_path / "a.csv", index=False)
    save_model(model, tmp_path / "m.skops")
    schema.to_yaml(tmp_path / "s.yaml")
    args = ["explain", "--model", str(tmp_path / "m.skops"), "--applicant",
            str(tmp_path / "a.csv"), "--schema", str(tmp_path / "s.yaml"), "--target", "good"]
    out = runner.invoke(app, args + ["--causal", str(tmp_path / "g.yaml"), "--json"])
    assert out.exit_code == 0, out.output
    assert '"actions"' in out.output and '"consequences"' in out.output
    out = runner.invoke(app, args + ["--causal", "nowhere.yaml"])
    assert out.exit_code == 2 and "neither a file nor a bundled example" in out.output


def test_options_with_a_causal_model():
    """Distinct options work on interventions too: each verified, equations holding, and
    the second never changes every feature the first changed."""
    scm, rules, x0, w, b = CASES["cause_cheaper"]
    cols = ["a", "b", "c"]
    model = _logreg(w, b)
    schema = FeatureSchema(tuple(Feature(n, "continuous", lower=0, upper=10) for n in cols))
    eng = RecourseEngine(model, schema, causal=causal_model(scm))
    opts = eng.options([x0[c] for c in cols], k=2, target=1)
    assert len(opts) == 2
    first, second = opts
    assert [c.feature for c in first.actions] == ["a"]
    assert not {c.feature for c in first.changes} <= {c.feature for c in second.changes}
    assert second.cost >= first.cost - 1e-9
    for r in opts:
        check_answer(r, scm, x0, model, cols, 1)

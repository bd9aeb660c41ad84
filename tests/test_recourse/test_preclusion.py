"""Preclusion (``explain(..., why=True)``) against brute force over rule subsets.

The oracle: for every subset of the relaxable rules (and switchable options), build the
schema with exactly those rules relaxed -- here, by hand, from the data's observed range --
and ask the plain engine whether recourse exists and what it costs. The minimal opening
subsets must be exactly the reported sets, the enumeration complete, and each set's cost
(the enumeration MILP's own optimum and the verified re-run) the brute-force optimum.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from recourse import RecourseEngine
from recourse.causal import CausalModel, LinearEquation
from recourse.encoders.errors import InputValidationError
from recourse.schema import Feature, FeatureSchema
from tests.synthdata import credit_frame, tree_pipeline

X, Y, _ = credit_frame(seed=3, n=200)


def _schema(categorical=True):
    """age increase-only; income only within [30, 45]; debt immutable and at least 25;
    housing immutable."""
    feats = [Feature("age", "integer", lower=18, upper=70, direction="increase", scale=10.0),
             Feature("income", "continuous", lower=30.0, upper=45.0, scale=20.0),
             Feature("debt", "continuous", lower=25.0, upper=50.0, immutable=True, scale=10.0)]
    if categorical:
        feats.append(Feature("housing", "categorical", categories=("free", "own", "rent"),
                             immutable=True))
    return FeatureSchema(tuple(feats))


#: How far a relaxed rule opens a feature (given to explain as relaxed_range).
RANGES = {"income": (10.0, 55.0), "debt": (5.0, 50.0)}


def _rules(categorical=True):
    """(rule key, the relaxed feature's changes) -- written out by hand."""
    out = [("increase:age", "age", dict(direction="any")),
           ("lower:income", "income", dict(lower=10.0)),
           ("upper:income", "income", dict(upper=55.0)),
           ("immutable:debt", "debt", dict(immutable=False)),
           ("lower:debt", "debt", dict(lower=5.0))]
    if categorical:
        out.append(("immutable:housing", "housing", dict(immutable=False)))
    return out


def _brute(model, schema, rules, row, options=(), causal=None, **kw):
    """{frozenset(keys): cost} for every subset of rules/options that opens recourse."""
    opening = {}
    items = [r[0] for r in rules] + [f"option:{o}" for o in options]
    for k in range(len(items) + 1):
        for sub in itertools.combinations(items, k):
            s = schema
            for key, name, change in rules:
                if key in sub:
                    s = s.replace(name, **change)
            ekw = dict(kw)
            if "option:min_margin" in sub:
                ekw.pop("min_margin", None)
            eng = RecourseEngine(model, s, causal=causal, price_options=False)
            res = eng.explain(row, time_limit=30, **ekw)
            assert res.status in ("optimal", "no_recourse"), res.status
            if res.has_recourse:
                opening[frozenset(sub)] = res.cost
    minimal = {S: c for S, c in opening.items() if not any(T < S for T in opening)}
    return minimal


def _precluded_rows(model, schema, data, n=2, causal=None, **kw):
    eng = RecourseEngine(model, schema, causal=causal, price_options=False)
    rows = []
    # the most clearly denied first: they need the most relaxations
    order = np.argsort(model.predict_proba(data)[:, 1], kind="stable")
    for i in order:
        res = eng.explain(data.iloc[i], time_limit=30, **kw)
        if res.status == "no_recourse":
            rows.append(data.iloc[i])
            if len(rows) == n:
                break
    assert rows, "the test needs applicants without recourse"
    return eng, rows


def _check(model, schema, rules, data, n=1, options=(), causal=None, **kw):
    eng, rows = _precluded_rows(model, schema, data, n=n, causal=causal, **kw)
    for row in rows:
        res = eng.explain(row, time_limit=60, why=64, relaxed_range=RANGES, **kw)
        pre = res.preclusion
        assert pre is not None and pre.complete
        want = _brute(model, schema, rules, row, options=options, causal=causal, **kw)
        got = {s.keys: s for s in pre.sets}
        assert set(got) == set(want), (set(got), set(want))
        for S, cost in want.items():
            s = got[S]
            assert s.verified and s.counterfactual is not None
            assert s.cost == pytest.approx(cost, rel=1e-5, abs=1e-6)
            # the MILP prices points (a tree split is crossed by a thousandth of a float32
            # cell, recourse.solvers.values), the engine cells: equal up to that
            assert s.milp_cost == pytest.approx(cost, rel=1e-3, abs=1e-5)
            assert model.predict(schema.row_frame(s.counterfactual))[0] == res.target
        # fewest rules first
        assert [len(s.rules) for s in pre.sets] == sorted(len(s.rules) for s in pre.sets)


def test_tree_matches_brute_force():
    model = tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0)).fit(X, Y)
    _check(model, _schema(), _rules(), X, n=2)


def test_linear_with_an_option_matches_brute_force():
    """The per-query option min_margin is a rule too (switched off)."""
    Xn = X.drop(columns="housing")
    model = tree_pipeline(LogisticRegression(max_iter=2000), categorical=()).fit(Xn, Y)
    _check(model, _schema(False), _rules(False), Xn, options=("min_margin",), min_margin=2.0)


def test_relu_matches_brute_force():
    Xn = X.drop(columns="housing")
    model = tree_pipeline(MLPClassifier((6,), max_iter=2000, random_state=0),
                          categorical=()).fit(Xn, Y)
    _check(model, _schema(False), _rules(False), Xn, n=1)


def test_causal_matches_brute_force():
    """income follows age (income = 0.8 age + own noise) and only decreases: a direction
    applies to actions, not to consequences (an older applicant's income may rise); the
    equation is never relaxed."""
    Xn = X.drop(columns="housing")
    model = tree_pipeline(LogisticRegression(max_iter=2000), categorical=()).fit(Xn, Y)
    cm = CausalModel(nx.DiGraph([("age", "income")]),
                     {"income": LinearEquation({"age": 0.8})})
    schema = _schema(False).replace("income", direction="decrease")
    rules = _rules(False) + [("decrease:income", "income", dict(direction="any"))]
    _check(model, schema, rules, Xn, n=1, causal=cm)


def test_default_query_is_unchanged_and_why_is_checked():
    model = tree_pipeline(LogisticRegression(max_iter=2000)).fit(X, Y)
    eng, rows = _precluded_rows(model, _schema(), X, n=1)
    assert eng.explain(rows[0], time_limit=30).preclusion is None
    with pytest.raises(InputValidationError, match="why must be"):
        eng.explain(rows[0], why=0)
    res = eng.explain(rows[0], why=1)
    assert len(res.preclusion.sets) == 1 and not res.preclusion.complete

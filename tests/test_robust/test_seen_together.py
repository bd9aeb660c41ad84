"""The seen-together rule (issue 8, item 1c): category combinations absent from the data
are never recommended.

Oracle: an independent enumeration over the tree's cells. A tree is constant on each
product of (numeric interval between its thresholds) x (category levels); the cheapest
admissible point of a cell is found per feature (costs are separable: the applicant's own
value when the interval holds it, else the interval end nearest to it), and cells whose
level pair was never seen together (other than the applicant's own) are skipped.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from recourse import FeatureSchema, InputValidationError, RecourseEngine, SchemaError
from recourse.seen import SeenTogether

HOUSING = ["own", "rent", "free"]
JOB = ["skilled", "unskilled", "none"]


def _data(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    housing = rng.choice(HOUSING, size=n)
    job = rng.choice(JOB, size=n)
    # some combinations never occur: "free" housing only with "none" or "unskilled" jobs,
    # and "own" never with "none"
    job = np.where(housing == "free", rng.choice(["none", "unskilled"], size=n), job)
    job = np.where((housing == "own") & (job == "none"), "skilled", job)
    income = np.round(rng.uniform(10, 100, size=n), 2)
    X = pd.DataFrame({"income": income, "housing": housing, "job": job})
    score = (income / 10 + np.select([housing == "own", housing == "free"], [4, -3], 0)
             + np.select([job == "skilled", job == "none"], [3, -4], 0)
             + rng.normal(0, 1.5, size=n))
    y = (score > np.median(score)).astype(int)
    return X, y


def _model(X, y, seed):
    prep = ColumnTransformer([("cat", OneHotEncoder(categories=[HOUSING, JOB]),
                               ["housing", "job"])], remainder="passthrough")
    return Pipeline([("prep", prep), ("model", DecisionTreeClassifier(
        max_depth=5, random_state=seed))]).fit(X, y)


def _oracle(model, schema, rule, x):
    tree = model.named_steps["model"].tree_
    # thresholds on the passthrough column (index 6 after 3 + 3 one-hot columns)
    t = np.unique(tree.threshold[tree.feature == 6])
    lo, hi = schema["income"].lower, schema["income"].upper
    cuts = np.concatenate([[lo], t, [hi]])
    scale = schema["income"].scale
    rows: list[dict] = []
    costs: list[float] = []
    for h, j in itertools.product(HOUSING, JOB):
        if (h, j) != (x["housing"], x["job"]) and rule.pairs_in({"housing": h, "job": j}):
            continue
        for a, b in zip(cuts[:-1], cuts[1:]):
            # the interval (a, b] (sklearn goes left at <= t): its point nearest x
            if a < x["income"] <= b:
                v = x["income"]
            elif x["income"] <= a:  # the smallest value whose float32 is right of a
                v32 = np.float32(a)
                v = float(v32 if v32 > a else np.nextafter(v32, np.float32(np.inf)))
            else:  # the largest value whose float32 is left of (or at) b
                v32 = np.float32(b)
                v = float(v32 if v32 <= b else np.nextafter(v32, np.float32(-np.inf)))
            if not (lo <= v <= hi):
                continue
            rows.append({"income": v, "housing": h, "job": j})
            costs.append(abs(v - x["income"]) / scale + (h != x["housing"]) + (j != x["job"]))
    if not rows:
        return np.inf
    approved = model.predict(pd.DataFrame(rows)) == 1  # every candidate in one call
    return float(np.min(np.asarray(costs)[approved])) if approved.any() else np.inf


def test_engine_matches_enumeration_and_never_recommends_an_unseen_pair(global_random_seed):
    X, y = _data(global_random_seed)
    model = _model(X, y, global_random_seed)
    schema = FeatureSchema.from_frame(X)
    rule = SeenTogether.fit(X, schema)
    assert rule.unseen  # the data leave some combinations out
    engine = RecourseEngine(model, schema, seen_together=rule)
    plain = RecourseEngine(model, schema)
    # the applicants whose unconstrained optimum holds an unseen pair (the rule must
    # change their answer), and some others
    denied = X[model.predict(X) == 0]
    hit, other = [], []
    for _, row in denied.iterrows():
        ref = plain.explain(row, target=1)
        (hit if rule.pairs_in(ref.counterfactual or {}) else other).append((row, ref))
        if len(hit) >= 6 and len(other) >= 6:
            break  # the loop below checks six of each
    assert hit, "the data should make some unconstrained answers combine unseen levels"
    for row, ref in hit[:6] + other[:6]:
        x = row.to_dict()
        res = engine.explain(row, target=1)
        best = _oracle(model, schema, rule, x)
        if not np.isfinite(best):
            assert res.status == "no_recourse"
            continue
        assert res.status == "optimal" and res.verified, res.message
        assert model.predict(pd.DataFrame([res.counterfactual]))[0] == 1
        assert res.cost == pytest.approx(best, rel=1e-4, abs=1e-4)
        own = rule.pairs_in(x)
        assert all(p in own for p in rule.pairs_in(res.counterfactual))
        assert res.stats.unseen_pairs == len(rule.pairs_in(res.counterfactual))
        assert ref.cost <= res.cost + 1e-9  # the rule can only make recourse dearer
        # what the rule costs is in the result: the plain engine's optimum
        assert res.stats.cost_without["seen_together"] == pytest.approx(ref.cost,
                                                                          rel=1e-6, abs=1e-9)


def test_blocking_rule_is_named():
    """Only "free" + "none" is approved, and the data the rule is fitted on never hold that
    pair: no recourse, and the result names the rule as what blocks it."""
    combos = [(h, j) for h in HOUSING for j in JOB if (h, j) != ("free", "none")]
    X = pd.DataFrame([{"income": 1.0, "housing": h, "job": j} for h, j in combos] * 3)
    approved = pd.DataFrame([{"income": 1.0, "housing": "free", "job": "none"}] * 3)
    Xt = pd.concat([X, approved], ignore_index=True)
    yt = np.r_[np.zeros(len(X), int), np.ones(len(approved), int)]
    model = _model(Xt, yt, 0)
    schema = FeatureSchema.from_frame(Xt)
    rule = SeenTogether.fit(X, schema)  # fitted without the approved rows
    assert rule.unseen == {("housing", "free", "job", "none")}
    res = RecourseEngine(model, schema, seen_together=rule).explain(X.iloc[0], target=1)
    assert res.status == "no_recourse"
    assert res.stats.blocking_option == "seen_together"
    assert "seen-together" in res.message
    assert RecourseEngine(model, schema).explain(X.iloc[0], target=1).status == "optimal"


def test_pricing_can_be_switched_off():
    X, y = _data(1)
    model = _model(X, y, 1)
    schema = FeatureSchema.from_frame(X)
    rule = SeenTogether.fit(X, schema)
    row = X[model.predict(X) == 0].iloc[0]
    res = RecourseEngine(model, schema, seen_together=rule, price_options=False).explain(
        row, target=1)
    assert res.has_recourse and res.stats.cost_without is None


def test_bad_input():
    X, y = _data(0, 60)
    schema = FeatureSchema.from_frame(X)
    with pytest.raises(InputValidationError, match="categorical"):
        SeenTogether.fit(X, schema, features=["income", "housing"])
    with pytest.raises(InputValidationError, match="lacks the columns"):
        SeenTogether.fit(X.drop(columns=["job"]), schema)
    with pytest.raises(InputValidationError, match="min_count"):
        SeenTogether.fit(X, schema, min_count=0)
    with pytest.raises(SchemaError, match="SeenTogether"):
        RecourseEngine(_model(X, y, 0), schema, seen_together={("housing", "own")})

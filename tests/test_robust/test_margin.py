"""Score margin (``explain(min_margin=m)``): the model's own ``predict_proba`` /
``decision_function`` give the counterfactual a win by at least ``m``; the cost without
the option is reported; a margin above the largest one reachable (found by a 1-D sweep
over every cell of the only mutable feature, independent of the engine) gives
``no_recourse`` naming ``min_margin``, one just below it gives recourse."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from recourse.encoders.errors import InputValidationError
from oracles import model_predict
from recourse import FeatureSchema, RecourseEngine
from synthdata import credit_frame, tree_pipeline


def _proba_margin(model, schema, row, target):
    import pandas as pd

    P = model.predict_proba(pd.DataFrame([row])[schema.names])[0]
    t = list(model.classes_).index(target)
    return P[t] - np.delete(P, t).max()


def _decision_margin(model, schema, row, target):
    import pandas as pd

    d = float(np.ravel(model.decision_function(pd.DataFrame([row])[schema.names]))[0])
    return d if target == model.classes_[1] else -d


CASES = {
    "rf": (lambda s: RandomForestClassifier(n_estimators=10, max_depth=4, random_state=s),
           _proba_margin, (0.0, 0.2, 0.5)),
    "logreg": (lambda s: LogisticRegression(max_iter=2000), _decision_margin, (0.0, 1.0, 3.0)),
    "gb": (lambda s: GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=s),
           _decision_margin, (0.0, 0.5, 1.5)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_margin_verified_by_model_scores(name, global_random_seed):
    make, margin_of, margins = CASES[name]
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(make(global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(pred == 0)[:3]]
    for x in rows:
        plain = engine.explain(x, target=1)
        costs = []
        for m in margins:
            res = engine.explain(x, target=1, min_margin=m)
            if res.status == "no_recourse":
                assert res.stats.blocking_option == "min_margin"
                costs.append(np.inf)
                continue
            assert res.status == "optimal" and res.verified
            assert model_predict(model, schema, [res.counterfactual])[0] == 1
            got = margin_of(model, schema, res.counterfactual, 1)
            assert got >= m - 1e-9, (m, got)
            assert res.stats.margin == pytest.approx(got, abs=1e-9)
            assert res.stats.cost_without["min_margin"] == pytest.approx(plain.cost)
            costs.append(res.cost)
        # the margin-0 answer costs what the plain one does; more margin never costs less
        assert costs[0] == pytest.approx(plain.cost, rel=1e-6, abs=1e-9)
        assert all(a <= b + 1e-9 for a, b in zip(costs, costs[1:]))


def test_mlp_margin_in_logits(global_random_seed):
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    net = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2000,
                        random_state=global_random_seed).fit(X.to_numpy(float), y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(net, schema)
    i = int(np.flatnonzero(net.predict(X.to_numpy(float)) == 0)[0])
    x = X.iloc[i].to_dict()
    res = engine.explain(x, target=1, min_margin=2.0)
    assert res.verified
    p = net.predict_proba(np.array([[res.counterfactual[n] for n in schema.names]]))[0]
    assert np.log(p[1] / p[0]) >= 2.0 - 1e-9


def test_margin_blocking_against_sweep(global_random_seed):
    """Only ``income`` may change; the largest reachable probability margin is found by
    evaluating the forest in every cell of income's split thresholds."""
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    model = RandomForestClassifier(n_estimators=7, max_depth=4,
                                   random_state=global_random_seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["age", "debt"])
    engine = RecourseEngine(model, schema)
    col = list(X.columns).index("income")
    th = np.unique(np.concatenate([
        e.tree_.threshold[e.tree_.feature == col] for e in model.estimators_]))
    lo, hi = schema["income"].lower, schema["income"].upper
    grid = np.unique(np.concatenate([[lo, hi], th, np.nextafter(th.astype(np.float32),
                                                                np.float32(np.inf))]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    checked = 0
    for i in np.flatnonzero(model.predict(X) == 0)[:6]:
        x = X.iloc[i].to_dict()
        pts = np.tile(X.iloc[i].to_numpy(float), (grid.size, 1))
        pts[:, col] = grid
        P = model.predict_proba(pts)
        best = float((P[:, 1] - P[:, 0]).max())
        if best <= 0.05:
            continue
        checked += 1
        over = engine.explain(x, target=1, min_margin=best + 1e-3)
        assert over.status == "no_recourse"
        assert over.stats.blocking_option == "min_margin"
        assert "min_margin" in over.message
        under = engine.explain(x, target=1, min_margin=best - 1e-3)
        assert under.verified
        assert (model.predict_proba(np.array([[under.counterfactual[n] for n in schema.names]]))
                [0] @ [-1, 1]) >= best - 1e-3 - 1e-12
    assert checked > 0


def test_margin_bad_input():
    X, y, _ = credit_frame(0, categorical=False)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    engine = RecourseEngine(model, FeatureSchema.from_frame(X))
    x = X.iloc[int(np.flatnonzero(model.predict(X) == 0)[0])].to_dict()
    for bad in (-0.1, 1.0, float("nan"), "a"):
        with pytest.raises(InputValidationError, match="min_margin"):
            engine.explain(x, target=1, min_margin=bad)


def test_forest_margin_optimum_matches_brute_force(global_random_seed):
    """``min_margin`` on a forest is optimal: the cost equals the cheapest point of the
    grid that visits every cell (``oracles.brute_force_tree_optimum``) whose own
    ``predict_proba`` wins by the margin. The starting point now meets the margin too,
    so this also guards the bound it lends the search."""
    from oracles import brute_force_tree_optimum

    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(RandomForestClassifier(n_estimators=10, max_depth=4,
                                                 random_state=global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"],
                                      immutable=[n for n in X.columns
                                                 if n not in ("age", "income", "debt")])
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    compared = 0
    for i in np.flatnonzero(pred == 0)[:3]:
        x = X.iloc[i].to_dict()
        for m in (0.2, 0.4):
            want = brute_force_tree_optimum(model, schema, x, 1, min_proba_margin=m,
                                            max_points=200_000)
            res = engine.explain(x, target=1, min_margin=m)
            if want is None:
                assert res.status == "no_recourse"
                continue
            assert res.status == "optimal", res.message
            assert res.cost == pytest.approx(want.cost, rel=1e-6, abs=1e-6)
            compared += 1
    assert compared >= 3

"""Isolation-forest plausibility (``recourse.encoders.isolation.PlausibleModel``): the path
length the encoding computes through the MILP's own leaf variables equals the one
derived from sklearn's ``score_samples`` on the returned point; the counterfactual is
plausible by the forest's own ``score_samples``; the cost is never below the plain one;
an unreachable plausibility level gives ``no_recourse`` naming ``plausibility``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from recourse.encoders.errors import EncodingError
from recourse.encoders.isolation import PlausibleModel, average_path_length
from oracles import model_predict
from recourse import FeatureSchema, RecourseEngine
from recourse.robust import plausibility_score
from synthdata import credit_frame, tree_pipeline


def _sk_mean_path(iso, frame):
    """Mean path length from sklearn's own score_samples: s = -2 ** (-E / c(psi))."""
    _, est = (iso.steps[-1] if hasattr(iso, "steps") else (None, iso))
    s = iso.score_samples(frame)
    return -np.log2(-s) * average_path_length(est._max_samples)


def _setups(seed):
    X, y, _ = credit_frame(seed, categorical=False)
    rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=seed).fit(X, y)
    iso = IsolationForest(n_estimators=15, max_samples=64, random_state=seed).fit(X)
    yield "bare", X, rf, iso
    iso2 = IsolationForest(n_estimators=15, max_samples=48, max_features=2,
                           random_state=seed).fit(X)
    yield "subsampled_features", X, rf, iso2
    Xc, yc, _ = credit_frame(seed)
    rfp = tree_pipeline(RandomForestClassifier(n_estimators=4, max_depth=3,
                                               random_state=seed)).fit(Xc, yc)
    isop = Pipeline([("pre", ColumnTransformer(
        [("cat", OneHotEncoder(), ["housing"])], remainder="passthrough")),
        ("iso", IsolationForest(n_estimators=12, max_samples=64, random_state=seed))]).fit(Xc)
    yield "pipelines", Xc, rfp, isop


@pytest.mark.parametrize("which", ["bare", "subsampled_features", "pipelines"])
def test_isolation_path_matches_sklearn(which, global_random_seed):
    name, X, model, iso = next((s for s in _setups(global_random_seed) if s[0] == which))
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    pm = PlausibleModel(model, iso)
    engine = RecourseEngine(pm, schema)
    plain = RecourseEngine(model, schema)
    n_iso = len((iso.steps[-1][1] if hasattr(iso, "steps") else iso).estimators_)
    found = 0
    for i in np.flatnonzero(model.predict(X) == 0)[:3]:
        x = X.iloc[i].to_dict()
        res = engine.explain(x, target=1)
        base = plain.explain(x, target=1)
        if res.status == "no_recourse":
            assert res.stats.blocking_option == "plausibility"
            continue
        assert res.status == "optimal" and res.verified
        found += 1
        cf = pd.DataFrame([res.counterfactual])[schema.names]
        assert model_predict(model, schema, [res.counterfactual])[0] == 1
        assert iso.score_samples(cf)[0] >= pm.min_score
        assert res.stats.plausibility_score == pytest.approx(iso.score_samples(cf)[0])
        assert plausibility_score(iso, plain, base) == pytest.approx(
            iso.score_samples(pd.DataFrame([base.counterfactual])[schema.names])[0])
        s = engine.space.encode(res.counterfactual)
        milp = engine.encoding.path_sum(s[None, :])[0] / n_iso
        assert milp == pytest.approx(_sk_mean_path(iso, cf)[0], rel=1e-9, abs=1e-9)
        # also at the factual and the plain answer (plausible or not)
        for row in (x, base.counterfactual):
            f = pd.DataFrame([row])[schema.names]
            v = engine.space.encode(engine.schema.validate_row(row))
            assert (engine.encoding.path_sum(v[None, :])[0] / n_iso
                    == pytest.approx(_sk_mean_path(iso, f)[0], rel=1e-9, abs=1e-9))
        assert res.cost >= base.cost - 1e-9
        if iso.score_samples(pd.DataFrame([base.counterfactual])[schema.names])[0] \
                >= pm.min_score + 1e-6:
            assert res.cost == pytest.approx(base.cost, rel=1e-6, abs=1e-9)
    assert found > 0


def test_unreachable_plausibility_names_the_option(global_random_seed):
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    iso = IsolationForest(n_estimators=10, max_samples=64, random_state=0).fit(X)
    best = float(iso.score_samples(X).max())
    schema = FeatureSchema.from_frame(X)
    # no training row reaches this score; the sweep below shows no point does
    pm = PlausibleModel(rf, iso, min_score=min(-1e-3, best + 0.2))
    x = X.iloc[int(np.flatnonzero(rf.predict(X) == 0)[0])].to_dict()
    grid = np.stack(np.meshgrid(*[np.linspace(X[c].min(), X[c].max(), 25)
                                  for c in X.columns], indexing="ij"), -1).reshape(-1, 3)
    assert iso.score_samples(pd.DataFrame(grid, columns=X.columns)).max() < pm.min_score
    res = RecourseEngine(pm, schema).explain(x, target=1)
    assert res.status == "no_recourse"
    assert res.stats.blocking_option == "plausibility"
    assert "plausibility" in res.message
    assert RecourseEngine(rf, schema).explain(x, target=1).has_recourse


def test_plausible_model_bad_input():
    X, y, _ = credit_frame(0, categorical=False)
    rf = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    iso = IsolationForest(n_estimators=5, random_state=0).fit(X)
    with pytest.raises(EncodingError, match="IsolationForest"):
        PlausibleModel(rf, rf)
    with pytest.raises(EncodingError, match="min_score"):
        PlausibleModel(rf, iso, min_score=0.5)

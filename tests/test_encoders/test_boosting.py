"""Gradient-boosted trees: the encoding's margin equals the library's decision_function;
the optimum equals a brute force over every cell of the split grid, evaluated by the
model's own predict; missing-value branches handled; multiclass and categorical rejected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)

from recourse import FeatureSchema, RecourseEngine, UnsupportedModelError, Utility


def _data(seed: int, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.uniform(0, 10, n).round(2), "b": rng.integers(0, 20, n)})
    y = ((X.a - 5) ** 2 / 5 + X.b + rng.normal(0, 2, n) > 12).astype(int).to_numpy()
    return X, y


MODELS = {
    "gb": lambda s: GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=s),
    "hgb": lambda s: HistGradientBoostingClassifier(max_iter=15, max_leaf_nodes=4,
                                                    early_stopping=False, random_state=s),
}


def _thresholds(model) -> dict[int, np.ndarray]:
    out: dict[int, list[float]] = {0: [], 1: []}
    if hasattr(model, "estimators_"):
        for t in model.estimators_[:, 0]:
            inner = t.tree_.children_left >= 0
            for f, th in zip(t.tree_.feature[inner], t.tree_.threshold[inner]):
                out[int(f)].append(float(th))
    else:
        for (p,) in model._predictors:
            nd = p.nodes[~p.nodes["is_leaf"].astype(bool)]
            for f, th in zip(nd["feature_idx"], nd["num_threshold"]):
                out[int(f)].append(float(th))
    return {k: np.unique(v) for k, v in out.items()}


def brute_force(model, schema, x0: np.ndarray, accept=None) -> float:
    """Least cost over candidate points: per feature the applicant's value and, for every
    split threshold, the nearest allowed value on each side; decided by model.predict."""
    th = _thresholds(model)
    cand = []
    for j, name in enumerate(["a", "b"]):
        f = schema[name]
        vals = {x0[j]}
        for t in th[j]:
            if f.is_integer:
                vals |= {np.floor(t), np.floor(t) + 1}
            else:
                f32 = np.float32(t)
                vals |= {np.nextafter(f32, np.float32(np.inf)).item(), f32.item(),
                         np.nextafter(f32, np.float32(-np.inf)).item(), float(t),
                         np.nextafter(t, np.inf)}
        lo, hi = f.bounds()
        cand.append(np.array(sorted(v for v in vals if lo <= v <= hi)))
    A, B = np.meshgrid(cand[0], cand[1])
    P = pd.DataFrame({"a": A.ravel(), "b": B.ravel()})
    ok = model.predict(P) == 1 if accept is None else accept(P)
    cost = np.abs(P.a - x0[0]) / schema["a"].scale + np.abs(P.b - x0[1]) / schema["b"].scale
    return float(cost[ok].min()) if ok.any() else np.inf


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_margin_and_optimum_against_brute_force(kind, global_random_seed):
    X, y = _data(global_random_seed)
    model = MODELS[kind](global_random_seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=["b"])
    engine = RecourseEngine(model, schema, reference=X)
    S = np.array([engine.space.encode(schema.validate_row(X.iloc[i])) for i in range(200)])
    margin = engine.encoding.scores(S)[:, 0]
    np.testing.assert_allclose(margin, model.decision_function(X.iloc[:200]), atol=1e-9)
    denied = X[model.predict(X) == 0].head(6)
    for i in range(len(denied)):
        x0 = denied.iloc[i].to_numpy(dtype=float)
        r = engine.explain(denied.iloc[i], target=1)
        assert r.status == "optimal" and r.verified
        assert model.predict(pd.DataFrame([r.counterfactual]))[0] == 1
        assert r.cost == pytest.approx(brute_force(model, schema, x0), rel=1e-6, abs=1e-6)


def test_hist_gradient_boosting_with_missing_values_in_training():
    X, y = _data(4, 400)
    X = X.astype({"b": float})
    X.loc[X.index[::7], "a"] = np.nan  # learnt missing-value branches
    model = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=6,
                                           early_stopping=False, random_state=0).fit(X, y)
    Xc = X.dropna()
    schema = FeatureSchema.from_frame(Xc, integer=["b"])
    engine = RecourseEngine(model, schema, reference=Xc)
    S = np.array([engine.space.encode(schema.validate_row(Xc.iloc[i])) for i in range(100)])
    np.testing.assert_allclose(engine.encoding.scores(S)[:, 0],
                               model.decision_function(Xc.iloc[:100]), atol=1e-9)
    for i in range(3):
        row = Xc[model.predict(Xc) == 0].iloc[i]
        r = engine.explain(row, target=1)
        assert r.verified and model.predict(pd.DataFrame([r.counterfactual]))[0] == 1


def test_multiclass_boosting_rejected():
    X, y = _data(0, 120)
    y3 = y + (X.a.to_numpy() > 7)
    for est in (GradientBoostingClassifier(n_estimators=3),
                HistGradientBoostingClassifier(max_iter=3)):
        model = est.fit(X, y3)
        with pytest.raises(UnsupportedModelError, match="only binary"):
            RecourseEngine(model, FeatureSchema.from_frame(X))


def test_hist_gradient_boosting_categorical_rejected():
    X, y = _data(0, 200)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[1]).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="OneHotEncoder"):
        RecourseEngine(model, FeatureSchema.from_frame(X, integer=["b"]))


def _external(name: str):
    if name == "xgboost":
        xgb = pytest.importorskip("xgboost")
        return xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0)
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=20, num_leaves=6, verbose=-1, random_state=0)


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_xgboost_lightgbm_verified_and_against_grid(name):
    X, y = _data(2)
    model = _external(name).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=["b"])
    engine = RecourseEngine(model, schema, reference=X)
    lo, hi = schema["a"].bounds()
    step = 0.0025
    A, B = np.meshgrid(np.arange(lo, hi + step / 2, step), np.arange(0, 20))
    grid = pd.DataFrame({"a": A.ravel(), "b": B.ravel()})
    ok = model.predict(grid) == 1
    for i in range(4):
        row = X[model.predict(X) == 0].iloc[i]
        r = engine.explain(row, target=1)
        assert r.status == "optimal" and r.verified
        assert model.predict(pd.DataFrame([r.counterfactual]))[0] == 1
        cost = (np.abs(grid.a - row.a) / schema["a"].scale
                + np.abs(grid.b - row.b) / schema["b"].scale)[ok]
        assert r.cost <= cost.min() + 1e-9  # no approved grid point is cheaper
        assert cost.min() <= r.cost + step / schema["a"].scale + 1e-9


def test_lightgbm_zero_band_at_its_split_thresholds():
    """LightGBM reads |x| <= 1e-35f as 0 before comparing, so its split at -1e-35 (between
    the negatives and zero) sends x = -1e-35 right; the encoding must decide as predict on
    the band's edges and either side of them (oracle: the model's own predict and margin)."""
    from recourse import encoders

    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice([-0.5, 0.0, 0.5], 600), "b": rng.choice([-1.0, 1.0], 600)})
    y = ((X.a < 0) ^ (X.b > 0)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=6, num_leaves=4, min_child_samples=5,
                               verbose=-1).fit(X, y)
    thresholds = set()
    stack = [t["tree_structure"] for t in model.booster_.dump_model()["tree_info"]]
    while stack:
        n = stack.pop()
        if "threshold" in n:
            thresholds.add(float(n["threshold"]))
            stack += [n["left_child"], n["right_child"]]
    z = float(np.float32(1e-35))
    assert any(-z <= t < 0 for t in thresholds)  # the split this test is about
    near = sorted({v for t in thresholds | {-z, 0.0, z}
                   for v in (t, np.nextafter(t, -1.0), np.nextafter(t, 1.0), t / 2)})
    P = pd.DataFrame([{"a": a, "b": b} for a in near for b in (-1.0, 1.0)])
    schema = FeatureSchema.from_frame(X)
    space = schema.search_space()
    enc = encoders.encode(model, space)
    S = np.array([space.encode(schema.validate_row(P.iloc[i])) for i in range(len(P))])
    assert np.array_equal(enc.classes[enc.predict_index(S)], model.predict(P))
    np.testing.assert_allclose(enc.scores(S)[:, 0], model.predict(P, raw_score=True),
                               rtol=1e-12, atol=1e-12)


def test_missing_extra_names_it(monkeypatch):
    import sys

    from recourse.encoders.boosting import encode_lightgbm, encode_xgboost

    for mod, fn in (("xgboost", encode_xgboost), ("lightgbm", encode_lightgbm)):
        monkeypatch.setitem(sys.modules, mod, None)
        with pytest.raises(UnsupportedModelError, match=rf"recourse-engine\[{mod}\]"):
            fn(object(), None, None)


@pytest.mark.parametrize("kind", ["gb", "hgb"])
def test_regression_and_margin_utilities_against_brute_force(kind):
    X, y = _data(6)
    target = (X.a - 5) ** 2 / 5 + X.b
    reg = (GradientBoostingRegressor(n_estimators=15, max_depth=2, random_state=0) if kind == "gb"
           else HistGradientBoostingRegressor(max_iter=15, max_leaf_nodes=4,
                                              early_stopping=False, random_state=0))
    reg.fit(X, target)
    clf = MODELS[kind](0).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=["b"])
    for model, score in ((reg, reg.predict), (clf, clf.decision_function)):
        engine = RecourseEngine(model, schema, reference=X)
        for i in range(3):
            row = X.iloc[int(np.argsort(score(X))[i * 7])]
            f0 = float(score(pd.DataFrame([row]))[0])
            for util, need in ((Utility.increase(1.0), f0 + 1.0), (Utility.reach(0.5), 0.5)):
                r = engine.explain(row, utility=util)
                oracle = brute_force(model, schema, row.to_numpy(float),
                                     accept=lambda P, need=need: score(P) >= need + 1e-6)
                if oracle == np.inf:
                    assert r.status == "no_recourse"
                    continue
                assert r.status in ("optimal", "already_target") and r.verified
                assert score(pd.DataFrame([r.counterfactual]))[0] >= need
                assert r.cost == pytest.approx(oracle, rel=1e-6, abs=1e-6)


def test_log_link_regressor_rejected():
    X, _ = _data(0, 100)
    model = HistGradientBoostingRegressor(max_iter=3, loss="poisson").fit(X, X.b + 1.0)
    with pytest.raises(UnsupportedModelError, match="squared_error"):
        RecourseEngine(model, FeatureSchema.from_frame(X))

"""``recourse.fingerprint.model_fingerprint``: a refit in place changes it, an identical
refit keeps it, for every model type the engine takes.

Oracle: the models' own learned state. Two fits on the same data and seed give the same
predictions everywhere (checked), two fits on different data give different predictions
somewhere (checked), and the fingerprint must follow."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from recourse.encoders.isolation import PlausibleModel
from recourse.encoders.multi import ModelSet
from recourse.fingerprint import model_fingerprint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 4))
Y1 = (X[:, 0] + X[:, 1] > 0).astype(int)
Y2 = (X[:, 2] - X[:, 3] > 0.3).astype(int)


def _sklearn(kind):
    return {
        "tree": lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
        "rf": lambda: RandomForestClassifier(20, max_depth=4, random_state=0),
        "gb": lambda: GradientBoostingClassifier(n_estimators=20, random_state=0),
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
        "logreg": lambda: LogisticRegression(),
        "mlp": lambda: MLPClassifier((8,), max_iter=300, random_state=0),
        "pipeline": lambda: make_pipeline(StandardScaler(),
                                          RandomForestClassifier(10, random_state=0)),
    }[kind]()


def _xgb():
    xgb = pytest.importorskip("xgboost")
    return xgb.XGBClassifier(n_estimators=10, max_depth=3, random_state=0, n_jobs=1)


def _lgbm():
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=10, num_leaves=7, random_state=0, verbose=-1,
                              n_jobs=1)


FACTORIES = {k: (lambda k=k: _sklearn(k)) for k in
             ("tree", "rf", "gb", "hgb", "logreg", "mlp", "pipeline")}
FACTORIES.update(xgboost=_xgb, lightgbm=_lgbm)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_refit_in_place_changes_it_identical_refit_keeps_it(kind):
    m = FACTORIES[kind]()
    m.fit(X, Y1)
    f1, p1 = model_fingerprint(m), m.predict_proba(X)
    assert model_fingerprint(m) == f1  # stable across calls (predict changed nothing)
    m.fit(X, Y1)  # identical refit: same learned state
    np.testing.assert_allclose(m.predict_proba(X), p1)
    assert model_fingerprint(m) == f1
    m.fit(X, Y2)  # in place, other data: other learned state
    assert not np.allclose(m.predict_proba(X), p1)
    assert model_fingerprint(m) != f1
    fresh = FACTORIES[kind]().fit(X, Y2)  # another object with the same state
    assert model_fingerprint(fresh) == model_fingerprint(m)


def test_torch_module_state_dict():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    f1 = model_fingerprint(net)
    assert model_fingerprint(net) == f1
    with torch.no_grad():
        net[0].weight[0, 0] += 1e-3  # one weight trained a little
    assert model_fingerprint(net) != f1
    with torch.no_grad():
        net[0].weight[0, 0] -= 1e-3
    assert model_fingerprint(net) == f1


def test_model_set_and_plausible_model_follow_their_members():
    a = RandomForestClassifier(10, random_state=0).fit(X, Y1)
    b = LogisticRegression().fit(X, Y1)
    ms = ModelSet([a, b])
    iso = IsolationForest(n_estimators=20, random_state=0).fit(X)
    pm = PlausibleModel(a, iso)
    f_ms, f_pm = model_fingerprint(ms), model_fingerprint(pm)
    b.fit(X, Y2)
    assert model_fingerprint(ms) != f_ms
    assert model_fingerprint(pm) == f_pm  # b is not part of it
    iso.fit(X[:150])
    assert model_fingerprint(pm) != f_pm


def test_a_single_threshold_matters():
    m = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, Y1)
    f1 = model_fingerprint(m)
    m.tree_.threshold[0] += 1e-9  # the node array is a view: edited in place
    assert model_fingerprint(m) != f1


def test_find_recourse_after_refit_in_place_answers_for_the_new_model():
    """A model refitted in place between two find_recourse calls gets the fresh answer
    (the cached encoding of the old trees is not reused), checked against a new engine."""
    from sklearn.ensemble import RandomForestClassifier

    from recourse import RecourseEngine, find_recourse
    from recourse.datasets import train_test

    X_train, X_test, y_train, _, schema = train_test("german")
    num = [f.name for f in schema if not f.is_group]
    from recourse import FeatureSchema

    sub = FeatureSchema.from_frame(X_train[num])
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    model.fit(X_train[num], y_train)
    rows = X_test[num]
    first = [find_recourse(model, r, sub, target="good", time_limit=30)
             for _, r in rows.head(10).iterrows()]
    model.set_params(random_state=7).fit(X_train[num], y_train)
    fresh = RecourseEngine(model, sub)
    changed = 0
    for (_, r), old in zip(rows.head(10).iterrows(), first):
        got = find_recourse(model, r, sub, target="good", time_limit=30)
        want = fresh.explain(r, target="good", time_limit=30)
        assert got.status == want.status
        if want.cost is not None:
            assert got.cost == pytest.approx(want.cost, rel=1e-9, abs=1e-9)
        changed += (old.status, old.cost) != (want.status, want.cost)
    assert changed, "the refit changed no answer: the test would not see a stale cache"


def test_engine_refuses_a_refitted_model():
    from sklearn.tree import DecisionTreeClassifier

    from recourse import FeatureSchema, InputValidationError, RecourseEngine
    from recourse.datasets import train_test

    X_train, X_test, y_train, _, schema = train_test("german")
    num = [f.name for f in schema if not f.is_group]
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train[num], y_train)
    engine = RecourseEngine(model, FeatureSchema.from_frame(X_train[num]))
    engine.explain(X_test[num].iloc[0], target="good")
    model.set_params(max_depth=5).fit(X_train[num], y_train)
    with pytest.raises(InputValidationError, match="refitted"):
        engine.explain(X_test[num].iloc[0], target="good")


# ----------------------------------------------------------- the engine's per-query check
def _frame_schema():
    import pandas as pd

    from recourse import FeatureSchema

    cols = [f"x{i}" for i in range(4)]
    return pd.DataFrame(X, columns=cols), FeatureSchema.from_frame(
        pd.DataFrame(X, columns=cols))


@pytest.mark.parametrize("kind", list(FACTORIES))
def test_engine_refuses_a_model_refitted_in_place_and_keeps_an_identical_refit(kind):
    """Per query the engine compares tree models by identity (FittedIdentity) and hashes
    the others; either way a refit in place with other data must be refused, and an
    identical refit (new objects, same learned state) must not be."""
    from recourse import RecourseEngine
    from recourse.encoders.errors import InputValidationError

    F, schema = _frame_schema()
    m = FACTORIES[kind]().fit(F, Y1)
    engine = RecourseEngine(m, schema)
    row = F.iloc[0].to_dict()
    target = 1 - int(m.predict(F.iloc[:1])[0])
    engine.explain(row, target=target, time_limit=20)
    m.fit(F, Y1)  # identical refit: new objects, same learned state
    engine.explain(row, target=target, time_limit=20)
    m.fit(F, Y2)
    with pytest.raises(InputValidationError, match="refitted"):
        engine.explain(row, target=target, time_limit=20)


@pytest.mark.parametrize("kind", ["rf", "gb", "hgb", "mlp_partial"])
def test_engine_refuses_warm_starts_and_partial_fits(kind):
    """Training that grows a model (warm starts append trees to the same list) or
    updates its arrays in place (MLP partial_fit) is a refit too."""
    from recourse import RecourseEngine
    from recourse.encoders.errors import InputValidationError

    F, schema = _frame_schema()
    if kind == "mlp_partial":
        m = MLPClassifier((8,), max_iter=300, random_state=0).fit(F, Y1)
    else:
        m = _sklearn(kind).set_params(warm_start=True).fit(F, Y1)
    engine = RecourseEngine(m, schema)
    row = F.iloc[0].to_dict()
    target = 1 - int(m.predict(F.iloc[:1])[0])
    engine.explain(row, target=target, time_limit=20)
    if kind == "mlp_partial":
        m.partial_fit(F, Y2)
    else:
        key = "max_iter" if kind == "hgb" else "n_estimators"
        m.set_params(**{key: m.get_params()[key] + 5}).fit(F, Y1)
    with pytest.raises(InputValidationError, match="refitted"):
        engine.explain(row, target=target, time_limit=20)


def test_engine_refuses_a_tree_appended_to_a_forest():
    """The list of trees is the same object after an append: its length must count."""
    from recourse import RecourseEngine
    from recourse.encoders.errors import InputValidationError

    F, schema = _frame_schema()
    m = _sklearn("rf").fit(F, Y1)
    other = _sklearn("rf").set_params(random_state=5).fit(F, Y2)
    engine = RecourseEngine(m, schema)
    row = F.iloc[0].to_dict()
    target = 1 - int(m.predict(F.iloc[:1])[0])
    engine.explain(row, target=target, time_limit=20)
    m.estimators_.append(other.estimators_[0])
    with pytest.raises(InputValidationError, match="refitted"):
        engine.explain(row, target=target, time_limit=20)

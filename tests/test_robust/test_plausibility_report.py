"""Every answer reports its isolation-forest plausibility, whether or not it is required."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline

from recourse import RecourseEngine
from recourse.datasets import make_model, train_test
from recourse.errors import SchemaError


@pytest.fixture(scope="module")
def german():
    X_tr, X_te, y_tr, _, schema = train_test("german")
    model = make_model("logreg", X_tr, y_tr, schema=schema)
    iso = Pipeline([("prep", clone(model.named_steps["prep"])),
                    ("iso", IsolationForest(n_estimators=50, random_state=0))]).fit(X_tr)
    return X_te, schema, model, iso


def test_score_reported_without_the_constraint(german):
    X_te, schema, model, iso = german
    eng = RecourseEngine(model, schema, plausibility=iso)
    pred = model.predict(X_te)
    rows = [X_te.iloc[i] for i in range(len(X_te)) if pred[i] != "good"][:3]
    for row in rows:
        res = eng.explain(row, target="good")
        assert res.verified
        cf = schema.row_frame(res.counterfactual)
        want = float(iso.score_samples(cf[list(iso.feature_names_in_)])[0])
        assert np.isclose(res.stats.plausibility_score, want)
        assert res.stats.plausibility_min_score == iso[-1].offset_


def test_plausibility_must_be_an_isolation_forest(german):
    _, schema, model, _ = german
    with pytest.raises(SchemaError, match="IsolationForest"):
        RecourseEngine(model, schema, plausibility=model)


def test_pyomo_model_refuses_options_it_cannot_carry(german):
    """The Pyomo export holds the model and the action set only: an engine option added
    through the value view is refused by name, not silently dropped."""
    pytest.importorskip("pyomo")
    from recourse import DataSupport, InputValidationError

    X_te, schema, model, _ = german
    from recourse.datasets import train_test

    X_tr = train_test("german")[0]
    sup = DataSupport.from_model(X_tr, model, schema, target="good", k=1, radius=1.0)
    eng = RecourseEngine(model, schema, support=sup)
    row = X_te[model.predict(X_te) != "good"].iloc[0]
    with pytest.raises(InputValidationError, match="support"):
        eng.pyomo_model(row, target="good")

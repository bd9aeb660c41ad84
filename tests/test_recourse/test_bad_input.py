"""Bad input gets a clear error naming the problem; impossible requests get an answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from engine_checks import TIME_LIMIT
from oracles import model_predict
from recourse import (
    Feature,
    FeatureSchema,
    InputValidationError,
    RecourseEngine,
    RecourseError,
    SchemaError,
    UnsupportedModelError,
    find_recourse,
)
from synthdata import credit_frame, tree_pipeline


@pytest.fixture(scope="module")
def numeric_case():
    X, y, _ = credit_frame(0, categorical=False)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    pred = model.predict(X)
    i = int(np.flatnonzero(pred == 0)[0])
    return X, model, schema, X.iloc[i].to_dict()


@pytest.fixture(scope="module")
def categorical_case():
    X, y, _ = credit_frame(1)
    model = tree_pipeline(RandomForestClassifier(n_estimators=3, max_depth=3,
                                                 random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    pred = model.predict(X)
    i = int(np.flatnonzero(pred == 0)[0])
    return X, model, schema, X.iloc[i].to_dict()


def _raises_input_error(model, applicant, schema, *words, **kw):
    with pytest.raises(InputValidationError) as ei:
        find_recourse(model, applicant, schema, time_limit=TIME_LIMIT, **kw)
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, RecourseError)
    msg = str(ei.value)
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in error message: {msg}"
    return msg


@pytest.mark.parametrize("bad", [float("nan"), None, np.nan])
def test_nan_is_rejected(numeric_case, bad):
    X, model, schema, x = numeric_case
    _raises_input_error(model, dict(x, income=bad), schema, "income")


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_inf_is_rejected(numeric_case, bad):
    X, model, schema, x = numeric_case
    _raises_input_error(model, dict(x, debt=bad), schema, "debt")


def test_nan_in_array_input(numeric_case):
    X, model, schema, x = numeric_case
    arr = np.array([x[n] for n in schema.names], dtype=float)
    arr[1] = np.nan
    _raises_input_error(model, arr, schema)


@pytest.mark.parametrize("n", [2, 4])
def test_wrong_number_of_features_array(numeric_case, n):
    X, model, schema, x = numeric_case
    arr = np.resize(np.array([x[k] for k in schema.names], dtype=float), n)
    msg = _raises_input_error(model, arr, schema)
    assert str(len(schema)) in msg and str(n) in msg, msg


def test_missing_column_dict(numeric_case):
    X, model, schema, x = numeric_case
    bad = {k: v for k, v in x.items() if k != "debt"}
    _raises_input_error(model, bad, schema, "debt", "missing")


def test_extra_column_series(numeric_case):
    X, model, schema, x = numeric_case
    _raises_input_error(model, pd.Series(dict(x, shoe_size=42)), schema, "shoe_size")


def test_misspelt_column(numeric_case):
    X, model, schema, x = numeric_case
    bad = dict(x)
    bad["Income"] = bad.pop("income")
    _raises_input_error(model, bad, schema, "Income", "income")


def test_wrong_columns_one_row_frame(numeric_case):
    X, model, schema, x = numeric_case
    frame = pd.DataFrame([x]).rename(columns={"age": "years"})
    _raises_input_error(model, frame, schema, "years")


def test_unknown_category(categorical_case):
    X, model, schema, x = categorical_case
    msg = _raises_input_error(model, dict(x, housing="castle"), schema, "housing", "castle")
    assert "rent" in msg  # lists the known categories


def test_fractional_integer_and_text_in_numeric(numeric_case):
    X, model, schema, x = numeric_case
    assert schema["age"].kind == "integer"
    _raises_input_error(model, dict(x, age=33.5), schema, "age")
    _raises_input_error(model, dict(x, income="lots"), schema, "income")


def test_engine_explain_validates_too(numeric_case):
    X, model, schema, x = numeric_case
    engine = RecourseEngine(model, schema)
    with pytest.raises(InputValidationError):
        engine.explain(dict(x, income=math.nan), time_limit=TIME_LIMIT)


@pytest.mark.parametrize("which", ["numeric", "categorical"])
def test_already_in_target_class(numeric_case, categorical_case, which):
    X, model, schema, _ = numeric_case if which == "numeric" else categorical_case
    pred = model.predict(X)
    i = int(np.flatnonzero(pred == 1)[0])
    x = X.iloc[i].to_dict()
    for res in (find_recourse(model, x, schema, target=1, time_limit=TIME_LIMIT),
                RecourseEngine(model, schema).explain(x, target=1, norm="l0",
                                                      time_limit=TIME_LIMIT)):
        assert res.status == "already_target", res
        assert res.cost == 0
        assert res.verified is True
        assert res.changes == []
        assert res.has_recourse
        if res.counterfactual is not None:
            assert model_predict(model, schema, [res.counterfactual])[0] == 1
            assert all(res.counterfactual[n] == x[n] for n in schema.names)


@pytest.mark.parametrize("est", [SVC(kernel="rbf"), KNeighborsClassifier(n_neighbors=3)],
                         ids=["svc_rbf", "knn"])
@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "pipeline"])
def test_unsupported_model(numeric_case, est, wrapped):
    X, _, schema, x = numeric_case
    y = (X.income > X.income.median()).astype(int)
    model = (make_pipeline(StandardScaler(), est) if wrapped else est).fit(X, y)
    with pytest.raises(UnsupportedModelError) as ei:
        find_recourse(model, x, schema, time_limit=TIME_LIMIT)
    assert isinstance(ei.value, TypeError) and isinstance(ei.value, RecourseError)
    msg = str(ei.value)
    assert type(est).__name__ in msg, msg
    for supported in ("RandomForestClassifier", "DecisionTreeClassifier", "LogisticRegression"):
        assert supported in msg, msg
    with pytest.raises(UnsupportedModelError):
        RecourseEngine(model, schema)


def test_contradictory_schema_from_frame(numeric_case):
    X = numeric_case[0]
    with pytest.raises(SchemaError) as ei:
        FeatureSchema.from_frame(X, immutable=["age"], increase_only=["age"])
    assert "age" in str(ei.value)
    assert isinstance(ei.value, ValueError)
    with pytest.raises(SchemaError):
        FeatureSchema.from_frame(X, immutable=["debt"], decrease_only=["debt"])


def test_contradictory_feature():
    with pytest.raises(SchemaError) as ei:
        Feature("age", "integer", lower=18, upper=99, immutable=True, direction="increase")
    assert "age" in str(ei.value)


def test_all_immutable_is_no_recourse(numeric_case, categorical_case):
    for X, model, schema, x in (numeric_case, categorical_case):
        frozen = FeatureSchema.from_frame(X, immutable=list(X.columns))
        for norm in ("l1", "l0"):
            res = find_recourse(model, x, frozen, target=1, norm=norm, time_limit=TIME_LIMIT)
            assert res.status == "no_recourse", res
            assert res.counterfactual is None
            assert not res.has_recourse
            assert res.message  # says why


@pytest.mark.parametrize("norm", ["l2", "L1 ", "linf", ""])
def test_unknown_norm(numeric_case, norm):
    X, model, schema, x = numeric_case
    with pytest.raises(ValueError) as ei:
        find_recourse(model, x, schema, norm=norm, time_limit=TIME_LIMIT)
    msg = str(ei.value)
    assert "l1" in msg and "l0" in msg, f"message should list the valid norms: {msg}"
    with pytest.raises(ValueError):
        RecourseEngine(model, schema).explain(x, norm=norm, time_limit=TIME_LIMIT)


def test_unknown_target_class(numeric_case):
    """A target that is not one of the model's classes is an error, not no_recourse."""
    X, model, schema, x = numeric_case
    with pytest.raises(ValueError) as ei:
        find_recourse(model, x, schema, target=7, time_limit=TIME_LIMIT)
    assert "7" in str(ei.value)


def test_schema_that_does_not_match_the_model(numeric_case):
    """A schema whose columns the model was not trained on is an error."""
    X, model, _, x = numeric_case
    other = FeatureSchema.from_frame(X.rename(columns={"debt": "loans"}))
    xx = dict(x)
    xx["loans"] = xx.pop("debt")
    with pytest.raises(RecourseError):
        find_recourse(model, xx, other, time_limit=TIME_LIMIT)

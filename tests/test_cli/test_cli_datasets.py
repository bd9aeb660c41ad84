"""recourse.datasets: bundled data, their action sets, and the reference models."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from recourse.datasets import (
    DATASETS,
    MODEL_KINDS,
    load,
    load_credit_data,
    load_german_credit,
    make_model,
    train_test,
)
from recourse.errors import InputValidationError
from recourse.schema import FeatureSchema

SHAPES = {"german": (1000, 20), "credit_data": (4039, 13)}
IMMUTABLE = {
    "german": {
        "personal_status_and_sex", "foreign_worker",
        "number_of_people_being_liable_to_provide_maintenance_for",
        "credit_history", "purpose", "present_residence_since",
    },
    "credit_data": {"Records", "Marital"},
}
INCREASE_ONLY = {
    "german": {"age_in_years", "present_employment_since"},
    "credit_data": {"Age", "Seniority"},
}


@pytest.fixture(scope="module", params=DATASETS)
def dataset(request):
    return request.param, *load(request.param)


def test_shapes_targets_and_no_missing(dataset) -> None:
    name, X, y, _ = dataset
    assert X.shape == SHAPES[name]
    assert len(y) == len(X)
    assert not X.isna().any().any()
    assert not y.isna().any()
    assert set(y.unique()) == {"good", "bad"}


def test_schema_matches_columns_and_declares_the_action_set(dataset) -> None:
    name, X, _, schema = dataset
    assert schema.names == list(X.columns)
    assert {f.name for f in schema if f.immutable} == IMMUTABLE[name]
    assert {f.name for f in schema if f.direction == "increase"} == INCREASE_ONLY[name]
    assert not [f.name for f in schema if f.direction == "decrease"]
    for f in schema:
        assert f.label, f"{f.name} has no label"
        if f.immutable or f.direction != "any":
            assert f.reason, f"{f.name} is constrained but gives no reason"


def test_every_row_is_valid_under_its_schema(dataset) -> None:
    _, X, _, schema = dataset
    for _, row in X.iloc[::37].iterrows():
        schema.validate_row(row)


def test_schema_yaml_round_trip(dataset) -> None:
    *_, schema = dataset
    assert FeatureSchema.from_yaml(schema.to_yaml()) == schema


def test_german_units_and_ordinal_levels() -> None:
    X, _, schema = load_german_credit()
    assert schema["credit_amount"].unit == "DM"
    assert schema["duration_in_month"].unit == "months"
    assert schema["age_in_years"].unit == "years"
    employment = schema["present_employment_since"]
    assert employment.kind == "ordinal"
    assert employment.categories[0] == "unemployed"
    assert employment.categories[-1] == "... >= 7 years"
    assert schema["job"].kind == "ordinal"
    for f in schema:
        if f.is_group:
            assert set(X[f.name].unique()) <= set(f.categories)


def test_credit_data_cleaning() -> None:
    X, y, schema = load_credit_data()
    assert "rownames" not in X.columns
    assert list(X.index) == list(range(len(X)))
    assert (y == "good").sum() == 3013 and (y == "bad").sum() == 1026
    for col in ("Income", "Assets", "Debt"):
        assert X[col].dtype == np.int64
    assert schema["Time"].unit == "months"
    assert schema["Amount"].unit == "currency units"


def test_unknown_dataset_lists_the_names() -> None:
    with pytest.raises(InputValidationError, match=r"'german'.*'credit_data'"):
        load("adult")


def test_sources_shipped() -> None:
    text = resources.files("recourse.datasets").joinpath("SOURCES.md").read_text("utf-8")
    assert "CC BY 4.0" in text and "modeldata" in text and "415" in text


# ------------------------------------------------------------------ split and models
@pytest.fixture(scope="module")
def german_split():
    return train_test("german", seed=0)


def test_train_test_is_stratified_and_seeded(german_split) -> None:
    X_train, X_test, y_train, y_test, schema = german_split
    assert (len(X_train), len(X_test)) == (700, 300)
    assert (y_train == "bad").sum() == 210 and (y_test == "bad").sum() == 90
    assert schema.names == list(X_train.columns)
    again = train_test("german", seed=0)
    assert list(again[1].index) == list(X_test.index)
    assert list(train_test("german", seed=1)[1].index) != list(X_test.index)


ESTIMATORS = {
    "logreg": (LogisticRegression, {"max_iter": 2000}),
    "tree": (DecisionTreeClassifier, {"max_depth": 6}),
    "rf100x6": (RandomForestClassifier, {"n_estimators": 100, "max_depth": 6}),
    "rf300x8": (RandomForestClassifier, {"n_estimators": 300, "max_depth": 8}),
    "mlp32x32": (MLPClassifier, {"hidden_layer_sizes": (32, 32), "activation": "relu"}),
    "gb100": (GradientBoostingClassifier, {"n_estimators": 100, "max_depth": 3}),
    "hgb100": (HistGradientBoostingClassifier, {"max_iter": 100, "max_leaf_nodes": 15}),
}


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_make_model(kind, german_split) -> None:
    X_train, X_test, y_train, y_test, schema = german_split
    model = make_model(kind, X_train, y_train, seed=0, schema=schema)
    cls, params = ESTIMATORS[kind]
    est = model.named_steps["model"]
    assert type(est) is cls
    assert {k: est.get_params()[k] for k in params} == params
    assert set(model.predict(X_test)) <= {"good", "bad"}
    assert model.score(X_test, y_test) > 0.65
    # one-hot levels come from the schema, in the schema's order
    onehot = model.named_steps["prep"].named_transformers_["cat"]
    groups = [f for f in schema if f.is_group]
    assert [list(c) for c in onehot.categories_] == [list(f.categories) for f in groups]
    scaled = model.named_steps["prep"].transformers_[1][2]
    assert scaled == [f.name for f in schema if not f.is_group]


def test_make_model_is_seeded(german_split) -> None:
    X_train, X_test, y_train, *_ = german_split
    a = make_model("rf100x6", X_train, y_train, seed=3).predict_proba(X_test)
    b = make_model("rf100x6", X_train, y_train, seed=3).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)


def test_make_model_unknown_kind_lists_the_kinds(german_split) -> None:
    X_train, _, y_train, *_ = german_split
    with pytest.raises(InputValidationError) as info:
        make_model("xgboost", X_train, y_train)
    for kind in MODEL_KINDS:
        assert repr(kind) in str(info.value)


def test_make_model_rejects_a_foreign_schema(german_split) -> None:
    X_train, _, y_train, *_ = german_split
    _, _, other = load_credit_data()
    with pytest.raises(InputValidationError, match="do not match the schema"):
        make_model("logreg", X_train, y_train, schema=other)

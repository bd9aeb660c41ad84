"""recourse.io: skops round trip and allow-list, pickle refusal, schema and applicant files."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from recourse.errors import InputValidationError, RecourseError, UntrustedModelError
from recourse.io import (
    TRUSTED_SKOPS_TYPES,
    load_applicant,
    load_model,
    load_schema,
    save_model,
)
from recourse.schema import FeatureSchema


@pytest.fixture
def data(global_random_seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(global_random_seed)
    n = 80
    X = pd.DataFrame({
        "income": rng.integers(10, 100, n),
        "debt": rng.normal(5.0, 2.0, n).round(2),
        "housing": rng.choice(["own", "rent", "None"], n),
    })
    y = np.where(X["income"] - 5 * X["debt"] > 25, "good", "bad")
    return X, y


def _pipeline(estimator: object) -> Pipeline:
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["housing"]),
        ("num", StandardScaler(), ["income", "debt"]),
    ])
    return Pipeline([("prep", prep), ("model", estimator)])


@pytest.mark.parametrize("estimator", [
    LogisticRegression(max_iter=500),
    RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0),
], ids=["logreg", "forest"])
def test_skops_round_trip_predicts_the_same(tmp_path, data, estimator) -> None:
    X, y = data
    model = _pipeline(estimator).fit(X, y)
    path = save_model(model, tmp_path / "m.skops")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_forest_needs_only_allow_listed_types(tmp_path, data) -> None:
    X, y = data
    model = _pipeline(RandomForestClassifier(n_estimators=3, random_state=0)).fit(X, y)
    path = save_model(model, tmp_path / "m.skops")
    untrusted = sio.get_untrusted_types(file=path)
    assert "sklearn.tree._tree.Tree" in untrusted
    assert set(untrusted) <= TRUSTED_SKOPS_TYPES


class NotOnTheList:
    """A user type that skops can store but that our allow-list does not trust."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def test_skops_with_unknown_type_is_refused_and_named(tmp_path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"model": NotOnTheList()}, path)
    with pytest.raises(UntrustedModelError) as info:
        load_model(path)
    assert "NotOnTheList" in str(info.value)
    assert "allow-list" in str(info.value)


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib"])
def test_pickle_refused_without_trust(tmp_path, data, suffix) -> None:
    X, y = data
    path = tmp_path / f"m{suffix}"
    joblib.dump(_pipeline(LogisticRegression()).fit(X, y), path)
    with pytest.raises(UntrustedModelError) as info:
        load_model(path)
    msg = str(info.value)
    assert "arbitrary code" in msg
    assert "trust_pickle=True" in msg and "--trust-pickle" in msg
    assert "skops" in msg
    assert isinstance(info.value, RecourseError)


def test_pickle_loaded_with_trust(tmp_path, data) -> None:
    X, y = data
    model = _pipeline(LogisticRegression()).fit(X, y)
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    loaded = load_model(path, trust_pickle=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unknown_extension(tmp_path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00")
    with pytest.raises(InputValidationError, match=r"'\.onnx'.*\.skops"):
        load_model(path)


def test_missing_model_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope.skops")


def test_corrupt_skops_file(tmp_path) -> None:
    path = tmp_path / "broken.skops"
    path.write_text("not a zip file")
    with pytest.raises(InputValidationError, match="Could not read the skops file"):
        load_model(path)


def test_save_model_insists_on_skops(tmp_path, data) -> None:
    X, y = data
    with pytest.raises(InputValidationError, match=r"\*\.skops"):
        save_model(_pipeline(LogisticRegression()).fit(X, y), tmp_path / "m.pkl")


# ---------------------------------------------------------------- schema / applicant
@pytest.fixture
def schema(data) -> FeatureSchema:
    X, _ = data
    return FeatureSchema.from_frame(X, increase_only=["income"], units={"income": "k"})


def test_load_schema_round_trip(tmp_path, schema) -> None:
    path = tmp_path / "schema.yaml"
    schema.to_yaml(path)
    assert load_schema(path) == schema


def test_load_schema_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="schema file"):
        load_schema(tmp_path / "missing.yaml")


def test_load_applicant_one_row(tmp_path, data, schema) -> None:
    X, _ = data
    path = tmp_path / "a.csv"
    X.iloc[[3]].to_csv(path, index=False)
    row = load_applicant(path, schema)
    assert list(row) == schema.names
    assert row["housing"] == X["housing"].iloc[3]
    assert row["income"] == X["income"].iloc[3]


def test_load_applicant_keeps_the_category_None(tmp_path, schema) -> None:
    # pandas' default NA list reads the text "None" as missing; ours does not.
    path = tmp_path / "a.csv"
    pd.DataFrame([{"income": 50, "debt": 1.5, "housing": "None"}]).to_csv(path, index=False)
    assert load_applicant(path, schema)["housing"] == "None"


def test_load_applicant_needs_row_for_several(tmp_path, data, schema) -> None:
    X, _ = data
    path = tmp_path / "many.csv"
    X.to_csv(path, index=False)
    with pytest.raises(InputValidationError, match=r"80 rows.*--row"):
        load_applicant(path, schema)
    assert load_applicant(path, schema, row=7)["income"] == X["income"].iloc[7]
    with pytest.raises(InputValidationError, match="out of range"):
        load_applicant(path, schema, row=80)


def test_load_applicant_rejects_missing_value(tmp_path, schema) -> None:
    path = tmp_path / "a.csv"
    path.write_text("income,debt,housing\n50,,own\n")
    with pytest.raises(InputValidationError, match="'debt'"):
        load_applicant(path, schema)


def test_load_applicant_rejects_extra_columns(tmp_path, data, schema) -> None:
    X, _ = data
    path = tmp_path / "a.csv"
    X.iloc[[0]].to_csv(path)  # writes the index as an unnamed column
    with pytest.raises(InputValidationError, match="unexpected columns"):
        load_applicant(path, schema)


def test_load_applicant_unknown_type_and_missing_file(tmp_path, schema) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"")
    with pytest.raises(InputValidationError, match=r"\.csv"):
        load_applicant(path, schema)
    with pytest.raises(FileNotFoundError):
        load_applicant(tmp_path / "none.csv", schema)


def test_load_applicant_parquet(tmp_path, data, schema) -> None:
    pytest.importorskip("pyarrow")
    X, _ = data
    path = tmp_path / "a.parquet"
    X.to_parquet(path)
    assert load_applicant(path, schema, row=2)["debt"] == X["debt"].iloc[2]

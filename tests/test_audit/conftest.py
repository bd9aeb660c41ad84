"""Small German-credit models and files shared by the audit tests (built once per session)."""

from __future__ import annotations

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from recourse.datasets import load_german_credit, train_test
from recourse.io import save_model

# Denied applicants in the shared ``applicants`` fixture.
N_DENIED = 20


def _pipeline(schema, estimator):
    groups = [f for f in schema if f.is_group]
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(categories=[list(f.categories) for f in groups],
                              handle_unknown="ignore"), [f.name for f in groups]),
        ("num", StandardScaler(), [f.name for f in schema if not f.is_group]),
    ])
    return Pipeline([("prep", prep), ("model", estimator)])


@pytest.fixture(scope="session")
def german():
    """(X_train, X_test, y_train, schema) of the bundled German credit data, seed 0."""
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    return X_train, X_test, y_train, schema


@pytest.fixture(scope="session")
def forest(german):
    """A small forest (20 trees of depth 4) that denies a good share of applicants."""
    X_train, _, y_train, schema = german
    est = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    return _pipeline(schema, est).fit(X_train, y_train)


@pytest.fixture(scope="session")
def applicants(forest):
    """24 German-credit applicants: 20 the forest denies and 4 it approves, in data order."""
    X, _, _ = load_german_credit()
    pred = forest.predict(X)
    denied = X[pred == "bad"].head(N_DENIED)
    approved = X[pred == "good"].head(4)
    assert len(denied) == N_DENIED
    return X.loc[sorted([*denied.index, *approved.index])]


@pytest.fixture(scope="session")
def logreg(german):
    X_train, _, y_train, schema = german
    return _pipeline(schema, LogisticRegression(max_iter=2000)).fit(X_train, y_train)


@pytest.fixture(scope="session")
def files(tmp_path_factory, german, forest, applicants):
    """The forest, schema, applicants and training rows as files (for the CLI and
    subprocesses)."""
    X_train, _, _, schema = german
    out = tmp_path_factory.mktemp("audit_files")
    paths = {
        "model": save_model(forest, out / "model.skops"),
        "schema": out / "schema.yaml",
        "data": out / "applicants.parquet",
        "csv": out / "applicants.csv",
        "reference": out / "train.parquet",
    }
    schema.to_yaml(paths["schema"])
    applicants.to_parquet(paths["data"])
    applicants.to_csv(paths["csv"], index=False)
    X_train.to_parquet(paths["reference"])
    return paths

"""A small mixed-type model shared by the hardening and fuzz tests (built once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from recourse import FeatureSchema


@pytest.fixture(scope="session")
def toy():
    """(X, schema, model): 4 features (continuous, integer, binary, categorical), a
    logistic regression that denies about half the rows ("bad" / "good")."""
    rng = np.random.default_rng(7)
    n = 200
    X = pd.DataFrame({
        "amount": rng.uniform(100, 5000, n).round(1),
        "years": rng.integers(0, 40, n),
        "owner": rng.integers(0, 2, n),
        "housing": rng.choice(["rent", "own", "free"], n),
    })
    score = X["amount"] / 1000 - X["years"] / 10 + X["owner"] - (X["housing"] == "own")
    y = np.where(score < 1.5, "good", "bad")
    schema = FeatureSchema.from_frame(X, increase_only=["years"])
    model = Pipeline([
        ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"),
                                     ["housing"])], remainder="passthrough")),
        ("lr", LogisticRegression(max_iter=2000)),
    ]).fit(X, y)
    return X, schema, model

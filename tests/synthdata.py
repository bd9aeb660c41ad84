"""Small synthetic credit-like data sets and models for the oracle tests (seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUSING = ("free", "own", "rent")


def credit_frame(seed: int = 0, n: int = 240, *, categorical: bool = True,
                 binary: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features ``age`` (integer), ``income`` and ``debt`` (continuous) and, optionally,
    ``housing`` (categorical) and ``guarantor`` (0/1, schema kind ``binary``).

    Returns ``(X, y_binary, y_three)``; ``y_three`` has string labels low / mid / high."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 71, size=n)
    income = np.round(rng.uniform(10.0, 100.0, size=n), 3)
    debt = np.round(rng.uniform(0.0, 50.0, size=n), 3)
    data = {"age": age, "income": income, "debt": debt}
    score = income - 1.2 * debt + 0.3 * (age - 40) + rng.normal(0.0, 6.0, size=n)
    if categorical:
        housing = rng.choice(HOUSING, size=n)
        data["housing"] = housing
        score = score + np.select([housing == "own", housing == "free"], [10.0, -5.0], 0.0)
    if binary:
        guarantor = rng.integers(0, 2, size=n)
        data["guarantor"] = guarantor
        score = score + 8.0 * guarantor
    X = pd.DataFrame(data)
    y = (score > np.median(score)).astype(int)
    q1, q2 = np.quantile(score, [1 / 3, 2 / 3])
    y3 = np.where(score <= q1, "low", np.where(score <= q2, "mid", "high"))
    return X, y, y3


def tree_pipeline(estimator, numeric=("age", "income", "debt"), categorical=("housing",),
                  scaler: str = "standard", extra_numeric=()):
    """Pipeline(ColumnTransformer(OneHotEncoder(categorical), scaler(numeric)), estimator)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

    num = {"standard": StandardScaler(), "minmax": MinMaxScaler(),
           "passthrough": "passthrough"}[scaler]
    parts = [("num", num, list(numeric) + list(extra_numeric))]
    if categorical:
        parts.append(("cat", OneHotEncoder(), list(categorical)))
    return Pipeline([("pre", ColumnTransformer(parts)), ("model", estimator)])

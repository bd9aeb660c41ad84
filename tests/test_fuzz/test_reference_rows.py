"""Reference rows are read column by column (``plainly_valid`` + ``encode_frame``): the
result must equal the row-by-row rules (``validate_row`` + ``encode``) on every row, for
hostile tables too (NaN, text, booleans, unknown or equal-text categories, values outside
the bounds, fractions in integer features)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recourse import FeatureSchema, InputValidationError
from recourse.encoders.domain import SearchSpace
from recourse.schema_checks import plainly_valid

SCHEMA = FeatureSchema.from_dict({"features": [
    {"name": "amount", "kind": "continuous", "lower": 0, "upper": 1000},
    {"name": "years", "kind": "integer", "lower": 0, "upper": 40},
    {"name": "owner", "kind": "binary"},
    {"name": "housing", "kind": "categorical", "categories": ["rent", "own", "free"]},
    {"name": "grade", "kind": "ordinal", "categories": [1, 2, 3]},
]})

# per feature: values the rules accept as they are, and values at or past an edge
_GOOD = {
    "amount": st.one_of(st.floats(0, 1000), st.sampled_from([0, 1000, 250])),
    "years": st.one_of(st.integers(0, 40), st.sampled_from([0.0, 40.0, 12.0])),
    "owner": st.sampled_from([0, 1, 0.0, 1.0]),
    "housing": st.sampled_from(["rent", "own", "free"]),
    "grade": st.sampled_from([1, 2, 3, 1.0]),
}
_EDGE = {
    "amount": [-0.5, -1e-9, 1000.5, 1e6, 1e40, float("nan"), float("inf"), "12", True, None],
    "years": [0.5, 39.5, -1, 41, 1e12, float("nan"), "3", True],
    "owner": [2, -1, 0.5, float("nan"), "1"],
    "housing": ["Rent", "caf\u00e9", None, 1, float("nan"), True],
    "grade": [4, 0, 1.5, "1", None, True, False, "2"],
}


@st.composite
def _cell(draw, name):
    if draw(st.integers(0, 5), label=f"{name} edge?") == 0:
        return draw(st.sampled_from(_EDGE[name]), label=name)
    return draw(_GOOD[name], label=name)


def _space(schema: FeatureSchema) -> SearchSpace:
    return schema.search_space()


def _row_by_row(schema, frame):
    """The definition: every row through validate_row and encode, or refused."""
    space = _space(schema)
    out = []
    for r in frame.to_dict("records"):
        try:
            out.append(space.encode(schema.validate_row(r)))
        except InputValidationError:
            out.append(None)
    return out


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_column_fast_path_equals_the_row_rules(data):
    n = data.draw(st.integers(1, 12), label="rows")
    cols = {}
    for name in _GOOD:
        cols[name] = data.draw(st.lists(_cell(name), min_size=n, max_size=n), label=name)
    frame = pd.DataFrame(cols)
    want = _row_by_row(SCHEMA, frame)
    fast = plainly_valid(SCHEMA, frame)
    # the fast path never accepts a row the rules refuse
    for i in np.flatnonzero(fast):
        assert want[i] is not None, frame.iloc[i].to_dict()
    if fast.any():
        got = _space(SCHEMA).encode_frame(frame[fast])
        np.testing.assert_array_equal(got, np.array([want[i] for i in np.flatnonzero(fast)]))


def test_clean_numeric_tables_take_the_fast_path_whole():
    """On a clean table every row qualifies (else the fast path would be pointless), and
    a single bad cell sends only its own row to the rules."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "amount": rng.uniform(0, 1000, 50), "years": rng.integers(0, 41, 50),
        "owner": rng.integers(0, 2, 50), "housing": rng.choice(["rent", "own", "free"], 50),
        "grade": rng.integers(1, 4, 50)}).astype({"years": float})
    assert plainly_valid(SCHEMA, frame).all()
    frame.loc[7, "years"] = 3.5
    frame.loc[9, "housing"] = "castle"
    fast = plainly_valid(SCHEMA, frame)
    assert list(np.flatnonzero(~fast)) == [7, 9]
    want = _row_by_row(SCHEMA, frame)
    assert want[7] is None and want[9] is None


def test_engine_reference_equals_the_row_rules(toy):
    """The engine's reference vectors are the accepted rows, in order, encoded exactly
    as the row-by-row rules encode them."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    from recourse.engine.prepared import prepare

    X, schema, _ = toy
    y = np.where(X["amount"] + 100 * X["years"] > 2500, "good", "bad")
    model = Pipeline([("prep", ColumnTransformer([("cat", OneHotEncoder(), ["housing"])],
                                                 remainder="passthrough")),
                      ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]).fit(X, y)
    ref = X.copy().astype({"years": float})
    ref.loc[3, "years"] = 2.5         # refused: fraction in an integer feature
    ref.loc[5, "housing"] = None      # refused: missing
    ref.loc[8, "amount"] = np.nan     # refused: NaN
    with pytest.warns(UserWarning, match=r"3 of 200 reference rows .* row 3: .*years"):
        P = prepare(model, schema, reference=ref, backend="auto", backend_options={},
                    margin=1e-6, bounds="lp", causal=None, price_options=True)
    want = [v for v in _row_by_row(schema, ref) if v is not None]
    got = P.ref
    assert len(want) == len(ref) - 3
    np.testing.assert_array_equal(got, np.array(want))
    with warnings.catch_warnings():  # a clean reference says nothing
        warnings.simplefilter("error")
        prepare(model, schema, reference=X, backend="auto", backend_options={},
                margin=1e-6, bounds="lp", causal=None, price_options=True)

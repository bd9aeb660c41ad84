"""An applicant outside the action set's bounds is answered, never silently: the result
names the features (``stats.outside_bounds``) and its message says so."""

from __future__ import annotations

from recourse import RecourseEngine
from recourse.datasets import make_model, train_test


def test_values_outside_the_bounds_are_flagged():
    X_train, X_test, y_train, _, schema = train_test("german")
    model = make_model("tree", X_train, y_train, schema=schema)
    engine = RecourseEngine(model, schema)
    row = X_test[model.predict(X_test) == "bad"].iloc[0].to_dict()
    lo, hi = schema["credit_amount"].bounds()
    inside = engine.explain(row, target="good")
    assert inside.stats.outside_bounds is None
    row["credit_amount"] = hi * 1.5  # beyond the largest amount in the data
    res = engine.explain(row, target="good")
    assert res.stats.outside_bounds == ["credit_amount"]
    assert "outside the action set's bounds" in res.message
    assert res.factual["credit_amount"] == hi * 1.5  # kept as given, never clipped

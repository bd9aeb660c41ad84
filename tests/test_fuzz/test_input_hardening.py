"""Issue 15, items 2, 3, 4, 5 and 8: applicant files, numeric ranges, schema documents and
extra columns. Each test states the behaviour the issue asks for, independently of how
the engine implements it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recourse import FeatureSchema, InputValidationError, RecourseEngine, SchemaError
from recourse.audit import audit
from recourse.io import load_applicant, read_table

# ------------------------------------------------------------- item 2: CSV shape


def _row_csv(schema, values, extra=""):
    return ",".join(schema.names) + "\n" + ",".join(map(str, values)) + extra + "\n"


def test_a_field_too_many_is_an_error_never_a_shift(tmp_path, toy):
    X, schema, _ = toy
    row = X.iloc[0]
    p = tmp_path / "a.csv"
    p.write_text(_row_csv(schema, row.tolist(), extra=",9"), encoding="utf-8")
    with pytest.raises(InputValidationError, match=r"line 2.*5 fields.*4 columns"):
        load_applicant(p, schema)
    with pytest.raises(InputValidationError, match="line 2"):
        read_table(p)


def test_a_missing_field_duplicate_names_and_an_empty_file(tmp_path, toy):
    X, schema, _ = toy
    p = tmp_path / "a.csv"
    p.write_text(_row_csv(schema, X.iloc[0].tolist()[:-1]), encoding="utf-8")
    with pytest.raises(InputValidationError, match=r"3 fields.*4 columns"):
        load_applicant(p, schema)
    p.write_text("amount,amount,years,owner,housing\n1,2,3,0,rent\n", encoding="utf-8")
    with pytest.raises(InputValidationError, match="duplicated column names.*amount"):
        read_table(p)
    p.write_text("", encoding="utf-8")
    with pytest.raises(InputValidationError, match="empty"):
        read_table(p)
    p.write_text(",amount,years,owner,housing\n0,1,2,0,rent\n", encoding="utf-8")
    with pytest.raises(InputValidationError, match="unexpected columns.*Unnamed: 0"):
        load_applicant(p, schema)
    p.write_bytes("amount,years,owner,housing\n1,2,0,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputValidationError, match="not UTF-8"):
        read_table(p)


def test_a_well_formed_csv_reads_the_same_values(tmp_path, toy):
    """Oracle: the values written are the values read (BOM and blank lines allowed)."""
    X, schema, _ = toy
    p = tmp_path / "ok.csv"
    text = "\ufeff" + X.head(3).to_csv(index=False).replace("\n", "\n\n", 1)
    p.write_text(text, encoding="utf-8")
    back = read_table(p)
    pd.testing.assert_frame_equal(back, X.head(3).reset_index(drop=True), check_dtype=False)


# ---------------------------------------------------------- items 3 and 4: range


@pytest.mark.parametrize("value", [1e308, 1e39, -3.5e38, 1e15, -1.0, 1e10])
def test_values_outside_the_valid_range_are_refused(toy, value):
    X, schema, model = toy
    row = X.iloc[0].to_dict()
    row["amount"] = value
    with pytest.raises(InputValidationError, match=r"'amount'.*(bounds|float32)"):
        schema.validate_row(row)
    with pytest.raises(InputValidationError, match="'amount'"):
        RecourseEngine(model, schema).explain(row, target="good")


def test_the_range_policy_against_the_declared_bounds(toy):
    """Oracle: the declared bounds [lo, hi], width w. Inside: unchanged. Outside but
    within OUTER_FACTOR widths: accepted unchanged (never clipped) and named by
    outside_bounds. Beyond, or negative for a non-negative feature: refused."""
    from recourse.schema import OUTER_FACTOR, outside_bounds

    X, schema, _ = toy
    f = schema["amount"]
    lo, hi = f.lower, f.upper
    w = OUTER_FACTOR * (hi - lo)
    row = X.iloc[0].to_dict()
    for v in (lo, hi, (lo + hi) / 2):
        got = schema.validate_row(dict(row, amount=v))
        assert got["amount"] == v and outside_bounds(schema, got) == []
    for v in (hi + 0.5 * w, hi + w, max(lo - 0.5 * w, 0.0)):
        got = schema.validate_row(dict(row, amount=v))
        assert got["amount"] == v and outside_bounds(schema, got) == ["amount"]
    for v in (np.nextafter(hi + w, math.inf), -0.001):
        with pytest.raises(InputValidationError, match="bounds"):
            schema.validate_row(dict(row, amount=float(v)))


def test_an_open_side_is_limited_in_scale_units():
    from recourse.schema import OPEN_LIMIT

    schema = FeatureSchema.from_dict({"features": [
        {"name": "a", "kind": "continuous", "lower": 0.0, "scale": 2.0}]})
    assert schema.validate_row({"a": OPEN_LIMIT * 2.0})["a"] == OPEN_LIMIT * 2.0
    with pytest.raises(InputValidationError, match="scale units"):
        schema.validate_row({"a": OPEN_LIMIT * 2.0 * 1.01})


def test_one_bad_row_never_ends_an_audit(tmp_path, toy):
    """A row near the float limit, one beyond float32, one below a bound: each an
    invalid_input row naming the feature; every other denied applicant answered."""
    X, schema, model = toy
    denied = X[model.predict(X) == "bad"].head(6).copy()
    bad = {denied.index[0]: 1e308, denied.index[1]: 1e39, denied.index[2]: -50.0}
    for i, v in bad.items():
        denied.loc[i, "amount"] = v
    res = audit(model, denied, schema, tmp_path / "out", target="good", n_jobs=1)
    rows = res.results.set_index("id")
    assert sorted(rows.index) == sorted(denied.index)  # nothing dropped
    for i in bad:
        assert rows.loc[i, "status"] == "invalid_input"
        assert "'amount'" in rows.loc[i, "message"]
    others = rows.drop(index=list(bad))
    assert set(others["status"]) <= {"optimal", "feasible", "no_recourse"}
    assert res.files["report"].is_file()


# ------------------------------------------------------- item 5: schema documents


@pytest.mark.parametrize(("item", "key"), [
    ({"immutable": "false"}, "immutable"),
    ({"immutable": "yes"}, "immutable"),
    ({"lower": "0"}, "lower"),
    ({"upper": [1]}, "upper"),
    ({"scale": "1e5"}, "scale"),
    ({"weight": True}, "weight"),
    ({"kind": "categorical", "categories": [["a", "b"], "c"]}, "categories"),
    ({"kind": "categorical", "categories": "business"}, "categories"),
    ({"kind": "categorical", "categories": {"a": 1}}, "categories"),
    ({"label": 5}, "label"),
    ({"direction": 1}, "direction"),
    ({"colour": "red"}, "colour"),
])
def test_schema_keys_of_the_wrong_type_are_named(item, key):
    import yaml

    doc = {"features": [{"name": "f", "kind": "continuous", **item}]}
    text = yaml.safe_dump(doc)
    with pytest.raises(SchemaError) as err:
        FeatureSchema.from_yaml(text)
    msg = str(err.value)
    assert repr(key) in msg and "'f'" in msg  # the key and the feature
    value = item[key]
    if key == "categories" and isinstance(value, list):
        value = value[0]  # the offending level is named
    assert repr(value)[:20] in msg  # the value found
    assert "Fix" in msg or "allowed keys" in msg  # the fix


def test_quoted_false_never_freezes_a_feature():
    with pytest.raises(SchemaError, match="immutable"):
        FeatureSchema.from_yaml('features:\n- {name: f, kind: continuous, immutable: "false"}\n')
    ok = FeatureSchema.from_yaml("features:\n- {name: f, kind: continuous, immutable: false}\n")
    assert ok["f"].immutable is False


def test_from_frame_on_an_empty_frame():
    with pytest.raises(SchemaError, match="no rows"):
        FeatureSchema.from_frame(pd.DataFrame({"a": pd.Series([], dtype=float)}))
    with pytest.raises(SchemaError, match="no columns"):
        FeatureSchema.from_frame(pd.DataFrame())


def test_schema_round_trips_through_the_document_check(toy):
    _, schema, _ = toy
    assert FeatureSchema.from_yaml(schema.to_yaml()) == schema


# ------------------------------------------------------------ item 8: extra columns


def test_extra_columns_one_rule_for_explain_and_audit(tmp_path, toy):
    X, schema, model = toy
    denied = X[model.predict(X) == "bad"].head(3).assign(label="bad")
    p = tmp_path / "a.csv"
    denied.head(1).to_csv(p, index=False)
    with pytest.raises(InputValidationError, match="not features.*'label'.*extra_columns"):
        load_applicant(p, schema)
    with pytest.raises(InputValidationError, match="not features.*'label'.*extra_columns"):
        audit(model, denied, schema, tmp_path / "o1", target="good", n_jobs=1)
    with pytest.raises(InputValidationError, match="unexpected columns.*label"):
        RecourseEngine(model, schema).explain(denied.iloc[0], target="good")
    # listed: carried along and ignored, the same answers as without the column
    row = load_applicant(p, schema, extra_columns=["label"])
    assert row == schema.validate_row(denied.drop(columns="label").iloc[0])
    res = audit(model, denied, schema, tmp_path / "o2", target="good", n_jobs=1,
                extra_columns=["label"])
    assert len(res.results) == 3


def test_audit_reports_invalid_rows_with_their_reason(tmp_path, toy):
    from recourse.audit.core import invalid_rows_text

    X, schema, model = toy
    data = X.head(4).astype({"housing": object})
    data.loc[data.index[1], "housing"] = "castle"
    res = audit(model, data, schema, tmp_path / "o", target="good", n_jobs=1, select="all")
    lines = "\n".join(invalid_rows_text(res.summary))
    assert "castle" in lines and str(data.index[1]) in lines
    assert "castle" in res.files["summary_md"].read_text(encoding="utf-8")

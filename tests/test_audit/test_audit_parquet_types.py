"""``results.parquet`` keeps numbers numeric: read back with pyarrow, the changes' values
have a float64 column (null for category levels) that equals the values of independent
``find_recourse`` answers, so the table aggregates without parsing text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from recourse import find_recourse
from recourse.audit import audit


@pytest.fixture(scope="module")
def table(tmp_path_factory, german, forest, applicants):
    X_train, _, _, schema = german
    out = tmp_path_factory.mktemp("types")
    audit(forest, applicants.head(12), schema, out, target="good", reference=X_train,
          n_jobs=1, report=False)
    return pq.read_table(out / "results.parquet")


def test_value_columns_are_float64(table):
    change = table.schema.field("changes").type.value_type
    assert change.field("before_value").type == pa.float64()
    assert change.field("after_value").type == pa.float64()
    assert change.field("before").type == pa.string()  # the text as shown (and levels)


def test_values_match_find_recourse(table, german, forest, applicants):
    X_train, _, _, schema = german
    rows = table.to_pylist()
    assert rows, "the audit wrote no rows"
    n_numeric = n_category = 0
    for row in rows:
        r = find_recourse(forest, applicants.loc[row["id"]], schema, target="good",
                          reference=X_train)
        expected = {c.feature: c for c in r.changes}
        assert {ch["feature"] for ch in row["changes"]} == set(expected)
        for ch in row["changes"]:
            c = expected[ch["feature"]]
            if schema[ch["feature"]].is_group:
                assert ch["before_value"] is None and ch["after_value"] is None
                assert ch["after"] == str(c.after)
                n_category += 1
            else:
                assert ch["before_value"] == pytest.approx(float(c.before), abs=1e-9)
                assert ch["after_value"] == pytest.approx(float(c.after), abs=1e-9)
                n_numeric += 1
    assert n_numeric and n_category, "the sample should hold both kinds of change"


def test_aggregates_without_parsing(table):
    """An analyst's query: the mean numeric change, straight from the Arrow columns."""
    changes = pc.list_flatten(table.column("changes"))
    before = pc.struct_field(changes, "before_value")
    after = pc.struct_field(changes, "after_value")
    delta = pc.struct_field(changes, "delta")
    numeric = pc.is_valid(before)
    assert pc.sum(numeric).as_py() > 0
    got = pc.subtract(pc.filter(after, numeric), pc.filter(before, numeric)).to_numpy()
    np.testing.assert_allclose(got, pc.filter(delta, numeric).to_numpy(), atol=1e-9)

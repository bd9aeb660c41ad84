"""A directory holding a different audit is refused, and the refusal says what differs."""

from __future__ import annotations

import pytest

from recourse import InputValidationError
from recourse.audit import audit
from recourse.datasets import make_model, train_test


def test_refusal_names_the_difference(tmp_path):
    X_train, X_test, y_train, _, schema = train_test("german")
    model = make_model("tree", X_train, y_train, schema=schema)
    rows = X_test.head(4).reset_index(drop=True)
    audit(model, rows, schema, tmp_path, target="good", norm="l1", time_limit=10, n_jobs=1)
    with pytest.raises(InputValidationError, match=r"norm: 'l1' before, 'l0' now|norm: l1 "
                       r"before, l0 now") as err:
        audit(model, rows, schema, tmp_path, target="good", norm="l0", time_limit=10,
              n_jobs=1)
    assert "what differs" in str(err.value)

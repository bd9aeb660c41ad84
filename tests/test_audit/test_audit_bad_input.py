"""Bad input: clear errors up front for what makes the whole audit meaningless, rows with
their status for what concerns one applicant."""

from __future__ import annotations

import numpy as np
import pytest

from recourse import InputValidationError, RecourseEngine, RecourseResult
from recourse.audit import audit


@pytest.fixture()
def run(tmp_path, german, forest):
    X_train, _, _, schema = german

    def go(data, out="out", **kw):
        kw.setdefault("target", "good")
        kw.setdefault("n_jobs", 1)
        kw.setdefault("report", False)  # the tests read the table and summary.json
        return audit(forest, data, schema, tmp_path / out, **kw)
    return go


def test_missing_columns_are_named(run, applicants):
    data = applicants.drop(columns=["credit_amount", "housing"])
    with pytest.raises(InputValidationError, match="credit_amount.*housing|housing.*credit"):
        run(data)


def test_empty_data_set(run, applicants):
    with pytest.raises(InputValidationError, match="empty"):
        run(applicants.iloc[:0])


def test_rows_with_nan_or_unknown_category_become_rows(run, applicants, forest):
    data = applicants.copy()
    nan_id, cat_id, text_id = data.index[0], data.index[1], data.index[2]
    data["credit_amount"] = data["credit_amount"].astype(float)
    data.loc[nan_id, "credit_amount"] = np.nan
    data["housing"] = data["housing"].astype(object)
    data.loc[cat_id, "housing"] = "castle"
    data["age_in_years"] = data["age_in_years"].astype(object)
    data.loc[text_id, "age_in_years"] = "forty"
    res = run(data)
    rows = res.results.set_index("id")
    for ident, word in ((nan_id, "credit_amount"), (cat_id, "castle"), (text_id, "forty")):
        assert rows.loc[ident, "status"] == "invalid_input"
        assert word in rows.loc[ident, "message"]
    valid = applicants.drop(index=[nan_id, cat_id, text_id])
    denied = set(valid.index[forest.predict(valid) != "good"])
    assert set(rows.index) == denied | {nan_id, cat_id, text_id}  # nothing dropped
    assert len(res.summary["invalid_input"]) == 3
    assert res.summary["overall"]["n_valid"] == len(denied)


def test_a_failing_applicant_is_a_row_not_a_crash(run, applicants, monkeypatch):
    # each applicant's query (an audit verifies a chunk's answers together, through
    # explain_many, which runs every query by _explain)
    original = RecourseEngine._explain
    calls = {"n": 0}

    def flaky(self, applicant, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("solver exploded")
        if calls["n"] == 3:
            return RecourseResult(status="time_limit", target="good", predicted="bad",
                                  factual={}, message="The time limit was reached.")
        return original(self, applicant, **kw)

    monkeypatch.setattr(RecourseEngine, "_explain", flaky)
    res = run(applicants)
    statuses = list(res.results["status"])
    assert statuses[1] == "error" and "solver exploded" in res.results["message"][1]
    assert statuses[2] == "time_limit"
    assert statuses.count("optimal") + statuses.count("feasible") == len(statuses) - 2
    assert [r["status"] for r in res.summary["unresolved"]] == ["error", "time_limit"]


def test_a_different_audit_in_the_directory_is_refused(run, applicants):
    run(applicants.head(12))
    with pytest.raises(InputValidationError, match="different audit.*overwrite"):
        run(applicants.head(14))
    with pytest.raises(InputValidationError, match="different audit"):
        run(applicants.head(12), norm="l0")
    res = run(applicants.head(14), overwrite=True)
    assert res.n_resumed == 0 and res.n_rows == 14


def test_a_foreign_directory_is_refused(run, applicants, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(InputValidationError, match="not empty"):
        run(applicants.head(5))
    run(applicants.head(5), overwrite=True)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"  # not ours: kept


@pytest.mark.parametrize("kw, match", [
    ({"target": None}, "Name the class"),
    ({"target": "great"}, "Unknown target"),
    ({"norm": "l2"}, "norm must be"),
    ({"select": "some"}, "select must be"),
    ({"id_column": "nope"}, "id column 'nope'"),
    ({"protected": "religion"}, "protected attribute 'religion'"),
    ({"protected": "credit_amount"}, "bin it"),
    ({"causal": object()}, "causal must be a recourse.CausalModel"),
    ({"n_jobs": 0}, "n_jobs"),
])
def test_bad_options(run, applicants, kw, match):
    with pytest.raises(InputValidationError, match=match):
        run(applicants, **kw)


def test_duplicated_ids(run, applicants):
    data = applicants.assign(ref=["A", "B"] + ["C"] * (len(applicants) - 2))
    with pytest.raises(InputValidationError, match="duplicated ids"):
        run(data, id_column="ref")
    data = applicants.assign(ref=[f"app-{i}" for i in range(len(applicants))])
    res = run(data, id_column="ref")
    assert res.results["id"].str.startswith("app-").all()


def test_select_all_reports_approved_applicants_too(run, applicants, forest):
    res = run(applicants, select="all")
    approved = (forest.predict(applicants) == "good").sum()
    assert len(res.results) == len(applicants)
    assert (res.results["status"] == "already_target").sum() == approved
    done = res.results[res.results["status"] == "already_target"]
    assert (done["cost"] == 0).all() and done["verified"].all() and (done["n_changes"] == 0).all()


def test_no_denied_applicant_gives_an_empty_audit_not_an_error(run, applicants, forest):
    approved = applicants[forest.predict(applicants) == "good"]
    res = run(approved, report=True)
    assert len(res.results) == 0 and res.n_rows == len(approved)
    assert res.summary["overall"]["recourse_rate"] is None
    assert "applicants audited: **0**" in res.files["summary_md"].read_text()

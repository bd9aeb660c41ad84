"""Audit rows against independent answers: per-applicant find_recourse, the model's own
predict on the reconstructed counterfactual, brute force over a one-feature action set,
and the same audit on local worker processes and without engine reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from recourse import find_recourse
from recourse.audit import AUDIT_STATUSES, audit

TOL = 1e-6


def _counterfactual(schema, factual: pd.Series, changes) -> dict:
    """Apply an audit row's changes (stored as text) to the applicant's own values."""
    cf = {n: factual[n] for n in schema.names}
    for ch in changes:
        f = schema[ch["feature"]]
        before = cf[ch["feature"]]
        if f.is_group:
            assert str(before) == ch["before"]
            cf[ch["feature"]] = next(c for c in f.categories if str(c) == ch["after"])
        else:
            assert float(before) == pytest.approx(float(ch["before"]))
            cf[ch["feature"]] = float(ch["after"])
            assert ch["delta"] == pytest.approx(float(ch["after"]) - float(before))
    return cf


@pytest.fixture(scope="module")
def serial(tmp_path_factory, german, forest, applicants):
    X_train, _, _, schema = german
    out = tmp_path_factory.mktemp("serial")
    return audit(forest, applicants, schema, out, target="good", reference=X_train,
                 n_jobs=1, chunk_size=7, protected="personal_status_and_sex")


def test_audits_exactly_the_denied_applicants(serial, forest, applicants):
    denied = applicants.index[forest.predict(applicants) != "good"]
    assert list(serial.results["id"]) == list(denied)
    assert serial.n_rows == len(applicants) and serial.n_audited == len(denied)
    assert list(serial.results["position"]) == [applicants.index.get_loc(i) for i in denied]
    assert set(serial.results["status"]) <= set(AUDIT_STATUSES)


def test_rows_equal_find_recourse_per_applicant(serial, german, forest, applicants):
    X_train, _, _, schema = german
    rows = serial.results.set_index("id")
    for ident in list(rows.index)[::3]:  # a sample of a third
        r = find_recourse(forest, applicants.loc[ident], schema, target="good",
                          reference=X_train)
        row = rows.loc[ident]
        assert row["status"] == r.status
        assert bool(row["optimal"]) == r.optimal and bool(row["verified"]) == r.verified
        if r.cost is None:
            assert pd.isna(row["cost"])
        else:
            assert row["cost"] == pytest.approx(r.cost, rel=TOL, abs=TOL)
            assert row["l0"] == pytest.approx(r.l0)
        assert [c["feature"] for c in row["changes"]] == [c.feature for c in r.changes]


def test_counterfactual_from_the_row_is_approved_by_the_model(serial, german, forest,
                                                              applicants):
    _, _, _, schema = german
    answered = serial.results[serial.results["status"].isin(["optimal", "feasible"])]
    assert len(answered) > 0
    cfs = [_counterfactual(schema, applicants.loc[r.id], r.changes)
           for r in answered.itertuples()]
    frame = pd.DataFrame(cfs, columns=schema.names)
    assert (forest.predict(frame) == "good").all()
    for r in answered.itertuples():
        assert r.n_changes == len(r.changes) >= 1
        assert sum(c["cost"] for c in r.changes) == pytest.approx(r.l1_cost, rel=1e-9)


def test_results_file_holds_one_row_per_applicant(serial):
    table = pq.read_table(serial.files["results"]).to_pandas()
    assert table["id"].is_unique and len(table) == serial.n_audited
    parts = pq.read_table(serial.out / "parts").to_pandas()
    assert sorted(parts["id"]) == sorted(table["id"])


def test_local_processes_and_no_reuse_give_the_same_rows(serial, tmp_path, german, forest,
                                                        applicants):
    X_train, _, _, schema = german
    par = audit(forest, applicants, schema, tmp_path / "par", target="good",
                reference=X_train, n_jobs=2, chunk_size=5, report=False)
    _same_rows(par.results, serial.results)
    few = applicants.loc[serial.results["id"].head(4)]
    fresh = audit(forest, few, schema, tmp_path / "fresh", target="good", reference=X_train,
                  n_jobs=1, reuse=False, report=False)
    _same_rows(fresh.results, serial.results.head(4))


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert list(a["id"]) == list(b["id"])
    assert list(a["status"]) == list(b["status"])
    np.testing.assert_allclose(a["cost"].astype(float), b["cost"].astype(float), rtol=TOL,
                               atol=TOL)
    assert [[c["feature"] for c in x] for x in a["changes"]] == \
        [[c["feature"] for c in x] for x in b["changes"]]


def test_summary_matches_a_direct_count(serial, applicants):
    s = serial.summary
    res = serial.results
    ok = [st in ("optimal", "feasible") for st in res["status"]]
    assert s["overall"]["n_recourse"] == sum(ok)
    assert s["overall"]["recourse_rate"] == pytest.approx(sum(ok) / len(res))
    costs = sorted(c for c, o in zip(res["cost"], ok) if o)
    assert s["cost"]["median"] == pytest.approx(float(np.median(costs)))
    counts: dict[str, int] = {}
    for chs, o in zip(res["changes"], ok):
        for ch in chs if o else []:
            counts[ch["feature"]] = counts.get(ch["feature"], 0) + 1
    top = s["top_features"][0]
    assert top["count"] == max(counts.values()) and counts[top["feature"]] == top["count"]
    by_group: dict[str, list[bool]] = {}
    for ident, o in zip(res["id"], ok):
        by_group.setdefault(str(applicants.loc[ident, "personal_status_and_sex"]), []).append(o)
    rates = {g: sum(v) / len(v) for g, v in by_group.items()}
    got = {r["group"]: r["recourse_rate"] for r in s["groups"]["rows"]}
    assert got == pytest.approx(rates)
    assert s["groups"]["recourse_rate_gap"] == pytest.approx(max(rates.values())
                                                             - min(rates.values()))


def test_report_files_are_written(serial):
    html = serial.files["report"].read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Applicants with no recourse" in html
    assert "By personal status and sex" in html
    md = serial.files["summary_md"].read_text(encoding="utf-8")
    assert "## Applicants with no recourse" in md and "| optimal |" in md


def test_no_recourse_against_brute_force(tmp_path, german, logreg):
    """Only the loan duration may change: brute force over every whole number of months in
    its bounds decides who has recourse and at what cost."""
    X_train, X_test, _, schema = german
    name = "duration_in_month"
    for f in schema:
        if f.name != name and not f.immutable:
            schema = schema.replace(f.name, immutable=True, direction="any")
    feat = schema[name]
    lo, hi = feat.bounds()
    data = X_test[logreg.predict(X_test) == "bad"].head(25)
    res = audit(logreg, data, schema, tmp_path / "one", target="good", n_jobs=1,
                report=False)
    assert "no_recourse" in set(res.results["status"])  # the oracle below is not vacuous
    grid = np.arange(int(lo), int(hi) + 1, dtype=float)
    for row in res.results.itertuples():
        trial = pd.DataFrame([data.loc[row.id]] * len(grid))
        trial[name] = grid
        ok = logreg.predict(trial) == "good"
        if not ok.any():
            assert row.status == "no_recourse"
            continue
        assert row.status == "optimal"
        best = np.min(np.abs(grid[ok] - float(data.loc[row.id, name])))
        assert row.cost == pytest.approx(feat.weight * best / feat.scale, rel=TOL)
    listed = [r["id"] for r in res.summary["no_recourse"]]
    assert listed == list(res.results.loc[res.results["status"] == "no_recourse", "id"])
    csv = pd.read_csv(res.files["no_recourse"])
    assert list(csv["id"]) == listed


def test_causal_audit_equals_find_recourse_and_marks_consequences(tmp_path, german, forest,
                                                                  applicants):
    """With a causal model every row equals find_recourse(..., causal=) and the changes
    column says which changes are actions and which follow as consequences."""
    from recourse.datasets.graphs import example_causal_model

    X_train, _, _, schema = german
    cm = example_causal_model("german")
    res = audit(forest, applicants.head(40), schema, tmp_path / "causal", target="good",
                reference=X_train, n_jobs=1, causal=cm, report=False)
    assert len(res.results) > 0
    for _, row in res.results.iterrows():
        r = find_recourse(forest, applicants.loc[row["id"]], schema, target="good",
                          reference=X_train, causal=cm)
        assert row["status"] == r.status
        if r.cost is not None:
            assert row["cost"] == pytest.approx(r.cost, rel=TOL, abs=TOL)
        roles = {c["feature"]: c["role"] for c in row["changes"]}
        assert roles == {**{c.feature: "action" for c in r.changes},
                         **{c.feature: "consequence" for c in r.consequences}}

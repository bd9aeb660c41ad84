"""Audits at portfolio scale: the audit streams, and its report stays readable.

The solver is replaced by a cheap stand-in whose answer is a known function of the row's
position (status, cost and three changes), so thousands of applicants are audited in
seconds and every figure has an independent oracle: the formula itself. What is measured
is the coordinating process, which is what must not grow with the rows' answers.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import recourse.audit.workers as workers
from recourse.audit import audit
from recourse.audit.rows import error_row
from recourse.audit.why import empty_why
from recourse.datasets import load_german_credit

MESSAGE = "x" * 400  # a long message per applicant makes holding every row visible
CHANGED = ("duration_in_month", "credit_amount", "age_in_years")


def _status(position: int) -> str:
    return {0: "no_recourse", 1: "time_limit"}.get(position % 10, "optimal")


def _cost(position: int) -> float:
    return float(position % 7 + 1)


def _fake_solve(spec, engine, position, ident, raw, problem):
    """The audit row the formula gives (input problems as the real one)."""
    if problem is not None or raw is None:
        return {**error_row(ident, position, "invalid_input", problem or "no data",
                            target=spec.target, norm=spec.norm), **empty_why()}
    row = {**error_row(ident, position, "error", "", target=spec.target, norm=spec.norm),
           **empty_why()}
    status = _status(position)
    row.update(status=status, message=f"{status} {MESSAGE}", predicted="bad")
    if status == "no_recourse":
        row.update(why_sets=[{"rules": ["immutable:age"], "texts": ["Age is immutable"],
                              "cost": 1.0, "verified": True, "changes": []}],
                   why_cost=1.0, why_complete=True, why_time=0.0)
    if status == "optimal":
        changes = [{"feature": f, "before": "1", "after": "2", "before_value": 1.0,
                    "after_value": 2.0, "delta": 1.0, "cost": _cost(position) / 3,
                    "role": "action"} for f in CHANGED]
        row.update(cost=_cost(position), l1_cost=_cost(position), l0=3.0, n_changes=3,
                   optimal=True, verified=True, changes=changes, total_time=0.001)
    return row


def _fake_chunk(spec, chunk):
    return chunk.index, [_fake_solve(spec, None, *record) for record in chunk.records]


@pytest.fixture()
def fake_solver(monkeypatch):
    monkeypatch.setattr(workers, "solve_chunk", _fake_chunk)


def _population(n: int) -> tuple[pd.DataFrame, object]:
    """``n`` German-credit rows with ids ``app-NNNNNN``; every tenth (position 2 mod 10)
    has a missing value (an ``invalid_input`` row)."""
    X, _, schema = load_german_credit()
    data = X.iloc[np.arange(n) % len(X)].reset_index(drop=True)
    data.insert(0, "app_id", [f"app-{i:06d}" for i in range(n)])
    data["duration_in_month"] = data["duration_in_month"].astype(float)
    data.loc[data.index % 10 == 2, "duration_in_month"] = np.nan
    return data, schema


def _run(forest, n, out, progress=None, **kw):
    data, schema = _population(n)
    return audit(forest, data, schema, out, target="good", select="all", n_jobs=1,
                 id_column="app_id", chunk_size=50, progress=progress, **kw)


def _measured(forest, n, out):
    """Run an audit of ``n`` rows and measure the coordinating process.

    Returns the Arrow bytes it holds when the last chunk is committed (minus those at the
    start), and the peak of Python allocations after that moment (assembly, summary,
    report), as traced by ``tracemalloc`` from the last commit to the end of the call.
    """
    seen: dict[str, int] = {}

    def progress(done, total):
        if done == 0:
            seen["arrow0"] = pa.total_allocated_bytes()
        if done == total:
            seen["arrow"] = pa.total_allocated_bytes() - seen["arrow0"]
            tracemalloc.start()
            tracemalloc.reset_peak()

    try:
        res = _run(forest, n, out, progress=progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return res, seen["arrow"], peak


def test_results_are_committed_chunk_by_chunk(forest, tmp_path, fake_solver):
    """When the k-th chunk is reported done, exactly k part files are on disk and
    hold exactly the applicants reported done (a run that wrote its parts at the end, or
    all at once, fails)."""
    import pyarrow.parquet as pq

    seen = []

    def progress(done, total):
        parts = sorted((tmp_path / "a" / "parts").glob("part-*.parquet"))
        rows = sum(pq.read_metadata(p).num_rows for p in parts)
        seen.append((done, total, len(parts), rows))

    _run(forest, 400, tmp_path / "a", progress=progress)
    assert [s[0] for s in seen] == list(range(0, 401, 50))
    for k, (done, _, n_parts, rows) in enumerate(seen):
        assert (n_parts, rows) == (k, done)


def test_memory_does_not_grow_with_the_rows_answers(forest, tmp_path, fake_solver):
    """The coordinating process neither keeps the committed chunks (Arrow bytes held at
    the last commit) nor materialises every row's answer to summarise (Python peak after
    it): per extra row, both grow by far less than one row's answer. Measured here: 0
    Arrow bytes and about 150-320 bytes of peak per extra row when streaming (the flat
    columns); 819 Arrow bytes and about 1,100-1,300 bytes of peak when every committed
    chunk is kept, or the whole table is read into pandas to summarise it."""
    small, large = 1000, 4000
    _run(forest, 100, tmp_path / "warm")  # one-off imports and caches are not the rows'
    res_s, arrow_s, peak_s = _measured(forest, small, tmp_path / "s")
    res_l, arrow_l, peak_l = _measured(forest, large, tmp_path / "l")
    assert res_l.summary["overall"]["n"] == large  # the audit covered every row
    per_row_arrow = (arrow_l - arrow_s) / (large - small)
    per_row_peak = (peak_l - peak_s) / (large - small)
    assert per_row_arrow < 64, f"{per_row_arrow:.0f} Arrow bytes held per extra row"
    assert per_row_peak < 640, f"{per_row_peak:.0f} bytes of peak per extra row"


@pytest.fixture(scope="module")
def audit_3000(forest, tmp_path_factory):
    """One audit of 3,000 applicants with the fake solver, read by the two tests below
    (neither changes it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workers, "solve_chunk", _fake_chunk)
        return _run(forest, 3000, tmp_path_factory.mktemp("audit3000") / "a")


def test_figures_streamed_from_the_store_match_the_formula(audit_3000):
    n = 3000
    res = audit_3000
    pos = np.arange(n)
    invalid = pos % 10 == 2
    status = np.array([_status(p) for p in pos], dtype=object)
    status[invalid] = "invalid_input"
    expected = pd.Series(status).value_counts().to_dict()
    assert res.summary["status_counts"] == expected
    answered = (status == "optimal")
    costs = np.array([_cost(p) for p in pos[answered]])
    assert res.summary["cost"]["median"] == pytest.approx(float(np.median(costs)))
    assert res.summary["cost"]["mean"] == pytest.approx(float(costs.mean()))
    top = {t["feature"]: t["count"] for t in res.summary["top_features"]}
    assert top == dict.fromkeys(CHANGED, int(answered.sum()))
    nr = pd.read_csv(res.files["no_recourse"])  # the full listing: every one
    assert list(nr["id"]) == [f"app-{p:06d}" for p in pos[status == "no_recourse"]]
    why = res.summary["why"]
    assert why["n_analysed"] == int((status == "no_recourse").sum())
    assert why["rules"] == [{"rule": "immutable:age", "text": "Age is immutable",
                             "alone": why["n_analysed"], "any": why["n_analysed"]}]


def test_report_stays_readable_at_size(audit_3000):
    """3,000 applicants, 300 of them without recourse, 300 unresolved, 300 invalid: the
    HTML and Markdown name at most the cap of applicants per table, say how many there
    are in all, and the HTML stays small (plots aggregate)."""
    n = 3000
    res = audit_3000
    html = res.files["report"].read_text(encoding="utf-8")
    md = res.files["summary_md"].read_text(encoding="utf-8")
    cap = 100  # the most applicants a report table may name
    n_each = n // 10  # no_recourse, time_limit, invalid_input
    for text in (html, md):
        ids = re.findall(r"app-\d{6}", text)
        # four per-applicant tables: no recourse, why, unresolved, invalid input
        assert len(ids) <= 4 * cap, len(ids)
        assert f"of {n_each} are listed" in text
    assert f"Applicants with no recourse ({n_each})" in html
    assert len(html.encode()) < 600_000, len(html.encode())
    assert len(md.encode()) < 200_000, len(md.encode())
    assert html.count("<img") <= 8  # a fixed number of aggregate plots, whatever n is

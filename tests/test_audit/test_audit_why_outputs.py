"""The why analysis in an audit's outputs: its deadline, the report and summary (escaped,
with display labels), the bank's note beside the letters (never in them), and the CLI."""

from __future__ import annotations

import json
import time

import pytest
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

import recourse.engine.preclusion as preclusion_module
import recourse.engine.run as run_module
from recourse import RecourseEngine
from recourse.audit import audit
from recourse.cli import app
from recourse.io import save_model
from recourse.letters import preclusion_summary, render_letter, write_letters
from tests.synthdata import tree_pipeline
from tests.test_recourse.test_preclusion import RANGES, X, Y, _schema

HOSTILE = "<script>alert(1)</script> *Debt* | [x](y)"


@pytest.fixture(scope="module")
def tree():
    return tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0)).fit(X, Y)


def test_why_never_outlives_the_query_deadline(tree, tmp_path, monkeypatch):
    """The analysis and each verification run get at most what is left of the
    applicant's own deadline (the audit's time_limit), never a fresh second."""
    seen = {"calls": 0, "runs": 0}
    original, original_run = preclusion_module.preclusion, run_module.run

    def watched(engine, q, **kw):
        seen["calls"] += 1
        assert time.perf_counter() + kw["time_limit"] <= q.deadline.end + 1e-3
        seen["end"] = q.deadline.end
        try:
            return original(engine, q, **kw)
        finally:
            seen.pop("end")

    def watched_run(P, q):
        if "end" in seen:
            seen["runs"] += 1
            assert q.deadline.end <= seen["end"] + 1e-3
        return original_run(P, q)

    monkeypatch.setattr(preclusion_module, "preclusion", watched)
    monkeypatch.setattr(run_module, "run", watched_run)
    res = audit(tree, X.head(12), _schema(), tmp_path, target=1, time_limit=0.5, n_jobs=1,
                why=3, relaxed_range=RANGES, report=False)
    n = int((res.results["status"] == "no_recourse").sum())
    assert n and seen["calls"] == n and seen["runs"] >= 1


def test_report_and_summary_show_the_rule_table_escaped(tree, tmp_path):
    schema = _schema().replace("debt", label=HOSTILE)
    res = audit(tree, X.head(24), schema, tmp_path, target=1, time_limit=30, n_jobs=1,
                why=8, relaxed_range=RANGES)
    why = res.summary["why"]
    # the rule in words carries the display label (the oracle: the schema's label)
    texts = {r["rule"]: r["text"] for r in why["rules"]}
    assert texts["immutable:debt"].startswith(HOSTILE)
    html = (tmp_path / "report.html").read_text()
    md = (tmp_path / "summary.md").read_text()
    assert "<script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "in some minimal set" in html and "alone precludes" in md
    # every rule's row with its counts, in both
    for r in why["rules"]:
        assert f"<code>{r['rule']}</code></td><td class=\"n\">{r['alone']}</td>" \
               f"<td class=\"n\">{r['any']}</td>" in html
        assert f"| {r['rule']} | {r['alone']} | {r['any']} |" in md
    rows = [ln for ln in md.splitlines() if "alert" in ln and ln.startswith("| ")]
    assert rows  # the hostile label cannot open a cell, a link or emphasis
    for line in rows:
        assert "\\*Debt\\*" in line and "\\[x\\]\\(y\\)" in line and " \\| " in line


def test_bank_note_beside_the_letter_never_in_it(tree, tmp_path):
    schema = _schema().replace("debt", label="Outstanding debt")
    res = audit(tree, X.head(24), schema, tmp_path / "a", target=1, time_limit=30,
                n_jobs=1, why=8, relaxed_range=RANGES, report=False)
    written = write_letters(tmp_path / "a" / "results.parquet", tmp_path / "l", schema)
    nr = res.results[res.results["status"] == "no_recourse"]
    analysed = nr[nr["why_complete"].notna()]
    assert len(written.notes) == len(analysed) > 0
    eng = RecourseEngine(tree, schema)
    for row in analysed.itertuples(index=False):
        ident = str(row.id)
        letter = (tmp_path / "l" / f"letter_{ident}.md").read_text()
        note = (tmp_path / "l" / f"bank-note_{ident}.md").read_text()
        full = eng.explain(X.iloc[row.position], target=1, time_limit=30, why=8,
                           relaxed_range=RANGES)
        for s in full.preclusion.sets:  # the oracle: explain's own sets, in words
            for r in s.rules:
                assert r.text in note
                assert r.text not in letter
        assert "relax" not in letter.lower() and "bank-note" not in letter
        # a result with its preclusion attached renders the same letter as without it
        text = render_letter(full, schema, applicant_id=ident, appendix="full")
        assert all(r.text not in text for s in full.preclusion.sets for r in s.rules)
        assert "relax" not in text.lower()


def test_preclusion_summary_uses_display_labels(tree):
    schema = _schema().replace("debt", label="Outstanding debt")
    eng = RecourseEngine(tree, schema)
    for i in range(len(X)):
        res = eng.explain(X.iloc[i], target=1, time_limit=30, why=3, relaxed_range=RANGES)
        if res.preclusion is not None and any(
                c.feature == "debt" for s in res.preclusion.sets for c in s.changes):
            break
    else:
        pytest.fail("the test needs a relaxation that changes debt")
    text = preclusion_summary(res.preclusion, schema)
    assert "Outstanding debt: " in text and "change debt" not in text


def test_cli_audit_why(tree, tmp_path):
    model = save_model(tree, tmp_path / "m.skops")
    _schema().to_yaml(tmp_path / "s.yaml")
    X.head(12).to_csv(tmp_path / "d.csv", index=False)
    args = ["audit", "-m", str(model), "-d", str(tmp_path / "d.csv"), "-s",
            str(tmp_path / "s.yaml"), "-o", str(tmp_path / "o"), "--target", "1", "-j", "1",
            "--no-report"]
    res = CliRunner().invoke(app, [*args, "--why-sets", "2"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["why"]["n_analysed"] == summary["overall"]["n_no_recourse"] > 0
    assert "alone precludes" in res.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["identity"]["why"] == 2
    again = CliRunner().invoke(app, [*args, "--why"])
    assert again.exit_code != 0 and "why" in again.output and "what differs" in again.output

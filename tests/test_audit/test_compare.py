"""recourse compare against two separate audits, hand-built tables and the CLI's exit
codes; the gate grammar; hostile labels in the reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from typer.testing import CliRunner

from recourse.audit import audit
from recourse.audit.compare import compare, compare_tables, figures, parse_gate
from recourse.cli import app
from recourse.encoders.errors import InputValidationError
from recourse.io import save_model
from tests.test_audit.conftest import _pipeline

TOL = 1e-6


@pytest.fixture(scope="module")
def forest_seed1(german):
    X_train, _, y_train, schema = german
    est = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=1)
    return _pipeline(schema, est).fit(X_train, y_train)


@pytest.fixture(scope="module")
def alone(tmp_path_factory, german, applicants, forest, forest_seed1, logreg):
    """Each model audited alone (the oracle)."""
    X_train, _, _, schema = german
    return {name: audit(m, applicants, schema, tmp_path_factory.mktemp(f"alone_{name}"),
                        target="good", n_jobs=1, report=False).results.set_index("id")
            for name, m in (("forest", forest), ("seed1", forest_seed1), ("logreg", logreg))}


def _check_against_alone(table, applicants, model_a, model_b, alone_a, alone_b):
    t = table.set_index("id")
    assert list(t.index) == list(applicants.index)
    for side, model, ref in (("a", model_a, alone_a), ("b", model_b, alone_b)):
        approved = model.predict(applicants) == "good"
        assert list(t[f"decision_{side}"] == "approved") == list(approved)
        assert set(t.index[t[f"decision_{side}"] == "denied"]) == set(ref.index)
        for ident, row in ref.iterrows():
            assert t.loc[ident, f"status_{side}"] == row["status"]
            if pd.isna(row["cost"]):
                assert pd.isna(t.loc[ident, f"cost_{side}"])
            else:
                assert t.loc[ident, f"cost_{side}"] == pytest.approx(row["cost"], abs=TOL)
                assert t.loc[ident, f"l0_{side}"] == pytest.approx(row["l0"], abs=TOL)
    # transitions from the model's predict and the separate audits' statuses
    for ident in t.index:
        da = ident in alone_a.index
        db = ident in alone_b.index
        has_a = da and alone_a.loc[ident, "status"] in ("optimal", "feasible")
        has_b = db and alone_b.loc[ident, "status"] in ("optimal", "feasible")
        expected = ("approved_both" if not da and not db else "newly_denied" if not da
                    else "newly_approved" if not db
                    else "kept_recourse" if has_a and has_b
                    else "lost_recourse" if has_a else "gained_recourse" if has_b
                    else "precluded_both")
        assert t.loc[ident, "transition"] == expected, ident
        if expected == "kept_recourse":
            assert t.loc[ident, "cost_change"] == pytest.approx(
                alone_b.loc[ident, "cost"] - alone_a.loc[ident, "cost"], abs=TOL)


@pytest.mark.parametrize("other", ["seed1", "logreg"])
def test_compare_equals_two_separate_audits(tmp_path, german, applicants, forest,
                                            forest_seed1, logreg, alone, other):
    _, _, _, schema = german
    model_b = {"seed1": forest_seed1, "logreg": logreg}[other]
    res = compare(forest, model_b, applicants, schema, tmp_path / "cmp", target="good",
                  protected="foreign_worker", n_jobs=1, report=False)
    _check_against_alone(res.table, applicants, forest, model_b, alone["forest"],
                         alone[other])
    # the overall figures from the separate audits and predict
    pa_, pb = (m.predict(applicants) != "good" for m in (forest, model_b))
    o = res.summary["overall"]
    assert o["denial_rate_a"] == pytest.approx(pa_.mean())
    assert o["denial_rate_b"] == pytest.approx(pb.mean())
    costs_a = alone["forest"]["cost"].dropna()
    costs_b = alone[other]["cost"].dropna()
    assert o["median_cost_ratio"] == pytest.approx(np.median(costs_b) / np.median(costs_a))
    pre = [(alone[k]["status"] == "no_recourse").sum() / len(applicants)
           for k in ("forest", other)]
    assert o["precluded_increase"] == pytest.approx(pre[1] - pre[0])
    # per group: the group's rows only
    for g, fig in res.summary["groups"].items():
        m = (applicants["foreign_worker"].astype(str) == g).to_numpy()
        assert fig["denial_rate_b"] == pytest.approx(pb[m].mean())
    # rerun: both audits resume, nothing is solved again, same table
    again = compare(forest, model_b, applicants, schema, tmp_path / "cmp", target="good",
                    protected="foreign_worker", n_jobs=1, report=False)
    assert again.audit_a.n_solved == 0 and again.audit_b.n_solved == 0
    pd.testing.assert_frame_equal(again.table, res.table)


def _results(rows):
    """A hand-built audit table: rows of (position, status, cost)."""
    return pd.DataFrame({"position": [r[0] for r in rows], "status": [r[1] for r in rows],
                         "cost": [r[2] for r in rows],
                         "l0": [np.nan if r[2] is None else 1.0 for r in rows],
                         "n_changes": [0 if r[2] is None else 1 for r in rows]},
                        ).astype({"cost": float})


def test_hand_built_transitions_and_figures():
    # 8 applicants. A denies 0-5 and 7 (7 invalid); B denies 0-4, 6 and 7 (invalid).
    a = _results([(0, "optimal", 1.0), (1, "optimal", 2.0), (2, "no_recourse", None),
                  (3, "optimal", 4.0), (4, "no_recourse", None), (5, "optimal", 1.0),
                  (7, "invalid_input", None)])
    b = _results([(0, "optimal", 1.5), (1, "no_recourse", None), (2, "optimal", 3.0),
                  (3, "time_limit", None), (4, "no_recourse", None), (6, "no_recourse", None),
                  (7, "invalid_input", None)])
    t = compare_tables(a, b, pd.Series(list("abcdefgh")))
    assert list(t["transition"]) == ["kept_recourse", "lost_recourse", "gained_recourse",
                                      "unresolved", "precluded_both", "newly_approved",
                                      "newly_denied", "invalid"]
    f = figures(t)
    assert f["n_valid"] == 7
    assert f["denial_rate_a"] == pytest.approx(6 / 7)
    assert f["denial_rate_b"] == pytest.approx(6 / 7)
    assert f["precluded_rate_a"] == pytest.approx(2 / 7)   # 2, 4
    assert f["precluded_rate_b"] == pytest.approx(3 / 7)   # 1, 4, 6
    assert f["precluded_increase"] == pytest.approx(1 / 7)
    assert f["newly_precluded"] == pytest.approx(2 / 7)    # 1 (lost), 6 (newly denied)
    assert f["recourse_rate_a"] == pytest.approx(4 / 6)    # 0, 1, 3, 5
    assert f["recourse_rate_b"] == pytest.approx(2 / 6)    # 0, 2
    assert f["median_cost_a"] == pytest.approx(1.5)        # 1, 2, 4, 1
    assert f["median_cost_b"] == pytest.approx(2.25)       # 1.5, 3
    assert f["median_cost_ratio"] == pytest.approx(1.5)
    assert f["median_cost_change"] == pytest.approx(0.5)   # applicant 0 only
    assert f["lost_recourse"] == pytest.approx(1 / 7)


@pytest.mark.parametrize("text, parsed", [
    ("precluded_increase>0.01", ("precluded_increase", None, ">", 0.01)),
    (" median_cost_ratio [*] >= 1.2 ", ("median_cost_ratio", "*", ">=", 1.2)),
    ("lost_recourse[yes]<=1e-3", ("lost_recourse", "yes", "<=", 0.001)),
    ("median_cost_change<-.5", ("median_cost_change", None, "<", -0.5)),
])
def test_gate_grammar(text, parsed):
    g = parse_gate(text, ["no", "yes"])
    assert (g.metric, g.group, g.op, g.value) == parsed


@pytest.mark.parametrize("text, words", [
    ("precluded_increase > 1%", "Cannot read"),
    ("precluded_increase == 0.1", "Cannot read"),
    ("median_cost>1.2", "Unknown metric 'median_cost'"),
    ("lost_recourse[maybe]>0", "Unknown group 'maybe'"),
    ("", "Cannot read"),
])
def test_bad_gates_are_refused_with_a_clear_message(text, words):
    with pytest.raises(InputValidationError, match=words.replace("(", r"\(")):
        parse_gate(text, ["no", "yes"])
    with pytest.raises(InputValidationError, match="no protected attribute"):
        parse_gate("lost_recourse[yes]>0", None)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, german, applicants, forest, logreg):
    _, _, _, schema = german
    d = tmp_path_factory.mktemp("cmp_cli")
    hostile = applicants.assign(team=["<img src=x onerror=alert(1)>", "a|b](http://e)"]
                                * (len(applicants) // 2),
                                app=[f"<b>id{i}</b>" for i in range(len(applicants))])
    hostile.to_parquet(d / "applicants.parquet")
    schema.to_yaml(d / "schema.yaml")
    return {"a": save_model(forest, d / "a.skops"), "b": save_model(logreg, d / "b.skops"),
            "data": d / "applicants.parquet", "schema": d / "schema.yaml", "dir": d}


def _run(files, out, *gates, protected="team"):
    args = ["compare", "--model-a", str(files["a"]), "--model-b", str(files["b"]),
            "--data", str(files["data"]), "--schema", str(files["schema"]), "--out",
            str(out), "--target", "good", "--protected", protected, "--jobs", "1",
            "--id-column", "app"]
    for g in gates:
        args += ["--fail-if", g]
    return CliRunner().invoke(app, args)


def test_cli_exit_codes_and_escaped_reports(cli_files):
    out = cli_files["dir"] / "gate"
    ok = _run(cli_files, out, "denial_rate_b<0")    # cannot hold
    assert ok.exit_code == 0, ok.output
    assert "FAILED" not in (out / "compare.md").read_text()
    # the same directory: both audits resume (a gate is not part of an audit's identity)
    failed = _run(cli_files, out, "denial_rate_b>=0")                     # always holds
    assert failed.exit_code == 3 and "FAILED: denial_rate_b>=0" in failed.output
    bad = _run(cli_files, out, "denial_rate_b[nobody]>0")
    assert bad.exit_code == 2 and "Unknown group" in bad.output
    html = (out / "compare.html").read_text()
    md = (out / "compare.md").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in md and "](http" not in md and "<b>" not in md
    assert "&lt;b&gt;id" in html  # hostile ids listed (newly denied), as text
    assert "FAILED" in html and "FAILED" in md
    # no element but those the template itself writes outside its loops
    import re
    from importlib.resources import files

    from tests.test_fuzz.hostile import live_markup

    src = files("recourse.audit").joinpath("templates/compare.html.j2").read_text("utf-8")
    allowed: dict[str, int] = {}
    for tag in re.findall(r"<([a-z][a-z0-9]*)", src):
        allowed[tag] = allowed.get(tag, 0) + 1
    assert not live_markup(html, allowed=allowed)


def test_group_gates_around_the_value_from_predict(tmp_path, german, applicants, forest,
                                                   logreg):
    """A per-group threshold just below the group's denial rate (computed from the
    model's predict) fails the gate, just above passes; [*] fails iff some group's rate
    is above."""
    denied = logreg.predict(applicants) != "good"
    groups = applicants["foreign_worker"].astype(str).to_numpy()
    rates = {g: denied[groups == g].mean() for g in set(groups)}
    rate, top = rates["yes"], max(rates.values())
    gates = [f"denial_rate_b[yes]>{rate - 1e-9}", f"denial_rate_b[yes]>{rate + 1e-9}",
             f"denial_rate_b[*]>{top - 1e-9}", f"denial_rate_b[*]>{top + 1e-9}"]
    res = compare(forest, logreg, applicants, german[3], tmp_path, target="good",
                  protected="foreign_worker", fail_if=gates, n_jobs=1, report=False)
    assert [g["failed"] for g in res.summary["gates"]] == [True, False, True, False]
    assert not res.passed and len(res.failed_gates) == 2


def test_foreign_files_in_out_are_refused(tmp_path, german, applicants, forest, logreg):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputValidationError, match="notes.txt"):
        compare(forest, logreg, applicants, german[3], tmp_path, target="good")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_gate_evaluation_at_the_boundary_and_undefined():
    from recourse.audit.compare import evaluate_gates

    def failed(text, overall, groups=None):
        gate = parse_gate(text, list(groups or {}) or None)
        return evaluate_gates([gate], overall, groups or {})[0]["failed"]

    assert not failed("lost_recourse>0.5", {"lost_recourse": 0.5})
    assert failed("lost_recourse>=0.5", {"lost_recourse": 0.5})
    assert not failed("lost_recourse<0.5", {"lost_recourse": 0.5})
    assert failed("lost_recourse<=0.5", {"lost_recourse": 0.5})
    assert failed("median_cost_ratio>1.2", {"median_cost_ratio": None})  # undefined fails
    groups = {"x": {"median_cost_ratio": None}, "y": {"median_cost_ratio": 1.1}}
    assert not failed("median_cost_ratio[*]>1.2", {}, groups)  # x not evaluated
    assert failed("median_cost_ratio[x]>1.2", {}, groups)      # named and undefined
    assert failed("median_cost_ratio[*]>1.0", {}, groups)


def test_causal_invalid_rows_and_an_id_column(tmp_path, german, applicants, forest, logreg):
    """Causal recourse, a row with a missing value and string ids: the comparison still
    equals the two audits run alone with the same options."""
    from recourse.datasets.graphs import example_causal_model

    _, _, _, schema = german
    causal = example_causal_model("german")
    data = applicants.head(12).copy()
    data.iloc[3, data.columns.get_loc(schema.names[1])] = np.nan
    data["ref"] = [f"app-{i}" for i in range(len(data))]
    res = compare(forest, logreg, data, schema, tmp_path / "cmp", target="good",
                  id_column="ref", causal=causal, n_jobs=1, report=False)
    t = res.table.set_index("id")
    assert t.loc["app-3", "transition"] == "invalid"
    assert res.summary["overall"]["counts"]["invalid"] == 1
    assert res.summary["overall"]["n_valid"] == 11
    for name, model in (("a", forest), ("b", logreg)):
        ref = audit(model, data, schema, tmp_path / f"alone_{name}", target="good",
                    id_column="ref", causal=causal, n_jobs=1, report=False)
        for row in ref.results.itertuples():
            assert t.loc[row.id, f"status_{name}"] == row.status
            if not pd.isna(row.cost):
                assert t.loc[row.id, f"cost_{name}"] == pytest.approx(row.cost, abs=TOL)
    with pytest.raises(InputValidationError, match="select"):
        compare(forest, logreg, data, schema, tmp_path / "x", target="good", select="all")

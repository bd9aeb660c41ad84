"""Letters: content rules, units, traceability, templates, batch, CLI.

Oracles: the schema itself (which features are immutable, their units), hashlib and
importlib.metadata for the trace, the model's own predict for every option shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import re
from importlib import metadata

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from letter_cases import CLOCK, case, german_tree
from oracles import model_predict
from recourse import InputValidationError, RecourseEngine
from recourse.cli import app
from recourse.errors import BackendUnavailableError
from recourse.io import save_model
from recourse.letters import (
    action_set_summary,
    fixed_clock,
    make_trace,
    model_fingerprint,
    render_letter,
    schema_hash,
    write_letter,
    write_letters,
)
from recourse.result import Change, RecourseOptions, RecourseResult

runner = CliRunner()


@pytest.fixture(scope="module")
def german_options():
    """Options (k=3) for 12 denied test applicants of the German tree and logreg."""
    from recourse.datasets import make_model, train_test

    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    out = []
    for kind in ("tree", "logreg"):
        model = make_model(kind, X_train, y_train, seed=0, schema=schema)
        engine = RecourseEngine(model, schema, reference=X_train)
        denied = X_test[model.predict(X_test) == "bad"].head(6)
        for idx, row in denied.iterrows():
            out.append((f"{kind}-{idx}", model, row.to_dict(),
                        engine.options(row, k=3, target="good")))
    return schema, out


def _change_lines(text: str) -> list[str]:
    """The action lines of a Markdown letter ("- Reduce ..." under the options)."""
    body = text.split("## What would change the decision", 1)[-1]
    body = body.split("## What we did not ask you to change", 1)[0]
    body = body.split("Expected consequences", 1)[0]
    return [ln[2:] for ln in body.splitlines() if ln.startswith("- ")]


def test_options_in_letters_are_verified_distinct_and_mutable(german_options):
    schema, cases = german_options
    immutable = {f.name: f.display for f in schema if f.immutable}
    n_lines = 0
    for ident, model, x, opts in cases:
        assert opts.options, (ident, opts.message)
        sets = []
        for res in opts:
            assert model_predict(model, schema, [res.counterfactual])[0] == "good", ident
            changed = frozenset(n for n in schema.names if res.counterfactual[n] != x[n]
                                and str(res.counterfactual[n]) != str(x[n])
                                and not _num_equal(res.counterfactual[n], x[n]))
            assert changed == frozenset(c.feature for c in res.changes)
            assert not changed & set(immutable), (ident, changed)
            assert not any(s <= changed for s in sets), (ident, sets, changed)
            sets.append(changed)
        text = render_letter(opts, schema, applicant_id=ident, clock=CLOCK)
        lines = _change_lines(text)
        assert len(lines) == sum(len(r.changes) for r in opts)
        for ln in lines:
            n_lines += 1
            for label in immutable.values():
                assert label not in ln.lower(), (ident, ln)
    assert n_lines >= 24


def _num_equal(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _units_oracle(f, v) -> str:
    """Independent formatting: thousands separators, no decimals for whole numbers."""
    v = float(v)
    text = f"{int(round(v)):,}" if v == round(v) else f"{v:,.2f}"
    return f"{text} {f.unit}".strip()


def _shown(markdown: str) -> str:
    """Markdown as displayed: CommonMark backslash escapes removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def test_numbers_are_in_the_schemas_units(german_options):
    schema, cases = german_options
    seen_units = set()
    for ident, _, _, opts in cases:
        text = _shown(render_letter(opts, schema, applicant_id=ident, clock=CLOCK))
        html = render_letter(opts, schema, format="html", applicant_id=ident, clock=CLOCK)
        for res in opts:
            for c in res.changes:
                f = schema[c.feature]
                if f.is_group:
                    assert f"“{c.before}” to “{c.after}”" in text
                    continue
                b, a = _units_oracle(f, c.before), _units_oracle(f, c.after)
                assert f"from {b} to {a}" in text, (ident, c, b, a)
                assert f"from {b} to {a}" in html
                seen_units.add(f.unit)
    assert {"DM", "months"} <= seen_units


def test_immutable_change_is_refused(german_options):
    schema, _ = german_options
    bad = RecourseResult(status="optimal", target="good", predicted="bad", factual={},
                         changes=[Change("foreign_worker", "yes", "no")], cost=1.0,
                         optimal=True, verified=True)
    with pytest.raises(InputValidationError, match="immutable feature 'foreign_worker'"):
        render_letter(bad, schema, applicant_id="x", clock=CLOCK)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_no_recourse_is_stated_explicitly(german_options, fmt):
    schema, _ = german_options
    res = RecourseResult(status="no_recourse", target="good", predicted="bad", factual={},
                         message="proven")
    text = render_letter(res, schema, format=fmt, applicant_id="x", clock=CLOCK)
    assert "No change would lead to approval" in text
    assert "No combination of the changes you are able to make" in text
    assert "This was proven, not merely not found" in text
    assert "What would change" not in text and "optimality proven: no" not in text.lower()


def test_unproven_and_unverified_are_flagged(german_options):
    schema, _ = german_options
    res = RecourseResult(status="feasible", target="good", predicted="bad", factual={},
                         changes=[Change("housing", "rent", "own")], cost=1.0, bound=0.5,
                         gap=0.5, optimal=False, verified=False)
    text = render_letter(res, schema, applicant_id="x", clock=CLOCK)
    assert "We could not establish that no smaller change exists" in text
    assert "could not be checked with our model itself; do not rely on them" in text
    # the figures go to the bank's appendix, not to the applicant's text
    letter, appendix = text.split("## Appendix for the bank's file", 1)
    assert "0.5" not in letter and "| 1 | feasible | no | no | 1 | 0.5 | 50.00% |" in appendix
    # an unverified option backs no reason
    assert "Principal reasons" not in letter


def test_consequences_only_when_given(german_options):
    schema, cases = german_options
    opts = cases[0][3]
    plain = render_letter(opts, schema, applicant_id="x", clock=CLOCK)
    assert "Expected consequences" not in plain
    cons = [[Change("age_in_years", 30, 33)]]
    text = render_letter(opts, schema, applicant_id="x", clock=CLOCK, consequences=cons)
    assert text.count("Expected consequences") == 1
    assert "- Age would change from 30 years to 33 years as a result." in text
    html = render_letter(opts, schema, format="html", applicant_id="x", clock=CLOCK,
                         consequences=[["Your debt-to-income ratio falls"]])
    assert "Your debt-to-income ratio falls." in html
    with pytest.raises(InputValidationError, match="one list per option"):
        render_letter(opts, schema, applicant_id="x", clock=CLOCK,
                      consequences=[[]] * (len(opts) + 1))


def test_principal_reasons_follow_cost_shares():
    opts, schema, _, kw = case("german_tree_491")
    text = render_letter(opts, schema, clock=CLOCK, **kw)
    first = opts[0]
    total = sum(first.feature_costs.values())
    ranked = sorted(first.feature_costs, key=lambda n: -first.feature_costs[n])
    reasons = text.split("## Principal reasons", 1)[1].split("## What would", 1)[0]
    pos = [reasons.index(schema[n].display.capitalize()) for n in ranked]
    assert pos == sorted(pos)
    for n in ranked:
        share = round(100 * first.feature_costs[n] / total)
        assert f"{share} % of the smallest change that would lead to approval" in reasons


# -------------------------------------------------------------------- traceability
def test_fingerprint_of_a_file_is_its_sha256(tmp_path):
    model, _, _ = german_tree()
    path = save_model(model, tmp_path / "m.skops")
    fp, source = model_fingerprint(path)
    assert fp == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert source == "file m.skops"
    fp2, source2 = model_fingerprint(model)
    assert fp2 == "sha256:" + hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()
    assert fp2 == model_fingerprint(model)[0] and "pickle" in source2
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model_fingerprint(tmp_path / "missing.skops")


def test_trace_records_versions_schema_and_time(tmp_path):
    opts, schema, model, kw = case("german_tree_491")
    trace = make_trace(list(opts), schema, applicant_id="A-1", model=model, clock=CLOCK)
    assert trace.versions["scikit-learn"] == metadata.version("scikit-learn")
    assert trace.versions["highspy"] == metadata.version("highspy")
    assert trace.time_utc == "2026-11-23T12:00:00Z"
    # backend auto: the trace names the solver that ran (the options' MILPs ran HiGHS)
    ran = {r.stats.backend_used for r in opts}
    assert "highs" in ran and ran <= {"highs", None}  # None: proven by the bounds
    assert trace.status == "optimal" and trace.proven_optimal
    assert trace.solver == "HiGHS (backend auto)"
    assert [o["excluded"] for o in trace.options] == [
        [], [sorted(opts.change_sets[0], key=schema.names.index)],
        [sorted(s, key=schema.names.index) for s in opts.change_sets[:2]]]
    # the schema hash follows the action set, not the file it came from
    from recourse.schema import FeatureSchema

    again = FeatureSchema.from_yaml(schema.to_yaml(tmp_path / "s.yaml"))
    assert schema_hash(again) == trace.schema_hash
    assert schema_hash(schema.replace("housing", immutable=True)) != trace.schema_hash
    assert action_set_summary(schema) == (
        "20 features: 6 immutable, 2 one-direction, 12 free to change")
    html = render_letter(opts, schema, format="html", trace=trace, appendix="full")
    data = json.loads(re.search(r'id="recourse-trace">(.*?)</script>', html, re.S).group(1))
    assert data["model_fingerprint"] == trace.model_fingerprint
    assert data["applicant_id"] == "A-1"
    with pytest.raises(ValueError, match="timezone-aware"):
        make_trace(list(opts), schema, applicant_id="x", clock=lambda: dt.datetime(2026, 1, 1))


def test_default_clock_is_now_utc():
    opts, schema, model, _ = case("german_tree_491")
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    trace = make_trace(list(opts), schema, applicant_id="x", model=model)
    t = dt.datetime.fromisoformat(trace.time_utc.replace("Z", "+00:00"))
    assert before <= t <= dt.datetime.now(dt.timezone.utc)


# ------------------------------------------------------------------- templates, files
def test_own_template_directory(tmp_path):
    opts, schema, _, kw = case("german_tree_491")
    (tmp_path / "letter.md.j2").write_text(
        "{{ applicant_id }}|{{ decision }}|{% for o in options %}{{ o.number }}:"
        "{% for c in o.changes %}{{ c.feature }}={{ c.after }};{% endfor %}{% endfor %}\n")
    text = render_letter(opts, schema, template_dir=tmp_path, clock=CLOCK, **kw)
    assert text.startswith("German credit row 491|declined|1:")
    assert "credit_amount=" in text
    html = render_letter(opts, schema, format="html", template_dir=tmp_path, clock=CLOCK)
    assert html.startswith("<!DOCTYPE html>")  # falls back to the bundled HTML template
    (tmp_path / "letter.md.j2").write_text("{{ no_such_key }}")
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="no_such_key"):
        render_letter(opts, schema, template_dir=tmp_path, clock=CLOCK)
    with pytest.raises(InputValidationError, match="not a directory"):
        render_letter(opts, schema, template_dir=tmp_path / "nope", clock=CLOCK)


def test_html_is_escaped(german_options):
    schema, cases = german_options
    opts = cases[0][3]
    html = render_letter(opts, schema, format="html", applicant_id="<b>A&B</b>", clock=CLOCK)
    assert "<b>A&B</b>" not in html and "&lt;b&gt;A&amp;B&lt;/b&gt;" in html


def test_write_letter_formats(tmp_path, monkeypatch):
    opts, schema, _, kw = case("german_tree_656")
    md = write_letter(opts, tmp_path / "a.md", schema, clock=CLOCK, **kw)
    assert md.read_text().startswith("# Decision on your application")
    html = write_letter(opts, tmp_path / "a.html", schema, clock=CLOCK, **kw)
    assert "<html" in html.read_text()
    with pytest.raises(InputValidationError, match=r"\*\.md, \*\.html or \*\.pdf"):
        write_letter(opts, tmp_path / "a.docx", schema, clock=CLOCK)
    with pytest.raises(InputValidationError, match="format must be one of"):
        render_letter(opts, schema, format="docx", clock=CLOCK)
    import builtins

    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name == "weasyprint":
            raise ImportError("No module named 'weasyprint'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    with pytest.raises(BackendUnavailableError, match=r"recourse-engine\[pdf\]"):
        write_letter(opts, tmp_path / "a.pdf", schema, clock=CLOCK)


# ------------------------------------------------------------------------- batch
def test_write_letters_from_results(tmp_path):
    results = [case(n)[0] for n in ("german_tree_491", "german_tree_656",
                                    "german_tree_491_no_recourse")]
    _, schema, model, _ = case("german_tree_491")  # the no-recourse case has no changes
    items = [("A/1", results[0]), ("A/1", results[1]), ("B 2", results[2])]
    paths = write_letters(items, tmp_path / "out", schema, model=model, clock=CLOCK,
                          progress=True)
    assert [p.name for p in paths] == ["letter_A_1.md", "letter_A_1_2.md", "letter_B_2.md"]
    fp = model_fingerprint(model)[0]
    for p, (ident, opts) in zip(paths, items):
        text = p.read_text()
        assert f"| Applicant | {ident} |" in text and fp in text
        assert ("No change would lead to approval" in text) == (not opts.options)
    with pytest.raises(InputValidationError, match="pairs"):
        write_letters([results[0]], tmp_path, schema)


def _audit_table(opts_list):
    rows = []
    for i, opts in enumerate(opts_list):
        r = opts.options[0] if opts.options else opts.final
        rows.append({
            "id": f"app-{i}", "status": r.status, "target": str(r.target),
            "predicted": str(r.predicted), "cost": r.cost, "optimal": r.optimal,
            "verified": r.verified, "gap": r.gap, "norm": r.norm,
            "changes": [{"feature": c.feature, "before": str(c.before), "after": str(c.after)}
                        for c in r.changes],
        })
    return pa.Table.from_pylist(rows)


def test_write_letters_from_audit_parquet(tmp_path):
    cases = [case(n) for n in ("german_tree_491", "german_tree_491_no_recourse")]
    schema = cases[0][1]
    path = tmp_path / "audit.parquet"
    pq.write_table(_audit_table([c[0] for c in cases]), path)
    paths = write_letters(path, tmp_path / "letters", schema, format="html", clock=CLOCK)
    assert [p.name for p in paths] == ["letter_app-0.html", "letter_app-1.html"]
    first = paths[0].read_text()
    for c in cases[0][0].options[0].changes:  # numbers read back in the schema's units
        f = schema[c.feature]
        if not f.is_group:
            assert f"from {_units_oracle(f, c.before)} to {_units_oracle(f, c.after)}" in first
    assert "No change would lead to approval" in paths[1].read_text()
    pq.write_table(pa.table({"id": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(InputValidationError, match=r"lacks the columns \['status'\]"):
        write_letters(tmp_path / "bad.parquet", tmp_path / "o", schema)
    pq.write_table(pa.table({"id": ["x"], "status": ["maybe"]}), tmp_path / "bad2.parquet")
    with pytest.raises(InputValidationError, match="unknown status 'maybe'"):
        write_letters(tmp_path / "bad2.parquet", tmp_path / "o", schema)


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("letter_cli")
    model, schema, X_test = german_tree()
    save_model(model, out / "model.skops")
    schema.to_yaml(out / "schema.yaml")
    X_test.loc[[491, 656]].to_csv(out / "two.csv", index=False)
    X_test.loc[[491]].to_csv(out / "one.csv", index=False)
    return out


def _cli(*args):
    res = runner.invoke(app, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res


def test_cli_letter_single_and_batch(cli_files):
    d = cli_files
    base = ["letter", "-m", str(d / "model.skops"), "-s", str(d / "schema.yaml"),
            "--target", "good"]
    res = _cli(*base, "-a", str(d / "one.csv"), "--id", "A-7")
    assert res.exit_code == 0, res.output
    assert "Reduce credit amount from 8,318 DM to 7,811 DM" in res.output
    assert "sha256:" + hashlib.sha256((d / "model.skops").read_bytes()).hexdigest() in res.output
    res = _cli(*base, "-a", str(d / "two.csv"), "-f", "html", "--out", str(d / "x.html"))
    assert res.exit_code == 2 and "--all-rows" in res.output
    res = _cli(*base, "-a", str(d / "two.csv"), "--all-rows", "--out", str(d / "batch"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (d / "batch").iterdir()) == [
        "letter_two_row_0.md", "letter_two_row_1.md"]
    res = _cli(*base, "-a", str(d / "one.csv"), "-f", "docx")
    assert res.exit_code == 2 and "md" in res.output


def test_cli_letter_from_audit(cli_files, tmp_path):
    opts, schema, _, _ = case("german_tree_491")
    pq.write_table(_audit_table([opts]), tmp_path / "audit.parquet")
    res = _cli("letter", "--audit", str(tmp_path / "audit.parquet"), "-s",
               str(cli_files / "schema.yaml"), "--out", str(tmp_path / "L"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "L" / "letter_app-0.md").is_file()


def test_fixed_clock_parses_iso():
    assert fixed_clock("2026-01-02T03:04:05Z")() == dt.datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_options_type_is_iterable():
    opts, _, _, _ = case("german_tree_656")
    assert isinstance(opts, RecourseOptions) and len(list(opts)) == len(opts) == 2
    assert opts.first is opts[0]
    changes = list(opts[0].changes)
    table = pd.DataFrame([c._asdict() for c in changes])
    # one row per change, the change's own fields, in the change's order and values
    assert list(table.columns) == ["feature", "before", "after"]
    assert len(table) == len(changes) > 0
    assert table["feature"].tolist() == [c[0] for c in changes]
    assert table["before"].tolist() == [c[1] for c in changes]
    assert table["after"].tolist() == [c[2] for c in changes]
    assert all(b != a for b, a in zip(table["before"], table["after"]))  # real changes


def test_already_approved_letter():
    model, schema, X_test = german_tree()
    approved = X_test[model.predict(X_test) == "good"].iloc[0]
    opts = RecourseEngine(model, schema).options(approved, k=3, target="good")
    assert opts.stopped == "already_target" and not opts.options
    text = render_letter(opts, schema, applicant_id="ok", clock=CLOCK)
    assert "Your application was **approved**" in text
    assert "nothing needs to change" in text and "No change would" not in text


# ---------------------------------------------- issue 15 item 7: audit rows, approved, files
def test_letters_from_a_real_audit_with_an_invalid_row(tmp_path):
    """A real audit holding an invalid_input row (NaN) and an approved applicant: letters
    for the denied applicants only; the others are listed with the reason."""
    from recourse.audit import audit

    model, schema, X_test = german_tree()
    approved = X_test.index[model.predict(X_test) == "good"][0]
    rows = X_test.loc[[491, 656, approved]].copy()
    bad = X_test.loc[[491]].copy()
    bad.index = [9999]
    bad["credit_amount"] = float("nan")
    data = pd.concat([rows, bad])
    res = audit(model, data, schema, tmp_path / "a", target="good", select="all", n_jobs=1)
    table = pq.read_table(tmp_path / "a" / "results.parquet").to_pandas()
    statuses = dict(zip(table["id"].astype(str), table["status"]))
    assert statuses["9999"] == "invalid_input" and statuses[str(approved)] == "already_target"
    paths = write_letters(tmp_path / "a" / "results.parquet", tmp_path / "L", schema)
    assert sorted(p.name for p in paths) == ["letter_491.md", "letter_656.md"]
    skipped = dict(paths.skipped)
    assert set(skipped) == {"9999", str(approved)}
    assert "invalid_input" in skipped["9999"] and "approved" in skipped[str(approved)]
    assert res is not None


def test_cli_all_rows_skips_approved_and_says_why(cli_files, tmp_path):
    d = cli_files
    model, schema, X_test = german_tree()
    approved = X_test.index[model.predict(X_test) == "good"][0]
    X_test.loc[[491, approved]].to_csv(tmp_path / "mix.csv", index=False)
    res = _cli("letter", "-m", str(d / "model.skops"), "-s", str(d / "schema.yaml"),
               "--target", "good", "-a", str(tmp_path / "mix.csv"), "--all-rows",
               "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["letter_mix_row_0.md"]
    assert "mix row 1: approved by the model" in " ".join(res.output.split())


def test_cli_letter_out_never_overwrites_without_flag(cli_files, tmp_path):
    d = cli_files
    target = tmp_path / "letter.md"
    target.write_text("edited by hand", encoding="utf-8")
    base = ["letter", "-m", str(d / "model.skops"), "-s", str(d / "schema.yaml"),
            "--target", "good", "-a", str(d / "one.csv"), "--out", str(target)]
    res = _cli(*base)
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert target.read_text(encoding="utf-8") == "edited by hand"
    res = _cli(*base, "--overwrite")
    assert res.exit_code == 0, res.output
    assert "Reduce credit amount from 8,318 DM to 7,811 DM" in target.read_text()
    # batches too: an existing letter stops the batch before anything is written
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "letter_two_row_1.md").write_text("mine", encoding="utf-8")
    res = _cli("letter", "-m", str(d / "model.skops"), "-s", str(d / "schema.yaml"),
               "--target", "good", "-a", str(d / "two.csv"), "--all-rows", "--out",
               str(tmp_path / "batch"))
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert [p.name for p in (tmp_path / "batch").iterdir()] == ["letter_two_row_1.md"]

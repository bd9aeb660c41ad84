"""The ``recourse`` command line: explain, demo, schema (typer's CliRunner).

Tests marked "core" in their docstring run the real ``find_recourse``; the others check
the CLI's own contract (input errors, exit codes, rendering) and replace the engine
with a stub where they need a result.
"""

from __future__ import annotations

import csv
import json
import shlex

import joblib
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from recourse.cli import app
from recourse.cli.demo import render_demo_letter as _render_letter
from recourse.datasets import load_german_credit, train_test
from recourse.io import save_model
from recourse.letters.text import change_sentence as _change_sentence
from recourse.result import STATUSES, Change, RecourseResult
from recourse.schema import FeatureSchema

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # show the real traceback, not just "exit 1"
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small forest (10 trees of depth 3) on German credit, saved with its schema and a
    denied applicant; also a multi-row applicant file and a pickle of the same model."""
    out = tmp_path_factory.mktemp("cli")
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    groups = [f for f in schema if f.is_group]
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(categories=[list(f.categories) for f in groups],
                              handle_unknown="ignore"), [f.name for f in groups]),
        ("num", StandardScaler(), [f.name for f in schema if not f.is_group]),
    ])
    model = Pipeline([
        ("prep", prep),
        ("model", RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0)),
    ]).fit(X_train, y_train)
    denied = [i for i, p in enumerate(model.predict(X_test)) if p == "bad"]
    paths = {
        "model": save_model(model, out / "model.skops"),
        "schema": out / "schema.yaml",
        "applicant": out / "applicant.csv",
        "many": out / "many.csv",
        "pickle": out / "model.pkl",
    }
    schema.to_yaml(paths["schema"])
    X_test.iloc[[denied[0]]].to_csv(paths["applicant"], index=False)
    X_test.iloc[:5].to_csv(paths["many"], index=False)
    joblib.dump(model, paths["pickle"])
    return paths


def _explain_args(files, **over: str) -> list[str]:
    args = {"--model": str(files["model"]), "--applicant": str(files["applicant"]),
            "--schema": str(files["schema"]), "--target": "good"}
    args.update(over)
    return ["explain"] + [x for kv in args.items() for x in kv]


# ------------------------------------------------------------ explain: needs the core
def test_explain_prints_status_and_changes(files) -> None:
    """core: a real explanation of a denied applicant, printed as a table."""
    result = _run(*_explain_args(files))
    assert result.exit_code == 0, result.output
    assert "Status:" in result.output
    assert any(s in result.output for s in ("optimal", "feasible", "no_recourse"))
    assert "verified by the model" in result.output


def test_explain_json(files) -> None:
    """core: --json prints a parseable result whose changes are verified."""
    result = _run(*_explain_args(files), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] in STATUSES
    assert payload["target"] == "good"
    if payload["changes"]:
        assert payload["verified"] is True
        assert payload["counterfactual"] is not None


def test_explain_trusted_pickle_and_row(files) -> None:
    """core: --trust-pickle loads the pickle; --row picks a row of a multi-row file."""
    result = _run(*_explain_args(files, **{"--model": str(files["pickle"])}), "--trust-pickle")
    assert result.exit_code == 0, result.output
    many = _explain_args(files, **{"--applicant": str(files["many"])})
    result = _run(*many, "--row", "2")
    assert result.exit_code == 0, result.output
    assert "Status:" in result.output


# ------------------------------------------------------- explain: bad input (exit 2)
def test_explain_nan_applicant_exits_2(files, tmp_path) -> None:
    with files["applicant"].open(newline="") as fh:
        header, values = list(csv.reader(fh))
    values[header.index("credit_amount")] = ""
    bad = tmp_path / "nan.csv"
    with bad.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, values])
    result = _run(*_explain_args(files, **{"--applicant": str(bad)}))
    assert result.exit_code == 2
    assert "credit_amount" in result.output
    assert "finite value" in result.output
    assert "Traceback" not in result.output


def test_explain_pickle_without_trust_exits_2(files) -> None:
    result = _run(*_explain_args(files, **{"--model": str(files["pickle"])}))
    assert result.exit_code == 2
    assert "--trust-pickle" in result.output
    assert "arbitrary code" in result.output


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--norm", "l2", "--norm must be one of"),
    ("--target", "excellent", "is not a class of the model"),
    ("--schema", "missing.yaml", "does not exist"),
    ("--model", "model.onnx", "does not exist"),
    ("--backend", "cplex", "--backend must be one of"),
])
def test_explain_bad_option_exits_2(files, option, value, expected) -> None:
    result = _run(*_explain_args(files, **{option: value}))
    assert result.exit_code == 2
    assert expected in result.output


def test_explain_several_rows_need_row(files) -> None:
    result = _run(*_explain_args(files, **{"--applicant": str(files["many"])}))
    assert result.exit_code == 2
    assert "--row" in result.output


# --------------------------------------------------- explain: exit codes (stubbed)
def _stub_result(status: str, **kw) -> RecourseResult:
    return RecourseResult(status=status, target="good", predicted="bad",
                          factual={}, message=f"stub {status}", **kw)


@pytest.mark.parametrize(("status", "code"), [
    ("optimal", 0), ("feasible", 0), ("no_recourse", 0), ("already_target", 0),
    ("time_limit", 1), ("error", 1),
])
def test_explain_exit_code_per_status(files, monkeypatch, status, code) -> None:
    monkeypatch.setattr("recourse.engine.find_recourse",
                        lambda *a, **k: _stub_result(status))
    result = _run(*_explain_args(files))
    assert result.exit_code == code
    assert f"Status: {status}" in result.output
    if status == "no_recourse":
        assert "No recourse" in result.output


def test_explain_table_shows_labels_and_units(files, monkeypatch) -> None:
    stub = _stub_result(
        "optimal", changes=[Change("credit_amount", 5951, 3200)], cost=2.5, optimal=True,
        verified=True, feature_costs={"credit_amount": 2.5},
    )
    monkeypatch.setattr("recourse.engine.find_recourse", lambda *a, **k: stub)
    result = _run(*_explain_args(files))
    assert result.exit_code == 0
    assert "credit amount" in result.output
    assert "5,951 DM" in result.output and "3,200 DM" in result.output


# ------------------------------------------------------------------------ letters
@pytest.fixture(scope="module")
def german_schema() -> FeatureSchema:
    return load_german_credit()[2]


def test_change_sentences(german_schema) -> None:
    s = german_schema
    assert _change_sentence(s, "credit_amount", 5951, 3200) == (
        "Reduce credit amount from 5,951 DM to 3,200 DM")
    assert _change_sentence(s, "duration_in_month", 12, 18.0) == (
        "Increase loan duration from 12 months to 18 months")
    assert _change_sentence(s, "present_employment_since", "... < 1 year",
                            "1 <= ... < 4 years").startswith("Raise present employment")
    assert _change_sentence(s, "housing", "rent", "own") == (
        "Change housing from “rent” to “own”")


def test_letter_with_changes(german_schema) -> None:
    res = _stub_result("optimal", changes=[Change("credit_amount", 5951, 3200)], cost=2.5,
                       optimal=True, verified=True)
    text = _render_letter(res, german_schema, model_kind="tree", dataset="german",
                          applicant_id="7")
    assert "declined" in text
    assert "- Reduce credit amount from 5,951 DM to 3,200 DM" in text
    assert "No smaller change would lead to approval" in text
    assert "We checked these changes with our model itself" in text
    assert "foreign worker" in text.lower()  # immutables are listed with their reason
    assert "age may only increase" in text.lower()


def test_letter_says_when_no_recourse_exists(german_schema) -> None:
    text = _render_letter(_stub_result("no_recourse"), german_schema, model_kind="logreg",
                          dataset="german", applicant_id="7")
    assert "No change would lead to approval" in text
    assert "This was proven" in text


def test_letter_flags_unproven_unverified(german_schema) -> None:
    res = _stub_result("feasible", changes=[Change("housing", "rent", "own")], cost=1.0,
                       bound=0.5, optimal=False, verified=False)
    text = _render_letter(res, german_schema, model_kind="rf", dataset="german",
                          applicant_id="7")
    assert "We could not establish that no smaller change exists" in text
    assert "| 0.5 |" in text.split("## Appendix", 1)[1]  # the lower bound, for the bank
    assert "could not be checked with our model itself" in text


# --------------------------------------------------------------------- demo, schema
def test_demo_writes_files_and_reproducible_command(tmp_path) -> None:
    """core: the demo end to end (logreg and tree only), then its printed command."""
    out = tmp_path / "demo"
    result = _run("demo", "--models", "logreg,tree", "--out", str(out))
    assert result.exit_code == 0, result.output
    for kind in ("logreg", "tree"):
        for name in (f"model_{kind}.skops", f"applicant_{kind}.csv", f"letter_{kind}.md"):
            assert (out / name).is_file(), name
        letter = (out / f"letter_{kind}.md").read_text()
        assert "declined" in letter
        assert "What would change the decision" in letter or "No recourse exists" in letter
    assert (out / "schema.yaml").is_file()
    # the portfolio for `recourse audit`: German's test split with its data-set row numbers
    import pandas as pd

    from recourse.datasets import train_test

    portfolio = pd.read_csv(out / "portfolio.csv")
    X_test = train_test("german", seed=0)[1]
    assert list(portfolio["dataset_row"]) == list(X_test.index)
    pd.testing.assert_frame_equal(portfolio[X_test.columns], X_test.reset_index(drop=True),
                                  check_dtype=False)
    command = [ln for ln in result.output.splitlines() if ln.startswith("recourse explain")]
    assert len(command) == 1
    again = _run(*shlex.split(command[0])[1:])
    assert again.exit_code == 0, again.output
    assert "Status:" in again.output


def test_demo_unknown_model_exits_2(tmp_path) -> None:
    result = _run("demo", "--models", "logreg,xgboost", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "xgboost" in result.output and "rf300x8" in result.output


def test_demo_unknown_dataset_exits_2(tmp_path) -> None:
    result = _run("demo", "--dataset", "adult", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "credit_data" in result.output


def test_schema_command_writes_bundled_schema(tmp_path) -> None:
    path = tmp_path / "schema.yaml"
    result = _run("schema", "--dataset", "credit_data", "--out", str(path))
    assert result.exit_code == 0, result.output
    from recourse.datasets import load_credit_data

    assert FeatureSchema.from_yaml(path) == load_credit_data()[2]
    printed = _run("schema", "--dataset", "german")
    assert FeatureSchema.from_yaml(printed.stdout) == load_german_credit()[2]

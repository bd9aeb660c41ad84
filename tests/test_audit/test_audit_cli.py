"""``recourse audit`` on files: the table, the summary, resuming, and bad input (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from recourse.cli import EXIT_BAD_INPUT, app

runner = CliRunner()


def _args(files, out, *extra: str) -> list[str]:
    return ["audit", "--model", str(files["model"]), "--data", str(files["csv"]),
            "--schema", str(files["schema"]), "--out", str(out), "--target", "good",
            "--reference", str(files["reference"]), "--jobs", "1", *extra]


def test_audit_command_writes_table_summary_and_report(tmp_path, files, forest):
    out = tmp_path / "audit"
    res = runner.invoke(app, _args(files, out, "--protected", "personal_status_and_sex"))
    assert res.exit_code == 0, res.output
    assert "recourse rate" in res.output and "report" in res.output
    table = pd.read_parquet(out / "results.parquet")
    data = pd.read_csv(files["csv"])
    assert list(table["id"]) == list(data.index[forest.predict(data) != "good"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == len(table)
    assert summary["groups"]["attribute"] == "personal_status_and_sex"
    assert (out / "report.html").exists() and (out / "summary.md").exists()

    again = runner.invoke(app, _args(files, out))
    assert again.exit_code == 0, again.output
    assert f"{len(table)} / 0" in again.output  # everything resumed, nothing solved again

    # --no-report: the same table and summary.json, no summary.md or report.html
    bare = tmp_path / "bare"
    res = runner.invoke(app, _args(files, bare, "--protected", "personal_status_and_sex",
                                   "--no-report"))
    assert res.exit_code == 0, res.output
    assert pd.read_parquet(bare / "results.parquet")[["id", "status"]].equals(
        table[["id", "status"]])
    assert json.loads((bare / "summary.json").read_text())["overall"] == summary["overall"]
    assert (bare / "no_recourse.csv").exists()
    assert not (bare / "report.html").exists() and not (bare / "summary.md").exists()


def test_audit_command_bad_input_exits_2(tmp_path, files):
    out = tmp_path / "audit"
    runner.invoke(app, _args(files, out, "--chunk-size", "10", "--no-report"))
    res = runner.invoke(app, _args(files, out, "--norm", "l0", "--no-report"))
    assert res.exit_code == EXIT_BAD_INPUT and "different audit" in res.output
    res = runner.invoke(app, _args(files, out, "--norm", "l0", "--overwrite", "--no-report"))
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.csv"
    pd.read_csv(files["csv"]).drop(columns=["purpose"]).to_csv(bad, index=False)
    res = runner.invoke(app, ["audit", "--model", str(files["model"]), "--data", str(bad),
                              "--schema", str(files["schema"]), "--out", str(tmp_path / "x"),
                              "--target", "good"])
    assert res.exit_code == EXIT_BAD_INPUT and "purpose" in res.output
    res = runner.invoke(app, _args(files, tmp_path / "y", "--causal", str(files["schema"])))
    assert res.exit_code == EXIT_BAD_INPUT and "causal" in res.output

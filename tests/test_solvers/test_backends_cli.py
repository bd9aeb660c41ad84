"""``recourse explain --backend ...``: every backend gives HiGHS's optimal cost."""

from __future__ import annotations

import json

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from recourse.cli import app
from recourse.datasets import train_test
from recourse.io import save_model

pytest.importorskip("ortools")
pytest.importorskip("pyomo")

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_backends")
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    groups = [f for f in schema if f.is_group]
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(categories=[list(f.categories) for f in groups],
                              handle_unknown="ignore"), [f.name for f in groups]),
        ("num", StandardScaler(), [f.name for f in schema if not f.is_group]),
    ])
    model = Pipeline([("prep", prep), ("model", RandomForestClassifier(
        n_estimators=20, max_depth=5, random_state=1))]).fit(X_train, y_train)
    denied = [i for i, p in enumerate(model.predict(X_test)) if p == "bad"]
    paths = {"model": save_model(model, out / "model.skops"), "schema": out / "schema.yaml",
             "applicant": out / "applicant.csv"}
    schema.to_yaml(paths["schema"])
    X_test.iloc[[denied[1]]].to_csv(paths["applicant"], index=False)
    return paths


def _explain(files, *extra: str):
    args = ["explain", "--model", str(files["model"]), "--applicant", str(files["applicant"]),
            "--schema", str(files["schema"]), "--target", "good", "--json", *extra]
    return runner.invoke(app, args)


def test_every_backend_gives_the_same_optimum(files):
    costs = {}
    for extra in ([], ["--backend", "cpsat"], ["--backend", "pyomo"],
                  ["--backend", "pyomo", "--solver", "appsi_highs"], ["--backend", "auto"]):
        res = _explain(files, *extra)
        assert res.exit_code == 0, res.output
        data = json.loads(res.output)
        assert data["status"] == "optimal" and data["verified"] is True, data
        costs[" ".join(extra)] = data["cost"]
        if extra[:2] in (["--backend", "cpsat"], ["--backend", "pyomo"]):
            assert data["stats"]["backend_used"] == extra[1]  # the solver ran
    ref = costs[""]
    assert all(abs(c - ref) <= 1e-6 * max(1.0, ref) for c in costs.values()), costs


def test_solver_option_needs_the_pyomo_backend(files):
    res = _explain(files, "--solver", "gurobi")
    assert res.exit_code == 2
    assert "--solver is for --backend pyomo only" in res.output

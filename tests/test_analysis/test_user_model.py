"""``recourse analyze --model/--data/--schema`` (issue 18) and report polish: the ray-test
verdicts against brute force along the direction, the escaping of user text, the HTML
reports, and jumps drawn as breaks."""

from __future__ import annotations

import html
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from recourse.analysis import class_score
from recourse.analysis.plots import break_mask
from recourse.analysis.user_model import analyze_model, write_user_report
from recourse.schema import Feature, FeatureSchema


def _problem(model_kind: str = "logreg", debt: str = "decrease"
             ) -> tuple[object, pd.DataFrame, FeatureSchema]:
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"income <b>": rng.normal(50, 10, n), "debt": rng.normal(10, 3, n),
                       "region": rng.choice(["north", "south"], n)})
    y = np.where(df["income <b>"] / 10 - df["debt"] / 1.5 + (df.region == "north") > -2.2,
                 "good", "bad")
    X = pd.get_dummies(df, columns=["region"], dtype=float)
    schema = FeatureSchema((
        Feature("income <b>", "continuous", lower=0, upper=120, scale=10.0),
        Feature("debt", "continuous", lower=0, upper=40, scale=3.0, direction=debt),
        Feature("region_north", "binary", lower=0, upper=1, immutable=True),
        Feature("region_south", "binary", lower=0, upper=1, immutable=True)))
    X = X[["income <b>", "debt", "region_north", "region_south"]]
    if model_kind == "logreg":
        m = LogisticRegression(max_iter=1000).fit(X, y)
    else:
        m = RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0).fit(X, y)
    return m, X, schema


@pytest.mark.parametrize("kind,debt", [("logreg", "decrease"), ("forest", "decrease"),
                                       ("logreg", "increase")])
def test_ray_verdicts_match_brute_force(kind: str, debt: str) -> None:
    """Every reported verdict is re-derived independently: walk the direction in the user's
    units on 20 001 steps up to the engine's cost (schema scales), inside the bounds, with
    the one-direction debt (a direction against it fails); the target must be reached iff
    the report says 'provides'. With increase-only debt the methods that say "lower the
    debt" must fail although that direction would reach the target."""
    m, X, schema = _problem(kind, debt)
    sign = 1 if debt == "increase" else -1
    n_against = 0
    rep = analyze_model(m, X, schema, n_applicants=5, segments=2)
    assert rep.n_analysed >= 3
    cs = class_score(m, "good")
    units = np.array([10.0, 3.0])
    n_checked = 0
    for app in rep.applicants:
        row = X.iloc[app["row"]].to_numpy(dtype=float)
        for name, res in app["methods"].items():
            v = np.asarray(res["phi"]) * units  # user units per scaled unit
            cost_v = float(np.sum(np.abs(v) / units))
            if cost_v == 0 or v[1] * sign < 0:  # zero, or against the debt's direction
                assert not res["provides"], (name, v)
                n_against += v[1] * sign < 0
                continue
            s = np.linspace(0, app["cost"] * (1 + 1e-9) / cost_v, 20001)[1:]
            P = row[None, :] + s[:, None] * np.r_[v, 0, 0][None, :]
            inside = (P[:, 0] >= 0) & (P[:, 0] <= 120) & (P[:, 1] >= 0) & (P[:, 1] <= 40)
            reached = bool(np.any((cs(P) >= 1e-6) & inside))
            assert reached == res["provides"], (name, app["row"])
            n_checked += 1
        assert app["methods"]["counterfactual"]["provides"]
    assert n_checked >= (10 if debt == "decrease" else 3)
    if debt == "increase":
        assert n_against >= 10
    by = {m_.method: m_ for m_ in rep.methods}
    assert by["counterfactual"].n_fail == 0
    if kind == "forest":  # the a.e. gradient of a forest is 0: it never provides recourse
        assert by["gradient"].n_fail == by["gradient"].n
        assert by["integrated_gradients"].n_fail == by["integrated_gradients"].n


def test_reports_escape_user_text(tmp_path) -> None:  # noqa: ANN001
    m, X, schema = _problem()
    rep = analyze_model(m, X, schema, n_applicants=3, segments=1)
    paths = write_user_report(rep, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert "income <b>" not in page and html.escape("income <b>") in page
    assert "<script" not in page
    md = paths["md"].read_text(encoding="utf-8")
    assert "income <b>" not in md and r"income \<b\>" in md
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["n_analysed"] == rep.n_analysed
    assert [m_["method"] for m_ in data["methods"]] == [m_.method for m_ in rep.methods]
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', page)


def test_cli_analyze_user_model(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from recourse.cli import app
    from recourse.io import save_model

    m, X, schema = _problem("forest")
    save_model(m, tmp_path / "m.skops")
    X.to_csv(tmp_path / "d.csv", index=False)
    schema.to_yaml(tmp_path / "s.yaml")
    out = tmp_path / "rep"
    res = CliRunner().invoke(app, ["analyze", "--model", str(tmp_path / "m.skops"), "--data",
                                   str(tmp_path / "d.csv"), "--schema", str(tmp_path / "s.yaml"),
                                   "--out", str(out), "--applicants", "3", "--target", "good"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.md", "report.json"}
    bad = CliRunner().invoke(app, ["analyze", "--model", str(tmp_path / "m.skops"), "--data",
                                   str(tmp_path / "d.csv"), "--schema", str(tmp_path / "s.yaml"),
                                   "--out", str(out), "--target", "excellent"])
    assert bad.exit_code != 0 and "excellent" in bad.output


def test_break_mask_marks_only_jumps() -> None:
    t = np.linspace(-1, 1, 401)
    y = np.where(t < 0.2, t, t + 1.0)  # one jump of size 1 between the samples around 0.2
    mask = break_mask(y)
    assert mask.sum() == 1 and t[np.flatnonzero(mask)[0]] >= 0.2 > t[np.flatnonzero(mask)[0] - 1]
    assert not break_mask(np.sin(3 * t)).any()  # smooth: no break


def test_impossibility_report_writes_html(tmp_path) -> None:  # noqa: ANN001
    from recourse.analysis.report import write_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_report(tmp_path, n_grid=11, convergence_seeds=2, with_tree=False)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "integrated gradients" in page
    assert page.count("data:image/png;base64,") >= 11


def test_break_mask_leaves_steep_ramps_joined() -> None:
    """The construction's ramp (slope 16) is continuous: no break; a tree-like step is."""
    from recourse.analysis import construction_case

    t = np.linspace(-1.5, 1.5, 2001)
    f = construction_case("class", 1.0).f
    assert not break_mask(f(t)).any()
    step = np.where(t > 0.3, 1.0, 0.0)
    assert np.flatnonzero(break_mask(step)).tolist() == [int(np.searchsorted(t, 0.3, "right"))]

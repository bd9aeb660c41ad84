"""Believable and robust recourse on the command line (``recourse explain`` with
``--min-margin``, ``--box``, ``--data``, ``--seen-together``, ``--plausible``,
``--also-model``) and ``RecourseResult.box`` / ``explain(box=True)``.

Oracles, independent of the CLI code under test: ``certified_box`` called in-process on
the same input; the models' own ``predict`` / ``predict_proba``; the category pairs of
the training frame counted with pandas; an isolation forest the test builds itself.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from oracles import model_predict
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from recourse import RecourseEngine
from recourse.cli import app
from recourse.datasets import train_test
from recourse.datasets.graphs import example_causal_model
from recourse.io import save_model
from recourse.robust import certified_box

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _flat(text: str) -> str:
    """Output with every run of whitespace as one space (rich wraps long cells)."""
    return re.sub(r"\s+", " ", text)


def _forest(schema, X, y, seed: int, trees: int = 10, depth: int = 3):
    groups = [f for f in schema if f.is_group]
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(categories=[list(f.categories) for f in groups],
                              handle_unknown="ignore"), [f.name for f in groups]),
        ("num", StandardScaler(), [f.name for f in schema if not f.is_group]),
    ])
    est = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=seed)
    return Pipeline([("prep", prep), ("model", est)]).fit(X, y)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two small forests (seeds 0 and 1) on German credit saved as .skops, the schema,
    the training rows and three applicants the first forest denies."""
    out = tmp_path_factory.mktemp("cli_robust")
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    model = _forest(schema, X_train, y_train, 0)
    other = _forest(schema, X_train, y_train, 1)
    denied = X_test[model.predict(X_test) == "bad"].head(3)
    paths = {"model": save_model(model, out / "model.skops"),
             "other": save_model(other, out / "other.skops"),
             "schema": out / "schema.yaml", "train": out / "train.csv"}
    schema.to_yaml(paths["schema"])
    X_train.to_csv(paths["train"], index=False)
    for i in range(len(denied)):
        paths[f"app{i}"] = out / f"app{i}.csv"
        denied.iloc[[i]].to_csv(paths[f"app{i}"], index=False)
    return dict(paths=paths, model=model, other=other, schema=schema, X_train=X_train,
                denied=denied)


def _explain(setup, i: int, *extra: str):
    p = setup["paths"]
    return _run("explain", "--model", p["model"], "--applicant", p[f"app{i}"],
                "--schema", p["schema"], "--target", "good", *extra)


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------------ box
@pytest.mark.parametrize("i", [0, 1, 2])
def test_box_json_equals_certified_box(setup, i) -> None:
    """The box printed by ``--box --json`` is the box ``certified_box`` computes on the
    same input, and every corner of it is approved by the model's own predict."""
    payload = _json(_explain(setup, i, "--box", "--json"))
    engine = RecourseEngine(setup["model"], setup["schema"])
    res = engine.explain(setup["denied"].iloc[i], target="good")
    assert payload["cost"] == pytest.approx(res.cost)
    box = certified_box(engine, res)
    got = payload["box"]
    assert {n: tuple(v) for n, v in got["bounds"].items()} == box.bounds
    assert got["fixed"] == box.fixed
    assert {(f["feature"], f["side"]): f["reason"] for f in got["faces"]} == box.faces
    corners = [dict(payload["counterfactual"], **got["fixed"],
                    **{n: (lo if (k >> j) & 1 else hi)
                       for j, (n, (lo, hi)) in enumerate(got["bounds"].items())})
               for k in range(2 ** len(got["bounds"]))]
    assert set(model_predict(setup["model"], setup["schema"], corners)) == {"good"}


def test_box_human_output_matches_certified_box(setup) -> None:
    """Every range ``CertifiedBox.advice`` states appears in the printed table."""
    out = _explain(setup, 0, "--box")
    assert out.exit_code == 0, out.output
    engine = RecourseEngine(setup["model"], setup["schema"])
    res = engine.explain(setup["denied"].iloc[0], target="good")
    advice = certified_box(engine, res).advice(setup["schema"])
    assert advice, "the test needs a box with at least one range set by the model"
    flat = _flat(out.stdout)
    assert "certified ranges" in flat
    for phrase in advice:
        assert phrase in flat, phrase


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_box_unsupported_model_keeps_the_answer(setup) -> None:
    """A result without box support (a utility on a regressor's score; ReLU classifiers
    have boxes since solvers.relu_box): a verified answer, ``box`` None, the reason."""
    from sklearn.neural_network import MLPRegressor

    from recourse import Utility

    X, schema = setup["X_train"], setup["schema"]
    y_train = train_test("german", seed=0)[2]
    reg = clone(setup["model"]).set_params(
        model=MLPRegressor(hidden_layer_sizes=(4,), max_iter=300, random_state=0))
    reg.fit(X, (y_train == "good").astype(float))
    row = X.iloc[0]
    res = RecourseEngine(reg, schema).explain(row, utility=Utility.increase(0.05), box=True)
    assert res.has_recourse and res.box is None
    assert "NotImplementedError" in res.stats.box_error
    assert res.to_dict()["box"] is None


def test_box_causal_engine_records_reason(setup) -> None:
    """A causal engine: no box, ``stats.box_error`` says why, the answer stands."""
    engine = RecourseEngine(setup["model"], setup["schema"],
                            causal=example_causal_model("german"))
    res = engine.explain(setup["denied"].iloc[0], target="good", box=True)
    assert res.status in ("optimal", "feasible") and res.verified
    assert res.box is None and "causal" in res.stats.box_error


# -------------------------------------------------------------- margin, seen, ...
def test_min_margin_reached_by_the_models_own_probabilities(setup) -> None:
    payload = _json(_explain(setup, 0, "--min-margin", "0.2", "--json"))
    engine = RecourseEngine(setup["model"], setup["schema"])
    ref = engine.explain(setup["denied"].iloc[0], target="good", min_margin=0.2)
    assert payload["status"] == ref.status and payload["cost"] == pytest.approx(ref.cost)
    cf = pd.DataFrame([payload["counterfactual"]])[setup["schema"].names]
    p = setup["model"].predict_proba(cf)[0]
    classes = list(setup["model"].classes_)
    margin = p[classes.index("good")] - p[classes.index("bad")]
    assert margin >= 0.2 - 1e-9
    assert payload["stats"]["margin"] == pytest.approx(margin)
    assert payload["stats"]["cost_without"]["min_margin"] <= payload["cost"] + 1e-9
    human = _flat(_explain(setup, 0, "--min-margin", "0.2").stdout)
    assert f"min margin / reached 0.2 / {margin:.4g} (probability)" in human
    assert "cost without --min-margin" in human


def test_unreachable_margin_names_the_blocking_option(setup) -> None:
    out = _explain(setup, 0, "--min-margin", "0.999")
    assert out.exit_code == 0, out.output
    flat = _flat(out.stdout)
    assert "no_recourse" in flat
    assert "blocked by --min-margin (min_margin)" in flat


def test_seen_together_answers_hold_only_pairs_seen_in_the_data(setup) -> None:
    """Oracle: every pair of category levels of the answer occurs in the training rows
    (counted with pandas), unless the applicant already held it."""
    schema, X = setup["schema"], setup["X_train"]
    groups = [f.name for f in schema if f.is_group]
    seen = {(a, b): set(map(tuple, X[[a, b]].drop_duplicates().to_numpy()))
            for k, a in enumerate(groups) for b in groups[k + 1:]}
    for i, source in ((0, str(setup["paths"]["train"])), (1, "german")):
        payload = _json(_explain(setup, i, "--seen-together", "--data", source, "--json"))
        cf, row = payload["counterfactual"], setup["denied"].iloc[i]
        assert payload["stats"]["unseen_pairs"] == 0 or payload["status"] == "no_recourse"
        for (a, b), pairs in seen.items():
            if (cf[a], cf[b]) != (row[a], row[b]):
                assert (cf[a], cf[b]) in pairs, (a, b, cf[a], cf[b])


def test_plausible_answer_is_an_inlier_of_the_same_isolation_forest(setup) -> None:
    """Oracle: an isolation forest the test builds (the model's preprocessing, 50 trees,
    256 samples, seed 0) scores the answer at least its own offset_."""
    payload = _json(_explain(setup, 0, "--plausible", "--data", "german", "--json"))
    iso = Pipeline([("prep", clone(setup["model"].named_steps["prep"])),
                    ("iso", IsolationForest(n_estimators=50, max_samples=256,
                                            random_state=0))]).fit(setup["X_train"])
    cf = pd.DataFrame([payload["counterfactual"]])[setup["schema"].names]
    score = float(iso.score_samples(cf)[0])
    assert score >= iso.named_steps["iso"].offset_ - 1e-9
    assert payload["stats"]["plausibility_score"] == pytest.approx(score)
    assert "plausibility score" in _flat(
        _explain(setup, 0, "--plausible", "--data", "german").stdout)


def test_also_model_answer_is_approved_by_every_model(setup) -> None:
    payload = _json(_explain(setup, 1, "--also-model", setup["paths"]["other"], "--json"))
    assert payload["verified"]
    cf = payload["counterfactual"]
    for m in (setup["model"], setup["other"]):
        assert model_predict(m, setup["schema"], [cf])[0] == "good"


# ------------------------------------------------------------- bad combinations
@pytest.mark.parametrize(("args", "expected"), [
    (["--plausible"], "--plausible needs the training data: pass --data"),
    (["--seen-together"], "--seen-together needs the training data: pass --data"),
    (["--seen-together", "--plausible"], "--seen-together and --plausible need"),
    (["--min-score", "-0.5"], "--min-score is the plausibility threshold of --plausible"),
    (["--min-margin", "-1"], "--min-margin must be a finite number >= 0"),
    (["--seen-together", "--data", "adult"], "is neither a file nor a bundled data set"),
    (["--also-model", "missing.skops"], "does not exist"),
])
def test_bad_combinations_exit_2_with_the_fix(setup, args, expected) -> None:
    out = _explain(setup, 0, *args)
    assert out.exit_code == 2, out.output
    assert expected in _flat(out.output)
    assert "Traceback" not in out.output


def test_data_lacking_columns_or_with_unknown_levels(setup, tmp_path) -> None:
    short = tmp_path / "short.csv"
    setup["X_train"].drop(columns=["housing"]).to_csv(short, index=False)
    out = _explain(setup, 0, "--seen-together", "--data", short)
    assert out.exit_code == 2 and "lacks 1 of the schema's feature columns" in out.output
    odd = tmp_path / "odd.csv"
    setup["X_train"].assign(housing="castle").to_csv(odd, index=False)
    out = _explain(setup, 0, "--plausible", "--data", odd)
    assert out.exit_code == 2 and "castle" in _flat(out.output)


def test_letter_audit_with_robust_flags_is_refused(setup, tmp_path) -> None:
    p = setup["paths"]
    out = _run("letter", "--schema", p["schema"], "--audit", tmp_path / "a.parquet", "--box")
    assert out.exit_code == 2
    assert "do not apply" in _flat(out.output)


def test_plain_explain_is_unchanged_without_flags(setup) -> None:
    """No option: the same answer as before, no box and no robust rows."""
    payload = _json(_explain(setup, 2, "--json"))
    assert payload["box"] is None
    assert "min_margin" not in payload["stats"] and "box_error" not in payload["stats"]
    assert np.isfinite(payload["cost"])


# ---------------------------------------------------------------------- support
def test_support_answer_lies_near_enough_approved_training_rows(setup) -> None:
    """``--support 1.0 --support-k 2``: the answer is approved and at least two training
    rows the model approves lie within linf distance 1 (each numeric difference over the
    feature's MAD on the training rows, else its mean absolute deviation, else 1; a
    category mismatch counts 1), computed here with numpy."""
    payload = _json(_explain(setup, 0, "--data", setup["paths"]["train"], "--support", "1.0",
                             "--support-k", "2", "--json"))
    cf = payload["counterfactual"]
    schema, X = setup["schema"], setup["X_train"]
    assert model_predict(setup["model"], schema, [cf])[0] == "good"
    approved = X[setup["model"].predict(X) == "good"]
    dist = np.zeros(len(approved))
    for f in schema:
        col = approved[f.name]
        if f.is_group:
            dist = np.maximum(dist, (col != cf[f.name]).to_numpy(dtype=float))
            continue
        x = X[f.name].to_numpy(dtype=float)
        mad = float(np.median(np.abs(x - np.median(x))))
        mad = mad if mad > 0 else float(np.mean(np.abs(x - np.mean(x))))
        mad = mad if mad > 0 else 1.0
        dist = np.maximum(dist, np.abs(col.to_numpy(dtype=float) - float(cf[f.name])) / mad)
    near = dist <= 1.0 + 1e-9
    assert near.sum() >= 2
    assert payload["stats"]["support"] >= 2


@pytest.mark.parametrize("args, expected", [
    (("--support", "1.0"), "needs the training data"),
    (("--support", "-1", "--data", "german"), "must be > 0"),
    (("--support-k", "3"), "--support-k is the number"),
])
def test_support_flags_bad_input(setup, args, expected) -> None:
    result = _explain(setup, 0, *args)
    assert result.exit_code == 2
    assert expected in _flat(result.output)


def test_min_margin_with_plausible(setup) -> None:
    """Both at once: the classifier wins by the margin in its own probabilities and the
    isolation forest calls the answer an inlier (the forest the CLI fits, rebuilt here)."""
    from recourse.loading import fit_isolation_forest

    payload = _json(_explain(setup, 0, "--plausible", "--min-margin", "0.1", "--data",
                             setup["paths"]["train"], "--json"))
    cf = payload["counterfactual"]
    model, schema = setup["model"], setup["schema"]
    proba = model.predict_proba(schema.row_frame(cf))[0]
    good = list(model.classes_).index("good")
    assert proba[good] - proba[1 - good] >= 0.1 - 1e-9
    iso = fit_isolation_forest(model, setup["X_train"])
    assert iso.score_samples(schema.row_frame(cf))[0] >= iso[-1].offset_ - 1e-12

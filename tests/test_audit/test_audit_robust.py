"""Audits with believable/robust options: ``audit(..., min_margin=, seen_together=)`` and
``recourse audit --min-margin M --seen-together --reference TRAIN``.

Oracle: single ``RecourseEngine.explain(..., min_margin=)`` calls on the same applicants
(the audit's columns must equal them), the model's own ``predict_proba`` for the margin,
and pandas pair counts for the seen-together rule.
"""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
from typer.testing import CliRunner

from recourse import RecourseEngine, SeenTogether
from recourse.audit import audit
from recourse.audit.core import _engine_kwargs
from recourse.audit.workers import EngineSpec
from recourse.cli import app

runner = CliRunner()
MARGIN = 0.1


@pytest.fixture(scope="module")
def denied(forest, applicants):
    """Eight applicants the forest denies."""
    return applicants[forest.predict(applicants) == "bad"].head(8)


@pytest.fixture(scope="module")
def rule(german):
    X_train, _, _, schema = german
    return SeenTogether.fit(X_train, schema)


@pytest.fixture(scope="module")
def robust_audit(tmp_path_factory, forest, denied, german, rule):
    X_train, _, _, schema = german
    out = tmp_path_factory.mktemp("audit_robust")
    return audit(forest, denied, schema, out, target="good", min_margin=MARGIN,
                 seen_together=rule, reference=X_train, n_jobs=1, report=False)


def test_columns_equal_single_explain_calls(robust_audit, forest, denied, german, rule):
    X_train, _, _, schema = german
    engine = RecourseEngine(forest, schema, reference=X_train, seen_together=rule)
    rows = robust_audit.results.set_index("id")
    assert len(rows) == len(denied)
    for ident, applicant in denied.iterrows():
        one = engine.explain(applicant, target="good", min_margin=MARGIN)
        row = rows.loc[ident]
        assert row["status"] == one.status
        assert row["min_margin"] == pytest.approx(MARGIN)
        if one.cost is None:
            assert pd.isna(row["cost"])
        else:
            assert row["cost"] == pytest.approx(one.cost)
        if one.stats.margin is None:
            assert pd.isna(row["margin"])
        else:
            assert row["margin"] == pytest.approx(one.stats.margin)
        got = {e["option"]: e["cost"] for e in row["cost_without"]}
        assert set(got) == set(one.stats.cost_without) >= {"min_margin"}
        for option, plain in one.stats.cost_without.items():
            assert (pd.isna(got[option]) if plain is None
                    else got[option] == pytest.approx(plain))
        if one.has_recourse:  # only pairs the applicant already held (always allowed)
            assert row["unseen_pairs"] == one.stats.unseen_pairs
            assert row["unseen_pairs"] <= len(rule.pairs_in(applicant.to_dict()))
        if one.status == "no_recourse" and one.stats.blocking_option:
            named = one.stats.blocking_options
            assert list(row["blocking_options"]) == (
                named if named is not None else [one.stats.blocking_option])


def test_margin_column_is_the_models_own(robust_audit, forest, denied, german):
    """The margin column equals predict_proba's lead of "good" on the counterfactual."""
    _, _, _, schema = german
    answered = robust_audit.results[robust_audit.results["status"].isin(
        ["optimal", "feasible"])]
    assert len(answered) > 0
    good = list(forest.classes_).index("good")
    for _, row in answered.iterrows():
        cf = denied.loc[row["id"]].to_dict()
        for c in row["changes"]:
            f = schema[c["feature"]]
            cf[c["feature"]] = c["after"] if f.is_group else float(c["after"])
        p = forest.predict_proba(pd.DataFrame([cf])[schema.names])[0]
        assert p[good] - p[1 - good] == pytest.approx(row["margin"])
        assert row["margin"] >= MARGIN - 1e-9
        without = {e["option"]: e["cost"] for e in row["cost_without"]}
        assert row["cost"] >= without["min_margin"] - 1e-9


def test_plain_audit_leaves_the_robust_columns_empty(tmp_path, forest, denied, german):
    _, _, _, schema = german
    res = audit(forest, denied.head(3), schema, tmp_path / "plain", target="good",
                n_jobs=1, report=False)
    for col in ("min_margin", "margin", "cost_without", "unseen_pairs", "blocking_options"):
        assert res.results[col].isna().all(), col


def test_engine_spec_with_the_options_pickles(forest, german, rule):
    """Process and Dask workers receive the spec pickled: it must survive the trip and
    build an engine with the rule."""
    X_train, _, _, schema = german
    spec = EngineSpec(key="k", model=forest, schema=schema, reference=X_train,
                      target="good", norm="l1", time_limit=10.0,
                      engine_kwargs=_engine_kwargs(None, rule), min_margin=MARGIN)
    back = pickle.loads(pickle.dumps(spec))
    assert back.min_margin == MARGIN
    assert back.build().seen_together.unseen == rule.unseen


def test_changed_options_do_not_resume_another_audit(tmp_path, forest, denied, german):
    """The margin is part of the audit's identity: a rerun with another margin into the
    same directory is refused, not mixed with the earlier answers."""
    _, _, _, schema = german
    out = tmp_path / "a"
    audit(forest, denied.head(2), schema, out, target="good", n_jobs=1, report=False)
    with pytest.raises(Exception, match="overwrite"):
        audit(forest, denied.head(2), schema, out, target="good", min_margin=MARGIN,
              n_jobs=1, report=False)


def test_bad_options(tmp_path, forest, denied, german):
    _, _, _, schema = german
    with pytest.raises(Exception, match="seen_together must be a recourse.SeenTogether"):
        audit(forest, denied, schema, tmp_path / "x", target="good", seen_together={},
              n_jobs=1)
    with pytest.raises(Exception, match="min_margin must be a finite number >= 0"):
        audit(forest, denied, schema, tmp_path / "y", target="good", min_margin=-0.5,
              n_jobs=1)


# ------------------------------------------------------------------------- CLI
def test_cli_audit_min_margin_seen_together(files, tmp_path, forest, applicants, rule):
    out = tmp_path / "cli"
    few = tmp_path / "few.parquet"
    applicants.head(8).to_parquet(few)
    result = runner.invoke(app, [
        "audit", "--model", str(files["model"]), "--data", str(few),
        "--schema", str(files["schema"]), "--out", str(out), "--target", "good",
        "--min-margin", str(MARGIN), "--seen-together", "--reference", "german",
        "--jobs", "1", "--no-report"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "results.parquet")
    answered = table[table["status"].isin(["optimal", "feasible"])]
    assert len(answered) > 0
    assert (table["min_margin"] == MARGIN).all()
    assert (answered["margin"] >= MARGIN - 1e-9).all()
    own = [len(rule.pairs_in(applicants.iloc[int(p)].to_dict()))
           for p in answered["position"]]
    assert (answered["unseen_pairs"].to_numpy() <= own).all()
    for entries in answered["cost_without"]:
        assert {e["option"] for e in entries} == {"min_margin", "seen_together"}


@pytest.mark.parametrize(("args", "expected"), [
    (["--seen-together"], "--seen-together needs the training rows"),
    (["--min-margin", "-1"], "--min-margin must be a finite number >= 0"),
    (["--seen-together", "--reference", "nowhere.csv"], "neither a file nor a bundled"),
])
def test_cli_audit_bad_options_exit_2(files, tmp_path, args, expected):
    result = runner.invoke(app, [
        "audit", "--model", str(files["model"]), "--data", str(files["data"]),
        "--schema", str(files["schema"]), "--out", str(tmp_path / "o"), "--target", "good",
        *args])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


def test_audit_with_data_support_equals_single_explain_calls(tmp_path, forest, denied,
                                                            german):
    """``audit(..., support=)``: every row's status, cost and support count equal a single
    ``explain`` with the same DataSupport, and the support count is re-derived here from
    the training rows with numpy (linf, MAD scales as DataSupport computes them)."""
    from recourse import DataSupport

    X_train, _, _, schema = german
    sup = DataSupport.from_model(X_train, forest, schema, target="good", k=1, radius=1.0)
    few = denied.head(4)
    res = audit(forest, few, schema, tmp_path / "sup", target="good", support=sup,
                reference=X_train, n_jobs=1, report=False)
    table = pd.read_parquet(tmp_path / "sup" / "results.parquet")
    engine = RecourseEngine(forest, schema, reference=X_train, support=sup)
    assert res.n_audited == len(few)
    for _, row in table.iterrows():
        single = engine.explain(few.iloc[int(row["position"])], target="good")
        assert row["status"] == single.status
        if single.has_recourse:
            assert row["cost"] == pytest.approx(single.cost, rel=1e-6, abs=1e-9)
            assert row["support"] == single.stats.support >= 1
            assert {e["option"] for e in row["cost_without"]} >= {"support"}


def test_cli_audit_support(files, tmp_path, applicants):
    out = tmp_path / "cli_sup"
    few = tmp_path / "few.parquet"
    applicants.head(6).to_parquet(few)
    result = runner.invoke(app, [
        "audit", "--model", str(files["model"]), "--data", str(few),
        "--schema", str(files["schema"]), "--out", str(out), "--target", "good",
        "--support", "1.0", "--reference", "german", "--jobs", "1", "--no-report"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "results.parquet")
    answered = table[table["status"].isin(["optimal", "feasible"])]
    assert len(answered) > 0 and (answered["support"] >= 1).all()
    bad = runner.invoke(app, [
        "audit", "--model", str(files["model"]), "--data", str(few),
        "--schema", str(files["schema"]), "--out", str(tmp_path / "o2"), "--target", "good",
        "--support", "1.0"])
    assert bad.exit_code == 2 and "--reference" in " ".join(bad.output.split())


@pytest.mark.parametrize("option", ["also_model", "plausible"])
def test_cli_audit_also_model_or_plausible(files, tmp_path, applicants, forest, logreg,
                                           german, option):
    """``--also-model`` (a logistic regression) or ``--plausible``: each row's status and
    cost equal a single ``explain`` with the same ModelSet / PlausibleModel built
    in-process (the isolation forest rebuilt by the same function)."""
    from recourse import ModelSet, PlausibleModel
    from recourse.io import save_model
    from recourse.loading import fit_isolation_forest

    X_train, _, _, schema = german
    # the isolation forest's 100 trees make each query costly: two applicants suffice there
    few = applicants[forest.predict(applicants) == "bad"].head(2 if option == "plausible"
                                                                 else 4)
    data = tmp_path / "few.parquet"
    few.to_parquet(data)
    out = tmp_path / "cli_stack"
    if option == "also_model":
        extra = ["--also-model", str(save_model(logreg, tmp_path / "logreg.skops"))]
        wrapped = ModelSet([forest, logreg])
    else:
        extra = ["--plausible"]
        wrapped = PlausibleModel(forest, fit_isolation_forest(forest, X_train))
    result = runner.invoke(app, [
        "audit", "--model", str(files["model"]), "--data", str(data),
        "--schema", str(files["schema"]), "--out", str(out), "--target", "good",
        *extra, "--reference", "german", "--jobs", "1", "--no-report"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "results.parquet")
    engine = RecourseEngine(wrapped, schema, reference=X_train)
    assert len(table) == len(few)
    for _, row in table.iterrows():
        single = engine.explain(few.iloc[int(row["position"])], target="good")
        assert row["status"] == single.status
        if single.has_recourse:
            assert row["cost"] == pytest.approx(single.cost, rel=1e-6, abs=1e-9)

"""``explain_many``: the answers ``explain`` gives, verified by one call of the model's
own ``predict``; a query the model disagrees with is run again on its own."""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import recourse.engine.batch as batch
from recourse import FeatureSchema, RecourseEngine
from recourse.encoders.errors import InputValidationError
from synthdata import credit_frame, tree_pipeline


@lru_cache(maxsize=None)
def _case(kind: str):
    X, y, _ = credit_frame(5, n=300)
    est = (DecisionTreeClassifier(max_depth=5, random_state=0) if kind == "tree"
           else RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0))
    model = tree_pipeline(est).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    pred = model.predict(X)
    target = model.classes_[-1]
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(pred != target)[:12]]
    return model, schema, engine, rows, target


def _key(res):
    return (res.status, None if res.cost is None else round(res.cost, 9),
            res.counterfactual, res.optimal, res.predicted, res.target)


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_batch_gives_the_answers_explain_gives_each_verified_by_the_model(kind):
    model, schema, engine, rows, target = _case(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = [engine.explain(r, target=target, time_limit=30) for r in rows]
        many = engine.explain_many(rows, target=target, time_limit=30)
    assert [_key(a) for a in one] == [_key(b) for b in many]
    answered = [b for b in many if b.counterfactual is not None and b.status != "no_recourse"]
    assert len(answered) >= 8
    # the oracle: the fitted Pipeline's own predict on every counterfactual
    cfs = pd.DataFrame([b.counterfactual for b in answered])[list(rows[0])]
    assert (model.predict(cfs) == target).all()
    assert all(b.stats.problem.get("verified_in_batch") for b in answered)
    assert all(b.stats.verify_time is not None and b.stats.verify_time > 0 for b in answered)


def test_one_predict_call_verifies_the_whole_batch(monkeypatch):
    _, _, engine, rows, target = _case("forest")
    calls = []
    real = batch._predict

    def counting(model, schema, data):
        calls.append(len(data))
        return real(model, schema, data)

    monkeypatch.setattr(batch, "_predict", counting)
    many = engine.explain_many(rows, target=target, time_limit=30)
    held = sum(1 for b in many if b.stats.problem.get("verified_in_batch"))
    assert calls == [2 * held] and held >= 8


def test_a_query_the_model_disagrees_with_is_run_again_on_its_own(monkeypatch):
    """The batch's predict is made to reject two counterfactuals: those applicants get
    exactly the answer ``explain`` gives them, not the held one."""
    _, _, engine, rows, target = _case("tree")
    real = batch._predict
    rejected = {1, 4}

    def rejecting(model, schema, data):
        out = real(model, schema, data)
        for k in rejected:  # rows alternate applicant, counterfactual
            if 2 * k + 1 < len(out):
                out[2 * k + 1] = "no such class"
        return out

    monkeypatch.setattr(batch, "_predict", rejecting)
    reran = []
    real_explain = engine.explain

    def explain(applicant, **kw):
        reran.append(applicant)
        return real_explain(applicant, **kw)

    monkeypatch.setattr(engine, "explain", explain)
    many = engine.explain_many(rows[:6], target=target, time_limit=30)
    monkeypatch.undo()
    assert reran == [rows[k] for k in sorted(rejected)]
    for k, res in enumerate(many):
        assert bool(res.stats.problem.get("verified_in_batch")) == (k not in rejected)
        assert _key(res) == _key(engine.explain(rows[k], target=target, time_limit=30))


def test_bad_applicants_raise_or_take_their_place():
    _, _, engine, rows, target = _case("tree")
    bad = dict(rows[0])
    bad[next(iter(bad))] = float("nan")
    with pytest.raises(InputValidationError):
        engine.explain_many([rows[1], bad], target=target)
    out = engine.explain_many([rows[1], bad, rows[2]], target=target, errors="return")
    assert isinstance(out[1], InputValidationError)
    assert _key(out[0]) == _key(engine.explain(rows[1], target=target))
    assert _key(out[2]) == _key(engine.explain(rows[2], target=target))
    with pytest.raises(InputValidationError, match="errors must be one of"):
        engine.explain_many([rows[1]], target=target, errors="ignore")
    # a bad keyword or limit is wrong for every applicant: said once, even with "return"
    with pytest.raises(TypeError, match="targte"):
        engine.explain_many([rows[1]], targte=target, errors="return")
    with pytest.raises(InputValidationError, match="time_limit"):
        engine.explain_many([rows[1]], target=target, time_limit=-1, errors="return")

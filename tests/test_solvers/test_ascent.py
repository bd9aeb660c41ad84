"""The margin ascent (``recourse.solvers.local.ascend``): starting points that move
several features a little, checked by the fitted model itself and the action rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from engine_checks import applicant_problem
from recourse import FeatureSchema
from recourse.encoders.evaluate import link_table
from recourse.solvers.forward import CostTable, ForestPass
from recourse.solvers.incumbent import single_moves
from recourse.solvers.local import ascend
from recourse.solvers.problem import (
    changed_features,
    decode,
    exclude_change_sets,
    violates_exclusions,
)
from recourse.verify import action_violations, model_predict
from synthdata import credit_frame, tree_pipeline


def _additive(seed: int):
    """Approval needs the sum of three features: no one of them moved alone within its
    bounds gets there."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f: rng.uniform(0.0, 10.0, 600) for f in ("a", "b", "c")})
    y = np.where(X["a"] + X["b"] + X["c"] > 21.0, "yes", "no")
    model = RandomForestClassifier(n_estimators=30, max_depth=6,
                                   random_state=seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, bounds={f: (0.0, 10.0) for f in "abc"})
    return model, X, schema


def _tools(prob):
    obj, obj0 = prob.objective("l1")
    return ForestPass(prob.enc), CostTable(prob.enc, obj[: link_table(prob.enc).n_link], obj0)


def _cf(prob, space, s):
    """The point as the engine places an answer (a hair inside its cells), in user units."""
    full = np.zeros(prob.n)
    full[: prob.enc.n_vars] = prob.enc.block_values(s[None, :])[0]
    return space.decode(decode(prob, full))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ascent_reaches_targets_no_single_move_reaches(seed):
    model, X, schema = _additive(seed)
    pred = model.predict(X)
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(
        (pred == "no") & (X[["a", "b", "c"]].max(axis=1) < 6.0))[:4]]
    assert rows
    for x in rows:
        prob, space = applicant_problem(model, schema, x, "l1", target=1)
        fwd, prices = _tools(prob)
        moves, _ = single_moves(prob)
        assert not fwd.approves(None, moves, 1, prob.margin, prob.tie_margin).any()
        s = ascend(prob, "l1", fwd, prices)
        assert s is not None
        cf = _cf(prob, space, s)
        # the fitted Pipeline itself, and the rules of the action set
        assert model_predict(model, schema, [cf])[0] == "yes"
        assert action_violations(schema, x, cf) == []
        assert sum(cf[f] != x[f] for f in "abc") >= 2


@pytest.mark.parametrize("seed", [0, 1])
def test_ascent_points_are_approved_by_the_model_and_keep_the_rules(seed):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(RandomForestClassifier(n_estimators=25, max_depth=5,
                                                 random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["housing"], increase_only=["age"])
    pred = model.predict(X)
    found = 0
    for i in np.flatnonzero(pred == model.classes_[0])[:10]:
        x = X.iloc[i].to_dict()
        prob, space = applicant_problem(model, schema, x, "l1", target=1)
        fwd, prices = _tools(prob)
        s = ascend(prob, "l1", fwd, prices)
        if s is None:
            continue
        cf = _cf(prob, space, s)
        assert model_predict(model, schema, [cf])[0] == model.classes_[1], (i, cf)
        assert action_violations(schema, x, cf) == [], (i, cf)
        found += 1
    assert found >= 6


def test_ascent_avoids_excluded_change_sets():
    """With the features of its first answer excluded together, every point it returns
    leaves one of them unchanged (and the model still approves it); with nothing
    admissible it returns nothing."""
    model, X, schema = _additive(0)
    pred = model.predict(X)
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(
        (pred == "no") & (X[["a", "b", "c"]].max(axis=1) < 6.0))[:6]]
    other = 0
    for x in rows:
        prob, space = applicant_problem(model, schema, x, "l1", target=1)
        fwd, prices = _tools(prob)
        s = ascend(prob, "l1", fwd, prices)
        assert s is not None
        assert ascend(prob, "l1", fwd, prices, lambda H: np.zeros(len(H), bool)) is None
        used = tuple(int(j) for j in np.flatnonzero(changed_features(prob, s[None, :])[0]))
        banned = exclude_change_sets(prob, [used])
        s2 = ascend(banned, "l1", fwd, prices, lambda H, b=banned: ~violates_exclusions(b, H))
        if s2 is None:
            continue
        assert not violates_exclusions(banned, s2[None, :])[0]
        assert model_predict(model, schema, [_cf(banned, space, s2)])[0] == "yes"
        other += 1
    assert other >= 2

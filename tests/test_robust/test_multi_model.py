"""Multi-model recourse (``recourse.encoders.multi.ModelSet``): the answer is verified by every
model's own ``predict``, and its proven optimum equals the brute-force optimum over the
union of all models' split regions (``oracles.brute_force_tree_optimum`` with the
region boundaries of every member, predicting with every member)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import oracles
from recourse.encoders.errors import EncodingError
from recourse.encoders.multi import DISAGREE, ModelSet
from engine_checks import check_against_oracle
from recourse import FeatureSchema, RecourseEngine
from synthdata import credit_frame, tree_pipeline


def _members(seed, X, y):
    out = []
    specs = [(RandomForestClassifier(n_estimators=3, max_depth=3, random_state=seed),
              "standard"),
             (RandomForestClassifier(n_estimators=3, max_depth=3, random_state=seed + 1),
              "minmax"),
             (ExtraTreesClassifier(n_estimators=2, max_depth=3, random_state=seed + 2),
              "passthrough")]
    for k, (est, scaler) in enumerate(specs):
        idx = X.sample(frac=0.85, random_state=seed + k).index
        out.append(tree_pipeline(est, scaler=scaler).fit(X.loc[idx], y[idx]))
    return out


@pytest.fixture
def union_boundaries(monkeypatch):
    """The oracle's split regions of a ModelSet: every member's boundaries together."""
    plain = oracles.tree_boundaries

    def merged(model, schema, x):
        if not isinstance(model, ModelSet):
            return plain(model, schema, x)
        parts = [plain(m, schema, x) for m in model.models]
        return {n: np.unique(np.vstack([p[n] for p in parts]), axis=0) for n in parts[0]}

    monkeypatch.setattr(oracles, "tree_boundaries", merged)


@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_model_set_matches_bruteforce(norm, union_boundaries, global_random_seed):
    X, y, _ = credit_frame(global_random_seed)
    members = _members(global_random_seed, X, y)
    ms = ModelSet(members)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})
    engine = RecourseEngine(ms, schema)
    pred = ms.predict(X)
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(pred == 0)[:4]]
    assert rows
    dearer = 0
    for x in rows:
        res = engine.explain(x, norm=norm)
        assert res.target == 1
        # every member's own predict approves the counterfactual
        cf = pd.DataFrame([res.counterfactual])
        assert all(m.predict(cf)[0] == 1 for m in members)
        bf = oracles.brute_force_tree_optimum(ms, schema, x, 1, norm)
        check_against_oracle(res, ms, schema, x, 1, norm, bf)
        single = RecourseEngine(members[0], schema).explain(x, norm=norm)
        assert res.cost >= single.cost - 1e-9  # more models never make recourse cheaper
        dearer += res.cost > single.cost + 1e-9
    if norm == "l1":
        assert dearer > 0  # the set constrains something in these cases


def test_model_set_no_recourse_and_errors(global_random_seed):
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    a = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    b = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, 1 - y)  # opposite labels
    ms = ModelSet([a, b])
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(ms, schema)
    # b splits exactly as a with every leaf's probabilities mirrored: they never agree
    P = np.array([m.predict(X) for m in (a, b)])
    assert not np.any(P[0] == P[1])
    x = X.iloc[0].to_dict()
    assert ms.predict(X.iloc[[0]])[0] == DISAGREE
    with pytest.raises(Exception, match="disagree"):
        engine.explain(x)  # no default target when the models disagree
    assert RecourseEngine(a, schema).explain(x, target=1).has_recourse
    assert RecourseEngine(b, schema).explain(x, target=1).has_recourse
    res = engine.explain(x, target=1)
    assert res.status == "no_recourse"
    # any classifier type may join (tests/test_robust/test_stack_any.py); regressors not
    assert not ModelSet([a, GradientBoostingClassifier(n_estimators=2).fit(X, y)]).joint
    with pytest.raises(EncodingError, match="regressor"):
        ModelSet([a, GradientBoostingRegressor(n_estimators=2).fit(X, y)])
    with pytest.raises(EncodingError, match="classes"):
        ModelSet([a, DecisionTreeClassifier().fit(X, np.where(y == 1, 2, 0))])
    with pytest.raises(EncodingError, match="non-empty"):
        ModelSet([])

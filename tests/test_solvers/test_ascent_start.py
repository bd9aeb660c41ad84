"""The starting point of a large tree problem (``recourse.solvers.incumbent.ascent_start``):
the margin ascent returns a point that meets every row and costs no less than the
enumerated optimum, and problems below its size go to the solver untouched."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import applicant_problem
from oracles import brute_force_tree_optimum
from sklearn.ensemble import RandomForestClassifier
from synthdata import credit_frame, tree_pipeline

import recourse.solvers.incumbent as inc
from recourse import FeatureSchema
from recourse.solvers.search import satisfies


def _cases(seed: int, k: int = 6):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(RandomForestClassifier(n_estimators=6, max_depth=3,
                                                 random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(model.predict(X) != 1)[:k]]
    return model, schema, rows


@pytest.mark.parametrize("seed", [0, 1])
def test_start_meets_every_row_and_is_not_below_the_optimum(monkeypatch, seed):
    monkeypatch.setattr(inc, "ASCENT_MIN_VARS", 0)
    model, schema, rows = _cases(seed)
    found = 0
    for x in rows:
        bf = brute_force_tree_optimum(model, schema, x, 1, "l1")
        prob, _ = applicant_problem(model, schema, x, "l1", target=1)
        point = inc.large_start(prob, "l1", None)
        if point is None:
            continue
        found += 1
        assert satisfies(prob, point)
        assert bf is not None  # a point exists, so the enumeration finds one
        assert float(prob.l1 @ point + prob.l1_0) >= bf.cost - 1e-7
    assert found >= 2  # the ascent finds points here: the checks above are not vacuous


def test_problems_below_the_ascent_size_go_to_the_solver_untouched(monkeypatch):
    model, schema, rows = _cases(0)
    prob, _ = applicant_problem(model, schema, rows[0], "l1", target=1)
    calls = []
    real = inc._ascent

    def recording(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(inc, "_ascent", recording)
    monkeypatch.setattr(inc, "ASCENT_MIN_VARS", prob.n + 1)
    start = inc.find_incumbent(prob, "l1")
    assert inc.large_start(prob, "l1", start) is start
    assert calls == []
    monkeypatch.setattr(inc, "ASCENT_MIN_VARS", 0)
    inc.large_start(prob, "l1", start)
    assert calls == [1]

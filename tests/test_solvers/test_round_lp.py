"""The starting point of a large tree problem (``recourse.solvers.incumbent.round_lp``):
the margin ascent on problems of its size, the LP relaxation's rounding on smaller ones,
and whichever runs returns a point that meets every row and costs no less than the
enumerated optimum."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import recourse.solvers.incumbent as inc
from engine_checks import applicant_problem
from oracles import brute_force_tree_optimum
from recourse import FeatureSchema
from recourse.solvers.search import satisfies
from synthdata import credit_frame, tree_pipeline


def _cases(seed: int, k: int = 6):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(RandomForestClassifier(n_estimators=6, max_depth=3,
                                                 random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(model.predict(X) != 1)[:k]]
    return model, schema, rows


@pytest.fixture
def every_size(monkeypatch):
    """Both heuristics take problems of any size; ``route`` picks which one runs."""
    monkeypatch.setattr(inc, "LP_ROUNDING_MIN_VARS", 0)

    def route(name: str) -> None:
        monkeypatch.setattr(inc, "ASCENT_MIN_VARS", 0 if name == "ascent" else 1 << 62)
    return route


@pytest.mark.parametrize("name", ["ascent", "lp"])
@pytest.mark.parametrize("seed", [0, 1])
def test_start_meets_every_row_and_is_not_below_the_optimum(every_size, name, seed):
    every_size(name)
    model, schema, rows = _cases(seed)
    found = 0
    for x in rows:
        bf = brute_force_tree_optimum(model, schema, x, 1, "l1")
        prob, _ = applicant_problem(model, schema, x, "l1", target=1)
        point = inc.lp_rounding(prob, "l1", None)
        if point is None:
            continue
        found += 1
        assert satisfies(prob, point)
        assert bf is not None  # a point exists, so the enumeration finds one
        assert float(prob.l1 @ point + prob.l1_0) >= bf.cost - 1e-7
    assert found >= 2  # the heuristics find points here: the checks above are not vacuous


def test_large_problems_get_the_ascent_and_not_the_lp(every_size, monkeypatch):
    """At the ascent's size the LP relaxation is not solved (it found no cheaper point
    after the ascent and cost the solver seconds); below it, the LP is."""
    model, schema, rows = _cases(0)
    prob, _ = applicant_problem(model, schema, rows[0], "l1", target=1)
    calls = []
    real = inc.solve_highs

    def recording(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(inc, "solve_highs", recording)
    every_size("ascent")
    inc.lp_rounding(prob, "l1", None)
    assert calls == []
    every_size("lp")
    inc.lp_rounding(prob, "l1", None)
    assert calls == [1]

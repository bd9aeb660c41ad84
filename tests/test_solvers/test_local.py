"""The local search that improves a forest's starting point (``recourse.solvers.local``),
against sklearn's own ``predict``, the action-rule oracle and the brute-force optimum.

* Every cell value it may move a feature to (``cell_values``), set alone on the
  applicant and decoded, breaks no action rule (``oracles.actionability_violations``).
* ``find_incumbent`` with the local search returns a point sklearn approves, that breaks
  no rule, and whose oracle cost (``oracles.point_cost``) is at most that of
  ``find_incumbent`` without it and at least the brute-force optimum
  (``oracles.brute_force_tree_optimum``, small forests); on these cases it is strictly
  cheaper at least once.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracles import actionability_violations, brute_force_tree_optimum, model_predict, point_cost
from sklearn.ensemble import RandomForestClassifier
from engine_checks import applicant_problem
from synthdata import credit_frame, tree_pipeline

from recourse import FeatureSchema
from recourse.solvers.incumbent import find_incumbent
from recourse.solvers.local import cell_values
from recourse.solvers.problem import decode

RULES = {
    "free": dict(),
    "rules": dict(immutable=["housing"], increase_only=["age"], decrease_only=["debt"],
                  bounds={"income": (20.0, 90.0)}),
}


def _forest(seed: int, rules: str, trees: int, depth: int):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(RandomForestClassifier(n_estimators=trees, max_depth=depth,
                                                 random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, scales={"age": 5.0, "income": 10.0, "debt": 10.0},
                                      **RULES[rules])
    return X, model, schema


def _denied(X, model, schema, k):
    pred = model_predict(model, schema, [X.iloc[i].to_dict() for i in range(len(X))])
    return [X.iloc[i].to_dict() for i in np.flatnonzero(pred == model.classes_[0])[:k]]


def _problem(model, schema, x):
    return applicant_problem(model, schema, x, "l1", target=1)


@pytest.mark.parametrize("rules", list(RULES))
def test_cell_values_obey_the_action_rules(rules):
    X, model, schema = _forest(1, rules, trees=8, depth=5)
    checked = 0
    for x in _denied(X, model, schema, 3):
        prob, space = _problem(model, schema, x)
        for j, V in cell_values(prob):
            sl = slice(int(space.start[j]), int(space.start[j + 1]))
            for v in V:
                s = prob.x0.copy()
                s[sl] = v
                row = space.decode(s)
                assert not actionability_violations(schema, x, row), (j, v, row)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize("rules", list(RULES))
def test_local_search_is_valid_cheaper_and_not_below_the_optimum(rules):
    X, model, schema = _forest(3, rules, trees=6, depth=3)
    gains = 0
    cases = _denied(X, model, schema, 6)
    assert cases
    for x in cases:
        prob, space = _problem(model, schema, x)
        plain = find_incumbent(prob, "l1", use_local=False)
        v = find_incumbent(prob, "l1")
        bf = brute_force_tree_optimum(model, schema, x, model.classes_[1], "l1")
        if v is None:
            assert plain is None and bf is None
            continue
        row = space.decode(decode(prob, v))
        assert model_predict(model, schema, [row])[0] == model.classes_[1]
        assert not actionability_violations(schema, x, row)
        got = point_cost(schema, x, row)[0]
        old = point_cost(schema, x, space.decode(decode(prob, plain)))[0]
        assert got <= old + 1e-6 * max(1.0, old), (got, old)
        assert bf is not None and got >= bf.cost - 1e-6 * max(1.0, bf.cost), (got, bf.cost)
        gains += got < old - 1e-6 * max(1.0, old)
    assert gains >= 1  # the search does find cheaper points here

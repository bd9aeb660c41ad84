"""``recourse.solvers.leaves``: the cheapest point of every leaf of one tree, against an
enumeration that assigns every admissible grid point to its leaf with sklearn's own
``apply`` (``oracles.tree_leaf_minima``).

For every leaf, in L1 and L0, with immutable, increase-only, decrease-only and bounded
features, an integer, two continuous and a categorical feature:

* a leaf the grid reaches is reachable, and one it does not reach is not;
* the leaf's point lies in that leaf (sklearn's ``apply`` on the decoded row) and obeys
  the action set;
* its cost (recomputed by the oracle from the row) and ``dist`` equal the least cost
  of the grid points in that leaf (up to the float32 placement of continuous values).

And the engine's answer on one tree is proven by the engine's own bounds ("tree-bounds",
no solver) and equals the brute-force optimum.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracles import (actionability_violations, brute_force_tree_optimum, costs_close,
                     point_cost, tree_leaf_minima, tree_leaves_of)
from sklearn.tree import DecisionTreeClassifier
from engine_checks import applicant_problem
from synthdata import credit_frame, tree_pipeline

from recourse import FeatureSchema, RecourseEngine
from recourse.solvers.leaves import iter_leaf_points, leaf_link_values, leaf_points
from recourse.solvers.prune import leaf_distance

SCHEMAS = {
    "free": dict(),
    "rules": dict(immutable=["housing"], increase_only=["age"], decrease_only=["debt"],
                  bounds={"income": (20.0, 90.0)}),
}


def _setup(seed: int, rules: str, depth: int = 5):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=depth, random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, scales={"age": 5.0, "income": 10.0, "debt": 10.0},
                                      **SCHEMAS[rules])
    return X, model, schema


def _problem(model, schema, x, norm):
    return applicant_problem(model, schema, x, norm)


@pytest.mark.parametrize("norm", ["l1", "l0"])
@pytest.mark.parametrize("rules", list(SCHEMAS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_leaf_point_is_the_cheapest_of_its_leaf(seed, rules, norm):
    X, model, schema = _setup(seed, rules)
    for i in (0, 7, 19):
        x = X.iloc[i].to_dict()
        prob, space = _problem(model, schema, x, norm)
        want = tree_leaf_minima(model, schema, x, norm)
        Z, ok, dist = leaf_link_values(prob, norm)
        H, cost = leaf_points(prob, norm)
        assert ok.sum() == H.shape[0] == len(want), (ok.sum(), len(want))
        seen = set()
        rows = [space.decode(h) for h in H]
        for row, leaf, c in zip(rows, tree_leaves_of(model, schema, rows), cost):
            assert leaf in want and leaf not in seen
            seen.add(leaf)
            assert not actionability_violations(schema, x, row)
            got = point_cost(schema, x, row)[0 if norm == "l1" else 1]
            assert costs_close(got, want[leaf], rel=1e-6, abs_=1e-5), (got, want[leaf])
            assert costs_close(c, want[leaf], rel=1e-6, abs_=1e-5)
        # dist (the bound prune uses) sorted equals the sorted leaf minima
        assert np.allclose(np.sort(dist[ok]), np.sort(list(want.values())),
                           rtol=1e-6, atol=1e-5)
        # it is never below the per-feature bound it replaces in prune
        assert np.all(leaf_distance(prob, norm)[ok] <= dist[ok] + 1e-9)
        # the lazily decoded chunks are the same points in the same order
        chunks = list(iter_leaf_points(prob, norm))
        sizes = [len(c) for _, c in chunks]
        assert sizes == [min(k, cost.size - sum(sizes[:i])) for i, k in
                         enumerate(8 ** np.arange(len(sizes)))]
        assert np.array_equal(np.vstack([h for h, _ in chunks]), H)
        assert np.array_equal(np.concatenate([c for _, c in chunks]), cost)


@pytest.mark.parametrize("norm", ["l1", "l0"])
@pytest.mark.parametrize("rules", list(SCHEMAS))
def test_one_tree_is_proven_by_its_leaves_without_a_solver(rules, norm):
    X, model, schema = _setup(3, rules, depth=6)
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    n = 0
    for i in range(len(X)):
        if n == 6:
            break
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        bf = brute_force_tree_optimum(model, schema, x, target, norm)
        res = engine.explain(x, target=target, norm=norm, time_limit=30)
        if bf is None:
            assert res.status == "no_recourse"
            continue
        n += 1
        assert res.status == "optimal" and res.verified
        assert res.stats.certified_by in ("tree-bounds", "bounds")  # no solver ran
        assert res.stats.backend_used is None
        assert costs_close(res.cost, bf.cost, rel=1e-6, abs_=1e-5), (res.cost, bf.cost)


def test_leaf_costs_are_computed_once_per_problem_and_never_shared():
    """The memoised per-leaf costs equal an explicit computation with the problem's own
    bounds, are read-only, and a problem with other bounds gets its own."""
    X, model, schema = _setup(0, "free")
    prob, _ = _problem(model, schema, X.iloc[3].to_dict(), "l1")
    Z, ok, dist = leaf_link_values(prob, "l1")
    assert leaf_link_values(prob, "l1")[2] is dist  # served from the memo
    Z2, ok2, dist2 = leaf_link_values(prob, "l1", np.arange(ok.size), ub=prob.ub.copy(),
                                      lb=prob.lb.copy())
    assert np.array_equal(Z, Z2) and np.array_equal(ok, ok2) and np.array_equal(dist, dist2)
    with pytest.raises(ValueError):
        dist[0] = 0.0
    # forbid every move: only the applicant's own leaf stays reachable
    nl = prob.enc.n_link
    z0 = Z[np.flatnonzero(dist == 0.0)[0]]
    lb, ub = prob.lb.copy(), prob.ub.copy()
    lb[:nl], ub[:nl] = z0, z0
    frozen = prob.with_bounds(lb, ub)
    _, ok_f, dist_f = leaf_link_values(frozen, "l1")
    assert ok_f.sum() == 1 and ok.sum() > 1 and np.all(dist_f[ok_f] == 0.0)

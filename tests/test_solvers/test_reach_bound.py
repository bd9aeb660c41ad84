"""The engine's own lower bound for unproven answers (``recourse.solvers.prune.reach_bound``):
never above the optimum an enumeration of the split regions finds, equal to a plain
loop over budgets, and reported by a search that ends before a solver could prove."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from engine_checks import applicant_problem
from oracles import brute_force_tree_optimum
from recourse import FeatureSchema
from recourse.solvers.deadline import Deadline
from recourse.solvers.incumbent import find_incumbent
from recourse.solvers.leaves import leaf_link_values
from recourse.solvers.prune import leaf_distance, prune, reach_bound
from recourse.solvers.search import solve_phase
from recourse.solvers.status import Status
from synthdata import credit_frame, tree_pipeline


def _additive(seed: int):
    """Approval needs the sum of three features: several trees must change leaf."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f: rng.uniform(0.0, 10.0, 500) for f in ("a", "b", "c")})
    y = np.where(X["a"] + X["b"] + X["c"] > 19.0, "yes", "no")
    model = RandomForestClassifier(n_estimators=8, max_depth=3, random_state=seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, bounds={f: (0.0, 10.0) for f in "abc"})
    return model, X, schema, "yes"


def _credit(seed: int):
    X, y, _ = credit_frame(seed, n=300)
    model = tree_pipeline(RandomForestClassifier(n_estimators=6, max_depth=3,
                                                 random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    return model, X, schema, 1


def _naive(prob, pruned, exact: bool) -> float | None:
    """The least budget at which each tree's best leaf within it reaches every target
    row, by a loop over the budgets and the trees."""
    tree = prob.enc.tree
    dist = (leaf_link_values(prob, "l1")[2] if exact
            else leaf_distance(prob, "l1", pruned.ub[: prob.n]))
    alive = (pruned.ub[tree.leaf_var] > 0.5) & (dist < 1e29)
    Gl, g_lo = prob.enc.target_leaf_rows(prob.target)
    for B in sorted(set(dist[alive].tolist())):
        ok = True
        for r in range(Gl.shape[0]):
            total = 0.0
            for t in range(tree.n_trees):
                mine = [Gl[r, leaf] for leaf in np.flatnonzero(alive & (tree.leaf_tree == t))
                        if dist[leaf] <= B]
                if not mine:
                    ok = False
                    break
                total += max(mine)
            if not ok or total < g_lo[r] - 1e-9:
                ok = False
                break
        if ok:
            return float(B)
    return None


def _cases(make, seed, k=4):
    model, X, schema, target = make(seed)
    pred = model.predict(X)
    rows = [X.iloc[i].to_dict() for i in np.flatnonzero(pred != target)[: 4 * k]]
    return model, schema, target, rows


@pytest.mark.parametrize("make", [_additive, _credit])
@pytest.mark.parametrize("seed", [0, 1])
def test_reach_bound_is_below_the_enumerated_optimum(make, seed):
    model, schema, target, rows = _cases(make, seed)
    positive = 0
    checked = 0
    for x in rows:
        bf = brute_force_tree_optimum(model, schema, x, target, "l1")
        if bf is None:
            continue
        prob, _ = applicant_problem(model, schema, x, "l1", target=list(model.classes_).index(target))
        for upper in (np.inf, bf.cost * 1.5):
            pruned, blocked = prune(prob, "l1", upper)
            assert not blocked  # the optimum is cheaper than upper
            B = reach_bound(prob, pruned, "l1")
            assert B is not None
            assert B <= bf.cost + 1e-7, (B, bf.cost)
            assert B == pytest.approx(_naive(prob, pruned, exact=True), abs=1e-12)
            positive += B > 1e-9
            checked += 1
    assert checked >= 4
    assert positive >= 2  # the bound says something on these models, not just 0


def test_reach_bound_per_feature_distances_match_the_loop():
    """The path for large ensembles (per-feature leaf distances) aggregates the same way."""
    import recourse.solvers.prune as P

    model, schema, target, rows = _cases(_additive, 3)
    prob, _ = applicant_problem(model, schema, rows[0], "l1", target=1)
    pruned, _ = prune(prob, "l1", np.inf)
    old = P.EXACT_LEAF_WORK
    try:
        P.EXACT_LEAF_WORK = 0
        B = reach_bound(prob, pruned, "l1")
    finally:
        P.EXACT_LEAF_WORK = old
    assert B == pytest.approx(_naive(prob, pruned, exact=False), abs=1e-12)
    assert B <= brute_force_tree_optimum(model, schema, rows[0], target, "l1").cost + 1e-7


def test_unproven_search_reports_the_engine_bound():
    """A search whose time is up before a solver starts keeps its starting point,
    unproven, with the tree bound as its proven lower bound (not "unknown")."""
    model, schema, target, rows = _cases(_additive, 0)
    for x in rows:
        bf = brute_force_tree_optimum(model, schema, x, target, "l1")
        prob, _ = applicant_problem(model, schema, x, "l1", target=1)
        inc = find_incumbent(prob, "l1", None)
        if inc is None:
            continue
        pruned, blocked = prune(prob, "l1", float(prob.l1 @ inc + prob.l1_0))
        if blocked:
            continue  # proven by the bounds alone: nothing to report
        out = solve_phase(prob, "l1", inc, Deadline.after(0.0))
        assert out["status"] is Status.FEASIBLE
        assert out["bound"] is not None
        assert out["bound"] == pytest.approx(reach_bound(prob, pruned, "l1"))
        assert out["bound"] <= bf.cost + 1e-7 <= out["objective"] + 2e-7
        return
    pytest.fail("every applicant was proven by the bounds alone; pick another model")

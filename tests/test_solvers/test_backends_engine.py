"""The whole engine on every backend, against the brute-force and LP oracles.

Small forests and trees (tree_pipeline with OneHotEncoder and a scaler) and linear models
from ``synthdata``; each answer is checked by ``engine_checks.check_against_oracle``
(the model's own predict, the action rules, the recomputed cost against the oracle).
The Pyomo model a user extends is checked against an independent route to the same
question (a schema that makes the feature immutable).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from engine_checks import TIME_LIMIT, check_against_oracle, check_valid_counterfactual
from oracles import affine_decision, brute_force_tree_optimum, costs_close, linear_lp_optimum
from recourse import FeatureSchema, RecourseEngine
from recourse.solvers.errors import UnsupportedProblemError
from recourse.solvers.problem import build_problem
from recourse.solvers.search import solve_phase
from recourse.solvers.status import Status
from synthdata import credit_frame, tree_pipeline

pyo = pytest.importorskip("pyomo.environ")
pytest.importorskip("ortools")

BACKENDS = ("highs", "cpsat", "pyomo", "auto")


def _denied(model, X, k, start=0):
    pred = model.predict(X)
    classes = list(model.classes_)
    out = []
    for i in range(start, len(X)):
        out.append((X.iloc[i].to_dict(), classes[1] if pred[i] == classes[0] else classes[0]))
        if len(out) == k:
            break
    return out


@pytest.fixture(scope="module")
def forest():
    X, y, _ = credit_frame(7)
    model = tree_pipeline(RandomForestClassifier(n_estimators=4, max_depth=3,
                                                 random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})
    return X, model, schema


@pytest.mark.parametrize("norm", ["l1", "l0", "l0_l1"])
def test_every_backend_finds_the_brute_force_optimum_on_a_forest(forest, norm):
    X, model, schema = forest
    engines = {b: RecourseEngine(model, schema, backend=b) for b in BACKENDS}
    solved_by = set()
    for x, target in _denied(model, X, 4):
        oracle_norm = "l0" if norm == "l0_l1" else norm
        bf = brute_force_tree_optimum(model, schema, x, target, oracle_norm)
        for b, eng in engines.items():
            res = eng.explain(x, target=target, norm=norm, time_limit=TIME_LIMIT)
            if norm == "l0_l1":  # the L0 count is the oracle's optimum
                assert res.status == "optimal", (b, res.message)
                check_valid_counterfactual(res, model, schema, x, target)
                assert res.cost == pytest.approx(bf.cost, abs=1e-9), b
            else:
                check_against_oracle(res, model, schema, x, target, norm, bf)
            solved_by.add(res.stats.backend_used)
    if norm == "l1":  # the solvers themselves ran, not only the bounds
        assert {"cpsat", "pyomo"} <= solved_by


@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_every_backend_solves_the_unpruned_problem(norm, global_random_seed):
    """No incumbent, so no bound decides anything: each backend alone must reach the
    brute-force optimum on a deeper tree (CP-SAT with its scaling errors reported)."""
    X, y, _ = credit_frame(global_random_seed + 11)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=5, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X, weights={"income": 0.7})
    eng = RecourseEngine(model, schema)
    for x, target in _denied(model, X, 3, start=3):
        bf = brute_force_tree_optimum(model, schema, x, target, norm)
        x0 = eng.space.encode(schema.validate_row(x))
        prob = build_problem(eng.encoding, eng.spec, x0, eng.classes.index(target),
                             norm=norm, margin=1e-6, tie_margin=1e-6)
        for b in ("highs", "cpsat", "pyomo"):
            out = solve_phase(prob, norm, None, time.perf_counter() + TIME_LIMIT, b)
            assert out["backend"] == b and out["status"] is Status.OPTIMAL, (b, out["raw"])
            assert costs_close(out["objective"], bf.cost), (b, out["objective"], bf.cost)
            if b == "cpsat":
                stats = out["problem"].stats
                assert stats["cpsat_row_error"] < 1e-7 and stats["cpsat_cost_error"] < 1e-9


def test_linear_model_on_pyomo_matches_the_lp_and_cpsat_refuses_it(global_random_seed):
    X, y, _ = credit_frame(global_random_seed + 12, categorical=False)
    X = X.assign(age=X.age.astype(float))
    model = LogisticRegression(max_iter=1000).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=[], decrease_only=["debt"])
    pyomo_eng = RecourseEngine(model, schema, backend="pyomo")
    auto_eng = RecourseEngine(model, schema, backend="auto")
    for x, target in _denied(model, X, 3):
        W, b = affine_decision(model, schema, x)
        sign = 1 if target == model.classes_[1] else -1
        lp = linear_lp_optimum(W[0], b[0], schema, x, sign, 0.0)
        for eng in (pyomo_eng, auto_eng):
            res = eng.explain(x, target=target, time_limit=TIME_LIMIT)
            check_against_oracle(res, model, schema, x, target, "l1", lp)
        assert auto_eng.explain(x, target=target).stats.backend_used == "highs"
    with pytest.raises(UnsupportedProblemError, match=r"'cpsat'.*continuous.*'highs', 'pyomo'"):
        RecourseEngine(model, schema, backend="cpsat").explain(x, target=target)


def test_unknown_backend_is_refused_at_construction(forest):
    X, model, schema = forest
    with pytest.raises(ValueError, match=r"'backend' parameter must be one of"):
        RecourseEngine(model, schema, backend="gurobi")


def test_user_constraint_in_pyomo_equals_an_immutable_feature(forest):
    """Fixing a feature's split indicators in the Pyomo model (the user's own rule) gives
    the optimum of the schema in which that feature is immutable (the engine's own rule,
    checked by brute force)."""
    X, model, schema = forest
    eng = RecourseEngine(model, schema)
    checked = 0
    for x, target in _denied(model, X, 6):
        free = eng.explain(x, target=target)
        if not free.changes:
            continue
        feat = free.changes[0].feature
        pm = eng.pyomo_model(x, target=target)
        at_x0 = pm.problem.enc.block_values(pm.x0[None, :])[0]
        pm.model.keep = pyo.ConstraintList()
        for var in pm.feature_vars(feat).values():
            pm.model.keep.add(var == float(at_x0[var.index()]))
        mine = pm.solve()
        fixed_schema = schema.replace(feat, immutable=True, direction="any")
        bf = brute_force_tree_optimum(model, fixed_schema, x, target, "l1")
        check_against_oracle(mine, model, fixed_schema, x, target, "l1", bf)
        assert mine.counterfactual[feat] == x[feat]
        checked += 1
    assert checked >= 3


def test_pyomo_model_value_var_on_a_linear_model(global_random_seed):
    X, y, _ = credit_frame(global_random_seed + 13, categorical=False)
    X = X.assign(age=X.age.astype(float))
    model = LogisticRegression(max_iter=1000).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=[])
    eng = RecourseEngine(model, schema)
    x, target = _denied(model, X, 1)[0]
    free = eng.explain(x, target=target)
    moved = [c.feature for c in free.changes]
    pm = eng.pyomo_model(x, target=target)
    var = pm.value_var(moved[0])
    pm.model.no_move = pyo.Constraint(expr=var == x[moved[0]])
    res = pm.solve()
    W, b = affine_decision(model, schema, x)
    sign = 1 if target == model.classes_[1] else -1
    lp = linear_lp_optimum(W[0], b[0], schema.replace(moved[0], immutable=True), x, sign, 0.0)
    check_against_oracle(res, model, schema, x, target, "l1", lp)
    with pytest.raises(ValueError, match="norm 'l1' or 'l0'"):
        eng.pyomo_model(x, target=target, norm="l0_l1")
    with pytest.raises(ValueError, match="Unknown feature"):
        pm.feature_vars("nope")
    assert np.isfinite(res.cost)

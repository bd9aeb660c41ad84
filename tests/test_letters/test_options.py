"""``RecourseEngine.options``: k distinct options, each the exact optimum given the
earlier ones, each verified by the model's own ``predict``.

Oracle (``options_oracle``): brute force over split regions (trees, forests) or LPs over
every allowed subset of features (linear), with the earlier options' change sets
excluded, independent of the engine. Option ``i`` must match the oracle's optimum
given options ``1..i-1``; when the engine stops with ``exhausted`` the oracle must find
nothing either.
"""

from __future__ import annotations

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from engine_checks import TIME_LIMIT, check_against_oracle, check_valid_counterfactual
from oracles import _same, costs_close, model_predict
from options_oracle import linear_optimum_excluding, tree_optimum_excluding
from recourse import FeatureSchema, InputValidationError, RecourseEngine
from synthdata import credit_frame, tree_pipeline

K = 4


def _denied(model, X, n, start=0):
    classes = list(model.classes_)
    pred = model.predict(X)
    out = []
    for i in range(start, len(X)):
        if pred[i] == classes[0]:
            out.append((X.iloc[i].to_dict(), classes[1]))
        if len(out) == n:
            break
    return out


def _changed(schema, x, cf):
    return frozenset(n for n in schema.names if not _same(x[n], cf[n]))


def _check_options(opts, model, schema, x, target, norm, oracle):
    """Every option against the oracle given the earlier ones; distinct; verified."""
    sets = []
    for i, res in enumerate(opts.options):
        ctx = f"option {i + 1} excluding {sets}\napplicant={x}"
        check_valid_counterfactual(res, model, schema, x, target, ctx)
        assert model_predict(model, schema, [res.counterfactual])[0] == target
        best = oracle(sets)
        check_against_oracle(res, model, schema, x, target, norm, best, ctx=ctx)
        s = _changed(schema, x, res.counterfactual)
        assert s and not any(prev <= s for prev in sets), (s, sets, ctx)
        assert (res.stats.excluded if res.stats.excluded is not None else []) == [sorted(p, key=schema.names.index) for p in sets]
        sets.append(s)
    assert opts.change_sets == sets
    if opts.stopped == "k_reached":
        assert len(opts) == opts.requested
    else:
        assert opts.stopped == "exhausted", (opts.stopped, opts.message)
        assert oracle(sets) is None, f"engine: exhausted after {sets}; oracle finds more"
        assert opts.final is not None and opts.final.status == "no_recourse"
        assert not opts.final.has_recourse
    # costs never decrease from one option to the next (each is a restriction)
    costs = [r.cost for r in opts.options]
    assert all(a <= b + 1e-6 * max(1.0, abs(b)) for a, b in zip(costs, costs[1:])), costs


TREES = {
    "tree_d4": lambda s: DecisionTreeClassifier(max_depth=4, random_state=s),
    "rf3_d3": lambda s: RandomForestClassifier(n_estimators=3, max_depth=3, random_state=s),
}


@pytest.mark.parametrize(("name", "norm"), [(n, m) for n in TREES for m in ("l1", "l0")]
                         + [("tree_d4", "l0_l1")])
def test_tree_options_match_bruteforce(name, norm, global_random_seed):
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(TREES[name](global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})
    engine = RecourseEngine(model, schema, reference=X)
    n_exhausted = 0
    for x, target in _denied(model, X, 3):
        opts = engine.options(x, k=K, target=target, norm=norm, time_limit=TIME_LIMIT)
        assert opts.options, opts.message
        _check_options(opts, model, schema, x, target, norm,
                       lambda sets, x=x, t=target: tree_optimum_excluding(
                           model, schema, x, t, norm, sets))
        n_exhausted += opts.stopped == "exhausted"
    assert n_exhausted or norm != "l0"  # L0 on 4 features runs out of distinct sets


def test_exhausted_is_proven_and_explained(global_random_seed):
    """With two mutable features there are at most 3 distinct change sets; asking for 5
    stops early with the solver's proof, and the message says so."""
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X, immutable=["age", "housing"])
    x, target = _denied(model, X, 1)[0]
    opts = RecourseEngine(model, schema).options(x, k=5, target=target, norm="l0")
    assert len(opts) <= 3
    assert opts.stopped in ("exhausted", "no_recourse")
    for res in opts:
        assert not ({"age", "housing"} & {c.feature for c in res.changes})
    _check_options(opts, model, schema, x, target, "l0",
                   lambda sets: tree_optimum_excluding(model, schema, x, target, "l0", sets))
    if opts.stopped == "exhausted":
        assert "proved" in opts.message and str(len(opts)) in opts.message


def test_linear_options_match_lp_oracle(global_random_seed):
    """Value-linked features (a logistic regression) get change binaries for the
    exclusion rows even under L1."""
    X, y, _ = credit_frame(global_random_seed, categorical=False)
    model = Pipeline([("s", StandardScaler()),
                      ("m", LogisticRegression(max_iter=1000))]).fit(X, y)
    schema = FeatureSchema.from_frame(X, integer=[], weights={"income": 1.5})
    engine = RecourseEngine(model, schema)
    for x, target in _denied(model, X, 3):
        opts = engine.options(x, k=K, target=target, norm="l1", time_limit=TIME_LIMIT)
        sets = []
        for res in opts:
            check_valid_counterfactual(res, model, schema, x, target)
            best = linear_optimum_excluding(model, schema, x, target, sets)
            assert best is not None and res.status == "optimal"
            assert costs_close(res.cost, best.cost, rel=1e-4, abs_=1e-5), (
                res.cost, best.cost, sets)
            s = _changed(schema, x, res.counterfactual)
            assert not any(prev <= s for prev in sets)
            sets.append(s)
        if opts.stopped == "exhausted":
            assert linear_optimum_excluding(model, schema, x, target, sets) is None
        else:
            assert opts.stopped == "k_reached"


def test_exclude_argument_validation():
    X, y, _ = credit_frame(0)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    x, target = _denied(model, X, 1)[0]
    with pytest.raises(InputValidationError, match="salary"):
        engine.explain(x, target=target, exclude=[{"salary"}])
    with pytest.raises(InputValidationError, match="empty"):
        engine.explain(x, target=target, exclude=[set()])
    with pytest.raises(InputValidationError, match=r"\[\{'income'\}\]"):
        engine.explain(x, target=target, exclude=["income"])
    with pytest.raises(InputValidationError, match="positive integer"):
        engine.options(x, target=target, k=0)


def test_exclude_everything_mutable_is_no_recourse():
    """Excluding each mutable feature on its own forbids every change: a proof, stated."""
    X, y, _ = credit_frame(0)
    model = tree_pipeline(DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    x, target = _denied(model, X, 1)[0]
    res = RecourseEngine(model, schema).explain(
        x, target=target, exclude=[{n} for n in schema.names])
    assert res.status == "no_recourse" and "excluded" in res.message

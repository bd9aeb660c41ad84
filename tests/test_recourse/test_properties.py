"""Property tests: random small forests and random action sets against brute force.

Hypothesis draws the data seed, the model (tree / forest / extra-trees with 1-5 trees of
depth 1-3, or fully grown on 40 rows so that leaf probabilities tie; bare on numbers or
behind a one-hot pipeline, optionally with a binary feature), the applicant (a training
row, sometimes with a continuous value moved exactly onto the float32 boundary of a
split), the action set (immutable, increase-only and decrease-only subsets, bounds that
contain the applicant, weights), the target and the norm. Whatever the engine answers
must be verified by the model, actionable and consistently costed; "optimal" must equal
the brute-force optimum, and "no_recourse" must occur exactly when brute force finds
nothing. ``--runslow`` runs the same property on 400 draws.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from engine_checks import TIME_LIMIT, check_against_oracle, check_valid_counterfactual, describe
from oracles import brute_force_tree_optimum, model_predict, tree_boundaries
from recourse import FeatureSchema, find_recourse
from synthdata import credit_frame, tree_pipeline

PROPS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                 phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


def _bounds_around(draw, f, v):
    """Bounds for numeric feature ``f`` that contain the applicant's value ``v``."""
    if f.kind == "binary":
        return None, None
    width = f.upper - f.lower
    fr = st.sampled_from([None, None, 0.0, 0.05, 0.3, 1.0])
    lo_f, hi_f = draw(fr), draw(fr)
    lo = None if lo_f is None else v - lo_f * width
    hi = None if hi_f is None else v + hi_f * width
    if f.kind == "integer":
        lo = None if lo is None else math.floor(lo)
        hi = None if hi is None else math.ceil(hi)
    return lo, hi


@PROPS
@given(data=st.data())
def test_random_forests_and_action_sets(data):
    draw = data.draw
    seed = draw(st.integers(0, 10_000), label="seed")
    categorical = draw(st.booleans(), label="categorical")
    multiclass = draw(st.booleans(), label="multiclass")
    binary = draw(st.booleans(), label="binary")
    # small data with fully grown trees gives pure leaves, hence probability ties
    tiny = draw(st.integers(0, 3), label="tiny") == 0
    X, y2, y3 = credit_frame(seed, n=40 if tiny else 150, categorical=categorical,
                             binary=binary)
    y = y3 if multiclass else y2
    kind = draw(st.sampled_from(["tree", "rf", "et"]), label="kind")
    depth = None if tiny else draw(st.integers(1, 3), label="depth")
    n_est = draw(st.integers(1, 5), label="n_estimators")
    est = {
        "tree": lambda: DecisionTreeClassifier(max_depth=depth, random_state=seed),
        "rf": lambda: RandomForestClassifier(n_estimators=n_est, max_depth=depth,
                                             random_state=seed),
        "et": lambda: ExtraTreesClassifier(n_estimators=n_est, max_depth=depth,
                                           random_state=seed),
    }[kind]()
    if categorical:
        scaler = draw(st.sampled_from(["standard", "minmax", "passthrough"]), label="scaler")
        model = tree_pipeline(est, scaler=scaler,
                              extra_numeric=("guarantor",) if binary else ()).fit(X, y)
    else:
        model = est.fit(X, y)

    i = draw(st.integers(0, len(X) - 1), label="applicant")
    x = X.iloc[i].to_dict()
    names = list(X.columns)
    base = FeatureSchema.from_frame(X)
    if draw(st.integers(0, 2), label="snap") == 0:
        # put a continuous feature exactly where the model switches (float32 boundary)
        bnd = tree_boundaries(model, base, x)
        options = [(n, v) for n in ("income", "debt") for row in bnd[n] for v in row]
        if options:
            name, v = draw(st.sampled_from(options), label="snap_to")
            x[name] = float(v)
    numeric = [n for n in names if n != "housing"]
    roles = {n: draw(st.sampled_from(["any"] * 4 + ["immutable", "increase", "decrease"]
                                     if n in numeric else ["any"] * 3 + ["immutable"]),
                     label=f"role[{n}]") for n in names}
    bounds = {n: _bounds_around(draw, base[n], float(x[n])) for n in numeric}
    weights = {n: draw(st.sampled_from([0.5, 1.0, 2.0]), label=f"w[{n}]") for n in names}
    schema = FeatureSchema.from_frame(
        X,
        immutable=[n for n, r in roles.items() if r == "immutable"],
        increase_only=[n for n, r in roles.items() if r == "increase"],
        decrease_only=[n for n, r in roles.items() if r == "decrease"],
        bounds=bounds, weights=weights,
    )
    classes = list(model.classes_)
    predicted = model_predict(model, base, [x])[0]
    others = [c for c in classes if c != predicted]
    # mostly another class; sometimes the current one (must answer "already_target")
    target = draw(st.sampled_from(others * 4 + [predicted]), label="target")
    norm = draw(st.sampled_from(["l1", "l0", "l0_l1"]), label="norm")
    ctx = describe(model, schema, x, target, norm)

    res = find_recourse(model, x, schema, target=target, norm=norm, time_limit=TIME_LIMIT)

    event(f"status={res.status}")
    if predicted == target:
        assert res.status == "already_target", f"{res.status}\n{ctx}"
        assert res.cost == 0 and res.verified and not res.changes, (res, ctx)
        return
    try:
        bf = brute_force_tree_optimum(model, schema, x, target, norm, max_points=120_000)
    except ValueError as exc:  # enumeration too large for this draw
        if "too large" in str(exc):
            assume(False)
        raise
    event("oracle=" + ("none" if bf is None else "found"))
    if res.status in ("optimal", "feasible"):
        check_valid_counterfactual(res, model, schema, x, target, ctx)
    check_against_oracle(res, model, schema, x, target, norm, bf, require_optimal=False,
                         ctx=ctx)


@pytest.mark.slow
@settings(PROPS, max_examples=400)
@given(data=st.data())
def test_random_forests_and_action_sets_many(data):
    """The same property on many more draws (``--runslow``)."""
    test_random_forests_and_action_sets.hypothesis.inner_test(data)

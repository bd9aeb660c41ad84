"""The local search over threshold cells against a brute-force oracle and the model's own
predict (a small forest on integer features, every point of the box enumerated)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from recourse import FeatureSchema, RecourseEngine
from recourse.solvers import variants
from recourse.solvers.local_search import improve
from recourse.solvers.problem import build_problem, decode
from recourse.solvers.search import satisfies


def _case(seed: int):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.integers(0, 8, size=(300, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + X["b"] - X["c"] + rng.normal(0, 1.5, 300) > 5, "good", "bad")
    model = RandomForestClassifier(8, max_depth=3, random_state=seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["c"])
    return X, model, schema


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_improve_from_worst_start_is_valid_cheaper_and_never_below_brute_force(seed):
    X, model, schema = _case(seed)
    engine = RecourseEngine(model, schema)
    denied = X[model.predict(X) == "bad"]
    grid = pd.DataFrame(list(itertools.product(range(8), repeat=3)), columns=["a", "b", "c"])
    good = grid[model.predict(grid) == "good"]
    scale = np.array([schema[n].scale for n in "abc"])
    improved_any = False
    for _, row in denied.head(6).iterrows():
        x = row.to_numpy(float)
        ok = good[good["c"] >= x[2]]  # increase-only c
        if ok.empty:
            continue
        costs = (np.abs(ok.to_numpy(float) - x) / scale).sum(axis=1)
        x0 = engine.space.encode(schema.validate_row(row.to_dict()))
        prob = build_problem(engine.encoding, engine.spec, x0, engine.classes.index("good"),
                             norm="l1", margin=1e-6)
        worst = ok.iloc[int(np.argmax(costs))].to_dict()  # the most expensive approved point
        s = engine.space.encode(schema.validate_row(worst))
        start = np.zeros(prob.n)
        start[: engine.encoding.n_vars] = engine.encoding.block_values(s[None, :])[0]
        assert satisfies(prob, start)
        c, c0 = prob.objective("l1")
        out = improve(prob, "l1", start, time_budget=5.0)
        assert satisfies(prob, out)
        cf = engine.space.decode(decode(prob, out))
        frame = pd.DataFrame([cf])[["a", "b", "c"]]
        assert model.predict(frame)[0] == "good"  # the model's own predict
        assert cf["c"] >= x[2] and all(float(v) == round(float(v)) for v in cf.values())
        true_cost = float((np.abs(frame.to_numpy(float)[0] - x) / scale).sum())
        assert true_cost >= costs.min() - 1e-9  # brute force: nothing cheaper exists
        assert float(c @ out + c0) <= float(c @ start + c0) + 1e-9
        improved_any |= float(c @ out + c0) < float(c @ start + c0) - 1e-9
    assert improved_any


def test_variant_switch_is_scoped_and_rejects_unknown_names():
    assert not variants.is_on("local")
    with variants.enabled("local"):
        assert variants.is_on("local")
    assert not variants.is_on("local")
    with pytest.raises(ValueError, match="Unknown search variant"):
        with variants.enabled("nope"):
            pass

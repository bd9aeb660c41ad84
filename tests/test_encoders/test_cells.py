"""Split boundaries where float64 cannot tell: a standardised split near 0.

There a float32 cell of the model's input is far narrower than the float64 rounding of
the preprocessing (a mean of 60, a cell of 1e-10 in user units), and a boundary mapped
back through the affine map can sit on the wrong side of where the model switches. The
oracle is the fitted Pipeline itself: its preprocessor and its tree's own thresholds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from oracles import brute_force_tree_optimum
from recourse import FeatureSchema, RecourseEngine
from recourse.encoders.block import ThresholdLink

#: scaled thresholds at which float64 rounding of (x - mean) / scale reaches the engine's
#: placement (a thousandth of the float32 cell)
NEAR_ZERO = [-1.0003149509429932e-04, 3.0517578125e-05 * 1.37, -7.7e-06, 2.3e-04]


def _model(seed: int) -> tuple[Pipeline, pd.DataFrame, FeatureSchema]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"income": rng.normal(60.0, 24.0, 400),
                      "debt": rng.normal(-45.0, 17.0, 400)})
    y = np.where(X["income"] - 0.5 * X["debt"] > 82.0, "yes", "no")
    pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(),
                                                  ["income", "debt"])])),
                     ("tree", DecisionTreeClassifier(max_depth=4, random_state=seed))])
    pipe.fit(X, y)
    tree = pipe[-1].tree_
    inner = np.flatnonzero(tree.children_left != -1)
    # move some splits next to 0 in scaled units, keeping the tree a valid tree
    for k, node in enumerate(inner[: len(NEAR_ZERO)]):
        tree.threshold[node] = NEAR_ZERO[k]
    schema = FeatureSchema.from_frame(X)
    return pipe, X, schema


def _side(pipe: Pipeline, X: pd.DataFrame, name: str, values: np.ndarray, inp: int) -> np.ndarray:
    rows = pd.concat([X.iloc[[0]]] * len(values), ignore_index=True)
    rows[name] = values
    z = np.asarray(pipe[:-1].transform(rows), dtype=np.float32)[:, inp]
    return z.astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_placements_beside_every_split_are_on_the_sides_the_model_sends_them(seed):
    """For every split of the tree, the engine has a threshold where a value placed a
    thousandth of a float32 cell below goes left and one placed above goes right, by
    the model's own preprocessing and the tree's own threshold."""
    pipe, X, schema = _model(seed)
    engine = RecourseEngine(pipe, schema)
    names = ["income", "debt"]
    links = {engine.space.names[lk.feature]: lk for lk in engine.encoding.links
             if isinstance(lk, ThresholdLink)}
    tree = pipe[-1].tree_
    scaler = pipe[0].named_transformers_["num"]
    checked = 0
    for node in np.flatnonzero(tree.children_left != -1):
        inp, t_m = int(tree.feature[node]), float(tree.threshold[node])
        name = names[inp]
        link = links[name]
        guess = t_m * scaler.scale_[inp] + scaler.mean_[inp]
        i = int(np.argmin(np.abs(link.thresholds - guess)))
        t, gap = float(link.thresholds[i]), 1e-3 * float(link.spacing[i])
        z = _side(pipe, X, name, np.array([t - gap, t + gap]), inp)
        assert z[0] <= t_m < z[1], (name, t_m, t, gap, z)
        checked += 1
    assert checked >= len(NEAR_ZERO)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimum_next_to_a_near_zero_split_is_proven_and_verified(seed):
    """Applicants across a near-zero split: the engine's answer is optimal at the
    brute-force oracle's cost (the optimum's own point passes the model's predict)."""
    pipe, X, schema = _model(seed)
    engine = RecourseEngine(pipe, schema)
    pred = pipe.predict(X)
    seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(0, 400, 25):
            x = X.iloc[i].to_dict()
            target = "yes" if pred[i] == "no" else "no"
            oracle = brute_force_tree_optimum(pipe, schema, x, target, "l1")
            res = engine.explain(x, target=target, time_limit=30)
            if oracle is None:
                assert res.status == "no_recourse"
                continue
            assert res.status == "optimal", (i, res.status, res.message)
            assert res.cost == pytest.approx(oracle.cost, rel=1e-6, abs=1e-9), (i, x)
            seen += 1
    assert seen >= 8

"""The oracles checked against plain enumeration on dense grids (no engine involved).

If these fail, every oracle-based engine test is suspect; they run even while the engine
is not implemented.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from oracles import (
    actionability_violations,
    affine_decision,
    brute_force_tree_optimum,
    linear_integer_grid_optimum,
    linear_lp_optimum,
    model_predict,
    point_cost,
    tree_boundaries,
)
from recourse.schema import FeatureSchema
from synthdata import credit_frame, tree_pipeline


def _grid_costs(schema, x, grid_cols, pred, target):
    """(L1, L0) of every grid point predicted ``target``."""
    mask = pred == target
    l1 = np.zeros(mask.sum())
    l0 = np.zeros(mask.sum())
    for f in schema.features:
        v = np.asarray(grid_cols[f.name], dtype=object)[mask]
        if f.kind == "categorical":
            ch = np.array([a != x[f.name] for a in v])
            l1 += f.weight * ch
        else:
            v = v.astype(float)
            ch = v != float(x[f.name])
            l1 += f.weight * np.abs(v - float(x[f.name])) / f.scale
        l0 += f.weight * ch
    return l1, l0


def _two_feature_tree(seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.uniform(0, 10, 300), "b": rng.uniform(-5, 5, 300)})
    y = ((X.a - 5) ** 2 + 2 * X.b > 4).astype(int)
    model = DecisionTreeClassifier(max_depth=4, random_state=seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, weights={"b": 2.0})
    return X, y, model, schema


@pytest.mark.parametrize("seed", [0, 1])
def test_tree_bruteforce_matches_dense_grid(seed):
    X, y, model, schema = _two_feature_tree(seed)
    fa, fb = schema["a"], schema["b"]
    ga = np.linspace(fa.lower, fa.upper, 401)
    gb = np.linspace(fb.lower, fb.upper, 401)
    step = (ga[1] - ga[0]) * fa.weight / fa.scale + (gb[1] - gb[0]) * fb.weight / fb.scale
    checked = 0
    for i in range(0, 40, 4):
        x = {"a": float(X.a[i]), "b": float(X.b[i])}
        target = 1 - int(model.predict(X.iloc[[i]])[0])
        axa = np.union1d(ga, [x["a"]])
        axb = np.union1d(gb, [x["b"]])
        A, B = np.meshgrid(axa, axb, indexing="ij")
        cols = {"a": A.ravel(), "b": B.ravel()}
        pred = model.predict(pd.DataFrame(cols))
        l1, l0 = _grid_costs(schema, x, cols, pred, target)
        for norm in ("l1", "l0"):
            bf = brute_force_tree_optimum(model, schema, x, target, norm)
            if l1.size == 0:
                # the grid found nothing; the exact oracle may still find a thin region
                if bf is not None:
                    assert model_predict(model, schema, [bf.point])[0] == target
                continue
            assert bf is not None
            assert model_predict(model, schema, [bf.point])[0] == target
            assert not actionability_violations(schema, x, bf.point)
            got_l1, got_l0 = point_cost(schema, x, bf.point)
            assert got_l1 == pytest.approx(bf.l1, rel=1e-12, abs=1e-12)
            if norm == "l1":
                # exact optimum <= any grid point, and within one grid step of the best
                assert bf.cost <= l1.min() + 1e-12
                assert bf.cost >= l1.min() - step - 1e-9
            else:
                assert bf.cost <= l0.min()
                assert bf.cost == l0.min() or bf.cost < l0.min()
                # L0 on a grid that contains x's own coordinates is exact unless the
                # region is thinner than a grid step: then the grid can only be worse
            checked += 1
    assert checked >= 10


def test_boundaries_are_where_the_tree_switches():
    X, y, model, schema = _two_feature_tree(3)
    x = {"a": 5.0, "b": 0.0}
    bnd = tree_boundaries(model, schema, x)
    ths = {0: [], 1: []}
    tt = model.tree_
    for k, t in zip(tt.feature, tt.threshold):
        if k >= 0:
            ths[int(k)].append(t)
    for j, name in enumerate(["a", "b"]):
        assert len(bnd[name]) == len(set(ths[j]))
        for (lo, hi), t in zip(bnd[name], sorted(set(ths[j]))):
            assert np.nextafter(lo, np.inf) == hi
            assert np.float32(lo) <= t < np.float32(hi)


def test_integer_and_categorical_forest_exhaustive():
    """Integer + categorical features only: exhaustive enumeration is exact, so the
    oracle must agree to the last bit (L1 and L0), through a scaler + one-hot pipeline."""
    rng = np.random.default_rng(7)
    n = 300
    X = pd.DataFrame({
        "k": rng.integers(0, 25, n),
        "m": rng.integers(-10, 11, n),
        "c": rng.choice(["x", "y", "z"], n),
    })
    y = ((X.k - 12) ** 2 / 10 + X.m + np.where(X.c == "y", 4, 0) > 8).astype(int)
    model = tree_pipeline(
        RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0),
        numeric=("k", "m"), categorical=("c",),
    ).fit(X, y)
    schema = FeatureSchema.from_frame(X, increase_only=["m"], weights={"c": 0.7},
                                      scales={"k": 3.0})
    fk, fm = schema["k"], schema["m"]
    grid = list(itertools.product(range(int(fk.lower), int(fk.upper) + 1),
                                  range(int(fm.lower), int(fm.upper) + 1), ["x", "y", "z"]))
    cols = {"k": [g[0] for g in grid], "m": [g[1] for g in grid], "c": [g[2] for g in grid]}
    pred = model.predict(pd.DataFrame(cols))
    for i in range(0, 60, 6):
        x = {"k": float(X.k[i]), "m": float(X.m[i]), "c": X.c[i]}
        target = 1 - int(model.predict(X.iloc[[i]])[0])
        ok = np.array([g[1] >= x["m"] for g in grid])  # increase-only m
        l1, l0 = _grid_costs(schema, x, cols, np.where(ok, pred, -1), target)
        for norm, ref in (("l1", l1), ("l0", l0)):
            bf = brute_force_tree_optimum(model, schema, x, target, norm)
            if ref.size == 0:
                assert bf is None
            else:
                assert bf is not None and bf.cost == pytest.approx(ref.min(), abs=1e-12)
                assert model_predict(model, schema, [bf.point])[0] == target
                assert not actionability_violations(schema, x, bf.point)


def test_pipeline_scaled_continuous_matches_grid():
    X, y, _ = credit_frame(5, n=200)
    for scaler in ("standard", "minmax"):
        model = tree_pipeline(DecisionTreeClassifier(max_depth=3, random_state=1),
                              scaler=scaler).fit(X, y)
        schema = FeatureSchema.from_frame(X, immutable=["age", "housing"])
        fi, fd = schema["income"], schema["debt"]
        gi = np.linspace(fi.lower, fi.upper, 301)
        gd = np.linspace(fd.lower, fd.upper, 301)
        step = (gi[1] - gi[0]) / fi.scale + (gd[1] - gd[0]) / fd.scale
        for i in range(0, 50, 10):
            row = X.iloc[i]
            x = {"age": float(row.age), "income": float(row.income), "debt": float(row.debt),
                 "housing": row.housing}
            target = 1 - int(model.predict(X.iloc[[i]])[0])
            I, D = np.meshgrid(np.union1d(gi, [x["income"]]), np.union1d(gd, [x["debt"]]),
                               indexing="ij")
            cols = {"age": np.full(I.size, x["age"]), "income": I.ravel(), "debt": D.ravel(),
                    "housing": np.full(I.size, x["housing"], dtype=object)}
            pred = model.predict(pd.DataFrame(cols))
            l1, _ = _grid_costs(schema, x, cols, pred, target)
            bf = brute_force_tree_optimum(model, schema, x, target, "l1")
            if l1.size:
                assert bf is not None
                assert bf.cost <= l1.min() + 1e-12
                assert bf.cost >= l1.min() - step - 1e-9
            if bf is not None:
                assert model_predict(model, schema, [bf.point])[0] == target
                assert not actionability_violations(schema, x, bf.point)


def test_linear_lp_against_grid_and_model():
    rng = np.random.default_rng(11)
    X = pd.DataFrame({"u": rng.uniform(0, 10, 200), "v": rng.uniform(0, 10, 200)})
    y = (X.u + 2 * X.v + rng.normal(0, 1, 200) > 15).astype(int)
    model = LogisticRegression().fit(X, y)
    schema = FeatureSchema.from_frame(X, weights={"v": 3.0})
    gu = np.linspace(0, 10, 501)
    U, V = np.meshgrid(gu, gu, indexing="ij")
    dec = model.decision_function(pd.DataFrame({"u": U.ravel(), "v": V.ravel()}))
    for i in range(0, 40, 5):
        x = {"u": float(X.u[i]), "v": float(X.v[i])}
        W, b = affine_decision(model, schema, x)
        assert np.allclose(W[0], model.coef_[0]) and np.isclose(b[0], model.intercept_[0])
        cls = int(model.predict(X.iloc[[i]])[0])
        sign = -1 if cls == 1 else 1
        lp = linear_lp_optimum(W[0], b[0], schema, x, sign, 0.0)
        cost = (np.abs(U.ravel() - x["u"]) * schema["u"].weight / schema["u"].scale
                + np.abs(V.ravel() - x["v"]) * schema["v"].weight / schema["v"].scale)
        ok = sign * dec >= 0
        inb = (U.ravel() >= schema["u"].lower) & (U.ravel() <= schema["u"].upper) & \
              (V.ravel() >= schema["v"].lower) & (V.ravel() <= schema["v"].upper)
        ok &= inb
        if not ok.any():
            continue
        assert lp is not None
        assert lp.cost <= cost[ok].min() + 1e-9
        # a point just past the LP optimum is classified as the target by the model
        lp2 = linear_lp_optimum(W[0], b[0], schema, x, sign, 1e-6)
        if lp2 is not None:
            assert model_predict(model, schema, [lp2.point])[0] == 1 - cls


def test_linear_integer_grid():
    rng = np.random.default_rng(12)
    X = pd.DataFrame({"n": rng.integers(0, 15, 200), "u": rng.uniform(0, 10, 200)})
    y = (2 * X.n + X.u + rng.normal(0, 1, 200) > 18).astype(int)
    model = LogisticRegression().fit(X, y)
    schema = FeatureSchema.from_frame(X, bounds={"u": (0, 4)})
    assert schema["n"].kind == "integer"
    for i in range(0, 30, 3):
        x = {"n": float(X.n[i]), "u": float(X.u[i])}
        cls = int(model.predict(X.iloc[[i]])[0])
        sign = -1 if cls == 1 else 1
        W, b = affine_decision(model, schema, x)
        grid = linear_integer_grid_optimum(sign * W, sign * b, schema, x)
        # reachable set of u: the hull of the bounds [0, 4] and x's own value
        lo, hi = min(0.0, x["u"]), max(4.0, x["u"])
        us = np.union1d(np.linspace(lo, hi, 4001), [x["u"]])
        step = (hi - lo) / 4000
        best = np.inf
        for nv in range(int(schema["n"].lower), int(schema["n"].upper) + 1):
            d = W[0, 0] * nv + W[0, 1] * us + b[0]
            ok = sign * d >= 0
            if ok.any():
                c = abs(nv - x["n"]) / schema["n"].scale + \
                    np.abs(us[ok] - x["u"]) / schema["u"].scale
                best = min(best, c.min())
        if np.isinf(best):
            assert grid is None
        else:
            assert grid is not None
            assert grid.cost <= best + 1e-9
            assert grid.cost >= best - step / schema["u"].scale - 1e-9

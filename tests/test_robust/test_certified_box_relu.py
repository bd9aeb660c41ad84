"""Certified boxes for ReLU networks (``recourse.solvers.relu_box``).

Oracles, all independent of the MILP code:

* the model's own ``predict`` on dense samples of every box (uniform points, every corner,
  the centre of every face), on every witness (rejected) and on the witness moved back onto
  its face (approved);
* for tiny networks, the network's exact pieces: one LP (``scipy.optimize.linprog``) per
  activation pattern of the hidden units gives, on each linear region, the nearest rejected
  point beyond a face and the least margin over the box;
* in 1-D, the boundary found by a grid and bisection with the model's own ``predict``.
"""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from oracles import actionability_violations, model_predict, reachable_interval
from recourse import FeatureSchema, RecourseEngine
from recourse.robust import certified_box
from synthdata import credit_frame, tree_pipeline

SIDES = {"upper": +1, "lower": -1}


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


# ------------------------------------------------------------------ sampling oracle
def _row(x, box, values):
    return dict(x, **box.fixed, **values)


def _check_box(model, schema, x, target, res, box, rng, n_uniform=300, margin_ok=False):
    """Dense sampling with the model's predict; every face tight or at the action set's
    limit. Returns the number of "model" faces. "margin" faces only with ``margin_ok``."""
    f_by = {f.name: f for f in schema.features}
    integer = {n: f_by[n].kind == "integer" for n in box.bounds}
    assert box.contains(res.counterfactual)
    assert box.info["proven"], box.info
    level = box.info["level"]
    assert box.info["certified_margin"] >= level - 0.75 * min(level, 1e-6)
    assert "undecided" not in box.faces.values(), box.faces
    names = list(box.bounds)
    moving = [n for n in names if box.bounds[n][0] < box.bounds[n][1]]
    lo = {n: box.bounds[n][0] for n in names}
    centre = {n: (round((a + b) / 2) if integer[n] else (a + b) / 2)
              for n, (a, b) in box.bounds.items()}
    corners = [_row(x, box, dict(lo, **dict(zip(moving, c))))
               for c in itertools.product(*[box.bounds[n] for n in moving])]
    for row in corners:  # the box lies in the action set
        assert not actionability_violations(schema, x, row), row
    rows = list(corners)
    for n in moving:  # face centres
        rows += [_row(x, box, dict(centre, **{n: v})) for v in box.bounds[n]]
    for _ in range(n_uniform):
        p = {n: rng.uniform(a, b) for n, (a, b) in box.bounds.items()}
        rows.append(_row(x, box, {n: (round(v) if integer[n] else v) for n, v in p.items()}))
    pred = model_predict(model, schema, rows)
    bad = [r for r, p in zip(rows, pred) if p != target]
    assert not bad, f"{len(bad)} of {len(rows)} samples rejected, e.g. {bad[0]}"
    n_model = n_margin = 0
    for (name, side), reason in box.faces.items():
        s = SIDES[side]
        face = box.bounds[name][1 if s > 0 else 0]
        r_lo, r_hi = reachable_interval(f_by[name], float(x[name]))
        limit = r_hi if s > 0 else r_lo
        if reason == "action_set":
            assert face == limit, (name, side, face, limit)
            continue
        if reason == "margin":  # the margin thins; any witness lies farther out
            n_margin += 1
            w = box.witnesses.get((name, side))
            assert w is None or model_predict(model, schema, [w])[0] != target
            continue
        assert reason == "model", reason
        n_model += 1
        w = box.witnesses[(name, side)]
        assert model_predict(model, schema, [w])[0] != target, (name, side, w)
        beyond = s * (w[name] - face)
        step = 1.0 if integer[name] else 1e-4 * max(1.0, abs(face))
        assert 0 < beyond <= step, (name, side, face, w[name])
        for other in names:
            if other != name:
                assert lo[other] <= w[other] <= box.bounds[other][1], (other, w)
        assert all(w[k] == v for k, v in box.fixed.items())
        assert not actionability_violations(schema, x, w), w
        inside = dict(w, **{name: face})  # a small step back inside: approved
        assert model_predict(model, schema, [inside])[0] == target, inside
    assert margin_ok or n_margin == 0, box.faces
    return n_model


# ------------------------------------------------------------------ region oracle
def _pieces(model):
    """Per activation pattern: ``(A_ub, b_ub, c, c0)``, the region ``A_ub x <= b_ub`` on
    which the network's single logit is ``c @ x + c0`` (bare sklearn network)."""
    Ws = [np.asarray(W, dtype=float).T for W in model.coefs_]
    bs = [np.asarray(b, dtype=float) for b in model.intercepts_]
    d = Ws[0].shape[1]
    hidden = [W.shape[0] for W in Ws[:-1]]
    out = []
    for pattern in itertools.product([0.0, 1.0], repeat=sum(hidden)):
        M, c = np.eye(d), np.zeros(d)
        A_ub, b_ub, pos = [], [], 0
        for W, b, k in zip(Ws[:-1], bs[:-1], hidden):
            M, c = W @ M, W @ c + b
            act = np.array(pattern[pos:pos + k])
            pos += k
            sgn = np.where(act > 0, -1.0, 1.0)  # active: z >= 0; inactive: z <= 0
            A_ub.append(sgn[:, None] * M)
            b_ub.append(-sgn * c)
            M, c = act[:, None] * M, act * c
        out.append((np.vstack(A_ub), np.concatenate(b_ub), (Ws[-1] @ M)[0],
                    float((Ws[-1] @ c + bs[-1])[0])))
    return out


def _nearest_rejected(pieces, sign, bounds, j, side):
    """Nearest ``x_j`` (least for side +1) of a point in ``bounds`` with
    ``sign * logit <= 0`` (rejected, closure), over every linear region; None if none."""
    best = None
    d = len(bounds)
    for A, b, c, c0 in pieces:
        obj = np.zeros(d)
        obj[j] = side
        res = linprog(obj, A_ub=np.vstack([A, sign * c]), b_ub=np.append(b, -sign * c0),
                      bounds=bounds, method="highs")
        if res.status == 0:
            y = float(res.x[j])
            best = y if best is None or side * y < side * best else best
    return best


def _least_margin(pieces, sign, bounds):
    """Least ``sign * logit`` over the box ``bounds`` (every linear region)."""
    best = np.inf
    for A, b, c, c0 in pieces:
        res = linprog(sign * c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
        if res.status == 0:
            best = min(best, float(res.fun) + sign * c0)
    return best


# ------------------------------------------------------------------ tiny networks
@functools.lru_cache(maxsize=None)
def _tiny(d, hidden, seed):
    """A small network on ``d`` features, fitted once per process for each
    ``(d, hidden, seed)`` (several tests read the same one; none changes it). A fit that
    did not learn the concept (under 90 % training accuracy: with some seeds every ReLU
    of the 1-D network dies and it predicts one class, leaving no face to test) is redone
    from another initialisation."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-2.0, 2.0, size=(300, d)), columns=list("abc"[:d]))
    if d == 1:
        y = (np.abs(X["a"]) > 0.9).astype(int)
    else:
        y = (X["a"] ** 2 + X["b"] > 0.8).astype(int)
    for k in range(5):
        model = _fit(MLPClassifier(hidden_layer_sizes=hidden, max_iter=3000,
                                   random_state=seed + 1000 * k), X, y)
        if model.score(X, y) >= 0.9:
            break
    return X, model


def _region_faces(model, schema, x, target, box):
    """Faces against the exact regions: the whole box has a positive least margin; a
    "model" face has a rejected point within 1e-4 beyond it (the other features in the
    final box); beyond an "action_set" face there is nothing to reach."""
    names = schema.names
    pieces = _pieces(model)
    sign = 1.0 if target == model.classes_[1] else -1.0
    bounds = [box.bounds[n] for n in names]
    assert _least_margin(pieces, sign, bounds) > 0.0
    for (name, side), reason in box.faces.items():
        j, s = names.index(name), SIDES[side]
        face = box.bounds[name][1 if s > 0 else 0]
        r_lo, r_hi = reachable_interval(schema[name], float(x[name]))
        if reason == "action_set":
            assert face == (r_hi if s > 0 else r_lo)
            continue
        slab = list(bounds)
        step = 1e-4 * max(1.0, abs(face))
        if reason == "margin":  # the margin falls below the box's level just beyond
            slab[j] = (face, min(face + step, r_hi)) if s > 0 else (max(face - step, r_lo),
                                                                     face)
            assert _least_margin(pieces, sign, slab) <= box.info["level"]
            continue
        assert reason == "model", reason
        slab[j] = (face, r_hi) if s > 0 else (r_lo, face)
        y = _nearest_rejected(pieces, sign, slab, j, s)
        assert y is not None and 0.0 <= s * (y - face) <= step, (name, side, face, y)


@pytest.mark.parametrize("d,hidden", [(1, (4,)), (2, (4,)), (2, (3, 3))])
def test_faces_match_exact_regions(d, hidden, global_random_seed):
    X, model = _tiny(d, hidden, global_random_seed)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    rng = np.random.default_rng(global_random_seed)
    n_model = 0
    for i in np.flatnonzero(pred != pred[0])[:2].tolist() + [0]:
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        res = engine.explain(x, target=target)
        if not res.has_recourse:
            continue
        box = certified_box(engine, res)
        n_model += _check_box(model, schema, x, target, res, box, rng)
        _region_faces(model, schema, x, target, box)
    assert n_model > 0


def test_engine_margin_is_kept(global_random_seed):
    """With a large engine margin the box keeps it (to 1e-6), by the exact regions; faces
    where only the margin thins are "margin" faces, never "model" faces without a
    rejected point near."""
    X, model = _tiny(2, (4,), global_random_seed)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, margin=0.3)
    pred = model.predict(X)
    pieces = _pieces(model)
    boxes = 0
    for i in np.flatnonzero(pred == pred[0])[:2]:
        x = X.iloc[i].to_dict()
        target = 1 - int(pred[i])
        res = engine.explain(x, target=target)
        if not res.has_recourse:
            continue
        box = certified_box(engine, res)
        assert box.info["proven"] and box.info["level"] == pytest.approx(0.3)
        sign = 1.0 if target == model.classes_[1] else -1.0
        least = _least_margin(pieces, sign, [box.bounds[n] for n in schema.names])
        assert least >= 0.3 - 1e-6
        assert "margin" in box.faces.values() or "action_set" in box.faces.values()
        _check_box(model, schema, x, target, res, box, np.random.default_rng(0),
                   n_uniform=100, margin_ok=True)
        boxes += 1
    assert boxes > 0


def test_one_dimensional_boundary_by_bisection(global_random_seed):
    """1-D: the faces are the model's own decision boundary, found by a grid and
    bisection with its predict."""
    X, model = _tiny(1, (4,), global_random_seed)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    lo, hi = schema["a"].lower, schema["a"].upper

    def ok(v):
        return model.predict(pd.DataFrame({"a": np.atleast_1d(v)}))

    checked = 0
    for v0 in (-0.2, 0.3, 1.5):
        target = 1 - int(ok(v0)[0])
        res = engine.explain({"a": v0}, target=target)
        if not res.has_recourse:
            continue
        box = certified_box(engine, res)
        for side, s in SIDES.items():
            face = box.bounds["a"][1 if s > 0 else 0]
            limit = hi if s > 0 else lo
            grid = np.linspace(face, limit, 4001)
            bad = np.flatnonzero(ok(grid) != target)
            if box.faces[("a", side)] == "action_set":
                assert face == limit and bad.size == 0
                continue
            a, b = grid[bad[0] - 1], grid[bad[0]]  # approved, rejected
            for _ in range(60):
                m = (a + b) / 2
                a, b = (m, b) if ok(m)[0] == target else (a, m)
            assert abs(b - face) <= 1e-6 * max(1.0, abs(face)), (side, face, b)
            checked += 1
    assert checked > 0


# ------------------------------------------------------------------ real pipelines
def test_german_credit_pipeline_binary(global_random_seed):
    from recourse.datasets import make_model, train_test

    X_tr, X_te, y_tr, _, schema = train_test("german", seed=global_random_seed)
    model = make_model("mlp32x32", X_tr, y_tr, seed=global_random_seed, schema=schema)
    engine = RecourseEngine(model, schema, reference=X_tr)
    rng = np.random.default_rng(global_random_seed)
    denied = np.flatnonzero(model.predict(X_te) == "bad")[:2]
    n_model = 0
    for i in denied:
        x = X_te.iloc[i].to_dict()
        res = engine.explain(x, target="good")
        assert res.status == "optimal" and res.verified
        box = certified_box(engine, res, time_limit=20.0)
        assert box.checks > 0 and box.time > 0
        n_model += _check_box(model, schema, x, "good", res, box, rng, n_uniform=200)
    assert n_model > 0


def test_multiclass_pipeline(global_random_seed):
    X, _, y3 = credit_frame(global_random_seed + 3)
    model = _fit(tree_pipeline(MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000,
                                             random_state=global_random_seed)), X, y3)
    schema = FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})
    engine = RecourseEngine(model, schema)
    rng = np.random.default_rng(global_random_seed)
    pred = model.predict(X)
    boxes = 0
    for i in np.flatnonzero(pred != "high")[:2]:
        x = X.iloc[i].to_dict()
        res = engine.explain(x, target="high")
        if not res.has_recourse:
            continue
        box = certified_box(engine, res)
        _check_box(model, schema, x, "high", res, box, rng)
        boxes += 1
    assert boxes > 0


def test_torch_classifier(global_random_seed):
    torch = pytest.importorskip("torch")
    from recourse.encoders.mlp import TorchClassifier

    X, y, _ = credit_frame(global_random_seed, categorical=False)
    torch.manual_seed(global_random_seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    net = net.double()  # float64, as the encoding: the margins are 1e-6
    Z = torch.as_tensor(((X - X.mean()) / X.std()).to_numpy())
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(150):  # a quick fit on standardised inputs, then fold the scaling in
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Z), torch.as_tensor(np.asarray(y)))
        loss.backward()
        opt.step()
    with torch.no_grad():
        sd, mu = torch.as_tensor(X.std().to_numpy()), torch.as_tensor(X.mean().to_numpy())
        net[0].bias -= net[0].weight @ (mu / sd)
        net[0].weight /= sd
    model = TorchClassifier(net, classes=[0, 1], feature_names=list(X.columns))
    pred = model.predict(X)
    if pred.min() == pred.max():
        pytest.skip("the network gives one class on the data")
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    engine = RecourseEngine(model, schema)
    rng = np.random.default_rng(global_random_seed)
    n_model = 0
    for i in np.flatnonzero(pred == 0)[:2]:
        x = X.iloc[i].to_dict()
        res = engine.explain(x, target=1)
        assert res.verified
        box = certified_box(engine, res)
        n_model += _check_box(model, schema, x, 1, res, box, rng)
    assert n_model > 0


# ------------------------------------------------------------------ property test
@functools.lru_cache(maxsize=None)
def _base(hidden):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-2.0, 2.0, size=(60, 2)), columns=["a", "b"])
    model = _fit(MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=50, random_state=0),
                 X, (X["a"] > 0).astype(int))
    return X, model


weights = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(hidden=st.integers(2, 4), data=st.data(),
       x0=st.tuples(st.floats(-1.8, 1.8), st.floats(-1.8, 1.8)))
def test_random_networks(hidden, data, x0):
    """Random weights: the box is approved everywhere (sampling and exact regions) and
    every face is tight against the exact regions."""
    from copy import deepcopy

    X, base = _base(hidden)
    model = deepcopy(base)
    w1 = np.array(data.draw(st.lists(weights, min_size=2 * hidden, max_size=2 * hidden)))
    b1 = np.array(data.draw(st.lists(weights, min_size=hidden, max_size=hidden)))
    w2 = np.array(data.draw(st.lists(weights, min_size=hidden, max_size=hidden)))
    b2 = data.draw(weights)
    model.coefs_ = [w1.reshape(2, hidden), w2.reshape(hidden, 1)]
    model.intercepts_ = [b1, np.array([b2])]
    schema = FeatureSchema.from_frame(X)
    x = {"a": float(x0[0]), "b": float(x0[1])}
    target = 1 - int(model.predict(pd.DataFrame([x]))[0])
    engine = RecourseEngine(model, schema)
    res = engine.explain(x, target=target)
    assume(res.has_recourse)
    box = certified_box(engine, res)
    _check_box(model, schema, x, target, res, box, np.random.default_rng(0), n_uniform=100,
               margin_ok=True)
    _region_faces(model, schema, x, target, box)


def test_time_limit_is_conservative(global_random_seed):
    """With MILPs cut short, faces left "undecided" stay where they were and the box is
    still approved throughout (or, unproven, shrinks to the counterfactual)."""
    X, _, y3 = credit_frame(global_random_seed + 3)
    model = _fit(tree_pipeline(MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=500,
                                             random_state=global_random_seed)), X, y3)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    x = X.iloc[int(np.flatnonzero(model.predict(X) != "high")[0])].to_dict()
    res = engine.explain(x, target="high")
    box = certified_box(engine, res, time_limit=1e-3)
    assert box.contains(res.counterfactual)
    if not box.info["proven"]:
        assert all(lo == hi for lo, hi in box.bounds.values())
        assert set(box.faces.values()) == {"undecided"}
    rng = np.random.default_rng(global_random_seed)
    rows = [_row(x, box, {n: rng.uniform(a, b) for n, (a, b) in box.bounds.items()})
            for _ in range(200)]
    for row in rows:
        row["age"] = round(row["age"])
    assert (model_predict(model, schema, rows) == "high").all()

"""Certified boxes: dense sampling inside every box finds no rejected point; every face
is tight (the action set ends there, or a point just beyond it is rejected by the
model's own predict). Oracles: the model's predict and ``oracles``' action-set rules,
both independent of ``recourse.solvers.robust``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from recourse.encoders.errors import InputValidationError
from oracles import actionability_violations, model_predict, reachable_interval
from recourse import FeatureSchema, RecourseEngine
from recourse.robust import certified_box
from synthdata import credit_frame, tree_pipeline

MODELS = {
    "tree_d4": (lambda s: DecisionTreeClassifier(max_depth=4, random_state=s), "standard"),
    "rf10_d4": (lambda s: RandomForestClassifier(n_estimators=10, max_depth=4,
                                                 random_state=s), "standard"),
    "et6_d3": (lambda s: ExtraTreesClassifier(n_estimators=6, max_depth=3,
                                              random_state=s), "passthrough"),
    "gb8_d2": (lambda s: GradientBoostingClassifier(n_estimators=8, max_depth=2,
                                                    random_state=s), "minmax"),
    "logreg": (lambda s: LogisticRegression(max_iter=2000), "standard"),
}


def _schema(X):
    return FeatureSchema.from_frame(X, increase_only=["age"], weights={"debt": 2.0})


def _cases(model, X, target_of, k=3):
    pred = model.predict(X)
    out = []
    for i in range(len(X)):
        if pred[i] != target_of(pred[i]):
            out.append((X.iloc[i].to_dict(), target_of(pred[i])))
        if len(out) == k:
            break
    return out


def _check_box(model, schema, x, target, res, box, rng):
    f_by = {f.name: f for f in schema.features}
    assert box.contains(res.counterfactual)
    assert "undecided" not in box.faces.values()
    names = list(box.bounds)
    # 1. the box lies in the action set: every corner is actionable
    for corner in itertools.product(*[box.bounds[n] for n in names]):
        row = dict(x, **box.fixed, **dict(zip(names, corner)))
        assert not actionability_violations(schema, x, row), row
    # 2. dense sampling inside the box: a grid with the faces, plus uniform points
    axes = []
    for n in names:
        lo, hi = box.bounds[n]
        if f_by[n].kind == "integer":
            axes.append(np.unique(np.linspace(lo, hi, 9).round()))
        else:
            axes.append(np.unique(np.concatenate([np.linspace(lo, hi, 9), [lo, hi]])))
    rows = [dict(x, **box.fixed, **dict(zip(names, p))) for p in itertools.product(*axes)]
    for _ in range(300):
        p = {n: rng.uniform(*box.bounds[n]) for n in names}
        p = {n: (round(v) if f_by[n].kind == "integer" else v) for n, v in p.items()}
        rows.append(dict(x, **box.fixed, **p))
    pred = model_predict(model, schema, rows)
    bad = [r for r, p in zip(rows, pred) if p != target]
    assert not bad, f"{len(bad)} rejected points inside the box, e.g. {bad[0]}"
    # 3. every face is tight
    for (name, side), reason in box.faces.items():
        lo, hi = box.bounds[name]
        face = hi if side == "upper" else lo
        r_lo, r_hi = reachable_interval(f_by[name], float(x[name]))
        if reason == "action_set":
            assert face == (r_hi if side == "upper" else r_lo), (name, side, face)
            continue
        assert reason == "model"
        w = box.witnesses[(name, side)]
        assert model_predict(model, schema, [w])[0] != target, (name, side, w)
        beyond = w[name] - face if side == "upper" else face - w[name]
        step = 1.0 if f_by[name].kind == "integer" else 1e-4 * max(1.0, abs(face))
        assert 0 < beyond <= step, (name, side, face, w[name])
        for other in names:
            if other != name:
                o_lo, o_hi = box.bounds[other]
                assert o_lo <= w[other] <= o_hi, (other, w)
        for other, level in box.fixed.items():
            assert w[other] == level
        assert not actionability_violations(schema, x, w), w


@pytest.mark.parametrize("name", list(MODELS))
def test_box_is_approved_and_tight(name, global_random_seed):
    make, scaler = MODELS[name]
    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(make(global_random_seed), scaler=scaler).fit(X, y)
    schema = _schema(X)
    engine = RecourseEngine(model, schema)
    classes = list(model.classes_)
    rng = np.random.default_rng(global_random_seed)
    n_model_faces = 0
    for x, target in _cases(model, X, lambda c: classes[1] if c == classes[0] else classes[0]):
        res = engine.explain(x, target=target)
        assert res.status == "optimal" and res.verified
        box = certified_box(engine, res)
        _check_box(model, schema, x, target, res, box, rng)
        n_model_faces += sum(r == "model" for r in box.faces.values())
    assert n_model_faces > 0  # the tightness check above was exercised


def test_box_multiclass_forest(global_random_seed):
    X, _, y3 = credit_frame(global_random_seed + 3)
    model = tree_pipeline(RandomForestClassifier(n_estimators=5, max_depth=4,
                                                 random_state=global_random_seed)).fit(X, y3)
    schema = _schema(X)
    engine = RecourseEngine(model, schema)
    rng = np.random.default_rng(global_random_seed)
    for x, target in _cases(model, X, lambda c: "high", k=3):
        res = engine.explain(x, target="high")
        box = certified_box(engine, res)
        _check_box(model, schema, x, target, res, box, rng)


def test_box_bare_forest_numeric(global_random_seed):
    """No pipeline, decrease-only debt, immutable age."""
    X, y, _ = credit_frame(global_random_seed + 1, categorical=False)
    model = RandomForestClassifier(n_estimators=8, max_depth=5,
                                   random_state=global_random_seed).fit(X, y)
    schema = FeatureSchema.from_frame(X, decrease_only=["debt"], immutable=["age"])
    engine = RecourseEngine(model, schema)
    classes = list(model.classes_)
    rng = np.random.default_rng(global_random_seed)
    for x, target in _cases(model, X, lambda c: classes[1] if c == classes[0] else classes[0]):
        res = engine.explain(x, target=target)
        box = certified_box(engine, res)
        assert box.bounds["age"] == (x["age"], x["age"])
        assert box.bounds["debt"][1] <= x["debt"]
        _check_box(model, schema, x, target, res, box, rng)


def test_box_errors():
    from sklearn.neural_network import MLPRegressor

    from recourse import Utility

    X, y, _ = credit_frame(0, categorical=False)
    schema = FeatureSchema.from_frame(X)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=300, random_state=0).fit(
        X, X["income"] - X["debt"])
    engine = RecourseEngine(reg, schema)
    res = engine.explain(X.iloc[0].to_dict(), utility=Utility.increase(1.0))
    assert res.has_recourse
    with pytest.raises(NotImplementedError, match="target class"):
        certified_box(engine, res)
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    engine = RecourseEngine(rf, schema)
    x = X.iloc[int(np.flatnonzero(rf.predict(X) == 1)[0])].to_dict()
    already = engine.explain(x, target=1)
    assert already.status == "already_target"
    with pytest.raises(InputValidationError, match="verified counterfactual"):
        certified_box(engine, already)


def test_box_for_model_set_and_plausible_model(global_random_seed):
    """Boxes of the wrappers: every point approved by every model / also plausible."""
    from sklearn.ensemble import IsolationForest

    from recourse import ModelSet, PlausibleModel

    X, y, _ = credit_frame(global_random_seed, categorical=False)
    members = [RandomForestClassifier(n_estimators=3, max_depth=3, random_state=s).fit(X, y)
               for s in (global_random_seed, global_random_seed + 1)]
    iso = IsolationForest(n_estimators=8, max_samples=64, random_state=0).fit(X)
    schema = _schema(X)
    rng = np.random.default_rng(global_random_seed)
    for wrapped in (ModelSet(members), PlausibleModel(members[0], iso)):
        engine = RecourseEngine(wrapped, schema)
        pred = wrapped.predict(X)
        boxes = 0
        for i in np.flatnonzero(pred == 0)[:3]:
            x = X.iloc[i].to_dict()
            res = engine.explain(x, target=1)
            if not res.has_recourse:
                continue
            box = certified_box(engine, res)
            _check_box(wrapped, schema, x, 1, res, box, rng)
            boxes += 1
        assert boxes > 0, type(wrapped).__name__


def test_advice_in_the_schemas_words_and_units(global_random_seed):
    """advice(schema) states each model face in the feature's label and unit, with the
    box's own bound formatted as letters format numbers, rounded inwards (a printed upper
    end is never above the box's)."""
    import math

    from recourse.letters.text import fmt_value

    X, y, _ = credit_frame(global_random_seed)
    model = tree_pipeline(RandomForestClassifier(n_estimators=10, max_depth=4,
                                                 random_state=global_random_seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, labels={"debt": "monthly debt"},
                                      units={"debt": "EUR"})
    engine = RecourseEngine(model, schema)
    classes = list(model.classes_)
    phrases = 0
    for x, target in _cases(model, X, lambda c: classes[1] if c == classes[0] else classes[0]):
        box = certified_box(engine, engine.explain(x, target=target))
        plain, worded = box.advice(), box.advice(schema)
        assert len(plain) == len(worded)
        for name, (lo, hi) in box.bounds.items():
            f = schema[name]
            if box.faces.get((name, "upper")) == "model" and lo != hi:
                label = f.display[:1].upper() + f.display[1:]
                shown = (float(round(hi)) if f.kind == "integer"
                         else math.floor(hi * 100.0 + 1e-9) / 100.0)
                assert shown <= hi + 1e-12
                assert any(p.startswith(label) and fmt_value(f, shown) in p for p in worded)
                phrases += 1
    assert phrases > 0
    assert all("EUR" in p for p in worded if p.startswith("Monthly debt"))


def _random_box(enc, space, rng, width=None):
    """Random cells ``(a, b)`` (at most ``width`` of them) of every thresholded numeric
    feature and a random level of every categorical one."""
    from recourse.encoders.block import ThresholdLink

    cells, levels = {}, {}
    for j in range(space.n_features):
        if space.is_group(j):
            levels[j] = int(rng.integers(len(space.levels[j])))
            continue
        link = enc.link_of(j)
        if isinstance(link, ThresholdLink):
            n_cells = len(link.vars) + 1
            a = int(rng.integers(n_cells))
            top = n_cells if width is None else min(a + width, n_cells)
            cells[j] = (a, int(rng.integers(a + 1, top + 1)))
    return cells, levels


@pytest.mark.parametrize("trees", [1, 5])
def test_box_lower_bound_against_the_exact_minimum(trees, global_random_seed):
    """The solver-free bound that lets a slab pass is never above the exact minimum of the
    target row over the box (HiGHS on the 0/1 program), and for one tree, whose leaves
    are the whole model, it is that minimum."""
    from sklearn.ensemble import RandomForestClassifier

    from recourse import encoders
    from recourse.solvers.robust import box_lower_bound, box_minimum

    X, y, _ = credit_frame(global_random_seed, n=300)
    est = (DecisionTreeClassifier(max_depth=5, random_state=0) if trees == 1 else
           RandomForestClassifier(trees, max_depth=4, random_state=0))
    model = tree_pipeline(est).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    enc = encoders.encode(model, schema.search_space())
    G, _ = enc.target_rows(1, 0.0)
    rng = np.random.default_rng(global_random_seed)
    space = schema.search_space()
    checked = 0
    for _ in range(25):
        cells, levels = _random_box(enc, space, rng)
        for r in range(G.shape[0]):
            bound = box_lower_bound(enc, cells, levels, G[r])
            exact, _, proven = box_minimum(enc, cells, levels, G[r])
            assert proven
            assert bound <= exact + 1e-9
            if trees == 1:
                assert bound == pytest.approx(exact, abs=1e-9)
            checked += 1
    assert checked >= 25


def test_box_minimum_decides_like_the_full_program(global_random_seed):
    """``box_minimum`` (the reduced program, optionally with a cutoff) against HiGHS on the
    whole unreduced 0/1 program with the box's bounds: the same minimum; with a cutoff
    just below, at and above it, "below the cutoff" exactly when the minimum is, and the
    point it returns is a point of the block whose value is the one returned."""
    from recourse import encoders
    from recourse.solvers.highs import solve_highs
    from recourse.solvers.robust import _box_bounds, box_minimum

    X, y, _ = credit_frame(global_random_seed, n=300)
    model = tree_pipeline(RandomForestClassifier(6, max_depth=4, random_state=0)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    space = schema.search_space()
    enc = encoders.encode(model, space)
    G, _ = enc.target_rows(1, 0.0)
    rng = np.random.default_rng(global_random_seed)
    decided = 0
    for _ in range(12):
        cells, levels = _random_box(enc, space, rng, width=3)
        lb, ub = _box_bounds(enc, cells, levels)
        for r in range(G.shape[0]):
            c = np.asarray(G[r].todense()).ravel()
            full = solve_highs(c, 0.0, lb, ub, enc.integer, enc.rows, enc.row_lo, enc.row_hi)
            exact, v, proven = box_minimum(enc, cells, levels, G[r])
            assert proven and exact == pytest.approx(full.objective, abs=1e-7)
            assert np.all(v >= lb - 1e-7) and np.all(v <= ub + 1e-7)
            assert float(c @ v) == pytest.approx(exact, abs=1e-7)
            for cut in (exact - 0.05, exact + 0.05):
                val, w, proven = box_minimum(enc, cells, levels, G[r], cutoff=cut)
                assert proven
                assert (val < cut) == (exact < cut)
                if w is None:  # no point below the cutoff: it is the answer
                    assert val == cut
                else:  # a point of the block with its value (below, or the minimum)
                    rows = enc.rows @ w
                    assert np.all(rows >= enc.row_lo - 1e-6) and np.all(rows <= enc.row_hi + 1e-6)
                    assert np.all(w >= lb - 1e-7) and np.all(w <= ub + 1e-7)
                    assert float(c @ w) == pytest.approx(val, abs=1e-7)
                decided += 1
    assert decided >= 24

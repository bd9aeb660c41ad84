"""The starting-point search on forests (``recourse.solvers.incumbent.find_incumbent``)
and its incremental forward pass (``recourse.solvers.forward``), against the model's own
``predict`` on decoded rows.

* ``ForestPass.predict_index`` (only the trees that split on a changed feature re-walked)
  equals sklearn's ``predict`` on every candidate: one feature moved into each other
  cell, reference rows moved into the action set, one-feature reverts from an approved
  point; fully grown trees, an even number of them, so that 50/50 votes (ties) occur.
* ``link_values`` (one table) equals each link's values taken one link at a time, and
  ``CostTable`` prices equal the objective on them (``V @ w + w0``).
* ``find_incumbent``'s point is approved by sklearn, obeys every action rule, and costs
  no more than a plain reference search written here: the same candidates (single moves,
  projected reference rows, then reverting one feature at a time while approved), each
  judged by sklearn's ``predict`` and priced by the oracle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from oracles import actionability_violations, model_predict, point_cost
from sklearn.ensemble import RandomForestClassifier
from engine_checks import applicant_problem
from synthdata import credit_frame, tree_pipeline

from recourse import FeatureSchema, encoders
from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.encoders.evaluate import link_table, link_values
from recourse.solvers.forward import Base, CostTable, ForestPass
from recourse.solvers.incumbent import find_incumbent, project, single_moves
from recourse.solvers.problem import decode

RULES = {
    "free": dict(),
    "rules": dict(immutable=["housing"], increase_only=["age"], decrease_only=["debt"],
                  bounds={"income": (20.0, 90.0)}),
}


def _setup(seed: int, rules: str, trees: int = 10, depth: int | None = None,
           noise: int = 0):
    """A forest on credit_frame plus ``noise`` uninformative numeric features (shallow
    trees then split on a few features each, so a move leaves most trees alone)."""
    X, y, _ = credit_frame(seed, n=300)
    rng = np.random.default_rng(seed + 100)
    extra = [f"n{k}" for k in range(noise)]
    for name in extra:
        X[name] = np.round(rng.uniform(0.0, 10.0, size=len(X)), 2)
    model = tree_pipeline(RandomForestClassifier(n_estimators=trees, max_depth=depth,
                                                 random_state=seed),
                          extra_numeric=extra).fit(X, y)
    schema = FeatureSchema.from_frame(X, scales={"age": 5.0, "income": 10.0, "debt": 10.0},
                                      **RULES[rules])
    return X, model, schema


def _problem(model, schema, x, norm):
    return applicant_problem(model, schema, x, norm)


def _sk(model, schema, space, H):
    """sklearn's predicted class index at search rows ``H`` (values inside their cells)."""
    rows = [space.decode(h) for h in H]
    return np.searchsorted(model.classes_, model_predict(model, schema, rows)), rows


def _placed(prob, space, h):
    """The row the engine answers with for search vector ``h``: its cells, decoded with
    every value placed as the engine places it (a hair beyond a crossed threshold)."""
    full = np.zeros(prob.n)
    full[: prob.enc.n_vars] = prob.enc.block_values(h[None, :])[0]
    return space.decode(decode(prob, full))


def _cell_moves(prob, space):
    """Rows that move one feature of the applicant to the inside of every other cell
    (a level, an integer, or the midpoint between thresholds), and the feature moved."""
    rows, feats = [], []
    for link in prob.enc.links:
        j, s = link.feature, int(space.start[link.feature])
        if isinstance(link, GroupLink):
            vals = [np.eye(len(link.vars))[k] for k in range(len(link.vars))]
            for v in vals:
                r = prob.x0.copy()
                r[s : s + v.size] = v
                rows.append(r)
                feats.append(j)
            continue
        t = np.asarray(link.thresholds)
        if space.integer[j]:
            vals = np.concatenate([[t[0] - 0.5], t + 0.5])
        else:
            vals = np.concatenate([[t[0] - 1.0], (t[:-1] + t[1:]) / 2, [t[-1] + 1.0]])
        for v in vals:
            r = prob.x0.copy()
            r[s] = v
            rows.append(r)
            feats.append(j)
    return np.array(rows), np.array(feats)


def _denied(X, model, schema, k=4, strongly=False):
    """``k`` applicants the model denies (``strongly``: those it denies most surely, whom
    no single move approves)."""
    pred = model_predict(model, schema, [X.iloc[i].to_dict() for i in range(len(X))])
    idx = np.flatnonzero(pred == 0)
    if strongly:
        idx = idx[np.argsort(model.predict_proba(X.iloc[idx])[:, 1], kind="stable")]
    return [X.iloc[i].to_dict() for i in idx[:k]]


@pytest.mark.parametrize("shape", ["grown", "wide"])
@pytest.mark.parametrize("rules", list(RULES))
@pytest.mark.parametrize("seed", [0, 1])
def test_incremental_pass_equals_sklearn_predict(seed, rules, shape):
    X, model, schema = (_setup(seed, rules) if shape == "grown"
                        else _setup(seed, rules, depth=3, noise=12))
    ties = 0
    for x in _denied(X, model, schema):
        prob, space = _problem(model, schema, x, "l1")
        enc, fwd = prob.enc, ForestPass(prob.enc)
        base0 = fwd.base(prob.x0)
        moves, feats = _cell_moves(prob, space)
        got = fwd.predict_index(base0, moves, feats)
        want, _ = _sk(model, schema, space, moves)
        np.testing.assert_array_equal(got, want)
        # two features moved (the changed features found by comparison)
        rng = np.random.default_rng(seed)
        i, k = rng.integers(0, len(moves), size=(2, 150))
        two = np.where(moves[i] != prob.x0, moves[i], moves[k])
        np.testing.assert_array_equal(fwd.predict_index(base0, two),
                                      _sk(model, schema, space, two)[0])
        R = project(prob, np.vstack([space.encode(schema.validate_row(X.iloc[i].to_dict()))
                                     for i in range(60)]))
        np.testing.assert_array_equal(fwd.predict_index(base0, R), _sk(model, schema, space, R)[0])
        # reverts from an approved point: one feature back to the applicant's value
        ok = np.flatnonzero(want == prob.target)
        if ok.size == 0:
            continue
        s = moves[ok[0]]
        base = fwd.base(s)
        cand, fs = [], []
        for j in range(space.n_features):
            sl = slice(int(space.start[j]), int(space.start[j + 1]))
            t = R[0].copy()
            t[sl] = s[sl]
            cand.append(t)
            fs.append(-1)
            t2 = s.copy()
            t2[sl] = prob.x0[sl]
            cand.append(t2)
            fs.append(j)
        C = np.array(cand)
        fs_arr = np.array(fs)
        one = fs_arr >= 0
        np.testing.assert_array_equal(fwd.predict_index(base, C[one], fs_arr[one]),
                                      _sk(model, schema, space, C[one])[0])
        np.testing.assert_array_equal(fwd.predict_index(base, C), _sk(model, schema, space, C)[0])
        sc = enc.scores(np.vstack([moves, R]))
        ties += int(np.sum(np.abs(sc[:, 0] - sc[:, 1]) < 1e-9))
    if seed == 0 and rules == "free" and shape == "grown":
        assert ties > 0, "no 50/50 vote among the candidates: the tie path went untested"


def test_decisions_within_rounding_of_a_tie_are_the_full_pass():
    """Incremental scores carry rounding (the trees are added in another order): a base
    whose scores are off by 1e-12 must still give sklearn's decision on 50/50 votes."""
    X, model, schema = _setup(0, "free")
    seen = 0
    for x in _denied(X, model, schema):
        prob, space = _problem(model, schema, x, "l1")
        fwd = ForestPass(prob.enc)
        moves, feats = _cell_moves(prob, space)
        sc = prob.enc.scores(moves)
        tie = np.abs(sc[:, 0] - sc[:, 1]) < 1e-9
        if not tie.any():
            continue
        seen += int(tie.sum())
        b = fwd.base(prob.x0)
        want, _ = _sk(model, schema, space, moves[tie])
        for nudge in (1e-12, -1e-12):
            off = Base(b.s, b.leaves, b.scores + np.array([0.0, nudge]))
            np.testing.assert_array_equal(fwd.predict_index(off, moves[tie], feats[tie]), want)
    assert seen


def _link_values_by_definition(enc, S):
    """Each link's values one link at a time (``ThresholdLink.above``, level columns)."""
    V = np.zeros((S.shape[0], link_table(enc).n_link))
    for link in enc.links:
        s = int(enc.space_start[link.feature])
        if isinstance(link, ThresholdLink):
            V[:, link.vars] = link.above(S[:, s])
        elif isinstance(link, GroupLink):
            V[:, link.vars] = S[:, s : s + len(link.vars)]
        else:
            V[:, link.var] = S[:, s]
    return V


@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_link_values_and_prices_equal_their_definition(norm):
    X, model, schema = _setup(3, "free")
    x = _denied(X, model, schema, 1)[0]
    prob, space = _problem(model, schema, x, norm)
    obj, obj0 = prob.objective(norm)
    n_link = link_table(prob.enc).n_link
    prices = CostTable(prob.enc, obj[:n_link], obj0)
    moves, _ = single_moves(prob)
    R = project(prob, np.vstack([space.encode(schema.validate_row(X.iloc[i].to_dict()))
                                 for i in range(40)]))
    H = np.vstack([moves, R, prob.x0])
    V = _link_values_by_definition(prob.enc, H)
    np.testing.assert_array_equal(link_values(prob.enc, H), V)
    want = V @ obj[:n_link] + obj0
    for rows in (H[:40], H):  # all link values at once, and one look-up per feature
        np.testing.assert_allclose(prices.price(rows), want[: rows.shape[0]], rtol=1e-12,
                                   atol=1e-12)
    share = prices.per_feature(H[:5])
    np.testing.assert_allclose(share.sum(axis=1) + obj0, want[:5], rtol=1e-12, atol=1e-12)


def _reference_incumbent(prob, model, schema, space, x, R):
    """Plain search: the cheapest sklearn-approved candidate, then the cheapest approved
    one-feature revert while it is cheaper (prices by the oracle)."""
    def judge(H):
        rows = [_placed(prob, space, h) for h in H]
        pred = np.searchsorted(model.classes_, model_predict(model, schema, rows))
        c = np.array([point_cost(schema, x, r)[0] for r in rows])  # L1
        return pred, np.where(pred == prob.target, c, np.inf)

    H = np.vstack([single_moves(prob)[0], project(prob, R)])
    pred, c = judge(H)
    if not np.isfinite(c.min()):
        return None, np.inf
    s, best = H[int(np.argmin(c))], float(c.min())
    while True:
        cand = []
        for j in range(space.n_features):
            sl = slice(int(space.start[j]), int(space.start[j + 1]))
            if not np.array_equal(s[sl], prob.x0[sl]):
                t = s.copy()
                t[sl] = prob.x0[sl]
                cand.append(t)
        if not cand:
            return s, best
        C = np.array(cand)
        _, c = judge(C)
        if c.min() >= best - 1e-12:
            return s, best
        s, best = C[int(np.argmin(c))], float(c.min())


@pytest.mark.parametrize("rules", list(RULES))
@pytest.mark.parametrize("seed", [0, 2])
def test_incumbent_is_valid_and_no_worse_than_a_plain_search(seed, rules):
    X, model, schema = _setup(seed, rules, trees=12, depth=5, noise=3)
    space = schema.search_space()
    R = np.vstack([space.encode(schema.validate_row(X.iloc[i].to_dict())) for i in range(80)])
    checked = 0
    for x in _denied(X, model, schema, 2) + _denied(X, model, schema, 2, strongly=True):
        prob, space = _problem(model, schema, x, "l1")
        v = find_incumbent(prob, "l1", R)
        _, want = _reference_incumbent(prob, model, schema, space, x, R)
        if v is None:
            assert not np.isfinite(want)
            continue
        row = space.decode(decode(prob, v))
        assert model_predict(model, schema, [row])[0] == model.classes_[prob.target]
        assert not actionability_violations(schema, x, row)
        got = point_cost(schema, x, row)[0]
        assert got <= want + 1e-6 * max(1.0, want), (got, want)
        checked += 1
    assert checked


def test_an_encoding_that_decides_otherwise_is_asked_directly():
    """Several models that must agree (``ModelSet``) decide by more than their summed
    scores: the incremental pass must give the encoding's own answer on every row, here
    judged by every member's sklearn ``predict``."""
    from recourse.encoders.multi import ModelSet

    X, model_a, schema = _setup(0, "free", trees=6, depth=4)
    _, model_b, _ = _setup(1, "free", trees=6, depth=4)
    ms = ModelSet([model_a, model_b])
    space = schema.search_space()
    enc = encoders.encode(ms, space)
    fwd = ForestPass(enc)
    x = X.iloc[0].to_dict()
    x0 = space.encode(schema.validate_row(x))
    base = fwd.base(x0)
    rng = np.random.default_rng(0)
    rows = [X.iloc[i].to_dict() for i in rng.choice(len(X), 60, replace=False)]
    H = np.array([space.encode(schema.validate_row(r)) for r in rows])
    got = fwd.predict_index(base, H)
    assert np.array_equal(got, enc.predict_index(H))
    pa, pb = model_predict(model_a, schema, rows), model_predict(model_b, schema, rows)
    agree = pa == pb
    assert agree.any() and (~agree).any()  # both cases occur
    assert np.array_equal(got == len(enc.classes) - 1, ~agree)  # DISAGREE exactly there


@pytest.mark.parametrize("m", [0.1, 0.3])
def test_incumbent_meets_the_margin_the_problem_asks(m):
    """With a margin of ``m`` in probability (``m`` times the number of trees in the
    forest's summed scores, as ``min_margin`` asks), the starting point must win by ``m``
    in sklearn's own ``predict_proba`` and hold every row of the problem; points that
    the encoding merely assigns to the target are not enough (the search used to find
    those and had to drop them, starting without a bound)."""
    from recourse.solvers.problem import build_problem
    from recourse.solvers.search import satisfies

    X, model, schema = _setup(0, "free", trees=12, depth=5)
    space = schema.search_space()
    enc = encoders.encode(model, space)
    R = np.vstack([space.encode(schema.validate_row(X.iloc[i].to_dict())) for i in range(80)])
    found = 0
    for x in _denied(X, model, schema, 6):
        x0 = space.encode(schema.validate_row(x))
        prob = build_problem(enc, schema.lower(), x0, 1, norm="l1", margin=m * 12,
                             tie_margin=m * 12)
        v = find_incumbent(prob, "l1", R)
        if v is None:
            continue
        row = space.decode(decode(prob, v))
        p = model.predict_proba(pd.DataFrame([row], columns=schema.names))[0]
        assert p[1] - p[0] >= m - 1e-9, (p, m)
        assert satisfies(prob, v)
        found += 1
    assert found >= 3  # most of these applicants have such a point

"""Bound propagation in ``prune`` (``recourse.solvers.prune.PROPAGATE``) against
enumeration of the MILP's integer points.

Every integer point of a small forest's recourse MILP is enumerated independently of the
pruning: one monotone threshold pattern per numeric feature, one level per categorical
feature, the leaves read off the node literals, feasibility by the problem's own rows. For
several cutoffs ``upper``, every feasible point cheaper than ``upper`` must lie within the
pruned bounds, and "nothing cheaper" (``blocked``) may be claimed only when no such point
exists.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from synthdata import credit_frame, tree_pipeline

from recourse import FeatureSchema, RecourseEngine
from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.solvers import prune as prune_mod
from recourse.solvers.problem import build_problem
from recourse.solvers.prune import prune


def _integer_points(prob) -> np.ndarray:
    """Every integer point of ``prob`` (link patterns x the leaves they reach), rows feasible."""
    enc = prob.enc
    tree = enc.tree
    nb = enc.n_vars
    assert prob.n == nb  # forests over thresholds and groups only: no extra columns
    choices = []
    for lk in enc.links:
        k = len(lk.vars)
        if isinstance(lk, ThresholdLink):  # z_i = [x > t_i]: the first m are 1
            choices.append((lk.vars, (np.arange(k)[None, :]
                                      < np.arange(k + 1)[:, None]).astype(float)))
        else:
            assert isinstance(lk, GroupLink)
            choices.append((lk.vars, np.eye(k)))
    combos = list(itertools.product(*[range(p.shape[0]) for _, p in choices]))
    V = np.zeros((len(combos), nb))
    for i, combo in enumerate(combos):
        for (vars_, pats), c in zip(choices, combo):
            V[i, vars_] = pats[c]
    r = np.asarray((sp.csr_matrix(V) @ tree.literal.T).todense()) + tree.literal0
    wrong = (np.asarray((sp.csr_matrix(1.0 - r) @ tree.anc_right.T).todense())
             + np.asarray((sp.csr_matrix(r) @ tree.anc_left.T).todense()))
    V[:, tree.leaf_var] = (wrong < 0.5).astype(float)
    act = np.asarray(prob.A @ V.T).T
    ok = np.all((act >= prob.row_lo - 1e-9) & (act <= prob.row_hi + 1e-9), axis=1)
    ok &= np.all((V >= prob.lb - 1e-9) & (V <= prob.ub + 1e-9), axis=1)
    return V[ok]


def _cases():
    for seed in range(3):
        X, y, _ = credit_frame(seed + 40, n=200)
        model = tree_pipeline(RandomForestClassifier(n_estimators=4, max_depth=3,
                                                     random_state=seed)).fit(X, y)
        schema = FeatureSchema.from_frame(X, increase_only=["age"] if seed % 2 else [])
        eng = RecourseEngine(model, schema)
        pred = model.predict(X)
        classes = list(model.classes_)
        for i in range(0, 40, 10):
            x = X.iloc[i].to_dict()
            target = classes[1] if pred[i] == classes[0] else classes[0]
            x0 = eng.space.encode(schema.validate_row(x))
            yield eng, x0, eng.classes.index(target)


@pytest.mark.parametrize("norm", ["l1", "l0"])
def test_propagation_keeps_every_cheaper_point(norm, monkeypatch):
    monkeypatch.setattr(prune_mod, "PROPAGATE", True)
    stronger = 0
    checked = 0
    for eng, x0, t in _cases():
        prob = build_problem(eng.encoding, eng.spec, x0, t, norm=norm, margin=1e-6,
                             tie_margin=1e-6)
        V = _integer_points(prob)
        c, c0 = prob.objective(norm)
        cost = V @ c + c0
        levels = np.unique(np.round(cost, 9))
        uppers = [np.inf] + [float(levels[k]) for k in (0, 1, 2, 4, len(levels) // 2)
                             if k < len(levels)]
        uppers += [u + 1e-3 for u in uppers[1:]]
        for upper in uppers:
            pruned, blocked = prune(prob, norm, upper)
            cheaper = V[cost < upper - 1e-9 * max(1.0, abs(upper))]
            if blocked:
                assert cheaper.shape[0] == 0, (upper, cheaper.shape)
                continue
            n = prob.n
            inside = np.all((cheaper >= pruned.lb[:n] - 1e-9)
                            & (cheaper <= pruned.ub[:n] + 1e-9), axis=1)
            assert inside.all(), (upper, int((~inside).sum()))
            checked += cheaper.shape[0]
            monkeypatch.setattr(prune_mod, "PROPAGATE", False)
            plain, plain_blocked = prune(prob, norm, upper)
            monkeypatch.setattr(prune_mod, "PROPAGATE", True)
            if plain_blocked:
                continue
            n_free = lambda p: int(np.sum(p.ub[:n] - p.lb[:n] > 0.5))  # noqa: E731
            assert n_free(pruned) <= n_free(plain)
            stronger += n_free(pruned) < n_free(plain)
    assert checked > 0
    if norm == "l1":  # propagation did more than the plain bounds somewhere
        assert stronger > 0

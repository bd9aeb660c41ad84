"""The encoding's memoised constants (``n_link``, target rows, per-leaf scores) equal a fresh
computation, are read-only, and never leak into a copy made by ``dataclasses.replace``
(``with_threshold``): each is checked against the same quantity built from the raw arrays."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

from recourse import FeatureSchema, encoders


def _rf(regressor: bool = False):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.integers(0, 9, 200).astype(float),
                      "c": rng.uniform(size=200)})
    y = (X["a"] + 0.3 * X["b"] > 1.2)
    if regressor:
        est = GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=0)
        est.fit(X, X["a"] + X["c"])
    else:
        est = RandomForestClassifier(7, max_depth=3, random_state=0).fit(X, y.astype(int))
    schema = FeatureSchema.from_frame(X)
    return encoders.encode(est, schema.search_space())


def _fresh_rows(enc, target, margin, tie):
    """The target rows from the score rows directly (the definition)."""
    S = enc.score.toarray()
    if enc.decision == "sign":
        sign = 1.0 if target == 1 else -1.0
        return S * sign, np.array([-sign * enc.score0[0] + margin])
    G = [S[target] - S[k] for k in range(S.shape[0]) if k != target]
    lo = [(margin if k < target else tie) - (enc.score0[target] - enc.score0[k])
          for k in range(S.shape[0]) if k != target]
    return np.array(G), np.array(lo)


@pytest.mark.parametrize("target", [0, 1])
def test_target_rows_memo_equals_the_definition_and_is_read_only(target):
    enc = _rf()
    for margin, tie in ((0.0, 0.0), (1e-6, 0.0), (1e-6, 1e-6)):
        for _ in range(2):  # computed, then served from the memo
            G, lo = enc.target_rows(target, margin, tie)
            G0, lo0 = _fresh_rows(enc, target, margin, tie)
            assert np.array_equal(G.toarray(), G0) and np.array_equal(lo, lo0)
    with pytest.raises(ValueError):
        lo[0] = 1.0
    with pytest.raises(ValueError):
        G.data[0] = 1.0
    Gl, lo = enc.target_leaf_rows(target)
    assert np.array_equal(Gl, _fresh_rows(enc, target, 0.0, 0.0)[0][:, enc.tree.leaf_var])
    assert np.array_equal(enc.leaf_scores(), enc.score.toarray()[:, enc.tree.leaf_var])


def test_a_replaced_encoding_does_not_inherit_the_memo():
    reg = _rf(regressor=True)
    a = reg.with_threshold(0.5)
    b = reg.with_threshold(1.5)
    Ga, la = a.target_rows(1, 0.0)
    Gb, lb = b.target_rows(1, 0.0)  # a different threshold: different rows
    assert not np.array_equal(la, lb)
    assert np.array_equal(lb, _fresh_rows(b, 1, 0.0, 0.0)[1])
    c = replace(a, score0=a.score0 - 1.0)
    assert np.array_equal(c.target_rows(1, 0.0)[1], _fresh_rows(c, 1, 0.0, 0.0)[1])
    assert c.n_link == a.n_link == reg.n_link

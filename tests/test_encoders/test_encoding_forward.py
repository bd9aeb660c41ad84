"""The encoding's own forward pass against the model's own predict_proba (the oracle).

The MILP is only as exact as the encoding: if the forward pass of the encoded block (threshold
indicators, leaves, scores) reproduces sklearn's probabilities on every row, the feasible set
of the MILP is the set of inputs the model classifies as the target.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from recourse import encoders
from recourse.encoders.evaluate import block_values
from recourse.datasets import load, make_model


def _search_matrix(schema, X):
    space = schema.search_space()
    return space, np.array([space.encode(schema.validate_row(X.iloc[i])) for i in range(len(X))])


@pytest.mark.parametrize("dataset", ["german", "credit_data"])
@pytest.mark.parametrize("kind", ["tree", "rf100x6"])
def test_forest_scores_equal_predict_proba_on_every_row(dataset, kind):
    X, y, schema = load(dataset)
    X = X.iloc[:600]
    y = y.iloc[:600]
    model = make_model(kind, X, y, seed=0, schema=schema)
    space, S = _search_matrix(schema, X)
    enc = encoders.encode(model, space)
    n_trees = enc.tree.n_trees
    # scores are summed leaf probabilities: n_trees * predict_proba; 1e-12 is float64 summation
    np.testing.assert_allclose(enc.scores(S) / n_trees, model.predict_proba(X), atol=1e-12)
    assert np.array_equal(enc.classes[enc.predict_index(S)], model.predict(X))


def test_block_values_satisfy_every_row_of_the_block():
    X, y, schema = load("german")
    model = make_model("rf100x6", X, y, seed=1, schema=schema)
    space, S = _search_matrix(schema, X.iloc[:100])
    enc = encoders.encode(model, space)
    V = block_values(enc, S)
    act = (enc.rows @ V.T).T
    assert np.all(act >= enc.row_lo - 1e-12) and np.all(act <= enc.row_hi + 1e-12)
    # exactly one leaf per tree is active
    per_tree = np.zeros((V.shape[0], enc.tree.n_trees))
    np.add.at(per_tree.T, enc.tree.leaf_tree, V[:, enc.tree.leaf_var].T)
    assert np.all(per_tree == 1)


@pytest.mark.parametrize("est", [DecisionTreeClassifier(max_depth=4, random_state=0),
                                 RandomForestClassifier(20, max_depth=4, random_state=0),
                                 ExtraTreesClassifier(20, max_depth=4, random_state=0)])
def test_bare_trees_on_numbers_with_multiclass_labels(est, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    import pandas as pd

    from recourse import FeatureSchema
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 20, 300),
                      "c": rng.uniform(-5, 5, 300)})
    y = np.digitize(X.a + X.b / 10 + rng.normal(scale=0.3, size=300), [0.5, 1.5])
    model = est.fit(X, y)
    schema = FeatureSchema.from_frame(X)
    space, S = _search_matrix(schema, X)
    enc = encoders.encode(model, space)
    n = enc.tree.n_trees
    np.testing.assert_allclose(enc.scores(S) / n, model.predict_proba(X), atol=1e-12)


def test_linear_scores_equal_decision_function():
    X, y, schema = load("german")
    model = make_model("logreg", X, y, seed=0, schema=schema)
    space, S = _search_matrix(schema, X.iloc[:200])
    enc = encoders.encode(model, space)
    np.testing.assert_allclose(enc.scores(S)[:, 0], model.decision_function(X.iloc[:200]),
                               rtol=1e-9, atol=1e-9)
    assert isinstance(model[-1], LogisticRegression)


def test_thresholds_sit_on_float32_rounding_boundaries():
    """A value exactly at a continuous threshold is a float64 midpoint of two float32
    values; the encoding must send it where sklearn's float32 cast does."""
    import pandas as pd

    from recourse import FeatureSchema
    X = pd.DataFrame({"a": [0.1, 0.2, 0.1, 0.2], "b": [0.0, 0.0, 5.0, 5.0]})
    model = DecisionTreeClassifier(random_state=0).fit(X, [0, 1, 1, 1])
    schema = FeatureSchema.from_frame(X)
    space = schema.search_space()
    enc = encoders.encode(model, space)
    link = enc.link_of(0)
    t = float(link.thresholds[0])
    probes = [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), 0.15, 0.15000000596046448]
    rows = pd.DataFrame({"a": probes, "b": [0.0] * len(probes)})
    S = np.array([space.encode(schema.validate_row(rows.iloc[i])) for i in range(len(rows))])
    assert np.array_equal(enc.classes[enc.predict_index(S)], model.predict(rows))


@pytest.mark.parametrize("seed", [0, 1])
def test_walk_at_every_threshold_equals_the_literal_formula(seed):
    """The walk's folded tests (a tie as the float below, a flip as swapped children)
    against every node's literal ``c0 + sign * z`` on points exactly at each threshold
    and one float on either side, where a tie decides."""
    from recourse import FeatureSchema
    from recourse.encoders.evaluate import _tree_leaves_general, link_table, tree_leaves
    from synthdata import credit_frame, tree_pipeline

    X, y, _ = credit_frame(seed, n=400)
    model = tree_pipeline(RandomForestClassifier(15, max_depth=5, random_state=seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    space, S = _search_matrix(schema, X.iloc[:5])
    enc = encoders.encode(model, space)
    tb = link_table(enc)
    assert tb.tie[tb.is_thr].any() and not tb.tie[tb.is_thr].all()  # both kinds of split
    points = []
    for v in np.flatnonzero(tb.is_thr):
        for t in (np.nextafter(tb.thr[v], -np.inf), tb.thr[v], np.nextafter(tb.thr[v], np.inf)):
            p = S[v % len(S)].copy()
            p[tb.col[v]] = t
            points.append(p)
    P = np.array(points)
    T = enc.tree.n_trees
    rows, trees = np.repeat(np.arange(len(P)), T), np.tile(np.arange(T), len(P))
    assert np.array_equal(tree_leaves(enc, P).ravel(), _tree_leaves_general(enc, P, rows, trees))


@pytest.mark.parametrize("seed", [0, 1])
def test_walk_over_leaves_of_every_depth_equals_the_literal_formula(seed):
    """Trees grown without a depth limit put leaves at very different depths: the walk
    steps every pair together up to the median leaf depth and then only those still inside
    a tree. Both phases (and the categorical levels inside each) against the literal
    formula node by node, and the scores against the model's own predict_proba."""
    from recourse import FeatureSchema
    from recourse.encoders.evaluate import _node_table, _tree_leaves_general, tree_leaves
    from synthdata import credit_frame, tree_pipeline

    X, y, _ = credit_frame(seed, n=500)
    model = tree_pipeline(RandomForestClassifier(12, min_samples_leaf=2, random_state=seed),
                          scaler="passthrough").fit(X, y)
    schema = FeatureSchema.from_frame(X)
    space, S = _search_matrix(schema, X)
    enc = encoders.encode(model, space)
    nd = enc.tree.nodes
    depths = [est.tree_.compute_node_depths()[est.tree_.children_left < 0]
              for est in model[-1].estimators_]
    steps = _node_table(enc).full_steps
    assert min(d.min() for d in depths) < steps < max(d.max() for d in depths)
    assert nd["kind"].max() == 2  # a levels node (housing) is walked
    T = enc.tree.n_trees
    rows, trees = np.repeat(np.arange(len(S)), T), np.tile(np.arange(T), len(S))
    assert np.array_equal(tree_leaves(enc, S).ravel(), _tree_leaves_general(enc, S, rows, trees))
    np.testing.assert_allclose(enc.scores(S) / T, model.predict_proba(X), atol=1e-12)

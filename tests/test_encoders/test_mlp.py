"""ReLU networks: optimum against exact region enumeration (one LP per activation pattern,
scipy's linprog) and a dense grid; big-M bounds never exceeded by sampled inputs; every
answer verified with the model's own predict; clear errors for what is not supported."""

from __future__ import annotations

import itertools
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from recourse import encoders
from recourse import FeatureSchema, RecourseEngine, UnsupportedModelError, Utility
from recourse.solvers.tighten import applicant_box, tighten_relu


def _data(seed: int, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.uniform(-3, 3, n), "b": rng.uniform(-3, 3, n)})
    y = ((X.a ** 2 + X.b) > 2).astype(int).to_numpy()
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _layers(model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [W.T for W in model.coefs_], list(model.intercepts_)


def region_oracle(model, x0: np.ndarray, scale: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  need: float) -> float:
    """Least weighted L1 distance from x0 to a point with output >= need, by solving one LP
    per activation pattern of the hidden units (the function is linear on each region)."""
    Ws, bs = _layers(model)
    hidden = [W.shape[0] for W in Ws[:-1]]
    best = np.inf
    d = x0.size
    for pattern in itertools.product([0, 1], repeat=sum(hidden)):
        # affine map of the current layer's pre-activation in x: z = M x + c
        M, c = np.eye(d), np.zeros(d)
        A_ub, b_ub = [], []
        pos = 0
        for W, b, k in zip(Ws[:-1], bs[:-1], hidden):
            M, c = W @ M, W @ c + b
            act = np.array(pattern[pos:pos + k], dtype=float)
            pos += k
            for u in range(k):  # active: z >= 0 ; inactive: z <= 0
                sgn = -1.0 if act[u] else 1.0
                A_ub.append(np.concatenate([sgn * M[u], np.zeros(d)]))
                b_ub.append(-sgn * c[u])
            M, c = act[:, None] * M, act * c
        out_M, out_c = Ws[-1] @ M, Ws[-1] @ c + bs[-1]
        A_ub.append(np.concatenate([-out_M[0], np.zeros(d)]))
        b_ub.append(out_c[0] - need)
        for i in range(d):  # t_i >= |x_i - x0_i|
            e = np.zeros(2 * d)
            e[i], e[d + i] = 1.0, -1.0
            A_ub.append(e.copy())
            b_ub.append(x0[i])
            e[i] = -1.0
            A_ub.append(e)
            b_ub.append(-x0[i])
        cost = np.concatenate([np.zeros(d), 1.0 / scale])
        res = linprog(cost, A_ub=np.array(A_ub), b_ub=np.array(b_ub),
                      bounds=[(lo[i], hi[i]) for i in range(d)] + [(0, None)] * d,
                      method="highs")
        if res.status == 0:
            best = min(best, res.fun)
    return best


@pytest.mark.parametrize("hidden", [(4,), (3, 3)])
def test_optimum_matches_region_enumeration_and_grid(hidden, global_random_seed):
    X, y = _data(global_random_seed)
    model = _fit(MLPClassifier(hidden_layer_sizes=hidden, max_iter=2000,
                               random_state=global_random_seed), X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    scale = np.array([schema["a"].scale, schema["b"].scale])
    lo = np.array([schema["a"].lower, schema["b"].lower])
    hi = np.array([schema["a"].upper, schema["b"].upper])
    g = np.linspace(lo, hi, 301)
    A, B = np.meshgrid(g[:, 0], g[:, 1])
    grid = pd.DataFrame({"a": A.ravel(), "b": B.ravel()})
    approved = model.predict(grid) == 1
    denied = X[model.predict(X) == 0].head(4)
    assert len(denied) > 0
    for i in range(len(denied)):
        x0 = denied.iloc[i].to_numpy(dtype=float)
        res = engine.explain(denied.iloc[i], target=1)
        assert res.status == "optimal" and res.verified
        cf = pd.DataFrame([res.counterfactual])
        assert model.predict(cf)[0] == 1
        oracle = region_oracle(model, x0, scale, lo, hi, engine.margin)
        assert res.cost == pytest.approx(oracle, rel=1e-5, abs=1e-6)
        grid_cost = (np.abs(grid.to_numpy() - x0) / scale).sum(axis=1)[approved]
        assert res.cost <= grid_cost.min() + 1e-9  # no approved grid point is cheaper
        assert grid_cost.min() <= res.cost + 2 * (hi - lo).max() / 300 / scale.min()


@pytest.mark.parametrize("method", ["interval", "lp"])
def test_big_m_bounds_hold_for_sampled_inputs(method, global_random_seed):
    X, y = _data(global_random_seed)
    model = _fit(MLPClassifier(hidden_layer_sizes=(6, 6), max_iter=2000,
                               random_state=global_random_seed), X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema)
    rng = np.random.default_rng(global_random_seed)
    x0 = engine.space.encode(schema.validate_row(X.iloc[0]))
    for budget in (np.inf, 0.7):
        enc = tighten_relu(engine.encoding, engine.spec, x0, method=method, budget=budget)
        lo, hi = applicant_box(engine.spec, x0)
        S = rng.uniform(lo, hi, size=(20000, 2))
        if np.isfinite(budget):
            cost = (np.abs(S - x0) / np.array([schema["a"].scale, schema["b"].scale])).sum(1)
            S = S[cost <= budget]
        relu = enc.network
        for z, (L, U) in zip(relu.net.forward(S), relu.bounds):
            assert np.all(z >= L - 1e-9) and np.all(z <= U + 1e-9)
        # the block's rows hold at the network's own values
        V = enc.block_values(S)
        act = V @ enc.rows.T.toarray()
        assert np.all(act >= enc.row_lo - 1e-7) and np.all(act <= enc.row_hi + 1e-7)
        assert enc.info["n_binaries"] <= enc.info["n_binaries_schema_box"]


def test_pipeline_and_categorical_verified():
    rng = np.random.default_rng(1)
    n = 400
    X = pd.DataFrame({"income": rng.uniform(10, 100, n).round(),
                      "debt": rng.uniform(0, 50, n),
                      "home": rng.choice(["rent", "own", "other"], n)})
    y = np.where(X.income - X.debt + 10 * (X.home == "own") > 40, "good", "bad")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    prep = ColumnTransformer([("c", OneHotEncoder(), ["home"]),
                              ("n", StandardScaler(), ["income", "debt"])])
    model = _fit(Pipeline([("p", prep), ("m", MLPClassifier(hidden_layer_sizes=(8, 8),
                                                             max_iter=1500, random_state=0))]),
                 X, y)
    schema = FeatureSchema.from_frame(X, integer=["income"])
    engine = RecourseEngine(model, schema, reference=X)
    denied = X[model.predict(X) == "bad"].head(5)
    for i in range(len(denied)):
        r = engine.explain(denied.iloc[i], target="good")
        assert r.verified and r.status == "optimal"
        assert model.predict(pd.DataFrame([r.counterfactual]))[0] == "good"
        assert float(r.counterfactual["income"]).is_integer()
        assert r.stats.problem["n_binaries"] <= r.stats.problem["n_binaries_schema_box"]


@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity"])
def test_unsupported_activation_names_relu(activation):
    X, y = _data(0, 60)
    model = _fit(MLPClassifier(hidden_layer_sizes=(3,), activation=activation, max_iter=50),
                 X, y)
    with pytest.raises(UnsupportedModelError, match="activation='relu'"):
        RecourseEngine(model, FeatureSchema.from_frame(X))


def test_unbounded_feature_is_a_clear_error():
    X, y = _data(0, 60)
    model = _fit(MLPClassifier(hidden_layer_sizes=(3,), max_iter=50), X, y)
    from recourse import Feature
    schema = FeatureSchema([Feature("a", "continuous"),
                            Feature("b", "continuous", lower=-3, upper=3)])
    with pytest.raises(encoders.EncodingError, match="finite bounds"):
        RecourseEngine(model, schema)


def test_regressor_utilities_match_region_enumeration():
    X, _ = _data(3)
    y = np.sin(X.a) * 3 + X.b ** 2 / 5 + X.a
    model = _fit(MLPRegressor(hidden_layer_sizes=(4, 3), max_iter=3000, random_state=0), X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    scale = np.array([schema["a"].scale, schema["b"].scale])
    lo = np.array([schema["a"].lower, schema["b"].lower])
    hi = np.array([schema["a"].upper, schema["b"].upper])
    row = X.iloc[int(np.argmin(model.predict(X)))]
    f0 = float(model.predict(pd.DataFrame([row]))[0])
    x0 = row.to_numpy(dtype=float)
    for util, need in ((Utility.increase(1.5), f0 + 1.5),
                       (Utility.reach(f0 + 1.0), f0 + 1.0)):
        r = engine.explain(row, utility=util)
        assert r.status == "optimal" and r.verified
        assert model.predict(pd.DataFrame([r.counterfactual]))[0] >= need
        oracle = region_oracle(model, x0, scale, lo, hi, need)
        assert r.cost == pytest.approx(oracle, rel=1e-4, abs=1e-5)
    with pytest.raises(ValueError, match="regressor"):
        engine.explain(row)
    if f0 <= 0:
        with pytest.raises(ValueError, match="positive score"):
            engine.explain(row, utility=Utility.relative_increase(0.1))
    pred = model.predict(X)
    pos = X.iloc[int(np.argmin(np.where(pred > 0.5, pred, np.inf)))]
    r = engine.explain(pos, utility=Utility.relative_increase(0.2))
    f_pos = float(model.predict(pd.DataFrame([pos]))[0])
    assert r.status == "optimal" and r.verified
    assert model.predict(pd.DataFrame([r.counterfactual]))[0] >= 1.2 * f_pos
    oracle = region_oracle(model, pos.to_numpy(float), scale, lo, hi, 1.2 * f_pos)
    assert r.cost == pytest.approx(oracle, rel=1e-4, abs=1e-5)
    # a score above the network's maximum over the box: proven impossible
    g = np.linspace(lo, hi, 201)
    A, B = np.meshgrid(g[:, 0], g[:, 1])
    top = model.predict(pd.DataFrame({"a": A.ravel(), "b": B.ravel()})).max()
    r = engine.explain(pos, utility=Utility.reach(top + 50.0))
    assert r.status == "no_recourse" and region_oracle(
        model, pos.to_numpy(float), scale, lo, hi, top + 50.0) == np.inf


def test_binary_margin_utility_verified_with_predict_proba():
    X, y = _data(5)
    model = _fit(MLPClassifier(hidden_layer_sizes=(5,), max_iter=2000, random_state=0), X, y)
    engine = RecourseEngine(model, FeatureSchema.from_frame(X), reference=X)
    row = X[model.predict(X) == 0].iloc[0]
    r = engine.explain(row, utility=Utility.reach(2.0))  # logit >= 2: probability >= 0.88
    assert r.verified
    p = model.predict_proba(pd.DataFrame([r.counterfactual]))[0, 1]
    assert p >= 1 / (1 + np.exp(-2.0)) - 1e-12


def test_torch_sequential_verified_and_layer_errors():
    torch = pytest.importorskip("torch")
    from recourse.encoders.mlp import TorchClassifier

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    X, _ = _data(0, 200)
    model = TorchClassifier(net, classes=[0, 1])
    y = model.predict(X.to_numpy())
    if y.min() == y.max():
        pytest.skip("random network gives one class on the data")
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    scale = np.array([schema["a"].scale, schema["b"].scale])
    lo = np.array([schema["a"].lower, schema["b"].lower])
    hi = np.array([schema["a"].upper, schema["b"].upper])

    class _Sk:  # the torch weights in sklearn's layout, for the region oracle
        coefs_ = [p.detach().double().numpy().T for p in (net[0].weight, net[2].weight)]
        intercepts_ = [p.detach().double().numpy() for p in (net[0].bias, net[2].bias)]
    for i in np.flatnonzero(y == 0)[:3]:
        r = engine.explain(X.iloc[i], target=1)
        assert r.verified and model.predict(pd.DataFrame([r.counterfactual]).to_numpy())[0] == 1
        oracle = region_oracle(_Sk, X.iloc[i].to_numpy(float), scale, lo, hi, 0.0)
        assert r.cost == pytest.approx(oracle, rel=1e-4, abs=1e-4)
    bad = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1))
    with pytest.raises(UnsupportedModelError, match="Supported layers: Linear, ReLU"):
        TorchClassifier(bad)
    with pytest.raises(UnsupportedModelError, match="TorchClassifier"):
        RecourseEngine(net, schema)


def test_missing_torch_names_the_extra(monkeypatch):
    from recourse.encoders.mlp import TorchClassifier

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UnsupportedModelError, match=r"recourse-engine\[torch\]"):
        TorchClassifier(object())


def test_l0_matches_region_enumeration(global_random_seed):
    X, y = _data(global_random_seed + 7)
    model = _fit(MLPClassifier(hidden_layer_sizes=(4, 3), max_iter=2000,
                               random_state=global_random_seed), X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    scale = np.array([schema["a"].scale, schema["b"].scale])
    lo = np.array([schema["a"].lower, schema["b"].lower])
    hi = np.array([schema["a"].upper, schema["b"].upper])
    for i in range(3):
        row = X[model.predict(X) == 0].iloc[i]
        x0 = row.to_numpy(dtype=float)
        one = any(region_oracle(model, x0, scale, np.where(np.arange(2) == j, lo, x0),
                                np.where(np.arange(2) == j, hi, x0), engine.margin) < np.inf
                  for j in range(2))
        two = region_oracle(model, x0, scale, lo, hi, engine.margin) < np.inf
        want = 1.0 if one else (2.0 if two else None)
        for norm in ("l0", "l0_l1"):
            r = engine.explain(row, target=1, norm=norm)
            if want is None:
                assert r.status == "no_recourse"
                continue
            assert r.status == "optimal" and r.verified and r.l0 == want


def test_distinct_options_match_region_enumeration(global_random_seed):
    """``options`` on a ReLU network: option i is the optimum over the feature subsets that
    change no earlier option's whole set (region enumeration with the other features held
    at the applicant's values), and each is verified by the model's predict."""
    X, y = _data(global_random_seed)
    model = _fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2000,
                               random_state=global_random_seed), X, y)
    schema = FeatureSchema.from_frame(X)
    engine = RecourseEngine(model, schema, reference=X)
    names = schema.names
    scale = np.array([schema[n].scale for n in names])
    lo = np.array([schema[n].lower for n in names])
    hi = np.array([schema[n].upper for n in names])
    denied = X[model.predict(X) == 0].head(3)
    assert len(denied) > 0
    for i in range(len(denied)):
        x0 = denied.iloc[i].to_numpy(dtype=float)
        opts = engine.options(denied.iloc[i], k=3, target=1)
        sets: list[frozenset[str]] = []
        for res in opts.options:
            best = np.inf
            for mask in range(1, 2 ** len(names)):
                free = frozenset(n for j, n in enumerate(names) if mask >> j & 1)
                if any(s <= free for s in sets):
                    continue
                keep = np.array([n not in free for n in names])
                best = min(best, region_oracle(model, x0, scale, np.where(keep, x0, lo),
                                               np.where(keep, x0, hi), engine.margin))
            assert res.verified and model.predict(pd.DataFrame([res.counterfactual]))[0] == 1
            assert res.cost == pytest.approx(best, rel=1e-5, abs=1e-6), (sets, res.changes)
            changed = frozenset(c.feature for c in res.changes)
            assert changed and not any(s <= changed for s in sets)
            sets.append(changed)
        if opts.stopped == "exhausted":  # then no subset avoiding every earlier set works
            for mask in range(1, 2 ** len(names)):
                free = frozenset(n for j, n in enumerate(names) if mask >> j & 1)
                if not any(s <= free for s in sets):
                    keep = np.array([n not in free for n in names])
                    assert not np.isfinite(region_oracle(
                        model, x0, scale, np.where(keep, x0, lo), np.where(keep, x0, hi),
                        engine.margin))

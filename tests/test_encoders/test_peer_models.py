"""The production-size model builders of ``benchmarks/peers.py``, in small sizes: the engine's
encoding decides exactly as the fitted Pipeline's own ``predict``.

Oracle: the Pipeline's ``predict`` (and the estimator's own raw score) on random points of
the action box and on points placed exactly on, and one float step either side of, the
split thresholds read from the fitted estimator itself (sklearn ``tree_``, LightGBM's dump,
XGBoost's ``trees_to_dataframe``): the places where ``<=`` against ``<``, float32 against
float64 rounding, or a missing-value default would show.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recourse import encoders

ROOT = Path(__file__).resolve().parents[2]


def _peers() -> Any:
    spec = importlib.util.spec_from_file_location("_peers_bench", ROOT / "benchmarks" / "peers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


peers = _peers()


def native_thresholds(est: Any) -> dict[int, np.ndarray]:
    """``{model input column: split thresholds}`` read from the fitted estimator."""
    out: dict[int, set[float]] = {}
    name = type(est).__name__
    if name.startswith("LGBM"):
        stack = [t["tree_structure"] for t in est.booster_.dump_model()["tree_info"]]
        while stack:
            n = stack.pop()
            if "split_feature" in n:
                out.setdefault(int(n["split_feature"]), set()).add(float(n["threshold"]))
                stack += [n["left_child"], n["right_child"]]
    elif name.startswith("XGB"):
        df = est.get_booster().trees_to_dataframe()
        df = df[df.Feature != "Leaf"]
        for f, t in zip(df.Feature, df.Split):
            out.setdefault(int(str(f)[1:]), set()).add(float(t))
    else:
        for tree in est.estimators_:
            t = tree.tree_
            inner = t.feature >= 0
            for f, th in zip(t.feature[inner], t.threshold[inner]):
                out.setdefault(int(f), set()).add(float(th))
    return {k: np.array(sorted(v)) for k, v in out.items()}


def raw_score(model: Any, P: pd.DataFrame) -> np.ndarray:
    """The estimator's own score: margin (boosting) or summed class-1 probability (forest)."""
    Z = model[0].transform(P)
    est = model[-1]
    name = type(est).__name__
    if name.startswith("LGBM"):
        return np.asarray(est.predict(Z, raw_score=True), float)
    if name.startswith("XGB"):
        return np.asarray(est.predict(Z, output_margin=True), float)
    return est.predict_proba(Z)[:, 1] * len(est.estimators_)


def probe_points(model: Any, schema: Any, X: pd.DataFrame, rng: np.random.Generator,
                 n_random: int, n_threshold: int) -> pd.DataFrame:
    """Uniform points of the action box, then data rows with five numeric features moved to
    a split threshold, its float64 or float32 neighbours (integers: either side)."""
    rows = []
    for _ in range(n_random):
        r: dict[str, Any] = {}
        for f in schema:
            if f.is_group:
                r[f.name] = f.categories[rng.integers(len(f.categories))]
            else:
                lo, hi = f.bounds()
                v = rng.uniform(lo, hi)
                r[f.name] = int(round(v)) if f.is_integer else v
        rows.append(r)
    design = peers.Design(model, schema, X)
    th = native_thresholds(model[-1])
    numeric = [j for j in th if design.cols[j][1] is None]
    assert len(numeric) >= 5, "the model splits on too few numeric features to probe"
    for _ in range(n_threshold):
        r = X.iloc[int(rng.integers(len(X)))].to_dict()
        for j in rng.choice(numeric, size=5, replace=False):
            f = schema[design.cols[j][0]]
            t = float(rng.choice(th[j]))
            t32 = np.float32(t)
            near = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), float(t32),
                    float(np.nextafter(t32, np.float32(np.inf))),
                    float(np.nextafter(t32, np.float32(-np.inf)))]
            v = (int(np.floor(t)) + int(rng.integers(2)) if f.is_integer
                 else float(near[int(rng.integers(len(near)))]))
            lo, hi = f.bounds()
            r[f.name] = min(max(v, lo), hi)
        rows.append(r)
    return pd.DataFrame(rows, columns=schema.names)


_NO_LGBM = pytest.mark.skipif(importlib.util.find_spec("lightgbm") is None,
                              reason="lightgbm not installed")
_NO_XGB = pytest.mark.skipif(importlib.util.find_spec("xgboost") is None,
                             reason="xgboost not installed")
# credit_data's numbers are all whole, so only the 200-feature data (continuous synthetic
# columns) puts a probe exactly on a boosting threshold
KINDS = [pytest.param("lgbm20x63", marks=_NO_LGBM), pytest.param("lgbm20x31_200f", marks=_NO_LGBM),
         pytest.param("xgb20x6", marks=_NO_XGB), pytest.param("xgb20x6_200f", marks=_NO_XGB),
         "rf20x10", "rf20x6_200f"]


@pytest.mark.parametrize("kind", KINDS)
def test_encoding_predicts_as_the_pipeline(kind, global_random_seed):
    wide = kind.endswith("_200f")
    X, y, schema = peers.wide_setting("credit_data",
                                      extra_features=peers.N_SYNTHETIC if wide else 0)
    X, y = X.iloc[:1500], y.iloc[:1500]
    model = peers.fit_model(kind, X, y, schema, seed=global_random_seed)
    rng = np.random.default_rng(global_random_seed)
    P = probe_points(model, schema, X, rng, n_random=150 if wide else 300,
                     n_threshold=300 if wide else 700)
    space = schema.search_space()
    enc = encoders.encode(model, space)
    S = np.array([space.encode(schema.validate_row(P.iloc[i])) for i in range(len(P))])
    theirs = model.predict(P)
    assert set(np.unique(theirs)) == set(model.classes_), "the probes must reach both classes"
    assert np.array_equal(enc.classes[enc.predict_index(S)], theirs)
    # a forest scores each class (the last is "good"), a booster its one margin; XGBoost
    # adds its leaves in float32 (20 trees: within 1e-5), the others in float64
    tol = 1e-5 if kind.startswith("xgb") else 1e-9
    np.testing.assert_allclose(enc.scores(S)[:, -1], raw_score(model, P), rtol=tol, atol=tol)


def test_xgboost_target_is_class_one_and_others_good():
    pytest.importorskip("xgboost")
    X, y, schema = peers.wide_setting("credit_data")
    X, y = X.iloc[:400], y.iloc[:400]
    xgb = peers.fit_model("xgb5x2", X, y, schema)
    assert list(xgb.classes_) == [0, 1] and peers.target_of(xgb) == 1
    # class 1 is "good": the fitted model agrees with the labels far more than by chance
    assert np.mean(xgb.predict(X) == (y == "good").to_numpy()) > 0.6
    rf = peers.fit_model("rf5x3", X, y, schema)
    assert peers.target_of(rf) == "good"


def test_synthetic_features_are_as_documented():
    X, y, schema = peers.wide_setting("credit_data", extra_features=peers.N_SYNTHETIC)
    assert len(schema) == 200
    syn = [c for c in X.columns if c.startswith(("act_", "imm_", "noise_"))]
    groups = {p: [c for c in syn if c.startswith(p)]
              for p in ("act_c", "act_i", "imm_", "noise_")}
    assert {p: len(v) for p, v in groups.items()} == {"act_c": 40, "act_i": 20, "imm_": 60,
                                                     "noise_": 67}
    for c in syn:
        f = schema[c]
        assert f.immutable == c.startswith("imm_"), c
        assert f.direction == ("increase" if c.startswith("act_i") else "any"), c
        assert f.is_integer == c.startswith("act_i"), c
    good = (y == "good").to_numpy()
    # the informative columns are shifted for good rows, the noise is not (n = 4,039)
    shift = {p: np.mean([X.loc[good, c].mean() - X.loc[~good, c].mean() for c in v])
             for p, v in groups.items()}
    assert 0.2 < shift["act_c"] < 0.4 and 0.2 < shift["imm_"] < 0.4
    assert 0.4 < shift["act_i"] < 0.8 and abs(shift["noise_"]) < 0.05
    again, _, _ = peers.wide_setting("credit_data", extra_features=peers.N_SYNTHETIC)
    pd.testing.assert_frame_equal(X, again)  # seeded


def test_summary_ratios_per_query_search_and_end_to_end() -> None:
    """The table's ratios are medians of per-query ratios (not ratios of medians), once
    against the peer's search and once against its end-to-end time."""
    peers = _peers()
    times = [(1.0, 0.5, 1.0), (2.0, 4.0, 8.0), (3.0, 1.0, 2.0)]  # engine, search, e2e

    def ans(t: float, e2e: float | None = None) -> dict[str, Any]:
        a: dict[str, Any] = {"time": t, "proven": True, "no_recourse": False,
                             "false_optimal": False,
                             "score": {"valid": True, "violations": []}}
        if e2e is not None:
            a["time_e2e"] = e2e
        return a

    queries = [{"answers": {"engine": ans(e), "treecf": ans(s, f)}} for e, s, f in times]
    r = peers.summarise("d", "m", ["engine", "treecf"], queries, 0.0, {}, 3)
    by_query = [e / s for e, s, _ in times]
    e2e = [e / f for e, _, f in times]
    assert r["engine_over"]["treecf"]["median"] == pytest.approx(np.median(by_query))
    assert r["engine_over"]["treecf"]["e2e_median"] == pytest.approx(np.median(e2e))
    assert r["engine_over"]["treecf"]["e2e_p90"] == pytest.approx(np.percentile(e2e, 90))
    md = peers.markdown([r], {"cpu": "c", "cores": 2, "python": "3.11"}, "cmd")
    assert f"{np.median(e2e):.2f} / {np.percentile(e2e, 90):.2f}" in md

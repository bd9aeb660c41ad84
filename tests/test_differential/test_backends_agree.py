"""Differential test: every backend, with and without reference rows, must agree on the
optimal cost (and on optimal vs no_recourse) of seeded random small instances.

A fast set runs always; ``RECOURSE_DIFF_N=<n>`` (or ``--runslow``) runs ``n`` (default 200)
instances per family. A disagreement fails and prints the instance (family, seed,
applicant, each route's answer) so it can become a regression test."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from recourse import FeatureSchema, RecourseEngine
from synthdata import credit_frame, tree_pipeline

FAMILIES = {
    "forest": lambda s: RandomForestClassifier(8, max_depth=4, random_state=s),
    "boosting": lambda s: GradientBoostingClassifier(n_estimators=10, max_depth=3,
                                                     random_state=s),
    "linear": lambda s: LogisticRegression(),
    "mlp": lambda s: MLPClassifier((6,), max_iter=400, random_state=s),
}
#: routes: (backend, backend_options, with reference rows)
ROUTES = [("highs", None, False), ("highs", None, True), ("highs", {"presolve": "on"}, False),
          ("cpsat", None, False), ("pyomo", None, False), ("race", None, False)]


def _instance(family: str, seed: int):
    X, y, _ = credit_frame(seed=seed, n=160)
    model = tree_pipeline(FAMILIES[family](seed)).fit(X, y)
    schema = FeatureSchema.from_frame(X, decrease_only=["debt"])
    denied = X[model.predict(X) == 0]
    rng = np.random.default_rng(seed)
    return model, schema, X, denied.iloc[int(rng.integers(len(denied)))]


def _answers(family: str, seed: int) -> dict[str, tuple[str, float | None]]:
    model, schema, X, x = _instance(family, seed)
    out = {}
    for backend, opts, ref in ROUTES:
        try:
            eng = RecourseEngine(model, schema, backend=backend, backend_options=opts,
                                 reference=X if ref else None)
        except Exception as exc:  # a backend that cannot take this model (cpsat: MLP)
            if "cannot take" in str(exc) or "not installed" in str(exc):
                continue
            raise
        try:
            r = eng.explain(x, target=1, time_limit=30)
        except Exception as exc:
            if "cannot take" in str(exc) or "not installed" in str(exc):
                continue
            raise
        out[f"{backend}{opts or ''}{'+ref' if ref else ''}"] = (r.status, r.cost)
    return out


def _check(family: str, seed: int) -> None:
    ans = _answers(family, seed)
    proven = {k: v for k, v in ans.items() if v[0] in ("optimal", "no_recourse")}
    costs = {k: v[1] for k, v in proven.items() if v[0] == "optimal"}
    kinds = {v[0] for v in proven.values()}
    bad = len(kinds) > 1 or (costs and max(costs.values()) - min(costs.values())
                             > 1e-6 * max(1.0, min(costs.values())))
    assert not bad, f"routes disagree on {family} seed {seed}: {ans}"


FAST = [(f, s) for f in FAMILIES for s in (0, 1)]


@pytest.mark.parametrize("family,seed", FAST)
def test_routes_agree_fast(family, seed):
    _check(family, seed)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_routes_agree_campaign(family):
    n = int(os.environ.get("RECOURSE_DIFF_N", "200"))
    failures = []
    for seed in range(100, 100 + n):
        try:
            _check(family, seed)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_regression_forest_seed_104():
    """The campaign saw HiGHS with presolve on report optimal 2.0756 here where every
    other route proved 1.5920 (under load; not reproduced alone): kept as a regression."""
    _check("forest", 104)

"""Benchmark: the engine against the best exact peers, query by query, on a wide action set.

Usage (from the repository root; the peers are in the ``bench`` extra,
``pip install -e '.[bench]'``)::

    python benchmarks/peers.py                         # the full table (hours: 60 s limit)
    python benchmarks/peers.py --quick                 # a few minutes: 5 applicants, small models
    python benchmarks/peers.py --datasets german --models tree,rf100x6 --n 20
    python benchmarks/peers.py --production --n 10     # LightGBM, XGBoost, RF 1000x10, 200 features
    python benchmarks/peers.py --datasets credit_data --models xgb1000x6 --n 10 --time-limit 30
    python benchmarks/peers.py --variants cpsat --datasets credit_data --models rf100x6

Setting (the same for every tool):

* ``credit_data`` (4,039 rows after dropping missing values): ``Seniority`` and ``Age``
  increase-only; ``Time``, ``Expenses``, ``Income``, ``Assets``, ``Debt``, ``Amount`` and
  ``Price`` free within the data's range; ``Home``, ``Marital``, ``Records`` and ``Job``
  immutable; integer features stay integer.
* German credit: checking account, duration, credit amount, savings, instalment rate,
  other debtors, residence (increase-only), age (increase-only), other instalment plans,
  number of credits and telephone actionable; the rest immutable.
* Models on a stratified 70/30 split (seed 0), ``class_weight="balanced"``:
  DecisionTree(max_depth=6), RandomForest(100, max_depth=6), RandomForest(300,
  max_depth=8); MLP 32x32 ReLU and LogisticRegression (these two on standardised
  numbers). Every model is a Pipeline ``one-hot + numbers -> estimator``; the peers get
  the fitted estimator and the one-hot design matrix, so all tools answer about the same
  function.
* Production sizes (``--production``, credit_data): LightGBM 1000 trees x 63 leaves
  (``lgbm1000x63``), XGBoost 1000 trees x depth 6 (``xgb1000x6``; XGBoost takes only 0/1
  labels, so it is fitted on ``y == "good"`` and its target is class ``1``; class balance
  by ``scale_pos_weight``), RandomForest 1000 x depth 10 (``rf1000x10``) and RandomForest
  100 x depth 6 on 200 features (``rf100x6_200f``: the 13 features plus the 187 synthetic
  ones of :func:`synthetic_features`).
* The first ``n`` denied test applicants (target ``"good"``); cost L1 = sum |delta| / MAD
  over numeric features + 1 per changed category (the schema's scale: MAD, or the mean
  absolute deviation where the MAD is 0); 60 s per query; one thread per tool.

Tools: the engine (``RecourseEngine.explain``, HiGHS); treecf 0.3.2 exact mode (forests
and trees; a single tree is handed to it as a one-tree forest, which its sklearn parser
reads exactly); OMLT + Pyomo + HiGHS for the MLP and the logistic model. On each query the
tools run one after the other, in an order that rotates from query to query, so drift of a
shared machine hits them alike; the table reports per-query time ratios (engine / peer),
twice: against the peer's search alone, and end to end, where the peer's time also counts
the Pipeline transform of the applicant's row into its design space and the decoding of
its answer (work the engine's own time includes, with the model's own ``predict`` that
verifies the answer, which the peers do not run).

One scorer (:func:`score`), independent of every tool, judges every answer: validity by the
Pipeline's own ``predict``; every action rule (immutables, directions, bounds, integers,
known categories); the L1 cost recomputed; and an optimality claim is called *false* when
another tool found a valid answer cheaper by more than 1e-6 (relative).

With ``--batch ROUNDS`` each row is also timed as a whole set, as an audit of a loan book
runs it: the engine's ``explain_many`` (the same answers, verified by one call of the
model's ``predict``) against the peer answering the applicants one after the other; the
ratio is total time over total time, the median of the rounds (run in alternating order).

Writes ``benchmarks/results/peers.json`` and ``peers.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # treecf's Rust engine: one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import load  # noqa: E402
from recourse.schema import FeatureSchema  # noqa: E402
from recourse.solvers.cpsat import DEFAULT_PARAMS  # noqa: E402

TREE_MODELS = ("tree", "rf100x6", "rf300x8")
OTHER_MODELS = ("mlp32x32", "logreg")
MODELS = TREE_MODELS + OTHER_MODELS
PRODUCTION = ("lgbm1000x63", "xgb1000x6", "rf1000x10", "rf100x6_200f")
#: ``rf100x6_200f``: credit_data's 13 features plus this many synthetic ones
N_SYNTHETIC = 187
DATASETS = ("german", "credit_data")
#: ``--variants``: the engine with another backend beside HiGHS
BACKEND_VARIANTS = ("highs", "auto", "cpsat", "race")
#: ``--variants``: the engine (its default backend) with a module switch set for its queries only
#: (bound propagation in the pruning measured no faster and was removed)
SWITCH_VARIANTS: dict[str, tuple[str, str, Any]] = {
    # no margin ascent for a better starting point (recourse.solvers.incumbent.ascent_start)
    "noascent": ("recourse.solvers.incumbent", "ASCENT_MIN_VARS", 1 << 62),
    # one round of CP-SAT's presolve instead of three (recourse.solvers.cpsat.DEFAULT_PARAMS).
    # Measured, not the default: credit_data RF 300x8, n 50, 60 s: median 4.5 s against
    # 6.7 s and 43/50 proven for both, but 6 of the 7 unproven answers cost more
    "presolve1": ("recourse.solvers.cpsat", "DEFAULT_PARAMS",
                  {**DEFAULT_PARAMS, "max_presolve_iterations": 1}),
}
TARGET = "good"

# ----------------------------------------------------------------------------- setting
_GERMAN_ACTIONABLE = {
    "status_of_existing_checking_account": "any",
    "duration_in_month": "any",
    "credit_amount": "any",
    "savings_account_and_bonds": "any",
    "installment_rate_in_percentage_of_disposable_income": "any",
    "other_debtors_or_guarantors": "any",
    "present_residence_since": "increase",
    "age_in_years": "increase",
    "other_installment_plans": "any",
    "number_of_existing_credits_at_this_bank": "any",
    "telephone": "any",
}
_CREDIT_ACTIONABLE = {
    "Seniority": "increase", "Age": "increase",
    **{n: "any" for n in ("Time", "Expenses", "Income", "Assets", "Debt", "Amount", "Price")},
}


def synthetic_features(y: pd.Series, n: int = N_SYNTHETIC, seed: int = 0,
                       ) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """``n`` synthetic features for a production-width model: ``(frame, actions, integer)``.

    Seeded (``numpy.random.default_rng(seed)``), on ``y``'s index; ``g`` is 1 for a
    ``"good"`` row and 0 otherwise, so the informative columns carry a weak signal each
    (a shift of 0.3 standard deviations) and a forest reads many of them:

    * ``act_c00`` ... : 40 actionable continuous, ``N(0.3 g, 1)`` rounded to 3 decimals,
      free within the data's range;
    * ``act_i00`` ... : 20 actionable whole counts, ``Poisson(2 + 0.6 g)``, increase-only,
      integer;
    * ``imm_00`` ... : 60 immutable continuous, ``N(0.3 g, 1)`` rounded to 3 decimals;
    * ``noise_00`` ... : the rest (67 of 187), actionable continuous noise ``N(0, 1)``
      rounded to 3 decimals, free within the data's range.

    ``actions`` maps each actionable column to ``"any"`` or ``"increase"``; ``integer``
    lists the count columns.
    """
    n_ac, n_ai, n_im = 40, 20, 60
    if n < n_ac + n_ai + n_im:
        raise ValueError(f"n={n}: at least {n_ac + n_ai + n_im} synthetic features "
                         "(40 actionable continuous, 20 counts, 60 immutable)")
    rng = np.random.default_rng(seed)
    g = (np.asarray(y) == TARGET).astype(float)[:, None]
    m = len(g)
    cols = {}
    for i, v in enumerate((rng.standard_normal((m, n_ac)) + 0.3 * g).T):
        cols[f"act_c{i:02d}"] = np.round(v, 3)
    for i, v in enumerate(rng.poisson(2.0 + 0.6 * g, size=(m, n_ai)).T):
        cols[f"act_i{i:02d}"] = v.astype(np.int64)
    for i, v in enumerate((rng.standard_normal((m, n_im)) + 0.3 * g).T):
        cols[f"imm_{i:02d}"] = np.round(v, 3)
    for i, v in enumerate(rng.standard_normal((m, n - n_ac - n_ai - n_im)).T):
        cols[f"noise_{i:02d}"] = np.round(v, 3)
    frame = pd.DataFrame(cols, index=y.index)
    actions = {c: ("increase" if c.startswith("act_i") else "any")
               for c in frame.columns if not c.startswith("imm_")}
    return frame, actions, [c for c in frame.columns if c.startswith("act_i")]


def wide_setting(dataset: str, extra_features: int = 0,
                 seed: int = 0) -> tuple[pd.DataFrame, pd.Series, FeatureSchema]:
    """The data set with the issue's wider action set: ``(X, y, schema)``.

    Every text column is an unordered category; whole-number columns are integers; a
    numeric feature's cost scale is its MAD. ``extra_features`` appends that many
    synthetic features (:func:`synthetic_features`) to reach production widths.
    """
    X, y, _ = load(dataset)
    acts = _GERMAN_ACTIONABLE if dataset == "german" else _CREDIT_ACTIONABLE
    if extra_features:
        syn, syn_acts, _ = synthetic_features(y, extra_features, seed)
        X = pd.concat([X, syn], axis=1)
        acts = dict(acts, **syn_acts)
    schema = FeatureSchema.from_frame(
        X,
        immutable=[c for c in X.columns if c not in acts],
        increase_only=[c for c, d in acts.items() if d == "increase"],
    )
    return X, y, schema


def _estimator(kind: str, seed: int) -> Any:
    """The unfitted estimator of a model kind (a ``_200f`` suffix names the data, not the
    estimator)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    rf = dict(class_weight="balanced", random_state=seed, n_jobs=1)
    kind = kind.removesuffix("_200f")
    if kind == "tree":
        return DecisionTreeClassifier(max_depth=6, class_weight="balanced", random_state=seed)
    if kind.startswith("rf"):  # rf<trees>x<depth>
        trees, depth = _size(kind, "rf")
        return RandomForestClassifier(trees, max_depth=depth, **rf)
    if kind.startswith("lgbm"):  # lgbm<trees>x<leaves>
        from lightgbm import LGBMClassifier

        trees, leaves = _size(kind, "lgbm")
        return LGBMClassifier(n_estimators=trees, num_leaves=leaves, class_weight="balanced",
                              random_state=seed, n_jobs=1, verbose=-1)
    if kind.startswith("xgb"):  # xgb<trees>x<depth>; scale_pos_weight is set by fit_model
        from xgboost import XGBClassifier

        trees, depth = _size(kind, "xgb")
        return XGBClassifier(n_estimators=trees, max_depth=depth, tree_method="hist",
                             random_state=seed, n_jobs=1)
    if kind == "logreg":
        return LogisticRegression(max_iter=5000, class_weight="balanced", random_state=seed)
    if kind == "mlp32x32":  # MLPClassifier has no class_weight
        return MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=1000, random_state=seed)
    raise SystemExit(f"unknown model kind {kind!r}; known: {MODELS + PRODUCTION}")


def _size(kind: str, prefix: str) -> tuple[int, int]:
    """``"xgb1000x6"`` -> ``(1000, 6)``; a clear error for any other spelling."""
    a, _, b = kind[len(prefix):].partition("x")
    if not (a.isdigit() and b.isdigit()):
        raise SystemExit(f"model kind {kind!r}: expected {prefix}<trees>x<size>, "
                         f"e.g. {prefix}1000x6")
    return int(a), int(b)


def target_of(model: Any) -> Any:
    """The class the applicants ask for: ``"good"``, or ``1`` for a model fitted on 0/1
    labels (XGBoost)."""
    return TARGET if TARGET in list(model.classes_) else 1


def fit_model(kind: str, X: pd.DataFrame, y: pd.Series, schema: FeatureSchema,
              seed: int = 0) -> Any:
    """``Pipeline([one-hot + numbers, estimator])`` fitted on ``X``; numbers are
    standardised for the MLP and the logistic model only (trees need no scaling).
    XGBoost is fitted on ``y == "good"`` (0/1) with ``scale_pos_weight`` = bad / good,
    its form of ``class_weight="balanced"``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    groups = [f for f in schema if f.is_group]
    numeric = [f.name for f in schema if not f.is_group]
    num_step: Any = StandardScaler() if kind in OTHER_MODELS else "passthrough"
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(categories=[list(f.categories or ()) for f in groups],
                              handle_unknown="error"), [f.name for f in groups]),
        ("num", num_step, numeric)], sparse_threshold=0.0)
    est = _estimator(kind, seed)
    if kind.startswith("xgb"):
        good = np.asarray(y) == TARGET
        est.set_params(scale_pos_weight=float((~good).sum() / good.sum()))
        return Pipeline([("prep", prep), ("model", est)]).fit(X, good.astype(int))
    return Pipeline([("prep", prep), ("model", est)]).fit(X, y)


# ------------------------------------------------------------------------------ scorer
def score(model: Any, schema: FeatureSchema, factual: dict[str, Any],
          cf: dict[str, Any] | None, target: Any = TARGET) -> dict[str, Any]:
    """Judge one answer independently of every tool.

    Returns ``{"valid", "predicted", "violations", "l1"}``: ``valid`` is True when the
    Pipeline's own ``predict`` gives ``target`` and no action rule is broken; ``l1`` is
    the recomputed cost (numeric: |delta| / scale; categorical: 1 per change).
    """
    if cf is None:
        return {"valid": False, "predicted": None, "violations": [], "l1": None}
    bad: list[str] = []
    l1 = 0.0
    for f in schema:
        a, b = factual[f.name], cf[f.name]
        if f.is_group:
            if b not in (f.categories or ()):
                bad.append(f"{f.name}: unknown category {b!r}")
                continue
            if b != a:
                l1 += 1.0
                if f.immutable:
                    bad.append(f"{f.name}: immutable, changed")
            continue
        a, b = float(a), float(b)
        if not math.isfinite(b):
            bad.append(f"{f.name}: not finite")
            continue
        l1 += abs(b - a) / f.scale
        if b == a:
            continue
        if f.immutable:
            bad.append(f"{f.name}: immutable, changed")
        if f.direction == "increase" and b < a:
            bad.append(f"{f.name}: increase-only, decreased")
        if f.direction == "decrease" and b > a:
            bad.append(f"{f.name}: decrease-only, increased")
        if f.lower is not None and b < min(f.lower, a) or f.upper is not None and b > max(
                f.upper, a):
            bad.append(f"{f.name}: {b} outside [{f.lower}, {f.upper}]")
        if f.is_integer and b != round(b):
            bad.append(f"{f.name}: {b!r} is not an integer")
    frame = pd.DataFrame([[cf[n] for n in schema.names]], columns=schema.names)
    pred = model.predict(frame)[0]
    return {"valid": bool(pred == target and not bad), "predicted": str(pred),
            "violations": bad, "l1": l1}


# ------------------------------------------------------------------------------- tools
class Design:
    """The one-hot design space the peers see: column ``j`` of ``prep.transform``."""

    def __init__(self, model: Any, schema: FeatureSchema, X_ref: pd.DataFrame) -> None:
        self.schema = schema
        prep = model[0]
        self.cols: list[tuple[str, Any]] = []  # (feature, category or None)
        for f in schema:
            if f.is_group:
                self.cols += [(f.name, c) for c in (f.categories or ())]
        self.cols += [(f.name, None) for f in schema if not f.is_group]
        num = prep.named_transformers_["num"]
        nn = [f.name for f in schema if not f.is_group]
        self.mean = dict(zip(nn, getattr(num, "mean_", np.zeros(len(nn)))))
        self.std = dict(zip(nn, getattr(num, "scale_", np.ones(len(nn)))))
        self.prep = prep
        assert prep.transform(X_ref.head(1)).shape[1] == len(self.cols)

    def encode(self, row: dict[str, Any]) -> np.ndarray:
        frame = pd.DataFrame([[row[n] for n in self.schema.names]], columns=self.schema.names)
        return np.asarray(self.prep.transform(frame), dtype=float)[0]

    def decode(self, z: np.ndarray, factual: dict[str, Any]) -> dict[str, Any]:
        """User-unit row from a design vector of the *unscaled* design (trees); a group
        whose block is not exactly one-hot decodes to an invalid category marker."""
        out = dict(factual)
        for f in self.schema:
            idx = [j for j, (n, _) in enumerate(self.cols) if n == f.name]
            if f.is_group:
                block = z[idx]
                ones = np.flatnonzero(block == 1.0)
                if ones.size == 1 and np.all((block == 0.0) | (block == 1.0)):
                    out[f.name] = self.cols[idx[int(ones[0])]][1]
                else:
                    out[f.name] = f"<not one-hot: {block.tolist()}>"
            else:
                v = float(z[idx[0]])
                out[f.name] = int(v) if f.is_integer and v == round(v) else v
        return out


def engine_tool(model: Any, schema: FeatureSchema, X_tr: pd.DataFrame,
                time_limit: float, backend: str = "auto",
                switch: tuple[str, str, Any] | None = None, target: Any = TARGET,
                ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The engine as a tool; ``switch`` = (module, attribute, value) is set for each of
    its queries and restored after (``SWITCH_VARIANTS``)."""
    import importlib

    engine = RecourseEngine(model, schema, reference=X_tr, backend=backend)

    def run(row: dict[str, Any]) -> dict[str, Any]:
        saved = None
        if switch is not None:
            mod = importlib.import_module(switch[0])
            saved = getattr(mod, switch[1])
            setattr(mod, switch[1], switch[2])
        try:
            t0 = time.perf_counter()
            r = engine.explain(row, target=target, norm="l1", time_limit=time_limit)
            t = time.perf_counter() - t0
        finally:
            if switch is not None:
                setattr(mod, switch[1], saved)
        cf = r.counterfactual if r.status in ("optimal", "feasible") else None
        st = r.stats
        return {"time": t, "claim": r.status, "proven": r.status in ("optimal", "no_recourse"),
                "cf": cf, "no_recourse": r.status == "no_recourse",
                "claimed_cost": r.cost,
                # where the time went: the solver's share, the rest (build, pruning,
                # verification), and the problem's sizes before and after pruning
                "detail": {"solve_s": r.solve_time, "total_s": r.total_time,
                           "verify_s": st.verify_time, "attempts": st.attempts,
                           "solver_status": st.solver_status,
                           "certified_by": st.certified_by, "problem": dict(st.problem)}}

    run.engine = engine  # type: ignore[attr-defined]  # for the batch measurement
    return run


def treecf_tool(model: Any, schema: FeatureSchema, design: Design,
                time_limit: float) -> Callable[[dict[str, Any]], dict[str, Any]]:
    import treecf

    est = model[-1]
    if type(est).__name__ == "DecisionTreeClassifier":
        # treecf parses forests, not single trees: a one-tree forest averages one tree,
        # i.e. is the tree itself (read by treecf's own forest parser)
        from types import SimpleNamespace

        from treecf.ir.parsers.sklearn import _parse_random_forest

        shim = type("OneTreeForestClassifier", (), {})()
        shim.__dict__.update(vars(SimpleNamespace(
            estimators_=[est], n_classes_=est.n_classes_, n_features_in_=est.n_features_in_)))
        est = _parse_random_forest(shim)
    names = list((est.feature_names if hasattr(est, "feature_names") else
                  treecf.Explainer(est, normalizers=np.ones(len(design.cols))).ir.feature_names))
    sig, policy, cons = [], {}, []
    for j, (feat, cat) in enumerate(design.cols):
        f = schema[feat]
        sig.append(2.0 if cat is not None else f.scale)  # a category change moves 2 columns
        if cat is not None or f.is_integer:
            policy[names[j]] = "integer"
        if cat is None:
            if f.immutable:
                cons.append(treecf.Freeze(names[j]))
                continue
            if f.direction != "any":
                cons.append(treecf.Monotone(names[j], f.direction))
            lo, hi = f.bounds()
            cons.append(treecf.Range(names[j], lo, hi))
    for f in schema:
        if not f.is_group:
            continue
        block = [names[j] for j, (n, _) in enumerate(design.cols) if n == f.name]
        if f.immutable:
            cons += [treecf.Freeze(b) for b in block]
        elif len(block) >= 2:
            cons.append(treecf.OneHot(tuple(block)))
    ex = treecf.Explainer(est, normalizers=np.array(sig), constraints=cons,
                          value_policy=policy)
    link = str(ex.ir.link)
    # sklearn predicts the target when its probability exceeds 0.5 (a forest's raw score
    # is that probability), LightGBM and XGBoost when the margin exceeds 0 (treecf reads
    # their link as SIGMOID and their score as the margin); the same 1e-7 clearance
    # the engine's margin keeps
    target = (treecf.Target.raw(op=">=", value=1e-7) if "SIGMOID" in link
              else treecf.Target.raw(op=">=", value=0.5 + 1e-7))

    def run(row: dict[str, Any]) -> dict[str, Any]:
        # "time" is the search alone (the measure); "time_e2e" adds what a user of
        # treecf must also run to go from the applicant's row to an answer: the
        # Pipeline's transform into the design space and the decoding back
        t_in = time.perf_counter()
        z = design.encode(row)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = ex.explain(z, target, backend="exact", time_budget_s=time_limit, seed=0)
        t = time.perf_counter() - t0
        if isinstance(r, treecf.Counterfactual):
            cf = design.decode(np.asarray(r.x_cf, float), row)
            return {"time": t, "time_e2e": time.perf_counter() - t_in, "claim": r.proof,
                    "proven": r.proof == "optimal", "cf": cf,
                    "no_recourse": False, "claimed_cost": float(r.distance)}
        certified = getattr(r, "proof", "") == "certified"
        return {"time": t, "time_e2e": time.perf_counter() - t_in,
                "claim": f"infeasible:{getattr(r, 'proof', '?')}",
                "proven": certified, "cf": None, "no_recourse": certified,
                "claimed_cost": None}

    return run


def omlt_tool(model: Any, schema: FeatureSchema, design: Design,
              time_limit: float) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """OMLT (ReLU big-M formulation) + Pyomo + HiGHS on the MLP or the logistic model
    (a one-layer linear network); the same action set as a Pyomo model in user units."""
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.neuralnet import NetworkDefinition, ReluBigMFormulation
    from omlt.neuralnet.layer import DenseLayer, InputLayer
    from pyomo.contrib.appsi.solvers import Highs

    est = model[-1]
    if hasattr(est, "coefs_"):
        Ws, bs = list(est.coefs_), list(est.intercepts_)
    else:
        Ws, bs = [est.coef_.T], [est.intercept_]
    nin = len(design.cols)
    in_bounds = {}
    for j, (feat, cat) in enumerate(design.cols):
        f = schema[feat]
        if cat is not None:
            in_bounds[j] = (0.0, 1.0)
        else:
            lo, hi = f.bounds()
            m, s = design.mean[feat], design.std[feat]
            in_bounds[j] = ((lo - m) / s, (hi - m) / s)
    net = NetworkDefinition(scaled_input_bounds=in_bounds)
    prev: Any = InputLayer([nin])
    net.add_layer(prev)
    for k, (W, b) in enumerate(zip(Ws, bs)):
        act = "relu" if k < len(Ws) - 1 else "linear"
        layer = DenseLayer(prev.output_size, [W.shape[1]], activation=act,
                           weights=np.asarray(W, float), biases=np.asarray(b, float))
        net.add_layer(layer)
        net.add_edge(prev, layer)
        prev = layer

    def run(row: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        m = pyo.ConcreteModel()
        m.nn = OmltBlock()
        m.nn.build_formulation(ReluBigMFormulation(net))
        cost = 0
        m.cons = pyo.ConstraintList()
        xs: dict[str, Any] = {}
        for f in schema:
            idx = [j for j, (n, _) in enumerate(design.cols) if n == f.name]
            if f.is_group:
                cats = list(f.categories or ())
                bvars = []
                for j, c in zip(idx, cats):
                    v = pyo.Var(domain=pyo.Binary)
                    m.add_component(f"b{j}", v)
                    if f.immutable:
                        v.fix(1.0 if c == row[f.name] else 0.0)
                    m.cons.add(m.nn.inputs[j] == v)
                    bvars.append(v)
                m.cons.add(sum(bvars) == 1)
                cost = cost + (1 - bvars[cats.index(row[f.name])])
                xs[f.name] = (cats, bvars)
                continue
            lo, hi = f.bounds()
            a = float(row[f.name])
            lo, hi = min(lo, a), max(hi, a)
            if f.direction == "increase":
                lo = a
            if f.direction == "decrease":
                hi = a
            dom = pyo.Integers if f.is_integer else pyo.Reals
            x = pyo.Var(domain=dom, bounds=(lo, hi), initialize=a)
            up = pyo.Var(domain=pyo.NonNegativeReals)
            dn = pyo.Var(domain=pyo.NonNegativeReals)
            for nm, v in (("x", x), ("u", up), ("d", dn)):
                m.add_component(f"{nm}{idx[0]}", v)
            if f.immutable:
                x.fix(a)
            m.cons.add(x - a == up - dn)
            m.cons.add(m.nn.inputs[idx[0]] == (x - design.mean[f.name]) / design.std[f.name])
            cost = cost + (up + dn) / f.scale
            xs[f.name] = x
        m.cons.add(m.nn.outputs[0] >= 1e-6)  # class 1 ("good") wins: logit > 0
        m.obj = pyo.Objective(expr=cost, sense=pyo.minimize)
        opt = Highs()
        opt.config.time_limit = time_limit
        opt.config.load_solution = False
        opt.highs_options = {"threads": 1}
        res = opt.solve(m)
        tc = res.termination_condition.name
        cf = None
        if res.best_feasible_objective is not None:
            res.solution_loader.load_vars()
            cf = dict(row)
            for f in schema:
                if f.is_group:
                    cats, bvars = xs[f.name]
                    on = [c for c, v in zip(cats, bvars) if pyo.value(v) > 0.5]
                    cf[f.name] = on[0] if len(on) == 1 else "<not one-hot>"
                else:
                    v = float(pyo.value(xs[f.name]))
                    cf[f.name] = int(round(v)) if f.is_integer else v
        t = time.perf_counter() - t0
        optimal = tc.endswith("optimal")
        infeasible = tc.endswith("infeasible")
        return {"time": t, "claim": tc, "proven": optimal or infeasible, "cf": cf,
                "no_recourse": infeasible, "claimed_cost": res.best_feasible_objective}

    return run


# ------------------------------------------------------------------------------ driver
def run_one(dataset: str, kind: str, n: int, time_limit: float,
            variant_names: list[str], with_peer: bool = True,
            batch_rounds: int = 0) -> dict[str, Any]:
    extra = N_SYNTHETIC if kind.endswith("_200f") else 0  # 13 features + 187 = 200
    X, y, schema = wide_setting(dataset, extra_features=extra)
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    t0 = time.perf_counter()
    model = fit_model(kind, X_tr, y_tr, schema)
    fit_s = time.perf_counter() - t0
    target = target_of(model)
    denied = X_te[model.predict(X_te) != target].head(n)
    design = Design(model, schema, X_tr)
    tools: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
    t0 = time.perf_counter()
    tools["engine"] = engine_tool(model, schema, X_tr, time_limit, target=target)
    build = {"engine": time.perf_counter() - t0}
    for v in variant_names:  # the engine with another backend (one worker)
        base, _, back = v.partition("@")  # "SWITCH@auto": a switch on another backend
        if base in SWITCH_VARIANTS:
            tools[f"engine:{v}"] = engine_tool(model, schema, X_tr, time_limit,
                                               backend=back or "auto",
                                               switch=SWITCH_VARIANTS[base], target=target)
            continue
        if v not in BACKEND_VARIANTS:
            raise SystemExit(f"--variants takes {BACKEND_VARIANTS} or "
                             f"{tuple(SWITCH_VARIANTS)}[@backend], got {v!r}")
        tools[f"engine:{v}"] = engine_tool(model, schema, X_tr, time_limit, backend=v,
                                           target=target)
    if with_peer:
        t0 = time.perf_counter()
        if kind in OTHER_MODELS:
            tools["omlt"] = omlt_tool(model, schema, design, time_limit)
        else:
            tools["treecf"] = treecf_tool(model, schema, design, time_limit)
        build[list(tools)[-1]] = time.perf_counter() - t0
    names = list(tools)
    queries = []
    for i in range(len(denied)):
        row = {k: (v.item() if hasattr(v, "item") else v)
               for k, v in denied.iloc[i].to_dict().items()}
        order = names[i % len(names):] + names[: i % len(names)]  # rotate per query
        answers: dict[str, Any] = {}
        for name in order:
            a = tools[name](row)
            a["score"] = score(model, schema, row, a.pop("cf"), target)
            answers[name] = a
        best = min((a["score"]["l1"] for a in answers.values() if a["score"]["valid"]),
                   default=None)
        for a in answers.values():
            s = a["score"]
            a["false_optimal"] = bool(
                a["proven"] and (
                    (a["no_recourse"] and best is not None)
                    or (not a["no_recourse"] and (not s["valid"] or (
                        best is not None and s["l1"] > best + 1e-6 * max(1.0, best))))))
        queries.append({"index": int(denied.index[i]), "answers": answers})
        print(f"  {dataset} {kind} q{i:02d} " + "  ".join(
            f"{k} {a['time']:.3f}s {a['claim']} "
            f"{'ok' if a['score']['valid'] else 'INVALID'}"
            f"{' FALSE-OPTIMAL' if a['false_optimal'] else ''}"
            f" L1={a['score']['l1'] if a['score']['l1'] is None else round(a['score']['l1'], 4)}"
            for k, a in answers.items()), flush=True)
    out = summarise(dataset, kind, names, queries, fit_s, build, len(schema))
    if batch_rounds and len(names) > 1:
        out["batch"] = batch_run(tools, names[-1], model, schema, denied, queries, target,
                                 time_limit, batch_rounds)
        b = out["batch"]
        print(f"  batch: engine {1e3 * b['engine_ms']:.2f} ms/applicant, {names[-1]} "
              f"{1e3 * b['peer_ms']:.2f} ms (search), {1e3 * b['peer_e2e_ms']:.2f} ms (end to "
              f"end); ratio {b['ratio']:.2f} / end to end {b['ratio_e2e']:.2f}; "
              f"{b['same']}/{b['n']} answers as per query, {b['valid']} valid", flush=True)
    return out


def batch_run(tools: dict[str, Any], peer: str, model: Any, schema: FeatureSchema,
              denied: pd.DataFrame, queries: list[dict[str, Any]], target: Any,
              time_limit: float, rounds: int) -> dict[str, Any]:
    """Throughput over the whole set (an audit of a loan book): the engine's
    ``explain_many`` (every answer verified by one ``predict`` call) against the peer
    answering the same applicants one after the other, ``rounds`` times, in alternating
    order; the ratio is the median over rounds of total time / total time."""
    engine = tools["engine"].engine
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.to_dict().items()}
            for _, r in denied.iterrows()]
    eng_t, peer_t, peer_e2e, res = [], [], [], None
    for k in range(rounds):
        for who in (("engine", peer) if k % 2 == 0 else (peer, "engine")):
            if who == "engine":
                t0 = time.perf_counter()
                res = engine.explain_many(rows, target=target, norm="l1",
                                          time_limit=time_limit)
                eng_t.append(time.perf_counter() - t0)
            else:
                answers = [tools[peer](row) for row in rows]
                peer_t.append(sum(a["time"] for a in answers))
                peer_e2e.append(sum(a.get("time_e2e", a["time"]) for a in answers))
    assert res is not None
    n = len(rows)
    same = sum(1 for q, r in zip(queries, res)
               if q["answers"]["engine"]["claim"] == r.status
               and (r.cost is None) == (q["answers"]["engine"]["claimed_cost"] is None)
               and (r.cost is None or abs(r.cost - q["answers"]["engine"]["claimed_cost"])
                    <= 1e-9 * max(1.0, r.cost)))
    valid = sum(score(model, schema, row, r.counterfactual, target)["valid"]
                for row, r in zip(rows, res) if r.status in ("optimal", "feasible"))
    ratios = [e / max(p, 1e-9) for e, p in zip(eng_t, peer_t)]
    ratios_e2e = [e / max(p, 1e-9) for e, p in zip(eng_t, peer_e2e)]
    return {"n": n, "rounds": rounds, "engine_ms": float(np.median(eng_t)) / n,
            "peer_ms": float(np.median(peer_t)) / n,
            "peer_e2e_ms": float(np.median(peer_e2e)) / n,
            "ratio": float(np.median(ratios)), "ratio_e2e": float(np.median(ratios_e2e)),
            "same": same, "valid": valid}


def summarise(dataset: str, kind: str, names: list[str], queries: list[dict[str, Any]],
              fit_s: float, build: dict[str, float], n_features: int) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for name in names:
        t = np.array([q["answers"][name]["time"] for q in queries])
        ans = [q["answers"][name] for q in queries]
        per[name] = {
            "median_s": float(np.median(t)) if t.size else None,
            "p90_s": float(np.percentile(t, 90)) if t.size else None,
            "max_s": float(t.max()) if t.size else None,
            "proven": sum(a["proven"] for a in ans),
            "valid": sum(a["score"]["valid"] for a in ans),
            "no_recourse": sum(a["no_recourse"] for a in ans),
            "violations": sum(bool(a["score"]["violations"]) for a in ans),
            "false_optimal": sum(a["false_optimal"] for a in ans),
        }
    eng = [q["answers"]["engine"].get("detail") for q in queries]
    if eng and all(eng):
        med = {k: float(np.median([float(d.get(k) or 0.0) for d in eng]))
               for k in ("solve_s", "total_s", "verify_s")}
        sizes = {k: float(np.median([float(d["problem"].get(k, np.nan)) for d in eng]))
                 for k in ("n_vars", "n_rows", "n_int", "reduced_vars", "reduced_rows")}
        per["engine"]["breakdown"] = {"median": med, "median_problem": sizes}
    ratios: dict[str, Any] = {}
    for name in names[1:]:
        r = np.array([q["answers"]["engine"]["time"] / max(q["answers"][name]["time"], 1e-9)
                      for q in queries]) if queries else np.array([])
        # end to end: the peer's time including its input transform and decoding
        e = np.array([q["answers"]["engine"]["time"]
                      / max(q["answers"][name].get("time_e2e", q["answers"][name]["time"]),
                            1e-9) for q in queries]) if queries else np.array([])
        ratios[name] = {"median": float(np.median(r)) if r.size else None,
                        "p90": float(np.percentile(r, 90)) if r.size else None,
                        "e2e_median": float(np.median(e)) if e.size else None,
                        "e2e_p90": float(np.percentile(e, 90)) if e.size else None}
    return {"dataset": dataset, "model": kind, "n": len(queries), "n_features": n_features,
            "fit_s": fit_s, "build_s": build, "tools": per,
            "engine_over": ratios, "queries": queries}


def markdown(rows: list[dict[str, Any]], mach: dict[str, Any], cmd: str) -> str:
    lines = ["| instance | n | tool | median / p90 s | engine ÷ tool: median / p90 of "
             "per-query ratios | same, tool end to end | proven | valid | rule violations "
             "| false optimal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for name, t in r["tools"].items():
            ratio = r["engine_over"].get(name)
            rs = "–" if ratio is None or ratio["median"] is None else (
                f"{ratio['median']:.2f} / {ratio['p90']:.2f}")
            re2e = "–" if ratio is None or ratio.get("e2e_median") is None else (
                f"{ratio['e2e_median']:.2f} / {ratio['e2e_p90']:.2f}")
            lines.append(
                f"| {r['dataset']}, {r['model']} | {r['n']} | {name} | "
                f"{t['median_s']:.3f} / {t['p90_s']:.3f} | {rs} | {re2e} | {t['proven']} | "
                f"{t['valid']} | {t['violations']} | {t['false_optimal']} |"
                if t["median_s"] is not None else
                f"| {r['dataset']}, {r['model']} | 0 | {name} | – | – | – | – | – | – | – |")
    batched = [r for r in rows if r.get("batch")]
    if batched:
        lines += ["", "Whole set (`--batch`): the engine's `explain_many` against the peer "
                  "query after query, ms per applicant (median of rounds)", "",
                  "| instance | n | engine | peer search | peer end to end | ratio | "
                  "ratio end to end | answers as per query | valid |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in batched:
            b = r["batch"]
            lines.append(
                f"| {r['dataset']}, {r['model']} | {b['n']} | {1e3 * b['engine_ms']:.2f} | "
                f"{1e3 * b['peer_ms']:.2f} | {1e3 * b['peer_e2e_ms']:.2f} | {b['ratio']:.2f} | "
                f"{b['ratio_e2e']:.2f} | {b['same']} | {b['valid']} |")
    lines += ["", f"Command: `{cmd}`", "",
              f"Machine: {mach['cpu']}, {mach['cores']} cores (shared), Python "
              f"{mach['python']}; one thread per tool; tools alternate query by query."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"any of {MODELS + PRODUCTION}, or another size: rf<trees>x<depth>, "
                    "lgbm<trees>x<leaves>, xgb<trees>x<depth>; a _200f suffix fits it on the "
                    "200-feature data")
    ap.add_argument("--n", type=int, default=50, help="denied test applicants per model")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true",
                    help="5 applicants; tree, rf100x6 and logreg (a few minutes)")
    ap.add_argument("--production", action="store_true",
                    help="the production-size models on credit_data: " + ", ".join(PRODUCTION))
    ap.add_argument("--variants", default="",
                    help="the engine with other backends beside the plain engine (its "
                    f"default backend, auto), comma separated: {BACKEND_VARIANTS}")
    ap.add_argument("--no-peer", action="store_true", help="engine (and variants) only")
    ap.add_argument("--batch", type=int, default=0, metavar="ROUNDS",
                    help="also time the whole set: the engine's explain_many (one predict "
                    "call verifies every answer) against the peer one query after another, "
                    "ROUNDS times in alternating order")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--tag", default="peers", help="output file stem")
    args = ap.parse_args(argv)
    datasets, models, n = args.datasets.split(","), args.models.split(","), args.n
    if args.quick:
        models, n = ["tree", "rf100x6", "logreg"], min(n, 5)
    if args.production:
        datasets, models = ["credit_data"], list(PRODUCTION)
    variant_names = [v for v in args.variants.split(",") if v]
    mach = machine()
    rows = []
    for ds in datasets:
        for kind in models:
            r = run_one(ds, kind, n, args.time_limit, variant_names, not args.no_peer,
                        args.batch)
            rows.append(r)
            print(f"{ds} {kind}: " + "; ".join(
                f"{k} median {t['median_s']:.3f}s p90 {t['p90_s']:.3f}s proven {t['proven']}"
                f"/{r['n']} valid {t['valid']} false-optimal {t['false_optimal']}"
                for k, t in r["tools"].items() if t["median_s"] is not None)
                + "".join(f"; engine/{k} ratio median {v['median']:.2f} p90 {v['p90']:.2f}"
                          f" (end to end {v['e2e_median']:.2f} / {v['e2e_p90']:.2f})"
                          for k, v in r["engine_over"].items() if v["median"] is not None),
                flush=True)
            bd = r["tools"]["engine"].get("breakdown")
            if bd:
                m, z = bd["median"], bd["median_problem"]
                print(f"  engine medians: solve {m['solve_s']:.3f}s, verify {m['verify_s']:.3f}s "
                      f"of {m['total_s']:.3f}s; problem {z['n_vars']:.0f} vars x "
                      f"{z['n_rows']:.0f} rows ({z['n_int']:.0f} integer), after pruning "
                      f"{z['reduced_vars']:.0f} x {z['reduced_rows']:.0f}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/peers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / f"{args.tag}.json").write_text(json.dumps(
        {"machine": mach, "command": cmd, "rows": rows}, indent=1, default=str))
    (out / f"{args.tag}.md").write_text(markdown(rows, mach, cmd))
    print(f"wrote {out / (args.tag + '.json')} and {out / (args.tag + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

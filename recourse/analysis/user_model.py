"""Recourse sensitivity and robustness of attribution methods on the user's own model.

:func:`analyze_model` (``recourse analyze --model M --data D --schema S``) takes the
applicants the model denies and, for each attribution method, measures

* **recourse sensitivity**: the budget ``δ`` of an applicant is the engine's proven optimal
  recourse cost (``RecourseEngine.explain``, L1 with the schema's scales and weights), so
  ``T(x) ≠ ∅`` within ``δ`` is certified by the engine's own verified answer. The method's
  direction fails when no step along it of at most that cost reaches the target class
  (the ray test of docs/theory.md §A4 — line search on a uniform grid plus geometric steps — with
  the schema's bounds and directions: a direction that decreases an increase-only
  feature, or moves an immutable one, fails). A failure is therefore a certified
  violation of recourse sensitivity (up to the line search's resolution);
* **robustness**: a local Lipschitz estimate at the applicant (coordinate probes
  ``x ± ε e_i`` in scaled units, ``ε = 1e-3``) and the jumps along the segment to the
  nearest other denied applicant (grid refinement 11 → 41 points; a jump when the largest
  adjacent difference shrinks by less than half).

Feature space. Attributions need a numeric vector: the schema's mutable numeric features
(continuous, integer), each divided by its cost per unit (``scale / weight``), so that the
L1 norm of a step *is* its engine cost. Categorical, ordinal, binary and immutable
features stay at the applicant's values for the methods, and the engine's reference answer
is computed with them frozen too (the budget is the cheapest recourse *in that space*).
Integer features are treated as continuous along a ray.

The class utility is the engine's: the target class's lead (``class_score``) at least the
engine's margin ``1e-6``. Stochastic methods use a fixed seed (common random numbers), so
every attribution is a deterministic function of ``x``.

Outputs: ``report.html`` (Jinja2, autoescaped, plots embedded), ``report.md`` and
``report.json`` (:func:`write_user_report`).
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recourse.analysis import attributions as att
from recourse.analysis.robustness import local_lipschitz, segment_jumps
from recourse.analysis.scores import ScoreFunction, class_score
from recourse.analysis.sensitivity import ray_test
from recourse.analysis.utility import ENGINE_MARGIN, Utility

__all__ = ["MethodSummary", "UserModelReport", "analyze_model", "write_user_report",
           "run_analyze", "USER_METHODS"]

#: Methods run by :func:`analyze_model` (names as in the report).
USER_METHODS = ("gradient", "smoothgrad", "clime", "integrated_gradients", "kernel_shap",
                "lime", "counterfactual")


@dataclass
class MethodSummary:
    """Per method: failures of the ray test, Lipschitz estimates and segment jumps."""

    method: str
    description: str
    n: int
    n_fail: int
    fail_share: float
    lipschitz_median: float
    lipschitz_max: float
    n_jumps: int
    n_segments: int
    worst: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class UserModelReport:
    """Everything :func:`write_user_report` writes (see the module docstring)."""

    model: str
    target: str
    features: list[str]
    n_denied: int
    n_analysed: int
    n_no_recourse: int
    methods: list[MethodSummary]
    applicants: list[dict[str, Any]]
    seconds: float
    settings: dict[str, Any]
    segments: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_jsonable))


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class _Space:
    """The scaled numeric space of one applicant (module docstring)."""

    def __init__(self, model: Any, schema: Any, row: dict[str, Any], names: list[str],
                 target: Any) -> None:
        import pandas as pd

        self.model, self.schema, self.row, self.names = model, schema, row, names
        self.unit = np.array([schema[n].scale / schema[n].weight for n in names], dtype=float)
        self.z = np.array([float(row[n]) for n in names]) / self.unit
        self.lo = np.array([_num(schema[n].lower, -np.inf) for n in names]) / self.unit
        self.hi = np.array([_num(schema[n].upper, np.inf) for n in names]) / self.unit
        self.direction = np.array([{"increase": 1, "decrease": -1}.get(schema[n].direction, 0)
                                   for n in names])
        self.cs = class_score(model, target)
        self._frame = pd.DataFrame([row] * 1)[list(schema.names)]

    def rows(self, Z: np.ndarray) -> Any:
        Z = np.atleast_2d(np.asarray(Z, dtype=float))
        df = self._frame.loc[self._frame.index.repeat(Z.shape[0])].reset_index(drop=True)
        for j, n in enumerate(self.names):
            df[n] = Z[:, j] * self.unit[j]
        return df

    def score(self) -> ScoreFunction:
        est = self.model.steps[-1][1] if hasattr(self.model, "steps") else self.model
        pc = any(k in type(est).__name__ for k in ("Tree", "Forest", "Boosting", "Extra"))
        return ScoreFunction(f=lambda Z: np.asarray(self.cs.f(self.rows(Z)), dtype=float),
                             d=len(self.names), output=self.cs.output, piecewise_constant=pc)

    def ray(self, sf: ScoreFunction, v: np.ndarray, delta: float) -> bool:
        """The ray test in the scaled space with the schema's bounds and directions."""
        v = np.asarray(v, dtype=float)
        bad = (self.direction != 0) & (np.sign(v) * self.direction < 0) & (v != 0)
        if np.any(bad):
            return False
        cost = float(np.abs(v).sum())
        if cost == 0:
            return ray_test(sf, self.z, v, delta, Utility.reach_class(margin=ENGINE_MARGIN),
                            norm="l1").provides
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(v > 0, (self.hi - self.z) / v, np.where(v < 0, (self.lo - self.z) / v,
                                                                    np.inf))
        budget = min(delta, float(np.min(room)) * cost)
        if budget <= 0:
            return False
        return ray_test(sf, self.z, v, budget, Utility.reach_class(margin=ENGINE_MARGIN),
                        norm="l1").provides


def _num(v: Any, default: float) -> float:
    return default if v is None else float(v)


def _methods(sf: ScoreFunction, background: np.ndarray, seed: int, sigma: float
             ) -> dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]]:
    d = background.shape[1]
    base = np.median(background, axis=0)
    bg = background[:10]
    return {
        "gradient": (lambda Z: att.gradient(sf, Z, h=1e-4),
                     "vanilla gradient (central differences, h = 1e-4 scaled units; 0 for "
                     "tree models, their a.e. gradient)"),
        "smoothgrad": (lambda Z: att.smoothgrad(sf, Z, sigma=sigma, n=50, seed=seed),
                       f"SmoothGrad, σ = {sigma:g} scaled units, n = 50, seed {seed} (Stein "
                       "estimator for tree models)"),
        "clime": (lambda Z: att.clime(sf, Z, sigma=sigma, n=max(50, 2 * d + 2), seed=seed),
                  f"C-LIME, σ = {sigma:g}, n = {max(50, 2 * d + 2)}, seed {seed}"),
        "integrated_gradients": (
            lambda Z: att.integrated_gradients(sf, Z, baseline=base, m=32),
            "Integrated Gradients, baseline = the data's median, 32 midpoint steps"),
        "kernel_shap": (lambda Z: att.kernel_shap(sf, Z, background=bg, nsamples=128,
                                                  seed=seed),
                        f"Kernel SHAP, {len(bg)} background rows, up to 128 coalitions, "
                        f"seed {seed}"),
        "lime": (lambda Z: att.lime_tabular(sf, Z, training_data=background, discretize=False,
                                            num_samples=300, seed=seed),
                 f"tabular LIME without discretisation, 300 samples, seed {seed}"),
    }


def analyze_model(model: Any, data: Any, schema: Any, *, target: Any = None,
                  n_applicants: int = 8, seed: int = 0, sigma: float = 0.25,
                  time_limit: float = 30.0, segments: int = 3,
                  methods: tuple[str, ...] = USER_METHODS) -> UserModelReport:
    """Run every attribution method on the model's denied applicants (module docstring).

    Parameters
    ----------
    model : fitted sklearn classifier or Pipeline the engine supports
    data : pandas.DataFrame
        Rows with the schema's columns (extra columns are ignored).
    schema : FeatureSchema
    target : class label, optional
        The class applicants want (default: ``classes_[1]`` of a binary model).
    n_applicants : int
        How many denied applicants to analyse (the first ones in ``data``).
    seed : int
        Seed of every stochastic method.
    sigma : float
        Noise of SmoothGrad / C-LIME, in scaled units (one unit costs 1).
    time_limit : float
        Seconds per engine query.
    segments : int
        How many applicant-to-neighbour segments are scanned for jumps.
    methods : tuple of str
        A subset of :data:`USER_METHODS`.

    Raises
    ------
    ValueError
        Unknown methods, a schema without mutable numeric features, data missing the
        schema's columns, or no denied applicant.
    """

    from recourse.engine import RecourseEngine

    t0 = time.perf_counter()
    unknown = [m for m in methods if m not in USER_METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {list(USER_METHODS)}.")
    if not hasattr(model, "classes_"):
        raise ValueError("analyze needs a classifier (its denied applicants are analysed).")
    missing = [n for n in schema.names if n not in data.columns]
    if missing:
        raise ValueError(f"The data lack the schema's columns {missing[:10]}; pass the rows the "
                         "model was trained on (or any with the same columns).")
    names = [f.name for f in schema.features
             if f.kind in ("continuous", "integer") and not f.immutable]
    if not names:
        raise ValueError("The schema has no mutable numeric feature (continuous or integer): "
                         "attribution methods need at least one.")
    classes = list(model.classes_)
    if target is None:
        if len(classes) != 2:
            raise ValueError(f"Name the target class (--target); classes: {classes}.")
        target = classes[1]
    if target not in classes:
        raise ValueError(f"target {target!r} is not a class of the model ({classes}).")
    X = data[list(schema.names)].reset_index(drop=True)
    pred = model.predict(X)
    denied = np.flatnonzero(pred != target)
    if denied.size == 0:
        raise ValueError("The model denies no row of the data; nothing to analyse.")
    frozen = replace(schema, features=tuple(
        f if f.name in names else replace(f, immutable=True, direction="any")
        for f in schema.features))
    engine = RecourseEngine(model, frozen)
    units = np.array([schema[n].scale / schema[n].weight for n in names], dtype=float)
    Zall = X[names].to_numpy(dtype=float) / units
    results: list[dict[str, Any]] = []
    n_no = 0
    phis: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    per_method: dict[str, dict[str, list[Any]]] = {m: {"fail": [], "lip": [], "idx": []}
                                                    for m in methods}
    spaces = []
    for i in denied[: max(0, int(n_applicants))]:
        row = X.iloc[int(i)].to_dict()
        res = engine.explain(row, target=target, time_limit=time_limit)
        if res.status not in ("optimal",) or res.counterfactual is None:
            n_no += res.status == "no_recourse"
            continue
        sp_ = _Space(model, schema, row, names, target)
        sf = sp_.score()
        assert res.cost is not None
        delta = float(res.cost)
        cf = np.array([float(res.counterfactual[n]) for n in names]) / units
        ms: dict[str, Any] = _methods(sf, Zall, seed, sigma)
        ms["counterfactual"] = (lambda Z, cf=cf, z=sp_.z: np.broadcast_to(
            cf - z, np.atleast_2d(Z).shape).copy(),
            "the engine's optimal counterfactual x_cf − x (the reference: passes by construction)")
        entry: dict[str, Any] = {"row": int(i), "cost": delta, "methods": {}}
        for m in methods:
            fn = ms[m][0]
            phi = np.asarray(fn(sp_.z[None, :]), dtype=float)[0]
            ok = sp_.ray(sf, phi, delta * (1 + 1e-9))
            lip = (0.0 if m == "counterfactual"
                   else local_lipschitz(fn, sp_.z, 1e-3, coordinate=True))
            entry["methods"][m] = {"provides": bool(ok), "lipschitz": float(lip),
                                   "phi": phi.tolist()}
            per_method[m]["fail"].append(not ok)
            per_method[m]["lip"].append(float(lip))
            per_method[m]["idx"].append(int(i))
            phis[m].append(phi)
        results.append(entry)
        spaces.append((sp_, sf, ms))
    # jumps along segments to the nearest other analysed applicant
    jumps: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    seg_plot: dict[str, Any] = {}
    for a in range(min(segments, len(spaces))):
        sp_a, sf_a, ms_a = spaces[a]
        others = [b for b in range(len(spaces)) if b != a]
        if not others:
            break
        b = min(others, key=lambda k: float(np.abs(spaces[k][0].z - sp_a.z).sum()))
        zb = spaces[b][0].z
        for m in methods:
            if m == "counterfactual":
                continue
            rep = segment_jumps(ms_a[m][0], sp_a.z, zb, levels=(11, 41))
            jumps[m].append({"from_row": results[a]["row"], "to_row": results[b]["row"],
                             "max_diff": list(rep.max_diff), "at": rep.at[-1],
                             "jump": rep.jump})
            if a == 0:
                t = np.linspace(0, 1, 101)
                V = np.asarray(ms_a[m][0](sp_a.z + t[:, None] * (zb - sp_a.z)))  # noqa: B023
                seg_plot[m] = {"t": t.tolist(), "norm": np.linalg.norm(V, axis=1).tolist(),
                               "diff": np.r_[0, np.linalg.norm(np.diff(V, axis=0), axis=1)
                                             ].tolist()}
    descs: dict[str, Any] = _methods(ScoreFunction(f=lambda Z: np.zeros(len(Z))),
                                     np.zeros((2, len(names))), seed, sigma)
    descs["counterfactual"] = ("", "the engine's optimal counterfactual x_cf − x (the "
                               "reference: passes by construction)")
    summaries = []
    for m in methods:
        pm = per_method[m]
        n = len(pm["fail"])
        lips = np.array(pm["lip"]) if n else np.zeros(0)
        order: Any = (np.argsort(-(np.array(pm["fail"], dtype=float) * 1e12 + lips))[:5]
                      if n else [])
        worst = [{"row": pm["idx"][k], "fails": bool(pm["fail"][k]),
                  "lipschitz": float(pm["lip"][k])} for k in order]
        summaries.append(MethodSummary(
            m, descs[m][1], n, int(np.sum(pm["fail"])),
            float(np.mean(pm["fail"])) if n else math.nan,
            float(np.median(lips)) if n else math.nan, float(np.max(lips)) if n else math.nan,
            sum(j["jump"] for j in jumps[m]), len(jumps[m]), worst))
    settings = {"seed": seed, "sigma": sigma, "norm": "l1 (schema scales and weights)",
                "margin": ENGINE_MARGIN, "lipschitz_eps": 1e-3, "segment_levels": [11, 41],
                "numeric_features": names, "frozen_features":
                    [n for n in schema.names if n not in names]}
    kind = type(model.steps[-1][1] if hasattr(model, "steps") else model).__name__
    report = UserModelReport(kind,
                          str(target), names, int(denied.size), len(results), n_no, summaries,
                          results, time.perf_counter() - t0, settings,
                          {"jumps": jumps, "plot": seg_plot})
    return report


# ---------------------------------------------------------------- output
def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(rep: UserModelReport) -> dict[str, str]:
    import matplotlib.pyplot as plt

    from recourse.analysis import plots  # noqa: F401  (sets the Agg backend)
    out = {}
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    names = [m.method for m in rep.methods]
    ax.barh(names, [0 if math.isnan(m.fail_share) else m.fail_share for m in rep.methods],
            color="tab:red")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of denied applicants whose direction fails the ray test")
    fig.tight_layout()
    out["fail"] = _png(fig)
    seg = rep.segments.get("plot") or {}
    if seg:
        fig, ax = plt.subplots(figsize=(6.5, 3.5))
        for m, s in seg.items():
            plots.plot_with_breaks(ax, np.asarray(s["t"]), np.asarray(s["norm"]),
                                   np.asarray(s["diff"]), label=m)
        ax.set_xlabel("t along the segment to the nearest denied applicant")
        ax.set_ylabel("||phi|| (scaled units)")
        plots.legend_outside(ax)
        fig.tight_layout()
        out["segment"] = _png(fig)
    return out


def _md(text: Any) -> str:
    s = str(text)
    for ch in "\\`*_{}[]<>()#+!|":
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def write_user_report(rep: UserModelReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``report.json`` to ``out_dir``."""
    import jinja2

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pics = _plots(rep)
    env = jinja2.Environment(loader=jinja2.PackageLoader("recourse.analysis", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) \
        else f"{v:.4g}"
    env.filters["pct"] = lambda v: "–" if isinstance(v, float) and math.isnan(v) else f"{v:.0%}"
    html = env.get_template("user_model.html.j2").render(r=rep, plots=pics)
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json"}
    paths["html"].write_text(html, encoding="utf-8")
    paths["json"].write_text(json.dumps(rep.to_json(), indent=1), encoding="utf-8")
    paths["md"].write_text(_markdown(rep), encoding="utf-8")
    return paths


def _markdown(rep: UserModelReport) -> str:
    lines = [f"# Attribution methods on {_md(rep.model)}: recourse sensitivity and robustness",
             "",
             f"Target class {_md(rep.target)}; {rep.n_analysed} of {rep.n_denied} denied "
             f"applicants analysed ({rep.n_no_recourse} without recourse skipped); "
             f"{rep.seconds:.1f} s. Budget per applicant: the engine's optimal L1 cost.",
             "", "| method | ray-test failures | share | median L̂ | max L̂ | jumps / segments |",
             "|---|---|---|---|---|---|"]
    for m in rep.methods:
        lines.append(f"| {_md(m.method)} | {m.n_fail} / {m.n} | {m.fail_share:.0%} | "
                     f"{m.lipschitz_median:.4g} | {m.lipschitz_max:.4g} | "
                     f"{m.n_jumps} / {m.n_segments} |")
    lines += ["", "## Worst cases", ""]
    for m in rep.methods:
        ws = ", ".join(f"row {w['row']} ({'fails' if w['fails'] else 'passes'}, L̂ = "
                       f"{w['lipschitz']:.3g})" for w in m.worst)
        lines.append(f"* **{_md(m.method)}**: {ws}")
    lines += ["", "## Methods", ""] + [f"* **{_md(m.method)}**: {_md(m.description)}"
                                        for m in rep.methods]
    lines += ["", "Numeric features (scaled by cost per unit): "
              + ", ".join(_md(n) for n in rep.features), ""]
    return "\n".join(lines)


def run_analyze(model_path: str | Path, data_path: str | Path, schema_path: str | Path,
                out_dir: str | Path, *, target: str | None = None, n_applicants: int = 8,
                seed: int = 0, trust_pickle: bool = False) -> dict[str, Path]:
    """``recourse analyze --model M --data D --schema S``: load, analyse, write the report.

    ``target`` is matched against the model's classes by their text (``"1"`` finds the
    integer class ``1``). Returns the written paths.

    Raises
    ------
    ValueError
        An unknown target class, or any problem :func:`analyze_model` names.
    """
    from recourse.io import load_model, load_schema, read_table

    schema = load_schema(schema_path)
    model = load_model(model_path, trust_pickle=trust_pickle)
    data = read_table(data_path)
    goal = None
    if target is not None:
        matches = [c for c in getattr(model, "classes_", []) if str(c) == str(target)]
        if not matches:
            raise ValueError(f"--target {target!r} is not a class of the model "
                             f"({[str(c) for c in getattr(model, 'classes_', [])]}).")
        goal = matches[0]
    rep = analyze_model(model, data, schema, target=goal, n_applicants=n_applicants, seed=seed)
    return write_user_report(rep, out_dir)

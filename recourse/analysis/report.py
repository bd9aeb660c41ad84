"""The impossibility report (docs/theory.md §A6, A14): every attribution method on the paper's
construction, with the point where it fails recourse sensitivity or the place where it
jumps.

Set-up: the A7 construction ``f`` (row ``case``, budget ``δ``) embedded along a line
``g(x) = f(u·(x − c))`` in ``R^d`` (A8). For a point ``x = c + t u`` and a direction
``v = phi(x)`` the ray ``x + s v`` changes ``u·x`` at rate ``u·v``, so with the Euclidean
budget the ray test is *exactly* the 1D test "moving in direction ``sign(u·v)`` by at most
``δ |u·v| / ||v||``" on ``f`` (:func:`recourse.analysis.oned.reaches`), and ``T(x) ≠ ∅``
iff ``t ∈ L ∪ R ∪ O`` (exact sets). Each method is evaluated on a grid of
``t ∈ [−1/2, 1/2]·δ`` (odd size, so ``t = 0`` is on it) and the report lists

* ray-test failures (``T(x) ≠ ∅`` certified by the exact 1D sets, and the direction
  provides no recourse),
* sign changes of ``u·phi`` between adjacent grid points inside ``(L ∪ R) ∖ O`` (a
  continuous ``phi`` must vanish in between — a forbidden zero — by the intermediate value
  theorem),
* the largest jump: ``||phi(x* + εu) − phi(x* − εu)||`` for ``ε = 1e-2 … 1e-6`` around the
  largest adjacent difference; a jump when it stays above half its ``ε = 1e-2`` value.

Stochastic methods use a fixed seed (common random numbers for all points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recourse.analysis import attributions as att
from recourse.analysis.constructions import ConstructionCase, construction_case, embed_line
from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.oned import RecourseSets, reaches, recourse_sets, verdict
from recourse.analysis.oned_tools import nearest_satisfying
from recourse.analysis.robustness import jump_at
from recourse.analysis.smoothgrad_clime import expected_explanation

__all__ = ["MethodFinding", "ImpossibilityReport", "impossibility_report", "default_methods",
           "write_report", "write_html"]

PhiFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class MethodFinding:
    """What the search found for one method."""

    method: str
    description: str
    t: np.ndarray
    proj: np.ndarray
    ray_failures: list[float]
    sign_flips: list[tuple[float, float]]
    jump_at_t: float | None
    jump_sizes: list[float]
    jump: bool
    zero_tol: float

    @property
    def violates_sensitivity(self) -> bool:
        return bool(self.ray_failures)

    def summary(self) -> str:
        parts = []
        if self.ray_failures:
            ts = ", ".join(f"{t:+.4g}" for t in self.ray_failures[:3])
            parts.append(f"ray test fails at {len(self.ray_failures)} grid point(s) (t = {ts}"
                         f"{', …' if len(self.ray_failures) > 3 else ''})")
        if self.sign_flips:
            a, b = self.sign_flips[0]
            parts.append(f"u·phi changes sign between t = {a:+.4g} and {b:+.4g} "
                         f"({len(self.sign_flips)} flip(s)): if continuous, phi has a "
                         "forbidden zero there")
        if self.jump:
            assert self.jump_at_t is not None
            parts.append(f"jumps at t ≈ {self.jump_at_t:+.4g} (difference "
                         f"{self.jump_sizes[-1]:.3g} at ε = 1e-6)")
        return "; ".join(parts) if parts else "no violation found on this grid"


@dataclass
class ImpossibilityReport:
    """Findings per method plus the set-up (see module docstring)."""

    case: ConstructionCase
    sets: RecourseSets
    u: np.ndarray
    c: np.ndarray
    findings: list[MethodFinding]
    verdict_text: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_markdown(self, plots: dict[str, str] | None = None) -> str:
        cs = self.case
        lines = [
            "# Impossibility report: recourse sensitivity versus continuity",
            "",
            f"Construction (docs/theory.md §A7, row `{cs.name}`): budget δ = {cs.delta:g}, utility "
            f"*{cs.utility.describe()}*, satisfied from the flat middle when |y| ≥ {cs.r:g}.",
            f"Embedded in R^{self.u.size} as g(x) = f(u·(x − c)) with u = "
            f"{np.array2string(self.u, precision=4)}, c = "
            f"{np.array2string(self.c, precision=4)} (docs/theory.md §A8); Euclidean budget.",
            "",
            f"Exact 1D sets: L = {self.sets.L}; R = {self.sets.R}; O = {self.sets.O}.",
            f"Verdict (docs/theory.md §A10): {self.verdict_text}",
            "",
            "| method | ray-test failures | sign changes (forbidden zero) | jump | finding |",
            "|---|---|---|---|---|",
        ]
        for fd in self.findings:
            lines.append(
                f"| {fd.method} | {len(fd.ray_failures)} | {len(fd.sign_flips)} | "
                f"{'yes' if fd.jump else 'no'} | {fd.summary()} |")
        lines += ["", "Methods:", ""]
        for fd in self.findings:
            lines.append(f"* **{fd.method}** — {fd.description}")
        for key, val in self.extra.items():
            lines += ["", f"## {key}", "", str(val)]
        if plots:
            lines += ["", "## Plots", ""]
            for name, path in plots.items():
                lines.append(f"![{name}]({path})")
        lines.append("")
        return "\n".join(lines)


def _rng_background(c: np.ndarray, n: int, seed: int) -> np.ndarray:
    return c + np.random.default_rng(seed).standard_normal((n, c.size))


def default_methods(case: ConstructionCase, u: np.ndarray, c: np.ndarray, *, seed: int = 0,
                    sigma: float | None = None, n_noise: int = 200, lime_samples: int = 1000
                    ) -> dict[str, tuple[PhiFn, str]]:
    """The attribution methods compared in the report, as ``phi`` maps with descriptions."""
    g = embed_line(case.f, u, c)
    sig = 0.25 * case.delta if sigma is None else sigma
    train = _rng_background(c, 500, seed)

    def sg_expected(X: np.ndarray) -> np.ndarray:
        t = (np.atleast_2d(X) - c) @ u
        return expected_explanation(case.f, t, sig)[:, None] * u[None, :]

    def cf_l2(X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        out = np.zeros_like(X)
        for i, x in enumerate(X):
            t = float((x - c) @ u)
            ys = nearest_satisfying(case.f, t, case.utility)
            if ys:
                out[i] = (ys[0] - t) * u  # with a tie (t = 0): the left-most minimiser
        return out

    return {
        "gradient": (lambda X: att.gradient(g, X), "vanilla gradient (exact slopes of f)"),
        "smoothgrad (seeded)": (
            lambda X: att.smoothgrad(g, X, sigma=sig, n=n_noise, seed=seed,
                                     estimator="gradient"),
            f"SmoothGrad, σ = {sig:g}, n = {n_noise}, seed {seed}"),
        "smoothgrad = C-LIME expectation": (
            sg_expected, f"exact d/dt E f(t + σZ) along u, σ = {sig:g} (docs/theory.md §B3)"),
        "C-LIME (seeded)": (
            lambda X: att.clime(g, X, sigma=sig, n=n_noise, seed=seed),
            f"C-LIME, σ = {sig:g}, n = {n_noise}, seed {seed}"),
        "integrated gradients": (
            lambda X: att.integrated_gradients(g, X, baseline=c, m=200),
            "IG, baseline c, 200 midpoint steps"),
        "exact SHAP": (lambda X: att.shapley_exact(g, X, background=c),
                       "exact Shapley values, baseline c"),
        "kernel SHAP": (lambda X: att.kernel_shap(g, X, background=train[:20], seed=seed),
                        "Kernel SHAP, 20 background rows N(c, I)"),
        "LIME (continuous)": (
            lambda X: att.lime_tabular(g, X, training_data=train, discretize=False,
                                       num_samples=lime_samples, seed=seed),
            f"tabular LIME without discretisation, {lime_samples} samples, seed {seed}"),
        "LIME (quartiles)": (
            lambda X: att.lime_tabular(g, X, training_data=train, discretize=True,
                                       num_samples=lime_samples, seed=seed),
            f"tabular LIME with quartile discretisation, {lime_samples} samples, seed {seed} "
            "(coefficients of bin indicators, docs/theory.md §D.6)"),
        "counterfactual (L2)": (cf_l2, "minimum-distance counterfactual x_cf − x (exact, "
                                "left-most minimiser on ties)"),
    }


def impossibility_report(case: str = "class", *, delta: float = 1.0, d: int = 2,
                         u: Any = None, c: Any = None, n_grid: int = 101, seed: int = 0,
                         methods: dict[str, tuple[PhiFn, str]] | None = None,
                         zero_tol: float = 1e-12, include: list[str] | None = None
                         ) -> ImpossibilityReport:
    """Run every method on the embedded construction (see module docstring)."""
    if n_grid < 3 or n_grid % 2 == 0:
        raise ValueError("n_grid must be odd and >= 3 (so that t = 0 is a grid point).")
    cs = construction_case(case, delta)
    rng = np.random.default_rng(seed)
    uu = rng.standard_normal(d) if u is None else np.asarray(u, dtype=float)
    uu = uu / np.linalg.norm(uu)
    cc = rng.standard_normal(d) if c is None else np.asarray(c, dtype=float)
    sets = recourse_sets(cs.f, cs.delta, cs.utility)
    vd = verdict(sets)
    ms = methods if methods is not None else default_methods(cs, uu, cc, seed=seed)
    if include is not None:
        ms = {k: v for k, v in ms.items() if k in include}
    t = np.linspace(-0.5 * delta, 0.5 * delta, n_grid)
    X = cc[None, :] + t[:, None] * uu[None, :]
    free = sets.L.union(sets.R).difference(sets.O)
    findings = []
    for name, (phi_fn, desc) in ms.items():
        P = np.asarray(phi_fn(X), dtype=float).reshape(n_grid, d)
        findings.append(_analyse(name, desc, phi_fn, cs, sets, free, t, X, P, uu, zero_tol))
    return ImpossibilityReport(cs, sets, uu, cc, findings, vd.explain())


def _provides(cs: ConstructionCase, sets: RecourseSets, t: float, v: np.ndarray,
              u: np.ndarray, zero_tol: float) -> bool:
    nv = float(np.linalg.norm(v))
    proj = float(u @ v)
    if nv <= zero_tol or abs(proj) <= zero_tol * max(1.0, nv):
        return sets.O.contains(t)
    return reaches(cs.f, t, int(np.sign(proj)), cs.delta * abs(proj) / nv, cs.utility)[0]


def _analyse(name: str, desc: str, phi_fn: PhiFn, cs: ConstructionCase, sets: RecourseSets,
             free: IntervalSet, t: np.ndarray, X: np.ndarray, P: np.ndarray, u: np.ndarray,
             zero_tol: float) -> MethodFinding:
    proj = P @ u
    covered = sets.covered
    fails = [float(tk) for tk, v in zip(t, P)
             if covered.contains(float(tk)) and not _provides(cs, sets, float(tk), v, u,
                                                             zero_tol)]
    flips = []
    for k in range(t.size - 1):
        if proj[k] * proj[k + 1] < 0 and IntervalSet(
                [Interval(float(t[k]), float(t[k + 1]))]).issubset(free):
            flips.append((float(t[k]), float(t[k + 1])))
    diffs = np.linalg.norm(np.diff(P, axis=0), axis=1)
    k = int(np.argmax(diffs))
    t_star = locate_jump(phi_fn, X[k], X[k + 1], P[k], P[k + 1])
    x_star = X[k] + t_star * (X[k + 1] - X[k])
    sizes = jump_at(phi_fn, x_star, u)
    jump = bool(sizes[0] > 1e-3 and sizes[-1] >= 0.5 * sizes[0])
    return MethodFinding(name, desc, t, proj, fails, flips,
                         float(t[k] + t_star * (t[k + 1] - t[k])),
                         [float(s) for s in sizes], jump, zero_tol)


def locate_jump(phi_fn: PhiFn, a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray,
                iters: int = 30) -> float:
    """Bisection on ``[a, b]`` keeping the half over which ``phi`` changes more; returns the
    position in ``[0, 1]`` (a jump is pinned down to ``2^-iters`` of the interval)."""
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        pm = np.asarray(phi_fn((a + mid * (b - a))[None, :]), dtype=float).reshape(-1)
        if np.linalg.norm(pm - pa) >= np.linalg.norm(pb - pm):
            hi, pb = mid, pm
        else:
            lo, pa = mid, pm
    return 0.5 * (lo + hi)


def tree_engine_section(delta: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """The counterfactual attribution of the *engine* (exact L1, verified) on a decision
    tree that reproduces the classification row along feature 0 in R², with the exact
    tree ray test: recourse sensitive on the whole grid, discontinuous at 0."""
    from sklearn.tree import DecisionTreeClassifier

    from recourse.analysis.sensitivity import ray_test_model
    from recourse.analysis.utility import Utility

    r = 13 / 16 * delta
    rng = np.random.default_rng(seed)
    x0 = np.linspace(-2 * delta, 2 * delta, 801)
    Xtr = np.column_stack([x0, rng.uniform(-1, 1, x0.size)])
    ytr = (np.abs(Xtr[:, 0]) >= r).astype(int)
    tree = DecisionTreeClassifier(random_state=seed).fit(Xtr, ytr)
    t = np.linspace(-0.5 * delta, 0.5 * delta, 21)
    pts = np.column_stack([t, np.zeros_like(t)])
    phi, det = att.counterfactual_attribution(tree, pts, norm="l1", return_details=True)
    fails = []
    for p, v in zip(pts, phi):
        res = ray_test_model(tree, p, v, delta, Utility("class", 0.0), norm="l2")
        if not res.provides:
            fails.append(float(p[0]))

    def phi_fn(X: np.ndarray) -> np.ndarray:
        return np.asarray(att.counterfactual_attribution(tree, X, norm="l1"))

    sizes = jump_at(phi_fn, np.zeros(2), np.array([1.0, 0.0]), eps=(1e-2, 1e-4, 1e-6))
    return {"tree_thresholds": sorted(float(v) for v in tree.tree_.threshold if v != -2),
            "ray_failures": fails, "jump_sizes": [float(s) for s in sizes],
            "all_optimal": all(d_["optimal"] or d_["status"] == "already_target" for d_ in det)}


def write_report(out_dir: str | Path, *, case: str = "class", delta: float = 1.0, d: int = 2,
                 n_grid: int = 101, seed: int = 0, convergence_seeds: int = 30,
                 with_tree: bool = True) -> Path:
    """Write ``report.md``, ``report.html`` (autoescaped Jinja2, plots embedded) and the PNG
    plots to ``out_dir``; returns the Markdown path."""
    from recourse.analysis import plots
    from recourse.analysis.smoothgrad_clime import convergence_experiment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = impossibility_report(case, delta=delta, d=d, n_grid=n_grid, seed=seed)
    pics = {}
    for fd in rep.findings:
        fname = "phi_" + "".join(ch if ch.isalnum() else "_" for ch in fd.method) + ".png"
        plots.plot_method(rep, fd, out / fname)
        pics[fd.method] = fname
    conv = convergence_experiment(n_seeds=convergence_seeds, ns=(100, 1000, 10000))
    plots.plot_convergence(conv, out / "convergence.png")
    pics["SmoothGrad vs C-LIME convergence"] = "convergence.png"
    rep.extra["SmoothGrad ≡ C-LIME (docs/theory.md §B3, B7)"] = (
        f"f = sin(x1) + x2², x = (0.5, −1), σ = {conv.sigma:g}, {conv.n_seeds} seeds, shared "
        f"perturbations: RMS ||SG_n − C-LIME_n|| = "
        + ", ".join(f"{v:.4g} (n = {n})" for n, v in zip(conv.ns, conv.rms_sg_clime))
        + f"; log–log slope {conv.slope:.3f} (theory −0.5).")
    if with_tree:
        tr = tree_engine_section(delta, seed)
        rep.extra["Engine counterfactual on a tree (exact L1, verified)"] = (
            f"Decision tree reproducing the classification row along x0 (thresholds "
            f"{', '.join(f'{v:.4g}' for v in tr['tree_thresholds'])}); counterfactual "
            f"attribution x_cf − x from the engine on 21 points of t ∈ [−δ/2, δ/2]: exact "
            f"tree ray-test failures: {len(tr['ray_failures'])}; all optimal: "
            f"{tr['all_optimal']}; ||phi(+ε) − phi(−ε)|| at ε = 1e-2, 1e-4, 1e-6: "
            + ", ".join(f"{s:.4g}" for s in tr["jump_sizes"])
            + " — recourse sensitive but discontinuous at 0 (docs/theory.md §A13.3, A14).")
    path = out / "report.md"
    path.write_text(rep.to_markdown(pics), encoding="utf-8")
    write_html(rep, out / "report.html", {k: out / v for k, v in pics.items()})
    return path


def write_html(rep: ImpossibilityReport, path: str | Path, pngs: dict[str, Path]) -> Path:
    """The report as one HTML file (Jinja2 with autoescaping; PNGs embedded)."""
    import base64

    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("recourse.analysis", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    data = {k: base64.b64encode(Path(p).read_bytes()).decode("ascii") for k, p in pngs.items()}
    html = env.get_template("impossibility.html.j2").render(rep=rep, plots=data)
    out = Path(path)
    out.write_text(html, encoding="utf-8")
    return out


def _fmt(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.4g}"

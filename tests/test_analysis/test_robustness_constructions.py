"""Continuity measurements, Lipschitz bounds, the paper's constructions, the impossibility
report and ``recourse analyze`` (docs/theory.md §A5, A6, A8, A13, A14, B4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from recourse.analysis import attributions as att
from recourse.analysis.constructions import (
    construction_case,
    embed_line,
    gaussian_bump,
    quadratic,
    ring_counterfactual,
)
from recourse.analysis.oned import PiecewiseLinear1D, recourse_sets
from recourse.analysis.oned_tools import nearest_satisfying, restrict_to_line
from recourse.analysis.report import impossibility_report
from recourse.analysis.robustness import (
    jump_at,
    lipschitz_bound_smoothgrad,
    lipschitz_claim_agarwal,
    local_lipschitz,
    segment_jumps,
)
from recourse.analysis.scores import ScoreFunction
from recourse.analysis.sensitivity import ray_test
from recourse.analysis.smoothgrad_clime import expected_explanation
from recourse.analysis.utility import Utility

W = np.array([3.0, -1.0, 0.5])


def lin() -> ScoreFunction:
    return ScoreFunction(f=lambda X: np.atleast_2d(X) @ W + 1.0, d=3,
                         grad=lambda X: np.broadcast_to(W, np.atleast_2d(X).shape).copy())


# ------------------------------------------------------------------ A5
def test_a5_linear_lipschitz_estimates() -> None:
    x = np.array([0.3, -0.7, 1.1])
    b0 = np.array([0.5, 0.5, -0.5])
    for phi in (lambda X: att.gradient(lin(), X),
                lambda X: att.smoothgrad(lin(), X, sigma=0.3, n=20, seed=0)):
        assert local_lipschitz(phi, x, 1e-3, n_random=50) <= 1e-9
    # seeded C-LIME: least-squares rounding (~1e-15 relative) divided by eps. docs/theory.md §A5
    # says eps >= 1e-6 suffices; with these weights eps = 1e-6 gives 1.9e-9, so use 1e-5
    clime_phi = lambda X: att.clime(lin(), X, sigma=0.3, n=20, seed=0)  # noqa: E731
    assert local_lipschitz(clime_phi, x, 1e-5, n_random=20) <= 1e-9
    assert local_lipschitz(clime_phi, x, 1e-6, n_random=20) <= 1e-8
    # IG and exact SHAP with baseline b0 equal w * (x - b0): L = max |w_i| (coordinate probes)
    for phi in (lambda X: att.integrated_gradients(lin(), X, baseline=b0, m=8),
                lambda X: att.shapley_exact(lin(), X, background=b0)):
        np.testing.assert_allclose(phi(x), W * (x - b0), rtol=1e-12)
        assert local_lipschitz(phi, x, 1e-3) == pytest.approx(3.0, rel=1e-9)
        assert local_lipschitz(phi, x, 1e-3, coordinate=False, n_random=200) < 3.0


def test_a5_ring_counterfactual_jump() -> None:
    sizes = jump_at(ring_counterfactual, np.zeros(2), np.array([1.0, 0.0]))
    assert np.all(sizes > 1.9)
    seg = segment_jumps(ring_counterfactual, [-0.5, 0.0], [0.5, 0.0], levels=(100, 1000, 10000))
    assert seg.jump and abs(seg.at[-1] - 0.5) < 1e-3
    smooth = segment_jumps(lambda X: att.gradient(quadratic(), X), [-1.0], [1.0])
    assert not smooth.jump and smooth.ratio() < 0.02


# ------------------------------------------------------------------ B4
def test_b4_abs_slope_exceeds_published_constant() -> None:
    absx = PiecewiseLinear1D.from_points([0.0], [0.0], left_slope=-1.0, right_slope=1.0)
    t = np.linspace(-2, 2, 40001)
    sg = expected_explanation(absx, t, 0.5)
    np.testing.assert_allclose(sg, 2 * norm.cdf(t / 0.5) - 1, atol=1e-12)
    slope = float(np.max(np.diff(sg) / np.diff(t)))
    # grid 1e-4: the maximal difference quotient is within 1e-6 of the slope at 0
    assert slope == pytest.approx(1.5958, abs=1e-4)
    assert slope == pytest.approx(lipschitz_bound_smoothgrad(1.0, 0.5), rel=1e-6)
    assert slope > lipschitz_claim_agarwal(1.0, 0.5) == 1.0


def test_b4_logistic_bound_holds() -> None:
    w, b, sigma = np.array([2.0, -1.0]), 0.3, 0.4
    z, q = np.polynomial.hermite_e.hermegauss(80)
    q = q / math.sqrt(2 * math.pi)

    def sg(X: np.ndarray) -> np.ndarray:
        m = np.atleast_2d(X) @ w + b
        s = 1 / (1 + np.exp(-(m[:, None] + np.linalg.norm(w) * sigma * z[None, :])))
        return ((s * (1 - s)) @ q)[:, None] * w  # w E[s'(w.x + b + |w| sigma Z)]

    f = ScoreFunction(f=lambda X: 1 / (1 + np.exp(-(np.atleast_2d(X) @ w + b))), d=2)
    x0 = np.array([0.2, 0.1])
    # the Gauss-Hermite product rule (Stein form) agrees with the 1D formula
    np.testing.assert_allclose(expected_explanation(f, x0, sigma), sg(x0)[0], atol=1e-8)
    L = lipschitz_bound_smoothgrad(0.25 * np.linalg.norm(w), sigma)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(1000, 2)) * 0.5
    Bp = A + rng.normal(size=(1000, 2)) * 0.05
    q_ = np.linalg.norm(sg(A) - sg(Bp), axis=1) / np.linalg.norm(A - Bp, axis=1)
    assert q_.max() <= L


# ------------------------------------------------------------------ A8
def test_a8_embedding_sets_and_counterfactuals() -> None:
    rng = np.random.default_rng(5)
    u = rng.normal(size=5)
    u /= np.linalg.norm(u)
    c = rng.normal(size=5)
    for name in ("class", "gain", "ratio"):
        cs = construction_case(name)
        g = embed_line(cs.f, u, c)
        pl = restrict_to_line(g, c, u, cs.f.breaks)
        s1 = recourse_sets(cs.f, 1.0, cs.utility)
        s2 = recourse_sets(pl, 1.0, cs.utility)
        for a, b in ((s1.L, s2.L), (s1.R, s2.R), (s1.O, s2.O)):
            ea, eb = a.endpoints(), b.endpoints()
            assert len(ea) == len(eb) and np.allclose(ea, eb, atol=1e-12)
            t = np.linspace(-2, 2, 4001)
            near = np.min(np.abs(t[:, None] - np.array(ea + [9.0])[None, :]), axis=1) < 1e-9
            assert np.array_equal(a.contains_many(t)[~near], b.contains_many(t)[~near])
        for t0 in (-0.7, -0.2, 0.1, 0.6):
            ys = nearest_satisfying(cs.f, t0, cs.utility)
            assert ys == [math.copysign(cs.r, t0)]
            y = c + ys[0] * u
            x = c + t0 * u
            # oracle: sampled points closer than the counterfactual never satisfy
            d = np.linalg.norm(y - x)
            P = x + rng.normal(size=(20000, 5))
            P = x + (P - x) / np.linalg.norm(P - x, axis=1, keepdims=True) * (
                d * (1 - 1e-6) * rng.uniform(size=(20000, 1)) ** 0.2)
            fx = float(g(x[None])[0])
            assert not np.any(cs.utility.satisfied(fx, g(P)))
    cls = construction_case("class")
    assert nearest_satisfying(cls.f, 0.78, cls.utility) == [cls.r]
    gain = construction_case("gain")
    assert nearest_satisfying(gain.f, 0.78, gain.utility) == [pytest.approx(0.8425, abs=1e-12)]
    ratio = construction_case("ratio")
    assert nearest_satisfying(ratio.f, 0.78, ratio.utility) == []


# ------------------------------------------------------------------ A13
def test_a13_smoothgrad_ig_counterfactual_examples() -> None:
    n, sigma = 400, 0.5
    sg0 = att.smoothgrad(quadratic(), np.array([0.0]), sigma=sigma, n=n, seed=0)
    assert abs(sg0[0]) <= 3 * 2 * sigma / math.sqrt(n)  # fixed seed: 3-SE bound
    # the exact expectation 2x = 0 at x = 0 fails the ray test while recourse exists
    u = Utility("gain", 0.5)
    assert not ray_test(quadratic(), [0.0], [0.0], 1.0, u).provides
    assert ray_test(quadratic(), [0.0], [1.0], 1.0, u).provides
    t = np.linspace(-2, 2, 41)[:, None]
    ig = att.integrated_gradients(gaussian_bump(), t, baseline=np.zeros(1), m=1000)
    np.testing.assert_allclose(ig[:, 0], np.exp(-t[:, 0] ** 2) - 1, atol=1e-6)
    np.testing.assert_allclose(ring_counterfactual([1e-3, 0.0]), [0.999, 0.0], atol=1e-12)
    np.testing.assert_allclose(ring_counterfactual([-1e-3, 0.0]), [-0.999, 0.0], atol=1e-12)


# ------------------------------------------------------------------ A6, A14
def test_a14_impossibility_report_every_method() -> None:
    rep = impossibility_report("class", delta=1.0, d=3, n_grid=51, seed=0)
    by = {fd.method: fd for fd in rep.findings}
    flat = [fd for fd in rep.findings if fd.method in ("gradient", "integrated gradients",
                                                       "exact SHAP")]
    for fd in flat:  # zero in the flat zone although recourse exists
        assert len(fd.ray_failures) == 51
    assert 0.0 in by["smoothgrad = C-LIME expectation"].ray_failures
    for name in ("smoothgrad (seeded)", "C-LIME (seeded)", "LIME (continuous)"):
        assert by[name].ray_failures or by[name].sign_flips, name
    cf = by["counterfactual (L2)"]
    assert not cf.ray_failures and cf.jump and abs(cf.jump_at_t or 1) < 1e-6
    assert "No continuous recourse-sensitive attribution exists" in rep.verdict_text
    md = rep.to_markdown()
    for fd in rep.findings:
        assert fd.method in md


@pytest.mark.parametrize("case", ["gain", "ratio"])
def test_a6_other_utilities(case: str) -> None:
    rep = impossibility_report(case, delta=1.0, d=2, n_grid=41, seed=1,
                               include=["gradient", "smoothgrad = C-LIME expectation",
                                        "counterfactual (L2)"])
    by = {fd.method: fd for fd in rep.findings}
    assert len(by["gradient"].ray_failures) == 41
    assert 0.0 in by["smoothgrad = C-LIME expectation"].ray_failures
    assert not by["counterfactual (L2)"].ray_failures and by["counterfactual (L2)"].jump


def test_cli_analyze(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from recourse.cli import app

    out = tmp_path / "rep"
    res = CliRunner().invoke(app, ["analyze", "--out", str(out), "--grid", "21",
                                   "--convergence-seeds", "3", "--no-tree"])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Impossibility report" in md and "SmoothGrad ≡ C-LIME" in md
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "convergence.png" in pngs and len(pngs) >= 11
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["analyze", "--out", str(out), "--grid", "20"])
    assert bad.exit_code == 2 and "odd" in bad.output


def test_tree_engine_section() -> None:
    from recourse.analysis.report import tree_engine_section

    tr = tree_engine_section()
    assert tr["ray_failures"] == [] and tr["all_optimal"]
    assert min(tr["jump_sizes"]) > 1.5  # ~2 r = 1.625: left vs right counterfactual

"""Matplotlib plots (Agg backend, files only): 1D cases and the convergence experiment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from recourse.analysis.intervals import IntervalSet  # noqa: E402
from recourse.analysis.oned import PiecewiseLinear1D, RecourseSets  # noqa: E402

if TYPE_CHECKING:
    from recourse.analysis.report import ImpossibilityReport, MethodFinding
    from recourse.analysis.smoothgrad_clime import ConvergenceResult

__all__ = ["plot_1d", "plot_method", "plot_convergence"]


def _bands(ax: Any, s: IntervalSet, y: float, color: str, label: str, lo: float, hi: float
           ) -> None:
    first = True
    for iv in s:
        a, b = max(iv.lo, lo), min(iv.hi, hi)
        if a > b:
            continue
        ax.plot([a, b] if a < b else [a, a + 1e-9], [y, y], color=color, lw=6,
                solid_capstyle="butt", label=label if first else None)
        first = False


def plot_1d(f: PiecewiseLinear1D, sets: RecourseSets, path: str | Path, *,
            phi: Any = None, failures: Any = None, lo: float = -1.5, hi: float = 1.5,
            title: str = "") -> Path:
    """``f``, the sets ``L``, ``R``, ``O`` as bands, and optionally ``phi`` (normalised) with
    the points where it fails."""
    t = np.linspace(lo, hi, 2001)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    a1.plot(t, f(t), color="k", lw=1.5, label="f")
    ymin = float(np.min(f(t)))
    span = float(np.ptp(f(t))) or 1.0
    _bands(a1, sets.L, ymin - 0.15 * span, "tab:blue", "L (move left)", lo, hi)
    _bands(a1, sets.R, ymin - 0.3 * span, "tab:red", "R (move right)", lo, hi)
    _bands(a1, sets.O, ymin - 0.45 * span, "tab:green", "O (satisfied)", lo, hi)
    a1.legend(loc="upper center", fontsize=7, ncol=4)
    a1.set_title(title or "f and its recourse sets")
    if phi is not None:
        tt, pv = phi
        m = np.max(np.abs(pv)) or 1.0
        a2.plot(tt, pv / m, color="tab:purple", lw=1.2, label="u·phi (normalised)")
    a2.axhline(0, color="grey", lw=0.5)
    if failures is not None and len(failures):
        a2.scatter(failures, np.zeros(len(failures)), color="tab:orange", s=12, zorder=3,
                   label="ray-test failure")
    a2.set_xlabel("t")
    a2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_method(rep: ImpossibilityReport, fd: MethodFinding, path: str | Path) -> Path:
    d = rep.case.delta
    return plot_1d(rep.case.f, rep.sets, path, phi=(fd.t, fd.proj), failures=fd.ray_failures,
                   lo=-1.5 * d, hi=1.5 * d,
                   title=f"{fd.method}: {len(fd.ray_failures)} ray-test failure(s), "
                   f"{len(fd.sign_flips)} sign change(s), jump: {fd.jump}")


def plot_convergence(res: ConvergenceResult, path: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ns = np.asarray(res.ns, dtype=float)
    ax.loglog(ns, res.rms_sg_clime, "o-", label="RMS ||SG_n − C-LIME_n||")
    ax.loglog(ns, res.rms_sg_exact, "s--", label="RMS ||SG_n − expectation||")
    ax.loglog(ns, res.rms_clime_exact, "^--", label="RMS ||C-LIME_n − expectation||")
    ref = res.rms_sg_clime[0] * np.sqrt(ns[0] / ns)
    ax.loglog(ns, ref, ":", color="grey", label="1/√n")
    ax.set_xlabel("perturbations n")
    ax.set_ylabel("RMS distance")
    ax.set_title(f"SmoothGrad vs C-LIME (σ = {res.sigma:g}, slope {res.slope:.2f})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

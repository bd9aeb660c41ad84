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

__all__ = ["plot_1d", "plot_method", "plot_convergence", "plot_with_breaks", "legend_outside",
           "break_mask"]


def break_mask(y: np.ndarray, diff: np.ndarray | None = None, *, factor: float = 5.0
               ) -> np.ndarray:
    """``True`` at sample ``k`` when the curve jumps between samples ``k−1`` and ``k``: that
    step (``|y_k − y_{k−1}|``, or the given ``diff``) is more than ``factor`` times both
    neighbouring steps and above ``1e-3`` of the curve's range. A steep but continuous
    stretch has neighbouring steps of the same size and is not a break; such a step is
    drawn as a break, not a joined line."""
    y = np.asarray(y, dtype=float)
    step = np.abs(np.diff(y)) if diff is None else np.asarray(diff, dtype=float)[1:]
    out = np.zeros(y.size, dtype=bool)
    if step.size == 0:
        return out
    scale = max(float(np.ptp(y)) if y.size else 0.0, 1e-300)
    left = np.r_[0.0, step[:-1]]
    right = np.r_[step[1:], 0.0]
    out[1:] = (step > factor * np.maximum(left, right)) & (step > 1e-3 * scale)
    return out


def plot_with_breaks(ax: Any, x: np.ndarray, y: np.ndarray, diff: np.ndarray | None = None,
                     **kw: Any) -> None:
    """Plot ``y(x)`` with a NaN inserted at every jump (:func:`break_mask`) and open circles
    at both sides of it."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    brk = break_mask(y, diff)
    xs, ys = [], []
    for k in range(x.size):
        if brk[k]:
            xs.append(np.nan)
            ys.append(np.nan)
        xs.append(x[k])
        ys.append(y[k])
    (line,) = ax.plot(xs, ys, **kw)
    idx = np.flatnonzero(brk)
    if idx.size:
        ax.scatter(np.r_[x[idx - 1], x[idx]], np.r_[y[idx - 1], y[idx]], s=14,
                   facecolors="none", edgecolors=line.get_color(), zorder=3)


def legend_outside(ax: Any, **kw: Any) -> None:
    """A legend to the right of the axes, never over the curves."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=7,
              **kw)


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
    fig, (a1, a3, a2) = plt.subplots(3, 1, figsize=(8.5, 6), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1.2, 2.5]})
    plot_with_breaks(a1, t, f(t), color="k", lw=1.5, label="f")
    a1.set_ylabel("f")
    legend_outside(a1)
    a1.set_title(title or "f and its recourse sets")
    _bands(a3, sets.L, 2.0, "tab:blue", "L (move left)", lo, hi)
    _bands(a3, sets.R, 1.0, "tab:red", "R (move right)", lo, hi)
    _bands(a3, sets.O, 0.0, "tab:green", "O (satisfied)", lo, hi)
    a3.set_yticks([2.0, 1.0, 0.0], ["L", "R", "O"])
    a3.set_ylim(-0.6, 2.6)
    a3.set_ylabel("recourse sets")
    if phi is not None:
        tt, pv = phi
        m = np.max(np.abs(pv)) or 1.0
        plot_with_breaks(a2, np.asarray(tt), np.asarray(pv) / m, color="tab:purple", lw=1.2,
                         label="u·phi (normalised)")
    a2.axhline(0, color="grey", lw=0.5)
    if failures is not None and len(failures):
        a2.scatter(failures, np.zeros(len(failures)), color="tab:orange", s=12, zorder=3,
                   label="ray-test failure")
    a2.set_xlabel("t")
    a2.set_ylabel("u·phi / max|u·phi|")
    legend_outside(a2)
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
    fig, ax = plt.subplots(figsize=(8, 4))
    ns = np.asarray(res.ns, dtype=float)
    ax.loglog(ns, res.rms_sg_clime, "o-", label="RMS ||SG_n − C-LIME_n||")
    ax.loglog(ns, res.rms_sg_exact, "s--", label="RMS ||SG_n − expectation||")
    ax.loglog(ns, res.rms_clime_exact, "^--", label="RMS ||C-LIME_n − expectation||")
    ref = res.rms_sg_clime[0] * np.sqrt(ns[0] / ns)
    ax.loglog(ns, ref, ":", color="grey", label="1/√n")
    ax.set_xlabel("perturbations n")
    ax.set_ylabel("RMS distance")
    ax.set_title(f"SmoothGrad vs C-LIME (σ = {res.sigma:g}, slope {res.slope:.2f})")
    legend_outside(ax)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

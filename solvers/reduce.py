"""Drop what the bounds decide before a backend sees the model.

Per applicant most of a forest's variables are fixed by the action set and the
incumbent bound (dead leaves, uncrossable thresholds). Passing them to the solver costs
model transfer and presolve time; removing them here costs a few sparse operations:

* fixed columns (``lb == ub``) are substituted into the row bounds and the objective;
* rows whose activity bounds already lie within ``[lo, hi]`` are dropped;
* a row whose activity range misses ``[lo, hi]`` proves infeasibility at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Reduced", "reduce_model"]


@dataclass(frozen=True)
class Reduced:
    c: np.ndarray
    c0: float
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    keep: np.ndarray          # indices of the kept columns in the full model
    full_lb: np.ndarray       # values of the fixed columns (full length)
    infeasible: bool

    def trivial(self) -> np.ndarray | None:
        """The optimum when no rows are left (each column at its cheaper bound), else None."""
        if self.A.shape[0] > 0:
            return None
        v = np.where(self.c >= 0, self.lb, self.ub)
        return v if np.all(np.isfinite(v)) else None

    def expand(self, values: np.ndarray) -> np.ndarray:
        out = self.full_lb.copy()
        out[self.keep] = values
        return out


def reduce_model(c: np.ndarray, c0: float, lb: np.ndarray, ub: np.ndarray, integer: np.ndarray,
                 A: sp.csr_matrix, row_lo: np.ndarray, row_hi: np.ndarray,
                 tol: float = 1e-9) -> Reduced:
    fixed = lb >= ub
    keep = np.flatnonzero(~fixed)
    val = np.where(fixed, lb, 0.0)
    A = sp.csr_matrix(A)
    shift = A @ val
    lo, hi = row_lo - shift, row_hi - shift
    Ak = A[:, keep].tocsr()
    lbk, ubk = lb[keep], ub[keep]
    pos, neg = Ak.maximum(0), Ak.minimum(0)
    lo_f = np.where(np.isfinite(lbk), lbk, -1e300)
    hi_f = np.where(np.isfinite(ubk), ubk, 1e300)
    with np.errstate(invalid="ignore"):
        amin = pos @ lo_f + neg @ hi_f
        amax = pos @ hi_f + neg @ lo_f
    infeasible = bool(np.any(amin > hi + tol) or np.any(amax < lo - tol))
    redundant = (amin >= lo - tol) & (amax <= hi + tol)
    rows = np.flatnonzero(~redundant)
    return Reduced(
        c=c[keep], c0=float(c0 + c @ val), lb=lbk, ub=ubk, integer=integer[keep],
        A=Ak[rows], row_lo=lo[rows], row_hi=hi[rows], keep=keep, full_lb=val,
        infeasible=infeasible,
    )

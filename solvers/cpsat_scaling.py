"""Integer scaling for CP-SAT: real rows and costs become integer ones, rounded outward so
that an infeasibility proof or a bound of the scaled problem holds for the real one
(see ``recourse.solvers.cpsat``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["ROW_BITS", "OBJ_BITS", "ScaledRows", "scale_rows"]

#: Scaled rows and objective keep their largest possible activity below 2**bits.
#: (40 bits, RF 100x6: row error <= 1.2e-6, cost error <= 6e-8. Without the presolve
#: setting below, OR-Tools 9.15 declared scaled forest models INFEASIBLE from 34 bits on,
#: although fixing the variables to HiGHS's optimum gave a feasible model.)
ROW_BITS = 40
OBJ_BITS = 40


@dataclass(frozen=True)
class ScaledRows:
    """Integer rows (see module docstring, step 2): ``lo <= A v <= hi`` (relaxed) and the
    conservative bounds ``clo <= A v <= chi``; ``None`` entries of the bound lists mean
    unbounded."""

    A: sp.csr_matrix            # int64 coefficients
    lo: list[int | None]
    hi: list[int | None]
    clo: list[int | None]
    chi: list[int | None]
    scale: np.ndarray           # S per row
    error: np.ndarray           # E per row (scaled units)

    @property
    def delta(self) -> np.ndarray:
        """Largest violation of each original row by a point the relaxed rows admit."""
        return np.where(self.error > 0, (2 * self.error + 2) / self.scale, 0.0)


def scale_rows(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, M: np.ndarray,
               bits: int = ROW_BITS) -> ScaledRows:
    """Scale every row to integers (module docstring, step 2); ``M`` = max |v_i|."""
    A = sp.csr_matrix(A)
    out = A.copy().astype(np.int64)
    n_rows = A.shape[0]
    scale, error = np.ones(n_rows), np.zeros(n_rows)
    rlo: list[int | None] = []
    rhi: list[int | None] = []
    clo: list[int | None] = []
    chi: list[int | None] = []
    data = out.data
    for r in range(n_rows):
        s, e = A.indptr[r], A.indptr[r + 1]
        a = A.data[s:e]
        act = float(np.abs(a) @ M[A.indices[s:e]])
        if np.all(a == np.rint(a)) and act < 2.0 ** bits:
            S, a_int, E = 1.0, np.rint(a), 0.0
        elif act == 0:
            S, a_int, E = 1.0, np.zeros_like(a), 0.0
        else:
            S = 2.0 ** math.floor(bits - math.log2(act))
            a_int = np.rint(a * S)
            E = float(np.abs(a_int - a * S) @ M[A.indices[s:e]])
        data[s:e] = a_int.astype(np.int64)
        scale[r], error[r] = S, E
        cap = float(np.abs(a_int) @ M[A.indices[s:e]])  # |activity| never exceeds this
        lo_r, hi_r = lo[r] * S, hi[r] * S
        if E == 0.0:
            tiny_lo, tiny_hi = 1e-9 * max(1.0, abs(lo_r)), 1e-9 * max(1.0, abs(hi_r))
            rlo.append(_lower(math.ceil, lo_r - tiny_lo, cap))
            rhi.append(_upper(math.floor, hi_r + tiny_hi, cap))
            clo.append(rlo[-1])
            chi.append(rhi[-1])
        else:
            rlo.append(_lower(math.floor, lo_r - E, cap, -1))
            rhi.append(_upper(math.ceil, hi_r + E, cap, 1))
            clo.append(_lower(math.ceil, lo_r + E, cap, 1))
            chi.append(_upper(math.floor, hi_r - E, cap, -1))
    out.eliminate_zeros()
    return ScaledRows(out, rlo, rhi, clo, chi, scale, error)


def _lower(rnd: Any, x: float, cap: float, off: int = 0) -> int | None:
    """Integer lower bound ``rnd(x) + off`` of a row whose activity lies in [-cap, cap]
    (``None``: redundant)."""
    if not np.isfinite(x) or x < -cap - 2:
        return None
    if x > cap + 2:
        return int(cap) + 2  # infeasible, kept within int64
    return int(rnd(x)) + off


def _upper(rnd: Any, x: float, cap: float, off: int = 0) -> int | None:
    if not np.isfinite(x) or x > cap + 2:
        return None
    if x < -cap - 2:
        return -int(cap) - 2
    return int(rnd(x)) + off


# ---------------------------------------------------------------------- solve

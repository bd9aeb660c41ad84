"""Integer scaling for CP-SAT: real rows and costs become integer ones, rounded outward so
that an infeasibility proof or a bound of the scaled problem holds for the real one
(see ``recourse.solvers.cpsat``)."""

from __future__ import annotations

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
#: The objective is not a row CP-SAT's presolve rewrites, and its error decides whether an
#: optimum can be *claimed* optimal: 48 bits (largest activity 2**48, far from int64's
#: 2**63; every scaled coefficient still exact in a float64). Measured on credit_data's
#: RandomForest 100x6 on 200 features: at 40 bits 4 of 10 CP-SAT optima were reported
#: feasible (cost error ~1e-6 against a gap tolerance of ~2e-7); at 44, 48 and 52 bits all
#: were proven, with the same answers and times within noise.
OBJ_BITS = 48


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
    """Scale every row to integers (module docstring, step 2); ``M`` = max |v_i|.

    Per row: integral coefficients whose largest activity stays below ``2**bits`` are
    kept (``S = 1``, no error); otherwise the row is multiplied by the power of two
    ``S`` that brings its largest activity to ``2**bits`` and rounded, with ``E`` the
    largest activity error of the rounding; the bounds are rounded outward by ``E``
    (relaxed) and inward (conservative). All rows at once, in numpy.
    """
    A = sp.csr_matrix(A, dtype=float)
    n_rows = A.shape[0]
    row = np.repeat(np.arange(n_rows), np.diff(A.indptr))
    a = A.data
    Mi = M[A.indices] if a.size else np.zeros(0)

    def per_row(v: np.ndarray) -> np.ndarray:
        return np.bincount(row, weights=v, minlength=n_rows)

    act = per_row(np.abs(a) * Mi)
    integral = per_row((a != np.rint(a)).astype(float)) == 0
    keep = integral & (act < 2.0 ** bits)
    zero = ~keep & (act == 0)
    with np.errstate(divide="ignore"):
        S = np.where(keep | zero, 1.0, np.exp2(np.floor(bits - np.log2(np.where(
            act > 0, act, 1.0)))))
    aS = a * S[row]
    a_int = np.where(zero[row], 0.0, np.rint(aS))
    E = np.where(keep | zero, 0.0, per_row(np.abs(a_int - aS) * Mi))
    cap = per_row(np.abs(a_int) * Mi)  # |activity| never exceeds this
    out = sp.csr_matrix((a_int.astype(np.int64), A.indices.copy(), A.indptr.copy()),
                        shape=A.shape)
    out.eliminate_zeros()
    lo_r, hi_r = np.asarray(lo, float) * S, np.asarray(hi, float) * S
    exact = E == 0.0
    with np.errstate(invalid="ignore"):
        tiny_lo = 1e-9 * np.maximum(1.0, np.abs(lo_r))
        tiny_hi = 1e-9 * np.maximum(1.0, np.abs(hi_r))
        rlo = np.where(exact, _lower_v(np.ceil, lo_r - tiny_lo, cap, 0),
                       _lower_v(np.floor, lo_r - E, cap, -1))
        rhi = np.where(exact, _upper_v(np.floor, hi_r + tiny_hi, cap, 0),
                       _upper_v(np.ceil, hi_r + E, cap, 1))
        clo = np.where(exact, rlo, _lower_v(np.ceil, lo_r + E, cap, 1))
        chi = np.where(exact, rhi, _upper_v(np.floor, hi_r - E, cap, -1))
    return ScaledRows(out, _ints(rlo), _ints(rhi), _ints(clo), _ints(chi), S, E)


def _lower_v(rnd: Any, x: np.ndarray, cap: np.ndarray, off: int) -> np.ndarray:
    """Integer lower bounds ``rnd(x) + off`` of rows whose activity lies in
    ``[-cap, cap]``: NaN where redundant, ``cap + 2`` where infeasible (within int64)."""
    out = rnd(np.where(np.isfinite(x), x, 0.0)) + off
    out = np.where(x > cap + 2, np.floor(cap) + 2, out)
    return np.where(~np.isfinite(x) | (x < -cap - 2), np.nan, out)


def _upper_v(rnd: Any, x: np.ndarray, cap: np.ndarray, off: int) -> np.ndarray:
    """Integer upper bounds, as :func:`_lower_v` mirrored."""
    out = rnd(np.where(np.isfinite(x), x, 0.0)) + off
    out = np.where(x < -cap - 2, -np.floor(cap) - 2, out)
    return np.where(~np.isfinite(x) | (x > cap + 2), np.nan, out)


def _ints(v: np.ndarray) -> list[int | None]:
    return [None if f != f else int(f) for f in v.tolist()]


# ---------------------------------------------------------------------- solve

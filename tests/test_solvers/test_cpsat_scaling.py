"""``recourse.solvers.cpsat_scaling.scale_rows`` (all rows at once in numpy) against the
row-by-row definition it replaced (kept here as the reference), on random rows with
integral and real coefficients, zero rows, infinite, huge and tiny bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recourse.solvers.cpsat_scaling import ROW_BITS, scale_rows


def _lower(rnd, x, cap, off=0):
    if not np.isfinite(x) or x < -cap - 2:
        return None
    if x > cap + 2:
        return int(cap) + 2
    return int(rnd(x)) + off


def _upper(rnd, x, cap, off=0):
    if not np.isfinite(x) or x > cap + 2:
        return None
    if x < -cap - 2:
        return -int(cap) - 2
    return int(rnd(x)) + off


def reference(A, lo, hi, M, bits=ROW_BITS):
    """One row at a time, as the module docstring defines the scaling."""
    A = sp.csr_matrix(A)
    data = A.copy().astype(np.int64).data
    out = []
    for r in range(A.shape[0]):
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
        cap = float(np.abs(a_int) @ M[A.indices[s:e]])
        lo_r, hi_r = lo[r] * S, hi[r] * S
        if E == 0.0:
            tl, th = 1e-9 * max(1.0, abs(lo_r)), 1e-9 * max(1.0, abs(hi_r))
            b = (_lower(math.ceil, lo_r - tl, cap), _upper(math.floor, hi_r + th, cap))
            b = b + b
        else:
            b = (_lower(math.floor, lo_r - E, cap, -1), _upper(math.ceil, hi_r + E, cap, 1),
                 _lower(math.ceil, lo_r + E, cap, 1), _upper(math.floor, hi_r - E, cap, -1))
        out.append((S, E, b, data[s:e].tolist()))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_scale_rows_equals_the_row_by_row_definition(seed):
    rng = np.random.default_rng(seed)
    m, n = 300, 40
    A = sp.random(m, n, density=0.15, random_state=seed, format="csr")
    real = rng.random(A.data.size) < 0.5
    A.data = np.where(real, rng.normal(0, 10, A.data.size),
                      rng.integers(-5, 6, A.data.size)).astype(float)
    A.data[rng.random(A.data.size) < 0.05] = 0.0  # explicit zeros, and rows of zeros
    M = np.where(rng.random(n) < 0.8, rng.integers(1, 50, n), 1e6).astype(float)
    lo = np.where(rng.random(m) < 0.3, -np.inf, rng.normal(0, 100, m))
    hi = np.where(rng.random(m) < 0.3, np.inf, lo + np.abs(rng.normal(0, 100, m)))
    hi[rng.random(m) < 0.05] = 1e30   # redundant
    lo[rng.random(m) < 0.05] = 1e30   # infeasible
    for bits in (ROW_BITS, 20):
        got = scale_rows(A, lo, hi, M, bits)
        want = reference(A, lo, hi, M, bits)
        for r, (S, E, b, coef) in enumerate(want):
            assert got.scale[r] == S and got.error[r] == pytest.approx(E, rel=1e-12, abs=0)
            assert (got.lo[r], got.hi[r], got.clo[r], got.chi[r]) == b, r
            s, e = A.indptr[r], A.indptr[r + 1]
            dense = got.A[r].toarray().ravel()
            assert dense[A.indices[s:e]].tolist() == coef

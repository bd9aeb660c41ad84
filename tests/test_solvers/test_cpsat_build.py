"""The CP-SAT model ``recourse.solvers.cpsat`` writes row by row into the proto against the
same model built through OR-Tools' own expression API (the reference below), on random
integer problems with two-sided, one-sided, free, empty, contradictory and conservative
rows: the two protos must be identical, constraint for constraint. One exception: the
API silently drops a row without variables whose bounds exclude 0 (the model stays
feasible); the engine's model keeps it as a row that cannot hold."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp

from recourse.solvers import cpsat
from recourse.solvers.backends import MilpArrays
from recourse.solvers.cpsat_model import OutOfTime, build_model
from recourse.solvers.cpsat_scaling import ROW_BITS, scale_rows

cp_model = pytest.importorskip("ortools.sat.python.cp_model")


def reference(prep, conservative):
    """The model as OR-Tools' expression API builds it (one ``LinearExpr`` per row)."""
    M = np.maximum(np.abs(prep.lb), np.abs(prep.ub))
    rows = scale_rows(prep.A, prep.lo, prep.hi, M, ROW_BITS)
    model = cp_model.CpModel()
    x = [model.new_int_var(int(lo), int(hi), "") for lo, hi in zip(prep.lb, prep.ub)]
    for r in range(rows.A.shape[0]):
        s, e = rows.A.indptr[r], rows.A.indptr[r + 1]
        lo = rows.clo[r] if conservative[r] else rows.lo[r]
        hi = rows.chi[r] if conservative[r] else rows.hi[r]
        if lo is None and hi is None:
            continue
        if s == e:  # no variable: the API drops a row 0 cannot meet (see below)
            ct = model.proto.constraints.add().linear
            lo = cp_model.INT_MIN if lo is None else lo
            hi = cp_model.INT_MAX if hi is None else hi
            if lo <= hi:
                ct.domain.extend([lo, hi])
            continue
        expr = cp_model.LinearExpr.weighted_sum([x[i] for i in rows.A.indices[s:e]],
                                                rows.A.data[s:e].tolist())
        if lo is not None and hi is not None:
            model.add_linear_constraint(expr, lo, hi)
        elif lo is not None:
            model.add(expr >= lo)
        else:
            model.add(expr <= hi)
    return [str(c) for c in model.proto.constraints]


def problem(seed):
    rng = np.random.default_rng(seed)
    n, m = 6, 14
    A = sp.random(m, n, density=0.5, random_state=rng, format="lil")
    A[0, :] = 0  # an empty row
    A[1, 2] = 1.0
    A = sp.csr_matrix(A.toarray().round(2))
    lo = rng.uniform(-3, 3, m)
    hi = lo + rng.uniform(0, 4, m)
    lo[2], hi[3] = -np.inf, np.inf  # one-sided rows
    lo[4], hi[4] = -np.inf, np.inf  # a free row (left out)
    lo[5], hi[5] = 2.0, -2.0  # a row that cannot hold (an empty domain)
    lb, ub = np.zeros(n), rng.integers(1, 5, n).astype(float)
    return MilpArrays(c=rng.uniform(0, 1, n), c0=0.0, lb=lb, ub=ub,
                      integer=np.ones(n, dtype=bool), A=A, row_lo=lo, row_hi=hi)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("conservative_rows", [False, True])
def test_model_rows_equal_the_expression_api(seed, conservative_rows):
    p = problem(seed)
    prep, why = cpsat._substitute(p, drop=True)
    assert prep is not None, why
    M = np.maximum(np.abs(prep.lb), np.abs(prep.ub))
    rows = scale_rows(prep.A, prep.lo, prep.hi, M, ROW_BITS)
    conservative = np.full(rows.A.shape[0], conservative_rows)
    model, x = build_model(prep, rows, conservative, np.ones(prep.cols.size, dtype=np.int64),
                           None, time.perf_counter() + 30)
    want = reference(prep, conservative)
    assert [str(c) for c in model.proto.constraints] == want
    assert len(x) == prep.cols.size
    assert any("domain" not in c for c in want)  # the contradictory row is in it
    assert any(c.startswith("linear {\n  domain") for c in want)  # and the empty row


def test_the_build_keeps_the_deadline():
    prep, _ = cpsat._substitute(problem(0), drop=True)
    M = np.maximum(np.abs(prep.lb), np.abs(prep.ub))
    rows = scale_rows(prep.A, prep.lo, prep.hi, M, ROW_BITS)
    with pytest.raises(OutOfTime):
        build_model(prep, rows, np.zeros(rows.A.shape[0], dtype=bool),
                    np.ones(prep.cols.size, dtype=np.int64), None, time.perf_counter() - 1)


def test_a_row_without_variables_that_cannot_hold_makes_the_problem_infeasible():
    A = sp.csr_matrix(np.array([[0.0, 0.0], [1.0, 1.0]]))
    p = MilpArrays(c=np.ones(2), c0=0.0, lb=np.zeros(2), ub=np.full(2, 3.0),
                   integer=np.ones(2, dtype=bool), A=A, row_lo=np.array([1.0, 1.0]),
                   row_hi=np.array([2.0, 4.0]))
    sol = cpsat.solve_cpsat(p, time_limit=10)
    assert sol.status.value == "infeasible"

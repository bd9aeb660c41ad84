"""The CP-SAT model of a scaled integer problem (``recourse.solvers.cpsat``), written
straight into OR-Tools' model proto."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from recourse.solvers.cpsat_scaling import ScaledRows

__all__ = ["build_model", "OutOfTime"]

#: Rows added to a CP-SAT model between two looks at the clock.
BUILD_CHECK = 256


class OutOfTime(Exception):
    """The deadline passed while the CP-SAT model was being built."""


def build_model(prep: Any, rows: ScaledRows, conservative: np.ndarray, c_int: np.ndarray,
                hint: np.ndarray | None, deadline: float) -> tuple[Any, list[Any]]:
    """The CP-SAT model of ``prep`` (a ``recourse.solvers.cpsat._Integer``): its scaled
    ``rows`` (those marked ``conservative`` in their conservative rounding) and the
    objective ``c_int``; returns the model and its variables.

    The rows go straight into the model's proto, one linear constraint each: a third
    faster than a ``LinearExpr`` per row (0.12 s against 0.19 s for 9,400 rows of a
    RandomForest 1000x10 query) and the same model, except that a row without variables
    whose bounds exclude 0 is kept (with an empty domain, so the model is infeasible)
    where OR-Tools' expression API drops it. Raises :class:`OutOfTime` when ``deadline``
    passes during the build.
    """
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [model.new_int_var(int(lo), int(hi), "") for lo, hi in zip(prep.lb, prep.ub)]
    cons = model.proto.constraints
    ind, dat, ptr = rows.A.indices.tolist(), rows.A.data.tolist(), rows.A.indptr.tolist()
    for r in range(rows.A.shape[0]):
        if r % BUILD_CHECK == 0 and time.perf_counter() >= deadline:
            raise OutOfTime  # building a large model is part of the time limit
        lo = rows.clo[r] if conservative[r] else rows.lo[r]
        hi = rows.chi[r] if conservative[r] else rows.hi[r]
        if lo is None and hi is None:
            continue
        lin = cons.add().linear
        lin.vars.extend(ind[ptr[r]:ptr[r + 1]])
        lin.coeffs.extend(dat[ptr[r]:ptr[r + 1]])
        lo = cp_model.INT_MIN if lo is None else lo
        hi = cp_model.INT_MAX if hi is None else hi
        if lo <= hi:  # else the empty domain: the row cannot hold
            lin.domain.extend((lo, hi))
    nz = np.flatnonzero(c_int)
    model.minimize(cp_model.LinearExpr.weighted_sum([x[i] for i in nz], c_int[nz].tolist()))
    if hint is not None:
        for i, col in enumerate(prep.cols):
            model.add_hint(x[i], int(np.clip(np.rint(hint[col]), prep.lb[i], prep.ub[i])))
    return model, x

"""A reduced forest problem on which HiGHS 1.16's presolve (with rule 13 on) wrongly
reported infeasibility, so that a dearer incumbent was claimed optimal (credit_data,
RandomForest 100x6, test applicant 29; see ``recourse.solvers.highs.PRESOLVE_RULE_OFF``).

Oracles: HiGHS without presolve and, when OR-Tools is installed, CP-SAT, on the same
arrays; all must agree on the optimum (1.25; the incumbent the cutoff row excludes costs
1.2533, so "infeasible" would be a false proof)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import recourse.solvers.highs as highs
from recourse.solvers.backends import MilpArrays, solve
from recourse.solvers.status import Status

DATA = Path(__file__).parent / "data" / "highs_presolve_q29.npz"


def _arrays() -> MilpArrays:
    d = np.load(DATA)
    A = sp.csr_matrix((d["data"], d["indices"], d["indptr"]), shape=tuple(d["shape"]))
    return MilpArrays(d["c"], float(d["c0"]), d["lb"], d["ub"], d["integer"].astype(bool), A,
                      d["row_lo"], d["row_hi"])


def test_highs_finds_the_optimum_that_presolve_once_hid(monkeypatch):
    p = _arrays()
    sol = solve(p, "highs", time_limit=60)
    assert sol.status is Status.OPTIMAL
    monkeypatch.setitem(highs.EXTRA_OPTIONS, "presolve", "off")
    ref = solve(p, "highs", time_limit=60)
    assert ref.status is Status.OPTIMAL
    got = float(p.c @ sol.values + p.c0)
    assert got == pytest.approx(float(p.c @ ref.values + p.c0), abs=1e-7)
    assert got == pytest.approx(1.25, abs=1e-7)


def test_cpsat_agrees():
    pytest.importorskip("ortools")
    p = _arrays()
    sol = solve(p, "cpsat", time_limit=60)
    assert sol.status is Status.OPTIMAL
    assert float(p.c @ sol.values + p.c0) == pytest.approx(1.25, abs=1e-6)

"""Write the MPS files of this folder from the arrays kept in ``tests/test_solvers/data``."""

from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "test_solvers" / "data"

for name in ("highs_presolve_q29", "highs_presolve_hang_mlp"):
    d = np.load(DATA / f"{name}.npz")
    A = sp.csc_matrix(sp.csr_matrix((d["data"], d["indices"], d["indptr"]),
                                    shape=tuple(d["shape"])))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(d["c"]), A.shape[0]
    lp.col_cost_, lp.offset_ = d["c"].astype(float), float(d["c0"])
    lp.col_lower_ = np.where(np.isfinite(d["lb"]), d["lb"], -inf)
    lp.col_upper_ = np.where(np.isfinite(d["ub"]), d["ub"], inf)
    lp.row_lower_ = np.where(np.isfinite(d["row_lo"]), d["row_lo"], -inf)
    lp.row_upper_ = np.where(np.isfinite(d["row_hi"]), d["row_hi"], inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = A.indptr, A.indices
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in d["integer"]]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.writeModel(str(HERE / f"{name}.mps"))

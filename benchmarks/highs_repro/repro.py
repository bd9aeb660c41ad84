"""HiGHS 1.16 presolve failures, standalone: ``python repro.py q29`` or ``python repro.py hang``.

Needs only ``highspy``. Each case reads its MPS file from this folder, solves it with the
options below, and again with ``presolve=off``.
"""

import sys
import time
from pathlib import Path

import highspy

HERE = Path(__file__).resolve().parent
OPTIONS = {"threads": 1, "mip_rel_gap": 1e-7, "mip_abs_gap": 1e-9,
           "mip_feasibility_tolerance": 1e-7, "primal_feasibility_tolerance": 1e-7,
           "mip_heuristic_run_feasibility_jump": False}
CASES = {
    # presolve declares a feasible MILP infeasible (optimum 1.25 with presolve off)
    "q29": ("highs_presolve_q29.mps", {"presolve_rule_off": 1 << 15, "time_limit": 60.0}),
    # presolve does not return within its 10 s time limit (0.1-0.3 s with presolve off)
    "hang": ("highs_presolve_hang_mlp.mps",
             {"presolve_rule_off": (1 << 13) | (1 << 15), "time_limit": 10.0}),
}


def run(path: Path, options: dict) -> None:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(path))
    for k, v in {**OPTIONS, **options}.items():
        h.setOptionValue(k, v)
    t = time.perf_counter()
    h.run()
    print(f"  {options}: {h.modelStatusToString(h.getModelStatus())}, objective "
          f"{h.getInfo().objective_function_value:.6g}, {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "q29"
    mps, opts = CASES[name]
    print(f"{name} ({mps}), highspy {highspy.Highs().version()}")
    run(HERE / mps, {**opts, "presolve": "off"})
    run(HERE / mps, opts)   # the hang case: interrupt it, it runs for minutes

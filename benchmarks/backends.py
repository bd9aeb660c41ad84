"""Benchmark: the solver backends on the same queries (HiGHS, CP-SAT, Pyomo, auto).

Usage (from the repository root, inside the project's environment)::

    python benchmarks/backends.py                          # RF 100x6, German + credit_data, 50 each
    python benchmarks/backends.py --quick                  # 5 applicants (smoke test)
    python benchmarks/backends.py --backends highs,cpsat --datasets credit_data --n 20
    python benchmarks/backends.py --backends highs,cpsat,cpsat:num_workers=2  # options

For each data set and model (fixed seeds, as ``benchmarks/run.py``) it explains the first
``n`` denied test applicants once per backend, one backend after the other *per applicant*
(so machine load hits all backends alike), and writes ``benchmarks/results/backends.json``
and ``backends.md``: per backend the median / p90 / max / total time, % proven optimal,
% verified, the largest cost difference to HiGHS, and (Pyomo) the model-building time.
Per query it also records the size of the reduced problem a solver received, which is
what ``backend="auto"`` decides on (``recourse.solvers.backends.AUTO_RULE``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine  # noqa: E402

from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402


def _options(spec: str) -> dict[str, object]:
    """``"cpsat:num_workers=2"`` -> ``{"num_workers": 2}`` (values parsed as JSON if they can)."""
    out: dict[str, object] = {}
    for part in spec.split(":")[1:]:
        key, _, raw = part.partition("=")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def run(dataset: str, kind: str, n: int, backends: list[str], time_limit: float
        ) -> dict[str, object]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    engines = {b: RecourseEngine(model, schema, reference=X_tr, backend=b.split(":")[0],
                                 backend_options=_options(b)) for b in backends}
    denied = X_te[model.predict(X_te) == "bad"].head(n)
    n_test = len(denied)
    if n_test < n:  # as benchmarks/run.py: top up with denied training applicants
        more = X_tr[model.predict(X_tr) == "bad"].head(n - n_test)
        denied = pd.concat([denied, more])
    queries = []
    for i in range(len(denied)):
        q: dict[str, object] = {"i": i}
        for b, eng in engines.items():
            r = eng.explain(denied.iloc[i], target="good", time_limit=time_limit)
            q[b] = {
                "status": r.status, "time": r.total_time, "solve": r.solve_time,
                "cost": r.cost, "verified": r.verified,
                "used": r.stats.backend_used,
                "reduced_vars": r.stats.problem.get("reduced_vars"),
                "build": r.stats.problem.get("pyomo_build_time", 0.0),
                "row_error": r.stats.problem.get("cpsat_row_error"),
                "cost_error": r.stats.problem.get("cpsat_cost_error"),
            }
        queries.append(q)
        print(dataset, kind, i, {b: (q[b]["status"], round(q[b]["time"], 3))  # type: ignore
                                 for b in backends}, flush=True)
    summary = {}
    for b in backends:
        rs = [q[b] for q in queries]
        t = np.array([r["time"] for r in rs])  # type: ignore[index]
        ref = [q.get("highs") for q in queries]
        diffs = [abs(r["cost"] - h["cost"])  # type: ignore[index]
                 for r, h in zip(rs, ref) if h and r["cost"] is not None  # type: ignore[index]
                 and h["cost"] is not None]  # type: ignore[index]
        solved = [r for r in rs if r["used"] is not None]  # type: ignore[index]
        summary[b] = {
            "n": len(rs),
            "median_s": float(np.median(t)), "p90_s": float(np.percentile(t, 90)),
            "max_s": float(t.max()), "total_s": float(t.sum()),
            "optimal_pct": 100.0 * sum(r["status"] == "optimal" for r in rs) / len(rs),  # type: ignore[index]
            "verified_pct": 100.0 * sum(bool(r["verified"]) for r in rs) / len(rs),  # type: ignore[index]
            "max_cost_diff_vs_highs": max(diffs) if diffs else None,
            "solver_ran": len(solved),
            "pyomo_build_total_s": float(sum(r["build"] for r in rs)),  # type: ignore[index]
            "max_row_error": max((r["row_error"] or 0.0 for r in rs), default=0.0),  # type: ignore[index]
            "max_cost_error": max((r["cost_error"] or 0.0 for r in rs), default=0.0),  # type: ignore[index]
        }
    return {"dataset": dataset, "model": kind, "n_from_test": n_test, "summary": summary,
            "queries": queries}


def markdown(rows: list[dict[str, object]], mach: dict[str, object]) -> str:
    lines = ["| data | model | backend | n (test) | median s | p90 s | max s | total s | "
             "proven optimal | verified | max cost diff vs HiGHS | Pyomo build s (total) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for b, s in r["summary"].items():  # type: ignore[attr-defined]
            diff = s["max_cost_diff_vs_highs"]
            lines.append(
                f"| {r['dataset']} | {r['model']} | {b} | {s['n']} ({r['n_from_test']}) | "
                f"{s['median_s']:.3f} | "
                f"{s['p90_s']:.3f} | {s['max_s']:.3f} | {s['total_s']:.1f} | "
                f"{s['optimal_pct']:.0f} % | {s['verified_pct']:.0f} % | "
                f"{'–' if diff is None else format(diff, '.2g')} | "
                f"{s['pyomo_build_total_s']:.2f} |")
    lines.append("")
    lines.append(f"Machine: {mach['cpu']}, {mach['cores']} cores, Python {mach['python']}, "
                 f"scikit-learn {mach['sklearn']}, highspy {mach['highspy']}, OR-Tools "
                 f"{mach.get('ortools')}, Pyomo {mach.get('pyomo')}; HiGHS one thread, CP-SAT "
                 "one worker unless the backend says otherwise.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="german,credit_data")
    ap.add_argument("--models", default="rf100x6")
    ap.add_argument("--backends", default="highs,cpsat,pyomo,auto")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true", help="5 applicants")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    n = 5 if args.quick else args.n
    backends = args.backends.split(",")
    mach = machine()
    import ortools
    import pyomo

    mach["ortools"] = ortools.__version__
    mach["pyomo"] = pyomo.__version__
    rows = []
    t0 = time.time()
    for ds in args.datasets.split(","):
        for kind in args.models.split(","):
            rows.append(run(ds, kind, n, backends, args.time_limit))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(json.dumps(
        {"machine": mach, "wall_s": time.time() - t0, "results": rows}, indent=1, default=str))
    md = markdown(rows, mach)
    (out / "backends.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

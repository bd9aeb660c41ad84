"""Benchmark: exact recourse on the bundled credit data, per model, 50 denied applicants each.

Usage (from the repository root, inside the project's environment)::

    python benchmarks/run.py                       # full run (the README figures)
    python benchmarks/run.py --quick               # 5 applicants, small models (smoke test)
    python benchmarks/run.py --datasets german --models rf100x6 --n 20

For each data set (German credit, credit_data) and model (LogisticRegression,
DecisionTree depth 6, RandomForest 100x6 and 300x8, MLP 32x32 ReLU, GradientBoosting 100x3,
HistGradientBoosting 100 iterations x 15 leaves; fixed seeds, stratified 70/30 split) it
explains the first ``n`` test applicants the model denies (target: "good"), with the data
set's realistic schema and the MAD-weighted L1 cost, and writes
``benchmarks/results/bench.json`` and ``bench.md``: median / p90 / max time per query,
% proven optimal, % verified, median cost and L0, and the machine it ran on.
When a model denies fewer than ``n`` test applicants, denied training applicants fill
the rest (the table says how many came from the test split). Run nothing else heavy at
the same time: the times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402

MODELS = ("logreg", "tree", "rf100x6", "rf300x8", "mlp32x32", "gb100", "hgb100")
DATASETS = ("german", "credit_data")


def machine() -> dict[str, object]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import highspy
    import sklearn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sklearn": sklearn.__version__,
        "highspy": getattr(highspy, "__version__", "1.16"),
    }


def run_one(dataset: str, kind: str, n: int, time_limit: float, norm: str,
            bounds: str = "lp") -> dict[str, object]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    t0 = time.perf_counter()
    engine = RecourseEngine(model, schema, reference=X_tr, bounds=bounds)
    build = time.perf_counter() - t0
    denied = X_te[model.predict(X_te) == "bad"].head(n)
    n_test = len(denied)
    if n_test < n:  # a model that denies few test applicants: top up with training rows
        more = X_tr[model.predict(X_tr) == "bad"].head(n - n_test)
        denied = pd.concat([denied, more])
    times, statuses, costs, l0s, verified, solve, check = [], [], [], [], [], [], []
    binaries, binaries_box = [], []
    for i in range(len(denied)):
        r = engine.explain(denied.iloc[i], target="good", norm=norm, time_limit=time_limit)
        times.append(r.total_time)
        solve.append(r.solve_time)
        check.append((r.stats.verify_time if r.stats.verify_time is not None else 0.0))
        statuses.append(r.status)
        if "n_binaries" in r.stats.problem:  # ReLU networks: binaries after / before tightening
            binaries.append(r.stats.problem["n_binaries"])
            binaries_box.append(r.stats.problem["n_binaries_schema_box"])
        verified.append(r.verified)
        if r.cost is not None:
            costs.append(r.l1_cost)
            l0s.append(r.l0)
    t = np.array(times)
    k = len(times)
    return {
        "dataset": dataset,
        "model": kind,
        "norm": norm,
        "bounds": bounds,
        "n": k,
        "n_from_test": n_test,
        "build_s": round(build, 4),
        "median_s": float(np.median(t)) if k else None,
        "p90_s": float(np.percentile(t, 90)) if k else None,
        "max_s": float(t.max()) if k else None,
        "median_solve_s": float(np.median(solve)) if k else None,
        "median_verify_s": float(np.median(check)) if k else None,
        "optimal_pct": 100.0 * statuses.count("optimal") / k if k else None,
        "verified_pct": 100.0 * sum(verified) / k if k else None,
        "no_recourse": statuses.count("no_recourse"),
        "median_cost": float(np.median(costs)) if costs else None,
        "median_l0": float(np.median(l0s)) if l0s else None,
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "median_binaries": float(np.median(binaries)) if binaries else None,
        "median_binaries_schema_box": float(np.median(binaries_box)) if binaries_box else None,
        "encoding": {k: v for k, v in engine.encoding.info.items()
                     if isinstance(v, (int, float, str))},
    }


def markdown(rows: list[dict[str, object]], mach: dict[str, object]) -> str:
    head = ("| data | model | n (test) | median s | p90 s | max s | median solver s | "
            "median predict s | proven optimal | verified | median L1 cost | median L0 |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        def f(key: str, fmt: str = "{:.3f}") -> str:
            v = r.get(key)
            return "–" if v is None else fmt.format(v)
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['n']} ({r['n_from_test']}) | "
            f"{f('median_s')} | {f('p90_s')} | "
            f"{f('max_s')} | {f('median_solve_s')} | {f('median_verify_s')} | "
            f"{f('optimal_pct', '{:.0f} %')} | {f('verified_pct', '{:.0f} %')} | "
            f"{f('median_cost', '{:.3f}')} | {f('median_l0', '{:.0f}')} |")
    lines.append("")
    lines.append(f"Machine: {mach['cpu']}, {mach['cores']} cores, Python {mach['python']}, "
                 f"scikit-learn {mach['sklearn']}, highspy {mach['highspy']}; one solver thread.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--n", type=int, default=50, help="denied applicants per model")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--norm", default="l1", choices=["l1", "l0", "l0_l1"])
    ap.add_argument("--quick", action="store_true", help="5 applicants, small models")
    ap.add_argument("--bounds", default="lp", choices=["lp", "interval"],
                    help="ReLU networks: big-M bound tightening per applicant")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    models = args.models.split(",")
    n = args.n
    if args.quick:
        models, n = ["logreg", "tree", "rf100x6"], 5
    mach = machine()
    rows = []
    for ds in args.datasets.split(","):
        for kind in models:
            r = run_one(ds, kind, n, args.time_limit, args.norm, args.bounds)
            rows.append(r)
            print(f"{ds:12s} {kind:8s} n={r['n']:3d} median {r['median_s']:.3f}s "
                  f"p90 {r['p90_s']:.3f}s max {r['max_s']:.3f}s optimal {r['optimal_pct']:.0f}% "
                  f"verified {r['verified_pct']:.0f}% {r['statuses']}"
                  + (f" binaries {r['median_binaries_schema_box']:.0f} -> "
                     f"{r['median_binaries']:.1f}" if r["median_binaries"] is not None else ""),
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps({"machine": mach, "rows": rows}, indent=2))
    (out / "bench.md").write_text(markdown(rows, mach))
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: a whole-portfolio audit, local processes vs one process, reuse vs none, Dask.

Usage (from the repository root, inside the project's environment; run nothing else
heavy at the same time; ``flock LOCKFILE python benchmarks/audit.py`` serialises runs)::

    python benchmarks/audit.py                          # German credit, RF 100x6 (README)
    python benchmarks/audit.py --model logreg --repeats 1
    python benchmarks/audit.py --no-dask

The model is trained on the stratified 70 % split (seed 0) with the data set's realistic
schema; the audit covers *every* applicant of the full data set that the model denies
(target "good"), MAD-weighted L1, the training rows as reference. In one run it measures

* ``local``: the default audit, one worker process per core (2 here), one engine each;
* ``serial reuse`` / ``serial no reuse``: one process, the engine built once and reused,
  or built afresh for every applicant (what reuse saves per applicant);
* ``dask 1`` / ``dask 2``: a Dask LocalCluster with one and with two single-threaded
  worker processes; "cold" is the first audit on fresh workers (they import the package
  and build their engine: timed), "warm" the median of later audits of the same model,
  whose engine the workers keep (cluster start-up is never timed).

Every configuration runs ``--repeats`` times; the table shows the median. Rates are
applicants per second of the audit's solving phase (workers' start and engine builds
included) and of the whole call (planning, summary and HTML report included). Results go
to ``benchmarks/results/audit.json`` and ``audit.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine  # noqa: E402

from recourse.audit import audit, default_n_jobs  # noqa: E402
from recourse.datasets import load, make_model, train_test  # noqa: E402


def _one(label: str, repeats: int, **kw: Any) -> dict[str, Any]:
    runs = []
    load = os.getloadavg()[0]
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = audit(out=Path(tmp) / "audit", **kw)
            wall = time.perf_counter() - t0
        frame = res.results
        runs.append({
            "n": int(len(frame)),
            "solve_s": res.solve_elapsed,
            "wall_s": wall,
            "optimal": int((frame["status"] == "optimal").sum()),
            "verified": int(frame["verified"].sum()),
            "statuses": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
            "median_applicant_s": float(frame["total_time"].median()),
        })
    solve = statistics.median(r["solve_s"] for r in runs)
    wall = statistics.median(r["wall_s"] for r in runs)
    first = runs[0]
    n = first["n"]
    row = {
        "config": label, "n": n, "repeats": repeats,
        "solve_s": solve, "wall_s": wall,
        "per_applicant_s": solve / n if n else None,
        "rate": n / solve if solve else None,
        "rate_wall": n / wall if wall else None,
        "optimal_rate": first["optimal"] / solve if solve else None,
        "optimal_pct": 100.0 * first["optimal"] / n if n else None,
        "verified_pct": 100.0 * first["verified"] / n if n else None,
        "median_applicant_s": first["median_applicant_s"],
        "statuses": first["statuses"],
        "load_before": load,
        "runs": runs,
    }
    print(f"{label:16s} n={n} solve {solve:.2f}s ({row['rate']:.1f}/s) wall {wall:.2f}s "
          f"optimal {row['optimal_pct']:.0f}% {first['statuses']}", flush=True)
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Audit of every denied applicant: {meta['dataset']}, {meta['model']}, "
        f"{rows[0]['n']} of {meta['n_rows']} applicants; median of {meta['repeats']} runs.",
        "",
        "| configuration | solve s | s per applicant | applicants/s | proven optimal/s | "
        "whole call s | proven optimal | verified | load before |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['solve_s']:.2f} | {r['per_applicant_s']:.4f} | "
            f"{r['rate']:.1f} | {r['optimal_rate']:.1f} | {r['wall_s']:.2f} | "
            f"{r['optimal_pct']:.0f} % | {r['verified_pct']:.0f} % | {r['load_before']:.1f} |")
    by = {r["config"]: r for r in rows}
    lines.append("")
    if "serial reuse" in by and "serial no reuse" in by:
        a, b = by["serial reuse"], by["serial no reuse"]
        lines.append(f"Reuse: {a['per_applicant_s']:.4f} s per applicant with one engine, "
                     f"{b['per_applicant_s']:.4f} s with a fresh engine per applicant "
                     f"({b['per_applicant_s'] / a['per_applicant_s']:.1f}x).")
    for kind in ("cold", "warm"):
        a, b = by.get(f"dask 1 worker, {kind}"), by.get(f"dask 2 workers, {kind}")
        if a and b:
            lines.append(f"Dask LocalCluster ({kind}): 2 workers {a['solve_s'] / b['solve_s']:.2f}x"
                         f" as fast as 1 ({a['solve_s']:.2f} s -> {b['solve_s']:.2f} s).")
    m = meta["machine"]
    lines.append("")
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
                 f"scikit-learn {m['sklearn']}, highspy {m['highspy']}; one solver thread "
                 "per worker. \"load before\": the 1-minute load average before the "
                 "configuration ran (other work on the machine).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="german")
    ap.add_argument("--model", default="rf100x6")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    X_tr, _, y_tr, _, schema = train_test(args.dataset, seed=0)
    X, _, _ = load(args.dataset)
    model = make_model(args.model, X_tr, y_tr, seed=0, schema=schema)
    common = dict(model=model, data=X, schema=schema, target="good", reference=X_tr,
                  time_limit=args.time_limit)
    cores = default_n_jobs()
    rows = [
        _one(f"local {cores} processes", args.repeats, n_jobs=cores, **common),
        _one("serial reuse", args.repeats, n_jobs=1, **common),
        _one("serial no reuse", args.repeats, n_jobs=1, reuse=False, **common),
    ]
    if not args.no_dask:
        from distributed import Client, LocalCluster

        for k in (1, 2):
            label = f"dask {k} worker{'s' if k > 1 else ''}"
            with LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=40) as cluster, \
                    Client(cluster) as client:
                # First audit on fresh workers: they import the package and build their
                # engine; later audits of the same model find the engine in the worker.
                rows.append(_one(f"{label}, cold", 1, client=client, **common))
                rows.append(_one(f"{label}, warm", args.repeats, client=client, **common))
    meta = {"dataset": args.dataset, "model": args.model, "n_rows": len(X),
            "repeats": args.repeats, "machine": machine(),
            "command": "python benchmarks/audit.py " + " ".join(argv or sys.argv[1:])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (out / "audit.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

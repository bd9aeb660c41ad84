"""Benchmark: audits at the scale of a real portfolio, on a Dask LocalCluster.

Usage (from the repository root, inside the project's environment; run nothing else
heavy at the same time; ``flock LOCKFILE python benchmarks/portfolio.py ...`` serialises
runs)::

    python benchmarks/portfolio.py --part full        # (a) credit_data, the forest
    python benchmarks/portfolio.py --part synthetic   # (b) 100,000 synthetic rows, tree
    python benchmarks/portfolio.py --part synthetic --rows 20000 --model logreg

Both parts train the model on credit_data's stratified 70 % split (seed 0) with the data
set's realistic schema, as ``benchmarks/run.py`` and ``benchmarks/audit.py`` do, and
audit (target "good", MAD-weighted L1, the training rows as reference, 60 s per
applicant) the applicants the model denies, through the Dask path: a
``dask.distributed.LocalCluster`` with one single-threaded worker process, then a fresh
one with two. Each audit starts on fresh workers, so the solving time includes each
worker's engine build.

(a) ``full``: every credit_data applicant (all 4,039 rows) the forest (``rf100x6``,
    100 trees of depth 6) denies.
(b) ``synthetic``: ``--rows`` (default 100,000) applicants drawn from credit_data with a
    seeded jitter: each row starts from a row drawn at random, every numeric feature
    moves by a normal jitter of ``--jitter`` (default 0.1) times its standard deviation,
    clipped to the data's range and rounded when the feature is integer; every category
    is drawn from its empirical distribution. The default model is the depth-6 decision
    tree (``tree``), whose queries are fast enough for 100,000 rows on two cores.

Per configuration it reports the applicants solved, the solving time, applicants per
second per worker, the peak resident memory of each worker process (its ``VmHWM``, read
on the worker at the end), the peak resident memory of the
coordinating process (which also runs the scheduler), the speed-up of 2 workers over 1,
and the size of the report. Results go to ``OUT/portfolio-PART.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine  # noqa: E402

from recourse.audit import audit  # noqa: E402
from recourse.datasets import load, make_model, train_test  # noqa: E402


def synthetic(X: pd.DataFrame, schema: Any, n: int, *, seed: int = 0,
              jitter: float = 0.1) -> pd.DataFrame:
    """``n`` rows like ``X``: jittered numeric features (within the data's range, whole
    numbers kept whole), categories drawn from their empirical distribution."""
    rng = np.random.default_rng(seed)
    base = X.iloc[rng.integers(0, len(X), size=n)].reset_index(drop=True)
    out = {}
    for f in schema:
        col = X[f.name]
        if f.is_group:
            freq = col.value_counts(normalize=True)
            out[f.name] = pd.array(rng.choice(freq.index.to_numpy(dtype=object), size=n,
                                              p=freq.to_numpy()), dtype=col.dtype)
            continue
        values = base[f.name].to_numpy(dtype=float)
        sd = float(col.std()) or 1.0
        moved = np.clip(values + rng.normal(0.0, jitter * sd, size=n),
                        float(col.min()), float(col.max()))
        whole = pd.api.types.is_integer_dtype(col) or f.kind == "integer"
        out[f.name] = np.round(moved).astype(col.dtype) if whole else moved
    return pd.DataFrame(out, columns=schema.names)


def _worker_peak_mb() -> float:
    """This process's peak resident set in MB: ``VmHWM`` of ``/proc/self/status`` (its
    own address space since it started). ``getrusage``'s ``ru_maxrss`` is not used: on
    Linux a child inherits its parent's maximum across fork and exec, so a worker
    spawned by a big coordinator would report the coordinator's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover (not Linux)
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_cluster(n_workers: int, **kw: Any) -> dict[str, Any]:
    """One audit on a fresh LocalCluster of ``n_workers`` single-threaded processes."""
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                         dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        before = client.run(_worker_peak_mb)
        t0 = time.perf_counter()
        res = audit(out=Path(tmp) / "audit", client=client, **kw)
        wall = time.perf_counter() - t0
        peaks = client.run(_worker_peak_mb)
        counts = res.summary["status_counts"]
        report = res.files.get("report")
        row = {
            "workers": n_workers,
            "n_rows": res.n_rows, "n_audited": res.n_audited, "n_solved": res.n_solved,
            "solve_s": res.solve_elapsed, "wall_s": wall,
            "rows_per_s": res.n_solved / res.solve_elapsed,
            "rows_per_s_per_worker": res.n_solved / res.solve_elapsed / n_workers,
            "worker_peak_mb": sorted(peaks.values()),
            "worker_start_mb": sorted(before.values()),
            "driver_peak_mb": _worker_peak_mb(),
            "statuses": counts,
            "report_kb": report.stat().st_size / 1024 if report else None,
            "results_mb": res.files["results"].stat().st_size / 2**20,
        }
    print(f"{n_workers} worker(s): {row['n_solved']} solved in {row['solve_s']:.1f} s "
          f"({row['rows_per_s_per_worker']:.1f}/s/worker), worker peak "
          f"{max(row['worker_peak_mb']):.0f} MB, driver peak {row['driver_peak_mb']:.0f} MB, "
          f"{counts}", flush=True)
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"{meta['title']}; model {meta['model']}; command `{meta['command']}`.", "",
             "| workers | denied applicants solved | solve s | rows/s/worker | peak MB per "
             "worker | coordinator peak MB | report KB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['n_solved']:,} | {r['solve_s']:.1f} | "
                     f"{r['rows_per_s_per_worker']:.1f} | "
                     f"{', '.join(f'{m:.0f}' for m in r['worker_peak_mb'])} | "
                     f"{r['driver_peak_mb']:.0f} | {r['report_kb']:.0f} |")
    if len(rows) == 2:
        lines += ["", f"Speed-up of 2 workers over 1: "
                      f"{rows[0]['solve_s'] / rows[1]['solve_s']:.2f}x (solving time)."]
    m = meta["machine"]
    lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores shared with other work, Python "
                  f"{m['python']}, scikit-learn {m['sklearn']}, highspy {m['highspy']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("full", "synthetic"), required=True)
    ap.add_argument("--model", default=None,
                    help="model kind (default: rf100x6 for full, tree for synthetic)")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--jitter", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    kind = args.model or ("rf100x6" if args.part == "full" else "tree")
    X_tr, _, y_tr, _, schema = train_test("credit_data", seed=0)
    X, _, _ = load("credit_data")
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    if args.part == "full":
        data = X
        title = f"Every credit_data applicant ({len(X):,} rows) the model denies"
    else:
        data = synthetic(X, schema, args.rows, seed=args.seed, jitter=args.jitter)
        title = (f"{args.rows:,} synthetic applicants from credit_data (seed {args.seed}, "
                 f"jitter {args.jitter:g} sd)")
    common = dict(model=model, data=data, schema=schema, target="good", reference=X_tr,
                  time_limit=args.time_limit)
    rows = [run_cluster(k, **common) for k in args.workers]
    meta = {"title": title, "model": kind, "machine": machine(),
            "command": "python benchmarks/portfolio.py " + " ".join(argv or sys.argv[1:])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"portfolio-{args.part}"
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    text = markdown(rows, meta)
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Two versions of the engine, query by query in one run: per-query time ratios.

Each version runs in its own persistent worker process (its own checkout and Python), so
two commits of this repository can be compared on identical instances, alternating A, B,
B, A, ... query by query; the machine's drift then hits both alike, and the per-query
ratio A / B is what to quote (absolute times drift on shared machines).

Usage (from the repository root)::

    python benchmarks/ab.py --a-root . --b-root ../old-checkout \\
        --a-python .venv/bin/python --b-python ../old-checkout/.venv/bin/python \\
        --datasets german,credit_data --models logreg,tree,rf100x6 --n 20

The instances are those of ``benchmarks/run.py`` (bundled data, realistic schema, fixed
seeds, reference rows, target "good", L1). Every answer is compared: a status or cost that
differs between the versions is listed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = r"""
import json, sys, time
import pandas as pd
from recourse import RecourseEngine
from recourse.datasets import make_model, train_test
engine = rows = None
for line in sys.stdin:
    msg = json.loads(line)
    if "setup" in msg:
        s = msg["setup"]
        if s["setting"] == "wide":  # the peers benchmark's wider action sets
            sys.path.insert(0, s["bench_root"])
            from sklearn.model_selection import train_test_split
            from benchmarks.peers import fit_model, wide_setting
            X, y, schema = wide_setting(s["dataset"])
            X_tr, X_te, y_tr, _ = train_test_split(X, y, test_size=0.3, stratify=y,
                                                   random_state=0)
            model = fit_model(s["model"], X_tr, y_tr, schema)
        else:
            X_tr, X_te, y_tr, _, schema = train_test(s["dataset"], seed=0)
            model = make_model(s["model"], X_tr, y_tr, seed=0, schema=schema)
        engine = RecourseEngine(model, schema, reference=X_tr)
        denied = X_te[model.predict(X_te) == "bad"].head(s["n"])
        if len(denied) < s["n"]:
            more = X_tr[model.predict(X_tr) == "bad"].head(s["n"] - len(denied))
            denied = pd.concat([denied, more])
        rows = [denied.iloc[i] for i in range(len(denied))]
        engine.explain(rows[0], target="good", norm=s["norm"], time_limit=s["limit"])
        out = {"n": len(rows)}
    else:
        i = msg["query"]
        t0 = time.perf_counter()
        r = engine.explain(rows[i], target="good", norm=msg["norm"], time_limit=msg["limit"])
        out = {"time": time.perf_counter() - t0, "status": r.status, "cost": r.cost}
    print(json.dumps(out), flush=True)
"""


class Worker:
    def __init__(self, python: str, root: str) -> None:
        self.p = subprocess.Popen([python, "-c", WORKER], cwd=root, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def ask(self, msg: dict) -> dict:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("worker died")
        return json.loads(line)

    def close(self) -> None:
        if self.p.stdin is not None:
            self.p.stdin.close()
        self.p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a-root", default=".")
    ap.add_argument("--b-root", required=True)
    ap.add_argument("--a-python", default=sys.executable)
    ap.add_argument("--b-python", required=True)
    ap.add_argument("--datasets", default="german,credit_data")
    ap.add_argument("--models", default="logreg,tree,rf100x6,mlp32x32,gb100")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--norm", default="l1")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--setting", choices=("bundled", "wide"), default="bundled",
                    help="bundled: benchmarks/run.py's schemas; wide: benchmarks/peers.py's "
                    "wider action sets and models (both versions use A's peers.py)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    a, b = Worker(args.a_python, args.a_root), Worker(args.b_python, args.b_root)
    rows = []
    print("| data | model | n | A median s | B median s | A/B per-query median | p10 | p90 "
          "| answers differ |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for ds in args.datasets.split(","):
            for kind in args.models.split(","):
                setup = {"setup": {"dataset": ds, "model": kind, "n": args.n,
                                   "norm": args.norm, "limit": args.time_limit,
                                   "setting": args.setting,
                                   "bench_root": str(Path(args.a_root).resolve())}}
                n = min(a.ask(setup)["n"], b.ask(setup)["n"])
                ta, tb, differ = [], [], []
                sa, sb = [], []
                for i in range(n):
                    q = {"query": i, "norm": args.norm, "limit": args.time_limit}
                    first, second = (a, b) if i % 2 == 0 else (b, a)
                    r1, r2 = first.ask(q), second.ask(q)
                    ra, rb = (r1, r2) if first is a else (r2, r1)
                    ta.append(ra["time"])
                    tb.append(rb["time"])
                    sa.append(ra["status"])
                    sb.append(rb["status"])
                    same_cost = (ra["cost"] is None) == (rb["cost"] is None) and (
                        ra["cost"] is None
                        or abs(ra["cost"] - rb["cost"]) <= 1e-6 * max(1.0, abs(rb["cost"])))
                    if ra["status"] != rb["status"] or not same_cost:
                        differ.append((i, ra["status"], ra["cost"], rb["status"], rb["cost"]))
                ratio = np.array(ta) / np.array(tb)
                row = {"dataset": ds, "model": kind, "n": n,
                       "a_median": float(np.median(ta)), "b_median": float(np.median(tb)),
                       "ratio_median": float(np.median(ratio)),
                       "ratio_p10": float(np.percentile(ratio, 10)),
                       "ratio_p90": float(np.percentile(ratio, 90)), "differ": differ,
                       "a_total": float(np.sum(ta)), "b_total": float(np.sum(tb)),
                       "a_times": ta, "b_times": tb,
                       "a_status": sa, "b_status": sb}
                rows.append(row)
                print(f"| {ds} | {kind} | {n} | {row['a_median']:.4f} | {row['b_median']:.4f} "
                      f"| {row['ratio_median']:.3f} | {row['ratio_p10']:.3f} | "
                      f"{row['ratio_p90']:.3f} | {len(differ)} |", flush=True)
    finally:
        a.close()
        b.close()
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()

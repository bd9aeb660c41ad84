"""Benchmark: what data support costs (issue 8, item 1b).

Usage (from the repository root, inside the project's environment; serialise heavy runs
with ``flock LOCKFILE python benchmarks/support.py``)::

    python benchmarks/support.py                          # German and credit_data, 20 each
    python benchmarks/support.py --datasets german --n 5 --ks 1
    python benchmarks/support.py --radius 1.0 --metric linf
    python benchmarks/support.py --anchors 30,0   # decomposition on / off, same run

The model (``--model``, default RandomForest 100x6) is trained on the stratified 70 %
split (seed 0) with the data set's schema; the support rows are the training rows the
model approves (``DataSupport.from_model``, scales: MAD of the training data); the
applicants are the first ``--n`` test rows the model denies (target "good"). Each one is
explained without support and with support for every ``k`` in ``--ks`` (engines built
once; ``price_options=False`` so each time is one constrained query).

Reported per variant: answers verified / proven optimal, no recourse, how many answers
cost more than the plain one, the median cost and the median cost ratio against the plain
answer, median / p90 / max seconds, and the median numbers of support candidates that
survive the reachability pruning and the cost cut. Results go to
``benchmarks/results/support.json`` and ``support.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine  # noqa: E402

import recourse.engine.options.support as support_mod  # noqa: E402
from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402
from recourse.support import DataSupport  # noqa: E402


def _median(v: list[float]) -> float | None:
    return float(np.median(v)) if v else None


def bench(dataset: str, kind: str, n: int, ks: list[int], radius: float, metric: str,
          time_limit: float, anchors: list[int] | None = None) -> dict[str, Any]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    engines: dict[str, RecourseEngine] = {
        "plain": RecourseEngine(model, schema, reference=X_tr)}
    n_rows = 0
    for k in ks:
        sup = DataSupport.from_model(X_tr, model, schema, target="good", k=k,
                                     radius=radius, metric=metric)
        n_rows = len(sup.rows)
        eng = RecourseEngine(model, schema, reference=X_tr, support=sup,
                             price_options=False)
        for m in anchors or [None]:
            engines[f"k={k}" + ("" if m is None else f", anchors<={m}")] = eng
    denied = X_te[model.predict(X_te) != "good"].head(n)
    runs: dict[str, list[tuple[Any, float]]] = {name: [] for name in engines}
    for _, row in denied.iterrows():
        for name, eng in engines.items():
            if ", anchors<=" in name:  # the decomposition's cap (0: off), same engine
                support_mod.MAX_ANCHORS = int(name.rsplit("<=", 1)[1])
            t0 = time.perf_counter()
            res = eng.explain(row, target="good", time_limit=time_limit)
            runs[name].append((res, time.perf_counter() - t0))
    out: dict[str, Any] = {"dataset": dataset, "model": kind, "n": len(denied),
                           "radius": radius, "metric": metric, "support_rows": n_rows,
                           "variants": {}}
    base = runs["plain"]
    for name, rs in runs.items():
        t = np.array([s for _, s in rs])
        both = [(r, b) for (r, _), (b, _) in zip(rs, base) if r.has_recourse and b.has_recourse]
        out["variants"][name] = {
            "verified": sum(r.verified for r, _ in rs if r.has_recourse),
            "optimal": sum(r.status == "optimal" for r, _ in rs),
            "no_recourse": sum(r.status == "no_recourse" for r, _ in rs),
            "other": sorted({r.status for r, _ in rs} - {"optimal", "no_recourse"}),
            "dearer": sum(r.cost > b.cost + 1e-9 for r, b in both),
            "median_cost": _median([r.cost for r, _ in rs if r.has_recourse]),
            "median_cost_ratio": _median([r.cost / b.cost for r, b in both if b.cost]),
            "median_s": float(np.median(t)), "p90_s": float(np.percentile(t, 90)),
            "max_s": float(t.max()),
            "median_reachable": _median([r.stats.problem["support_reachable"] for r, _ in rs
                                         if "support_reachable" in r.stats.problem]),
            "median_kept": _median([r.stats.problem["support_kept"] for r, _ in rs
                                    if "support_kept" in r.stats.problem]),
        }
    return out


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="german,credit_data")
    p.add_argument("--model", default="rf100x6")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--ks", default="1,5")
    p.add_argument("--radius", type=float, default=1.0)
    p.add_argument("--metric", default="linf", choices=["linf", "l1"])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--anchors", default="",
                   help="compare caps of the anchor decomposition, e.g. 30,0 (0: off)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    caps = [int(a) for a in args.anchors.split(",")] if args.anchors else None
    results = [bench(ds, args.model, args.n, ks, args.radius, args.metric, args.time_limit,
                     caps) for ds in args.datasets.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "support" if caps is None else "support_anchors"
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"machine": machine(), "results": results}, indent=2))
    lines = []
    for r in results:
        lines += [f"{r['dataset']}, {r['model']}, {r['n']} denied test applicants; support: "
                  f"{r['support_rows']} approved training rows, radius {r['radius']} "
                  f"({r['metric']}, MAD-scaled)", "",
                  "| variant | optimal | no recourse | dearer | median cost | median cost "
                  "ratio | median s | p90 s | max s | candidates reachable / kept |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, v in r["variants"].items():
            cand = (f"{_fmt(v['median_reachable'], '.0f')} / {_fmt(v['median_kept'], '.0f')}"
                    if v["median_reachable"] is not None else "-")
            lines.append(
                f"| {name} | {v['optimal']} | {v['no_recourse']} | {v['dearer']} "
                f"| {_fmt(v['median_cost'])} | {_fmt(v['median_cost_ratio'])} "
                f"| {v['median_s']:.3f} | {v['p90_s']:.3f} | {v['max_s']:.3f} | {cand} |")
        lines.append("")
    (args.out / f"{stem}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

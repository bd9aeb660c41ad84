"""Benchmark: recourse valid under a set of mixed models (issue 8, 2c) against each alone.

Usage (from the repository root, inside the project's environment; run nothing else
heavy at the same time; ``flock LOCKFILE python benchmarks/stack.py`` serialises runs)::

    python benchmarks/stack.py                          # German: logreg + rf100x6 + mlp32x32
    python benchmarks/stack.py --models logreg,gb100 --n 10
    python benchmarks/stack.py --plausible              # also PlausibleModel(logreg, iforest)
    python benchmarks/stack.py --quick                  # 5 applicants

Every model is ``recourse.datasets.make_model(kind, seed=0)`` on the stratified 70 %
split (seed 0) with the data set's schema; the applicants are the first ``--n`` test rows
the ModelSet does not approve (some model denies them; target "good"). Per applicant the
set is solved as one problem (``recourse.solvers.stack``) and each model alone by its own engine
(all with ``reference`` = the training rows); every answer is verified by the models'
own ``predict``. Times are each query's own (``total_time``); the set's and the
PlausibleModel's engines then also solve each model alone to report
``stats.cost_without``: the wall time with that is "wall s". Reported: verified /
proven optimal, median and p90 seconds, median cost; the median ratio set cost / model
cost over the applicants both answer with a positive model cost; how often the set costs
more than every model alone. Results go to ``benchmarks/results/stack.json`` and
``stack.md``.
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

from recourse import ModelSet, PlausibleModel, RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402
from recourse.loading import fit_isolation_forest  # noqa: E402


def _summary(rs: list[tuple[Any, float]]) -> dict[str, Any]:
    t = np.array([s for _, s in rs])
    costs = [r.cost for r, _ in rs if r.has_recourse]
    return {"n": len(rs), "verified": sum(bool(r.verified) for r, _ in rs),
            "optimal": sum(r.status in ("optimal", "already_target") for r, _ in rs),
            "already": sum(r.status == "already_target" for r, _ in rs),
            "no_recourse": sum(r.status == "no_recourse" for r, _ in rs),
            "median_s": float(np.median(t)), "p90_s": float(np.percentile(t, 90)),
            "max_s": float(t.max()),
            "median_cost": float(np.median(costs)) if costs else None}


def bench(dataset: str, kinds: list[str], n: int, time_limit: float,
          plausible: bool, iso_trees: int) -> dict[str, Any]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    models = [make_model(k, X_tr, y_tr, seed=0, schema=schema) for k in kinds]
    ms = ModelSet(models)
    engines = {"set": RecourseEngine(ms, schema, reference=X_tr)}
    engines.update({k: RecourseEngine(m, schema, reference=X_tr) for k, m in zip(kinds, models)})
    if plausible:
        iso = fit_isolation_forest(models[0], X_tr, n_estimators=iso_trees)
        engines[f"plausible({kinds[0]})"] = RecourseEngine(PlausibleModel(models[0], iso),
                                                            schema, reference=X_tr)
    denied = X_te[ms.predict(X_te) != "good"].head(n)
    runs: dict[str, list[tuple[Any, float]]] = {k: [] for k in engines}
    wall: dict[str, list[float]] = {k: [] for k in engines}
    for _, row in denied.iterrows():
        for name, eng in engines.items():
            t0 = time.perf_counter()
            res = eng.explain(row, target="good", time_limit=time_limit)
            wall[name].append(time.perf_counter() - t0)
            runs[name].append((res, res.total_time))
    out: dict[str, Any] = {"dataset": dataset, "models": kinds, "n": len(denied),
                           "time_limit": time_limit, "variants": {}}
    for name, rs in runs.items():
        out["variants"][name] = dict(_summary(rs),
                                     median_wall_s=float(np.median(wall[name])))
    ratios: dict[str, float | None] = {}
    for k in kinds:
        r = [s.cost / a.cost for (s, _), (a, _) in zip(runs["set"], runs[k])
             if s.has_recourse and a.has_recourse and a.cost > 0]
        ratios[k] = float(np.median(r)) if r else None
    out["median_cost_ratio_set_over"] = ratios
    out["set_dearer_than_every_model"] = sum(
        s.has_recourse and all(runs[k][i][0].has_recourse
                               and s.cost > runs[k][i][0].cost + 1e-9 for k in kinds)
        for i, (s, _) in enumerate(runs["set"]))
    out["set_binaries_median"] = float(np.median(
        [r.stats.problem.get("stack_binaries", 0) for r, _ in runs["set"]]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="german")
    p.add_argument("--models", default="logreg,rf100x6,mlp32x32")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--plausible", action="store_true")
    p.add_argument("--iso-trees", type=int, default=50)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    r = bench(args.dataset, args.models.split(","), 5 if args.quick else args.n,
              args.time_limit, args.plausible, args.iso_trees)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stack.json").write_text(json.dumps({"machine": machine(), "result": r},
                                                    indent=2))
    lines = [f"{r['dataset']}, ModelSet({' + '.join(r['models'])}), {r['n']} applicants the "
             f"set does not approve, time limit {r['time_limit']} s", "",
             "| variant | verified | optimal (already approved) | no recourse | median cost "
             "| median s | p90 s | max s | median wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, o in r["variants"].items():
        mc = "-" if o["median_cost"] is None else format(o["median_cost"], ".3f")
        lines.append(f"| {name} | {o['verified']}/{o['n']} | {o['optimal']} "
                     f"({o['already']}) | "
                     f"{o['no_recourse']} | {mc} | {o['median_s']:.3f} | {o['p90_s']:.3f} "
                     f"| {o['max_s']:.3f} | {o['median_wall_s']:.3f} |")
    ratios = ", ".join(f"{k}: {'-' if v is None else format(v, '.2f')}"
                       for k, v in r["median_cost_ratio_set_over"].items())
    lines += ["", f"median cost ratio set / model alone: {ratios}",
              f"set dearer than every model alone: {r['set_dearer_than_every_model']} of "
              f"{r['n']}; median ReLU binaries in the set's problem: "
              f"{r['set_binaries_median']:g}"]
    (args.out / "stack.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

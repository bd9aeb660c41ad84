"""Benchmark: causal recourse (interventions) against independent-feature recourse.

Usage (from the repository root, inside the project's environment)::

    python benchmarks/causal.py                    # the README figures
    python benchmarks/causal.py --quick            # 5 applicants, logreg and tree only
    python benchmarks/causal.py --datasets credit_data --models rf100x6 --n 20

For each data set and model it explains the first ``n`` denied test applicants twice —
independent features, and interventions on the data set's example causal graph
(``recourse.datasets.graphs``) — with the same schema and the MAD-weighted L1 cost, and
writes ``benchmarks/results/causal.json`` and ``causal.md``: median / p90 / max time of the
causal query, % proven optimal and verified, how often the answers differ in cost, how
often the independent answer breaks a structural equation (a graph node left unchanged
although its causes moved), and the median cost ratio causal / independent. Run nothing
else heavy at the same time (wrap it in ``flock``): the times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine  # noqa: E402

from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402
from recourse.datasets.graphs import example_causal_model  # noqa: E402


def bench(dataset: str, kind: str, n: int, time_limit: float) -> dict[str, object]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    cm = example_causal_model(dataset)
    plain = RecourseEngine(model, schema, reference=X_tr)
    causal = RecourseEngine(model, schema, reference=X_tr, causal=cm)
    denied = X_te[model.predict(X_te) != "good"].head(n)
    t_plain, t_causal, opt, ver, differ, broken, ratio = [], [], 0, 0, 0, 0, []
    for _, row in denied.iterrows():
        t0 = time.perf_counter()
        a = plain.explain(row, target="good", time_limit=time_limit)
        t_plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = causal.explain(row, target="good", time_limit=time_limit)
        t_causal.append(time.perf_counter() - t0)
        opt += b.status == "optimal"
        ver += b.verified
        if a.has_recourse and b.has_recourse and a.counterfactual is not None:
            moved = [c.feature for c in a.changes if c.feature in cm.graph]
            broken += bool(cm.violations(schema, a.factual, a.counterfactual, moved))
            differ += abs((a.cost or 0.0) - (b.cost or 0.0)) > 1e-6
            if a.cost:
                ratio.append((b.cost or 0.0) / a.cost)
    m = len(denied)
    tc = np.array(t_causal)
    return {
        "dataset": dataset, "model": kind, "n": m,
        "independent_median_s": float(np.median(t_plain)),
        "causal_median_s": float(np.median(tc)), "causal_p90_s": float(np.quantile(tc, 0.9)),
        "causal_max_s": float(tc.max()),
        "proven_optimal_pct": 100.0 * opt / m, "verified_pct": 100.0 * ver / m,
        "cost_differs_pct": 100.0 * differ / m,
        "independent_breaks_equations_pct": 100.0 * broken / m,
        "median_cost_ratio": float(np.median(ratio)) if ratio else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="german,credit_data")
    p.add_argument("--models", default="logreg,tree,rf100x6")
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    models = "logreg,tree" if args.quick else args.models
    n = 5 if args.quick else args.n
    rows = [bench(d, k, n, args.time_limit) for d in args.datasets.split(",")
            for k in models.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "causal.json").write_text(json.dumps({"machine": machine(), "rows": rows},
                                                     indent=2))
    head = ("| data set | model | n | independent median s | causal median s | p90 s | max s "
            "| optimal % | verified % | cost differs % | independent breaks eqs % "
            "| median cost ratio |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        ratio = r["median_cost_ratio"]
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['n']} | {r['independent_median_s']:.3f} "
            f"| {r['causal_median_s']:.3f} | {r['causal_p90_s']:.3f} | {r['causal_max_s']:.3f} "
            f"| {r['proven_optimal_pct']:.0f} | {r['verified_pct']:.0f} "
            f"| {r['cost_differs_pct']:.0f} | {r['independent_breaks_equations_pct']:.0f} "
            f"| {'-' if ratio is None else format(ratio, '.3f')} |")
    (args.out / "causal.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Time of ``explain(..., why=True)`` on applicants without recourse (bundled credit_data).

The action set is the bundled schema made strict (income, seniority, expenses, job and
home immutable; assets decrease-only; loan term at least 24 months), the model the
bundled decision tree (``make_model("tree", ...)``), the reference rows the training
split (so bounds relax up to the observed range). For each test applicant the engine
finds no recourse for (the first ``--n``), ``explain`` and ``explain(why=True)`` alternate
query by query; the script prints medians and the per-query ratio.

Run: ``python benchmarks/preclusion_time.py --n 20``
"""

from __future__ import annotations

import argparse
import statistics
import time

from recourse import RecourseEngine
from recourse.datasets import make_model, train_test


def strict_schema(schema):
    for name in ("Income", "Seniority", "Expenses", "Job", "Home"):
        schema = schema.replace(name, immutable=True, direction="any")
    return schema.replace("Assets", direction="decrease").replace("Time", lower=24.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    X_train, X_test, y_train, _, schema = train_test("credit_data")
    schema = strict_schema(schema)
    model = make_model("tree", X_train, y_train, schema=schema)
    eng = RecourseEngine(model, schema, reference=X_train)
    plain, why, ratio, sets, complete = [], [], [], [], 0
    for i in range(len(X_test)):
        row = X_test.iloc[i]
        t0 = time.perf_counter()
        res = eng.explain(row, time_limit=60)
        t1 = time.perf_counter()
        if res.status != "no_recourse":
            continue
        r2 = eng.explain(row, time_limit=60, why=True)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        why.append(t2 - t1)
        ratio.append((t2 - t1) / (t1 - t0))
        sets.append(len(r2.preclusion.sets))
        complete += r2.preclusion.complete
        if len(plain) == args.n:
            break
    print(f"applicants without recourse: {len(plain)}")
    print(f"median explain: {statistics.median(plain):.3f} s; median explain(why=True): "
          f"{statistics.median(why):.3f} s; median per-query ratio {statistics.median(ratio):.0f}x")
    print(f"minimal sets per applicant: median {statistics.median(sets)}, max {max(sets)}; "
          f"enumeration complete for {complete}/{len(plain)}")


if __name__ == "__main__":
    main()

"""Benchmark: k distinct recourse options and letters, per model.

Usage (from the repository root, inside the project's environment)::

    python benchmarks/letters.py                          # German + credit_data, 20 each
    python benchmarks/letters.py --datasets german --models tree --n 5 --k 3

For each data set and model (fixed seeds, the bundled realistic schemas, stratified
70/30 split) it asks :meth:`RecourseEngine.options` for ``k`` distinct options for the
first ``n`` denied test applicants (target "good", MAD-weighted L1), checks every option
with the model's own ``predict`` and that no option's change set contains an earlier
one's, then renders each letter in Markdown and HTML (and PDF with ``--pdf``). Prints a
Markdown table: time per applicant for all k options (median / p90 / max), options found,
why the search stopped, % proven optimal, render times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import machine  # noqa: E402
from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402
from recourse.letters import render_letter, write_letter  # noqa: E402


def run_one(dataset: str, kind: str, n: int, k: int, pdf: bool) -> dict[str, object]:
    X_train, X_test, y_train, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_train, y_train, seed=0, schema=schema)
    engine = RecourseEngine(model, schema, reference=X_train)
    denied = X_test[model.predict(X_test) == "bad"].head(n)
    times, render, pdf_t, counts, proven, total = [], [], [], [], 0, 0
    stops: Counter[str] = Counter()
    for idx, row in denied.iterrows():
        t = time.perf_counter()
        opts = engine.options(row, k=k, target="good")
        times.append(time.perf_counter() - t)
        sets: list[frozenset[str]] = []
        for res in opts:
            cf = schema.row_frame(res.counterfactual)
            assert model.predict(cf)[0] == "good", (dataset, kind, idx)
            s = frozenset(c.feature for c in res.changes)
            assert not any(p <= s for p in sets), (dataset, kind, idx, sets, s)
            sets.append(s)
            proven += bool(res.optimal)
            total += 1
        counts.append(len(opts))
        stops[opts.stopped] += 1
        t = time.perf_counter()
        render_letter(opts, schema, applicant_id=str(idx), model=model)
        render_letter(opts, schema, format="html", applicant_id=str(idx), model=model)
        render.append((time.perf_counter() - t) / 2)
        if pdf:
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                write_letter(opts, Path(d) / "l.pdf", schema, applicant_id=str(idx),
                             model=model)
                pdf_t.append(time.perf_counter() - t)
    a = np.array(times)
    return {
        "dataset": dataset, "model": kind, "n": len(times), "k": k,
        "median": float(np.median(a)), "p90": float(np.quantile(a, 0.9)), "max": float(a.max()),
        "options": float(np.mean(counts)), "stops": dict(stops),
        "proven": proven / max(1, total), "render": float(np.median(render)),
        "pdf": float(np.median(pdf_t)) if pdf_t else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="german,credit_data")
    ap.add_argument("--models", default="logreg,tree,rf100x6")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--pdf", action="store_true", help="also time PDF letters (WeasyPrint)")
    args = ap.parse_args(argv)
    rows = [run_one(d, m, args.n, args.k, args.pdf)
            for d in args.datasets.split(",") for m in args.models.split(",")]
    print("| data | model | n | k | median s | p90 s | max s | mean options | stopped | "
          "proven optimal | render ms (md/html) | PDF ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        stops = ", ".join(f"{k} {v}" for k, v in sorted(r["stops"].items()))  # type: ignore[attr-defined]
        pdf = "–" if r["pdf"] is None else f"{1000 * r['pdf']:.0f}"  # noqa: RUF001
        print(f"| {r['dataset']} | {r['model']} | {r['n']} | {r['k']} | {r['median']:.3f} | "
              f"{r['p90']:.3f} | {r['max']:.3f} | {r['options']:.2f} | {stops} | "
              f"{100 * r['proven']:.0f} % | {1000 * r['render']:.0f} | {pdf} |")
    m = machine()
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
          f"scikit-learn {m['sklearn']}, highspy {m.get('highspy', '')}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

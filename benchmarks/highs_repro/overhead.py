"""Cost of certification, measured in one run: the same queries under each arm, alternating.

Arms (module flags of ``recourse.solvers.highs`` and ``recourse.solvers.search``):

``on``        HiGHS with presolve (``presolve_rule_off`` bits 13, 15), every claim trusted:
              the engine before certification;
``off``       HiGHS without presolve, its claims trusted (the default now);
``on+check``  HiGHS with presolve, every claim confirmed by HiGHS without presolve.

Usage (from the repository root)::

    python benchmarks/highs_repro/overhead.py --n 10 --time-limit 10
    python benchmarks/highs_repro/overhead.py --datasets credit_data --models rf100x6 --n 8

For each data set and model of ``benchmarks/run.py`` it explains the first ``n`` denied
test applicants under every arm, rotating the order per query, and prints per arm the
median time, the median of the per-query time ratios against ``on``, statuses, cost
disagreements and the certificates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

import recourse.explain as explain  # noqa: E402
import recourse.solvers.highs as highs  # noqa: E402
import recourse.solvers.search as search  # noqa: E402
from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402

ARMS = {"on": ("on", "off"), "off": ("off", "untrusted"), "on+check": ("on", "untrusted")}
_seen: list[dict] = []
_orig = search.solve_phase


def _spy(*a, **k):  # records each phase's certificate
    out = _orig(*a, **k)
    _seen.append({"by": out.get("certified_by"), "dis": "certificate_disagreement" in out,
                  "ct": out.get("certify_time", 0.0)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="german,credit_data")
    ap.add_argument("--models", default="logreg,tree,rf100x6,rf300x8,mlp32x32,gb100,hgb100")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--arms", default="on,off,on+check")
    args = ap.parse_args(argv)
    explain.solve_phase = _spy
    arms = args.arms.split(",")
    allt: dict[str, list[float]] = {a: [] for a in arms}
    for ds in args.datasets.split(","):
        X_tr, X_te, y_tr, _, schema = train_test(ds, seed=0)
        for kind in args.models.split(","):
            model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
            engine = RecourseEngine(model, schema, reference=X_tr)
            denied = X_te[model.predict(X_te) == "bad"].head(args.n)
            t = {a: [] for a in arms}
            st = {a: [] for a in arms}
            cost = {a: [] for a in arms}
            cert = {a: [] for a in arms}
            for i in range(len(denied)):
                order = arms[i % len(arms):] + arms[: i % len(arms)]
                for a in order:
                    highs.PRESOLVE, search.CERTIFY = ARMS[a]
                    _seen.clear()
                    r = engine.explain(denied.iloc[i], target="good",
                                       time_limit=args.time_limit)
                    t[a].append(r.total_time)
                    st[a].append(r.status)
                    cost[a].append(r.cost)
                    cert[a].append("+".join(str(s["by"]) for s in _seen)
                                   + ("!" if any(s["dis"] for s in _seen) else ""))
            base = np.array(t[arms[0]])
            for a in arms:
                ta = np.array(t[a])
                allt[a].extend(ta)
                diff = sum(1 for x, y in zip(cost[a], cost[arms[0]])
                           if (x is None) != (y is None)
                           or (x is not None and y is not None and abs(x - y) > 1e-6))
                certs = {c: cert[a].count(c) for c in sorted(set(cert[a]))}
                print(f"{ds:11s} {kind:8s} {a:9s} median {np.median(ta):.4f}s "
                      f"ratio-vs-{arms[0]} {np.median(ta / base):.3f} "
                      f"sum {ta.sum():.2f}s max {ta.max():.2f}s "
                      f"optimal {st[a].count('optimal')}/{len(ta)} "
                      f"cost-differs {diff} {certs}", flush=True)
    for a in arms:
        ta, base = np.array(allt[a]), np.array(allt[arms[0]])
        print(f"ALL {a:9s} median {np.median(ta):.4f}s median-ratio "
              f"{np.median(ta / base):.3f} sum {ta.sum():.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

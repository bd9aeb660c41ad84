"""Benchmark: what believable and robust recourse costs (issue 8).

Usage (from the repository root, inside the project's environment; run nothing else
heavy at the same time; ``flock LOCKFILE python benchmarks/robust.py`` serialises runs)::

    python benchmarks/robust.py                       # German credit, RF 100x6, 20 applicants
    python benchmarks/robust.py --model tree --n 40
    python benchmarks/robust.py --quick               # 5 applicants
    python benchmarks/robust.py --dataset credit_data --n 10

The model is trained on the stratified 70 % split (seed 0) with the data set's schema;
the applicants are the first ``--n`` test rows the model denies (target "good"). For
each one it solves the plain problem and, separately, each option:

* ``margin``: ``explain(min_margin=--margin)`` (probability units for forests);
* ``models``: a ``ModelSet`` of the model and two copies retrained with seeds 1 and 2;
* ``plausible``: a ``PlausibleModel`` with an IsolationForest (``--iso-trees`` trees,
  256 samples, the same preprocessing) at its own inlier threshold ``offset_``;
* ``seen``: the seen-together rule (``SeenTogether.fit`` on the training split): no
  pair of category levels that no training row holds;
* ``box``: ``certified_box`` around the plain answer (time, faces set by the model).

Reported per option: how many answers (verified) and proven optimal, the median cost
ratio option / plain over applicants where both have recourse, how many lose recourse
(no_recourse under the option only), how many answers cost more than the plain one,
median and max seconds; the isolation-forest ``score_samples`` of the plain answers
(share that the forest calls outliers) and how many plain answers hold a category pair
absent from the training data. Results go to ``benchmarks/results/robust.json`` (one
entry per data set, model and n; a run replaces its own entry) and ``robust.md`` (a
table per entry).
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

from recourse import ModelSet, PlausibleModel, RecourseEngine, SeenTogether  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402
from recourse.loading import fit_isolation_forest  # noqa: E402
from recourse.robust import certified_box, plausibility_score  # noqa: E402


def bench(dataset: str, kind: str, n: int, margin: float, iso_trees: int,
          time_limit: float) -> dict[str, Any]:
    X_tr, X_te, y_tr, _, schema = train_test(dataset, seed=0)
    model = make_model(kind, X_tr, y_tr, seed=0, schema=schema)
    others = [make_model(kind, X_tr, y_tr, seed=s, schema=schema) for s in (1, 2)]
    iso = fit_isolation_forest(model, X_tr, n_estimators=iso_trees)
    rule = SeenTogether.fit(X_tr, schema)
    engines = {
        "plain": RecourseEngine(model, schema, reference=X_tr),
        "models": RecourseEngine(ModelSet([model, *others]), schema, reference=X_tr),
        "plausible": RecourseEngine(PlausibleModel(model, iso), schema, reference=X_tr),
        # price_options=False: the time of the constrained solve alone (the plain
        # answer it is compared with is solved above)
        "seen": RecourseEngine(model, schema, reference=X_tr, seen_together=rule,
                               price_options=False),
    }
    denied = X_te[model.predict(X_te) != "good"].head(n)
    runs: dict[str, list[Any]] = {k: [] for k in ("plain", "margin", "models", "plausible",
                                                  "seen")}
    box_t, box_faces, box_ranges, plain_scores = [], [], [], []
    plain_unseen = 0
    for _, row in denied.iterrows():
        for name in runs:
            eng = engines["plain" if name == "margin" else name]
            t0 = time.perf_counter()
            res = eng.explain(row, target="good", time_limit=time_limit,
                              min_margin=margin if name == "margin" else None)
            runs[name].append((res, time.perf_counter() - t0))
        plain = runs["plain"][-1][0]
        if plain.has_recourse and plain.counterfactual is not None:
            plain_scores.append(plausibility_score(iso, engines["plain"], plain))
            own = set(rule.pairs_in(plain.factual))
            plain_unseen += any(p not in own for p in rule.pairs_in(plain.counterfactual))
            box = certified_box(engines["plain"], plain)
            box_t.append(box.time)
            box_faces.append(sum(r == "model" for r in box.faces.values()))
            box_ranges.append(sum(lo < hi for lo, hi in box.bounds.values()))
    out: dict[str, Any] = {"dataset": dataset, "model": kind, "n": len(denied),
                           "margin": margin, "iso_trees": iso_trees, "options": {}}
    base = runs["plain"]
    for name, rs in runs.items():
        t = np.array([s for _, s in rs])
        ratio = [r.cost / b.cost for (r, _), (b, _) in zip(rs, base)
                 if r.has_recourse and b.has_recourse and b.cost]
        lost = sum(b.has_recourse and r.status == "no_recourse"
                   for (r, _), (b, _) in zip(rs, base))
        out["options"][name] = {
            "verified": sum(r.verified for r, _ in rs),
            "optimal": sum(r.status == "optimal" for r, _ in rs),
            "lost_recourse": lost,
            "dearer": sum(r.has_recourse and b.has_recourse and r.cost > b.cost + 1e-9
                          for (r, _), (b, _) in zip(rs, base)),
            "median_cost_ratio": float(np.median(ratio)) if ratio else None,
            "median_s": float(np.median(t)), "max_s": float(t.max()),
        }
    offset = float(iso.named_steps["iso"].offset_)
    out["plain_answers_outliers"] = int(sum(s < offset for s in plain_scores))
    out["plain_answers_scored"] = len(plain_scores)
    out["plain_answers_unseen_pairs"] = int(plain_unseen)
    out["unseen_pairs_in_rule"] = len(rule.unseen)
    out["box"] = {"median_s": float(np.median(box_t)) if box_t else None,
                  "max_s": float(np.max(box_t)) if box_t else None,
                  "median_model_faces": float(np.median(box_faces)) if box_faces else None,
                  "median_features_with_range": float(np.median(box_ranges))
                  if box_ranges else None}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="german")
    p.add_argument("--model", default="rf100x6")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--margin", type=float, default=0.1)
    p.add_argument("--iso-trees", type=int, default=50)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    r = bench(args.dataset, args.model, 5 if args.quick else args.n, args.margin,
              args.iso_trees, args.time_limit)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "robust.json"
    runs = {}
    if store.is_file():
        old = json.loads(store.read_text())
        runs = old.get("runs", {}) if isinstance(old, dict) else {}
    r["machine"] = machine()
    runs[f"{r['dataset']}/{r['model']}/n={r['n']}"] = r
    store.write_text(json.dumps({"runs": runs}, indent=2))
    text = "\n\n".join(_table(x) for _, x in sorted(runs.items()))
    (args.out / "robust.md").write_text(
        "# Believable and robust recourse: cost of each option\n\n"
        "`python benchmarks/robust.py [--dataset D] [--model M] [--n N]`; ratios are "
        "option / plain over applicants where both have recourse.\n\n" + text + "\n")
    print(_table(r))


def _table(r: dict[str, Any]) -> str:
    """The Markdown table of one run."""
    lines = [f"## {r['dataset']}, {r['model']}, {r['n']} denied test applicants", "",
             f"min_margin {r['margin']}, isolation forest {r['iso_trees']} trees; "
             f"machine: {r.get('machine', {}).get('cpu', '?')}", "",
             "| option | verified | optimal | lost recourse | dearer | median cost ratio "
             "| median s | max s |", "|---|---|---|---|---|---|---|---|"]
    for name, o in r["options"].items():
        ratio = o["median_cost_ratio"]
        lines.append(f"| {name} | {o['verified']} | {o['optimal']} | {o['lost_recourse']} "
                     f"| {o['dearer']} "
                     f"| {'-' if ratio is None else format(ratio, '.3f')} "
                     f"| {o['median_s']:.3f} | {o['max_s']:.3f} |")
    b = r["box"]
    lines += ["", f"plain answers the isolation forest calls outliers: "
              f"{r['plain_answers_outliers']} of {r['plain_answers_scored']}",
              f"plain answers holding a category pair no training row holds: "
              f"{r.get('plain_answers_unseen_pairs', '-')} of {r['plain_answers_scored']} "
              f"(the rule forbids {r.get('unseen_pairs_in_rule', '-')} pairs)",
              f"certified box around the plain answer: median {b['median_s']} s, max "
              f"{b['max_s']} s; median {b['median_features_with_range']} features with a "
              f"range, {b['median_model_faces']} faces set by the model"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

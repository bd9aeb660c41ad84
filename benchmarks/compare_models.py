"""The figures of the README's "What a new model changes" and "Who carries the burden"
sections, reproducible in one run.

Usage (from the repository root)::

    python benchmarks/compare_models.py --out compare_run [--jobs 2]

It trains, on the bundled German credit training split (seed 0), the reference forest
(``rf100x6``, seed 0), the same forest retrained with seed 1 and a logistic regression,
writes them as ``.skops`` files, runs :func:`recourse.audit.compare.compare` of the forest
against each (every test applicant, protected attribute ``personal_status_and_sex``, the
gates ``precluded_increase>0.01`` and ``median_cost_ratio>1.2``), then audits a logistic
regression on the bundled credit_data test split with the fairness figures by ``Marital``
and its intersection with ``Home``. The models and schemas are left in ``--out`` for the
README's ``recourse compare`` and ``recourse audit`` commands. Each comparison's A audit
is the same audit (same model file, same data): the second comparison starts from a copy
of the first one's ``model_a/`` and resumes it (nothing is solved again).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def main() -> None:
    from recourse.audit import audit
    from recourse.audit.compare import compare
    from recourse.datasets import make_model, train_test
    from recourse.io import save_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    files = {}
    for name, kind, seed in (("forest", "rf100x6", 0), ("forest_seed1", "rf100x6", 1),
                             ("logreg", "logreg", 0)):
        files[name] = save_model(make_model(kind, X_train, y_train, seed, schema=schema),
                                 out / f"{name}.skops")
    schema.to_yaml(out / "schema.yaml")
    gates = ["precluded_increase>0.01", "median_cost_ratio>1.2"]
    for other in ("forest_seed1", "logreg"):
        target = out / f"compare_{other}"
        if other == "logreg" and (out / "compare_forest_seed1" / "model_a").is_dir() \
                and not target.exists():
            target.mkdir()
            shutil.copytree(out / "compare_forest_seed1" / "model_a", target / "model_a")
        t = time.perf_counter()
        res = compare(files["forest"], files[other], X_test, schema, target, target="good",
                      reference=X_train, protected="personal_status_and_sex",
                      fail_if=gates, n_jobs=args.jobs)
        o = res.summary["overall"]
        print(json.dumps({
            "compare": f"forest vs {other}", "seconds": round(time.perf_counter() - t, 1),
            "solved_a": res.audit_a.n_solved, "solved_b": res.audit_b.n_solved,
            "applicants": o["n"], "denied_a": o["n_denied_a"], "denied_b": o["n_denied_b"],
            "counts": o["counts"], "median_cost_a": o["median_cost_a"],
            "median_cost_b": o["median_cost_b"], "median_cost_ratio": o["median_cost_ratio"],
            "cost_change": o["cost_change"], "passed": res.passed,
            "gates": [(g["expression"], g["failed"], g["reason"])
                      for g in res.summary["gates"]]}, default=str))
    Xc_train, Xc_test, yc_train, _, cschema = train_test("credit_data", seed=0)
    model = make_model("logreg", Xc_train, yc_train, 0, schema=cschema)
    save_model(model, out / "credit_logreg.skops")
    cschema.to_yaml(out / "credit_schema.yaml")
    res = audit(model, Xc_test, cschema, out / "audit_credit_data", target="good",
                reference=Xc_train, protected="Marital", intersect="Home",
                n_jobs=args.jobs)
    for b in res.summary["fairness"]["by"][:2]:
        print(json.dumps({"attribute": b["attribute"], "rows": [
            {k: r[k] for k in ("group", "n_valid", "n_denied", "denial_rate",
                               "recourse_rate", "median_cost", "median_cost_ci",
                               "mean_cost", "mean_cost_ci")} for r in b["rows"]],
            "denial_rate_gap": b["gaps"]["denial_rate"],
            "mean_cost_gap": b["gaps"]["mean_cost"]}, default=str))


if __name__ == "__main__":
    main()

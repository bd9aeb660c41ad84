"""Profile the engine's per-query cost on one model of the peers benchmark's setting.

Usage::

    python benchmarks/profile_query.py --dataset german --model tree --n 50 --out prof.pstats

Builds the model and the engine as ``benchmarks/peers.py`` does, explains the first ``n``
denied test applicants once untimed (warm-up), then again under cProfile, and prints the
median query time and the cumulative time of the calls that matter.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peers import TARGET, fit_model, wide_setting  # noqa: E402
from recourse import RecourseEngine  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="german")
    ap.add_argument("--model", default="tree")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", default="", help="write the pstats file here")
    ap.add_argument("--top", type=int, default=45)
    args = ap.parse_args(argv)
    from sklearn.model_selection import train_test_split

    X, y, schema = wide_setting(args.dataset)
    X_tr, X_te, y_tr, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = fit_model(args.model, X_tr, y_tr, schema)
    engine = RecourseEngine(model, schema, reference=X_tr)
    rows = [r.to_dict() for _, r in X_te[model.predict(X_te) != TARGET].head(args.n).iterrows()]
    for r in rows:  # warm-up
        engine.explain(r, target=TARGET)
    times = []
    prof = cProfile.Profile()
    for r in rows:
        t0 = time.perf_counter()
        prof.enable()
        res = engine.explain(r, target=TARGET)
        prof.disable()
        times.append(time.perf_counter() - t0)
        assert res.verified
    print(f"{len(rows)} queries, median {1e3 * np.median(times):.2f} ms "
          f"(under the profiler), total {sum(times):.3f} s")
    st = pstats.Stats(prof)
    if args.out:
        st.dump_stats(args.out)
    st.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

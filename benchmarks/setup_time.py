"""Time building an engine (``RecourseEngine(model, schema, reference=X_train)``).

Usage::

    python benchmarks/setup_time.py [--datasets german,credit_data] [--models tree,rf100x6]
                                    [--repeat 7]

An engine is built once per process (an audit builds one per worker), so this cost is
paid once per process, not per query. For every bundled data set and model kind (the
bundled schema, seed 0, trained on the training split, the training rows as reference)
the script builds the engine once untimed, then ``--repeat`` times, and prints the median
in milliseconds. To compare two checkouts, run it from each, alternately, on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recourse import RecourseEngine  # noqa: E402
from recourse.datasets import make_model, train_test  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="german,credit_data")
    ap.add_argument("--models", default="tree,rf100x6")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    for ds in args.datasets.split(","):
        X_train, _, y_train, _, schema = train_test(ds, seed=0)
        for kind in args.models.split(","):
            model = make_model(kind, X_train, y_train, schema=schema, seed=0)
            RecourseEngine(model, schema, reference=X_train)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                RecourseEngine(model, schema, reference=X_train)
                times.append(time.perf_counter() - t0)
            print(f"{ds:12s} {kind:10s} median {1e3 * np.median(times):7.1f} ms "
                  f"(of {args.repeat})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

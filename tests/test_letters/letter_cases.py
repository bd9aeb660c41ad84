"""The fixed model, applicants and clock of the letter tests (deterministic).

The model is the bundled German-credit decision tree (``make_model("tree", seed=0)`` on
the seed-0 split): its thresholds are midpoints of the data, so its answers do not
depend on floating-point noise. The applicants are rows of the bundled data, chosen for
what their letters show (see ``CASES``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace
from typing import Any

from recourse import RecourseEngine
from recourse.datasets import make_model, train_test
from recourse.letters import fixed_clock, make_trace

CLOCK = fixed_clock("2026-11-23T12:00:00Z")
#: The golden letters show these instead of values that change with the environment (the
#: pickle bytes of the model and the library versions); the real values are tested in
#: test_letters.py against hashlib and importlib.metadata.
FIXED_FINGERPRINT = ("sha256:" + "0" * 64, "fixed for the golden test")
FIXED_VERSIONS = {"scikit-learn": "x.y", "numpy": "x.y", "highspy": "x.y"}

#: name -> (row of German credit, schema change, what the letter shows)
CASES: dict[str, tuple[int, dict[str, Any], str]] = {
    "german_tree_491": (491, {}, "three options; option 3 shares a feature with option 1"),
    "german_tree_656": (656, {}, "only two distinct options exist (proven)"),
    "german_tree_491_no_recourse": (
        491, {"only_mutable": ("telephone",)}, "no recourse under the action set"),
}


@functools.lru_cache(maxsize=1)
def german_tree() -> tuple[Any, Any, Any]:
    X_train, X_test, y_train, _, schema = train_test("german", seed=0)
    model = make_model("tree", X_train, y_train, seed=0, schema=schema)
    return model, schema, X_test


def case(name: str, k: int = 3) -> tuple[Any, Any, Any, dict[str, Any]]:
    """``(options, schema, model, render kwargs)`` of a named case."""
    row, change, _ = CASES[name]
    model, schema, X_test = german_tree()
    only = change.get("only_mutable")
    if only is not None:
        for f in schema:
            if f.name not in only and not f.immutable:
                schema = schema.replace(f.name, immutable=True, direction="any",
                                        reason="fixed for this test")
    opts = RecourseEngine(model, schema).options(X_test.loc[row], k=k, target="good")
    return opts, schema, model, {"applicant_id": f"German credit row {row}"}


def golden_trace(opts: Any, schema: Any, applicant_id: str) -> Any:
    trace = make_trace(list(opts.options), schema, applicant_id=applicant_id,
                       fingerprint=FIXED_FINGERPRINT, clock=CLOCK, final=opts.final)
    return replace(trace, versions=dict(FIXED_VERSIONS), engine_version="x.y")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

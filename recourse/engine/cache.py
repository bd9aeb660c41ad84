"""The one-call form: :func:`find_recourse` keeps a small cache of engines per model.

A cached engine is reused only while it was built for the same schema, reference,
causal model, backend and options, and while the model's learned parameters are those it
encoded (``recourse.fingerprint``: a model refitted in place gets a new engine); the model
itself is held weakly (the cache never keeps a model alive).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from recourse.engine.core import RecourseEngine
from recourse.fingerprint import model_fingerprint
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["find_recourse"]

_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[int, int, int], RecourseEngine]] = (
    weakref.WeakKeyDictionary())
_LOCK = threading.Lock()


def _cached(model: Any, schema: FeatureSchema, reference: Any, causal: Any, backend: str,
            backend_options: dict[str, Any] | None) -> RecourseEngine:
    key = (id(schema), id(reference) if reference is not None else 0,
           id(causal) if causal is not None else 0)
    with _LOCK:
        try:
            cache = _ENGINES.setdefault(model, {})
        except TypeError:
            cache = {}
        engine = cache.get(key)
    if (engine is None or engine.schema is not schema or engine.backend != backend
            or engine.causal is not causal
            or engine.backend_options != dict(backend_options or {})
            or engine.prepared.fingerprint != model_fingerprint(model)):
        engine = RecourseEngine(model, schema, reference=reference, backend=backend,
                                causal=causal, backend_options=backend_options)
        with _LOCK:
            cache[key] = engine
    return engine


def find_recourse(model: Any, applicant: Any, schema: FeatureSchema, *, target: Any = None,
                  norm: str = "l1", backend: str = "auto", time_limit: float = 60.0,
                  reference: Any = None, utility: Any = None, causal: Any = None,
                  backend_options: dict[str, Any] | None = None,
                  min_margin: float | None = None, box: bool = False) -> RecourseResult:
    """Minimal verified recourse for one applicant (see :meth:`RecourseEngine.explain`).

    The model's encoding is cached per (model, schema, reference, causal model) so calls
    in a loop do not re-encode the model.

    Examples
    --------
    >>> result = find_recourse(model, X_test.iloc[0], schema, norm="l1")  # doctest: +SKIP
    >>> result.status, result.changes                                      # doctest: +SKIP
    """
    engine = _cached(model, schema, reference, causal, backend, backend_options)
    return engine.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                          utility=utility, min_margin=min_margin, box=box)

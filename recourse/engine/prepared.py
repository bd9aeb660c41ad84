"""Stage 0, encode: what is built once per model and shared, read-only, by every query.

:class:`Prepared` holds the fitted model, the schema and its lowered arrays, the model's
encoding (``recourse.encoders.encode``), known reference rows as search vectors, the causal
model's arrays and the engine-level options. Nothing in it changes after construction,
so one engine may serve many threads at once.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recourse import encoders
from recourse.encoders.block import ValueLink
from recourse.encoders.errors import InputValidationError, SchemaError, cap_list, name_mismatch
from recourse.fingerprint import FittedIdentity, model_fingerprint, refits_replace
from recourse.schema import FeatureSchema
from recourse.solvers.causal import neutral_spec

__all__ = ["Prepared", "prepare", "check_columns"]


@dataclass(frozen=True)
class Prepared:
    """The model side of every query (see module docstring)."""

    model: Any
    schema: FeatureSchema
    space: Any
    spec: Any
    encoding: Any
    classes: list[Any]
    backend: str
    backend_options: dict[str, Any]
    margin: float
    bounds: str
    causal: Any = None
    cspec: Any = None
    nspec: Any = None
    reference: Any = None
    ref: np.ndarray | None = None
    ref_pred: np.ndarray | None = None
    value_vars: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    options: tuple[Any, ...] = ()
    price_options: bool = True
    encode_time: float = 0.0
    #: ``recourse.fingerprint.model_fingerprint`` of the model when it was encoded.
    fingerprint: str = ""
    #: Measured costs of stages (``"verify"``: the last verification's seconds), used to
    #: keep time back for them, and ``"identity"``: the model's
    #: ``recourse.fingerprint.FittedIdentity`` when it was last found fresh (tree models);
    #: a cache, the only thing queries write.
    timing: dict[str, Any] = field(default_factory=dict)

    def check_fresh(self) -> None:
        """Refuse to answer with an encoding of a model that was refitted since: a stale
        encoding would prove answers about trees or weights the model no longer has.

        Tree models (whose refits replace their fitted attributes) are compared by
        identity (``recourse.fingerprint.FittedIdentity``, microseconds to a few
        milliseconds) and hashed only when an identity changed; every other model is
        hashed on every query (hashing a 1,000-tree LightGBM model costs about 0.13 s).
        """
        known = self.timing.get("identity")
        if known is not None:
            now = FittedIdentity.of(self.model)
            if now.same(known):
                return
        if model_fingerprint(self.model) != self.fingerprint:
            raise InputValidationError(
                "The model was refitted (its learned parameters changed) after this engine "
                "encoded it; build a new RecourseEngine for the refitted model "
                "(find_recourse does so by itself).")
        if known is not None:
            self.timing["identity"] = now  # the same learned state under new objects


def prepare(model: Any, schema: FeatureSchema, *, reference: Any, backend: str,
            backend_options: dict[str, Any], margin: float, bounds: str, causal: Any,
            price_options: bool) -> Prepared:
    """Encode ``model`` over ``schema``'s search space (the options are added by the
    engine with :func:`dataclasses.replace`)."""
    check_columns(model, schema)
    space = schema.search_space()
    spec = schema.lower()
    cspec = nspec = None
    if causal is not None:
        from recourse.causal import CausalModel

        if not isinstance(causal, CausalModel):
            raise SchemaError(f"causal must be a CausalModel, got {type(causal).__name__}.")
        cspec = causal.lower(schema)
        nspec = neutral_spec(spec, cspec)
    if backend in ("auto", "cpsat", "race"):
        from recourse.solvers.backends import BACKENDS

        # imports OR-Tools now (about 0.3 s the first time), not within a query's deadline
        BACKENDS["cpsat"].unavailable()
    t0 = time.perf_counter()
    fingerprint = model_fingerprint(model)
    identity = FittedIdentity.of(model) if refits_replace(model) else None
    encoding = encoders.encode(model, space)
    encode_time = time.perf_counter() - t0
    value_vars = np.zeros(space.n_vars, dtype=bool)
    for link in encoding.links:
        if isinstance(link, ValueLink):
            value_vars[int(space.start[link.feature])] = True
    P = Prepared(model=model, schema=schema, space=space, spec=spec, encoding=encoding,
                 classes=list(encoding.classes), backend=backend,
                 backend_options=dict(backend_options), margin=float(margin), bounds=bounds,
                 causal=causal, cspec=cspec, nspec=nspec, reference=reference,
                 value_vars=value_vars, price_options=bool(price_options),
                 encode_time=encode_time, fingerprint=fingerprint)
    ref, ref_pred = _reference(P, reference)
    from dataclasses import replace

    P = replace(P, ref=ref, ref_pred=ref_pred)
    if ref is not None:  # what verification costs, to keep time back for it
        from recourse.verify import model_predict

        rows = [P.space.decode(r) for r in ref[:2]]
        t0 = time.perf_counter()
        model_predict(model, schema, rows)
        P.timing["verify"] = time.perf_counter() - t0
    if identity is not None:
        P.timing["identity"] = identity
    return P


def _reference(P: Prepared, reference: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    from recourse.encoders.multi import StackEncodedModel

    enc = P.encoding
    if reference is None or (enc.tree is None and enc.network is None
                             and not isinstance(enc, StackEncodedModel)):
        return None, None
    if not isinstance(reference, pd.DataFrame):
        raise InputValidationError("reference must be a DataFrame with the schema's columns.")
    missing = [n for n in P.schema.names if n not in reference.columns]
    if missing:
        raise InputValidationError(f"reference lacks the columns {cap_list(missing)}.")
    from recourse.schema_checks import plainly_valid

    frame = reference[P.schema.names]
    keep = plainly_valid(P.schema, frame)  # column by column, for most rows
    R = np.zeros((len(frame), P.space.n_vars))
    R[keep] = P.space.encode_frame(frame[keep])
    other = np.flatnonzero(~keep)
    first: tuple[Any, str] | None = None
    for i, r in zip(other, frame.iloc[other].to_dict("records")):
        try:
            R[i] = P.space.encode(P.schema.validate_row(r))
            keep[i] = True
        except InputValidationError as exc:  # not used as a starting point, and said so
            first = first or (frame.index[i], str(exc))
    if first is not None:
        n_out = int((~keep).sum())
        warnings.warn(
            f"{n_out} of {len(frame)} reference rows break the schema's input rules and are "
            f"not used as starting points (answers are unaffected; the first, row "
            f"{first[0]!r}: {first[1]}). Fix or drop those rows to use them.",
            UserWarning, stacklevel=4)
    if not keep.any():
        return None, None
    R = R[keep]
    return R, enc.predict_index(R)


def check_columns(model: Any, schema: FeatureSchema) -> None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        problem = name_mismatch([str(n) for n in names], schema.names,
                                extra="schema features unseen at fit time:",
                                missing="model features missing from the schema:")
        if problem:
            raise SchemaError(f"The schema does not match the model's features; {problem}.")
        return
    n_in = getattr(model, "n_features_in_", None)
    if n_in is not None and int(n_in) != len(schema):
        raise SchemaError(
            f"The schema has {len(schema)} features, but the model expects {n_in} features.")

"""Verification: the model's own ``predict`` (through the whole Pipeline) and the action rules.

Nothing the solver says is trusted here: a counterfactual is valid only if the fitted
model itself classifies it as the target and every rule of the action set holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recourse.schema import FeatureSchema

__all__ = ["model_predict", "action_violations"]


def model_input(model: Any, schema: FeatureSchema, rows: Sequence[Mapping[str, Any]]) -> Any:
    """Rows ``{name: value}`` shaped the way the model was fitted: a DataFrame in the
    fitted column order when the model knows its feature names, else a float array (or
    the DataFrame when a column is not numeric)."""
    names = getattr(model, "feature_names_in_", None)
    # column by column (each column's dtype inferred once), in the fitted order
    df = pd.DataFrame({n: [r[n] for r in rows]
                       for n in (schema.names if names is None else list(names))})
    if names is not None:
        return df
    for f in schema:
        if not f.is_group:
            df[f.name] = df[f.name].astype(float)
    try:
        return df.to_numpy(dtype=float)
    except (TypeError, ValueError):
        return df


def model_predict(model: Any, schema: FeatureSchema,
                  rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """``model.predict`` on rows ``{name: value}``, shaped the way the model was fitted."""
    return np.asarray(model.predict(model_input(model, schema, rows)))


def action_violations(schema: FeatureSchema, factual: Mapping[str, Any],
                      cf: Mapping[str, Any]) -> list[str]:
    """Every rule of the action set that ``cf`` breaks, as sentences (empty when valid)."""
    out = []
    for f in schema:
        a, b = factual[f.name], cf[f.name]
        if f.is_group:
            cats = list(f.categories or ())
            if b not in cats:
                out.append(f"{f.name}: {b!r} is not a known category")
                continue
            if a == b:
                continue
            if f.immutable:
                out.append(f"{f.name} is immutable but changed")
            elif f.kind == "ordinal" and f.direction != "any":
                up = cats.index(b) > cats.index(a)
                if up != (f.direction == "increase"):
                    out.append(f"{f.name} may only {f.direction}")
            continue
        a, b = float(a), float(b)
        if not math.isfinite(b):
            out.append(f"{f.name} is not finite")
            continue
        if a == b:
            continue
        if f.immutable:
            out.append(f"{f.name} is immutable but changed")
        if f.direction == "increase" and b < a:
            out.append(f"{f.name} may only increase")
        if f.direction == "decrease" and b > a:
            out.append(f"{f.name} may only decrease")
        lo, hi = f.bounds()
        if b < min(lo, a) or b > max(hi, a):
            out.append(f"{f.name}={b} is outside its bounds [{lo}, {hi}]")
        if f.is_integer and b != round(b):
            out.append(f"{f.name}={b} is not an integer")
    return out

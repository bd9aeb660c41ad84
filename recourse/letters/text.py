"""Numbers, values and change sentences in the applicant's own units and words.

Everything here reads the schema's ``label``, ``unit`` and ``kind`` only; it never
decides what to recommend. Used by the letters, the CLI tables and the audit report.
"""

from __future__ import annotations

import math
from typing import Any

from recourse.schema import Feature, FeatureSchema

__all__ = ["fmt_number", "fmt_value", "change_sentence", "feature_of"]


def fmt_number(x: float) -> str:
    """``5951`` -> ``5,951``; ``0.5`` -> ``0.50``; whole numbers without decimals."""
    if not math.isfinite(x):
        return str(x)
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    return f"{x:,.2f}"


def fmt_value(feature: Feature | None, value: Any) -> str:
    """A value in the user's units: ``5,951 DM``, ``24 months``, ``no checking account``."""
    if feature is None or feature.is_group or isinstance(value, str):
        return str(value)
    try:
        text = fmt_number(float(value))
    except (TypeError, ValueError):
        return str(value)
    return f"{text} {feature.unit}" if feature.unit else text


def feature_of(schema: FeatureSchema, name: str) -> Feature | None:
    """The schema's feature called ``name``, or None."""
    return schema[name] if name in schema else None  # noqa: SIM401 (no .get)


def change_sentence(schema: FeatureSchema, name: str, before: Any, after: Any) -> str:
    """``Reduce credit amount from 5,951 DM to 3,200 DM`` and the like.

    Numeric features get *Increase* / *Reduce*, ordinal ones *Raise* / *Lower* (by the
    order of their levels), others *Change*; levels are quoted.
    """
    f = feature_of(schema, name)
    label = f.display if f is not None else name
    b, a = fmt_value(f, before), fmt_value(f, after)
    if f is not None and f.kind == "ordinal" and f.categories:
        rank = {c: i for i, c in enumerate(f.categories)}
        if before in rank and after in rank:
            verb = "Raise" if rank[after] > rank[before] else "Lower"
            return f"{verb} {label} from “{b}” to “{a}”"
    if f is not None and f.kind in ("continuous", "integer"):
        try:
            verb = "Increase" if float(after) > float(before) else "Reduce"
            return f"{verb} {label} from {b} to {a}"
        except (TypeError, ValueError):
            pass
    return f"Change {label} from “{b}” to “{a}”"

"""Numbers, values and change sentences in the applicant's own units and words.

Everything here reads the schema's ``label``, ``unit`` and ``kind`` only; it never
decides what to recommend. Used by the letters, the CLI tables and the audit report.
"""

from __future__ import annotations

import math
from typing import Any

from recourse.schema import Feature, FeatureSchema

__all__ = ["fmt_number", "fmt_value", "change_sentence", "feature_of", "causal_sentence",
           "cap_first"]


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


def cap_first(text: Any) -> str:
    """The text with its first letter in upper case (the rest unchanged)."""
    s = str(text)
    return s[:1].upper() + s[1:]


def _way(f: Feature | None, before: Any, after: Any) -> str:
    """``increase``, ``decrease`` or ``change`` (categorical, or not comparable)."""
    if f is not None and f.kind == "ordinal" and f.categories:
        rank = {c: i for i, c in enumerate(f.categories)}
        if before in rank and after in rank:
            return "increase" if rank[after] > rank[before] else "decrease"
    if f is not None and f.kind in ("continuous", "integer"):
        try:
            return "increase" if float(after) > float(before) else "decrease"
        except (TypeError, ValueError):
            pass
    return "change"


def change_sentence(schema: FeatureSchema, name: str, before: Any, after: Any,
                    phrasebook: Any = None) -> str:
    """``Reduce credit amount from 5,951 DM to 3,200 DM`` and the like.

    With a :class:`~recourse.letters.phrasebook.Phrasebook` holding a phrase for this
    feature and direction, the bank's phrase leads ("Reduce the loan amount from ...";
    ``{before}`` / ``{after}`` in it are filled in instead). Otherwise numeric features
    get *Increase* / *Reduce*, ordinal ones *Raise* / *Lower* (by the order of their
    levels), others *Change*, with the schema's label; levels are quoted.
    """
    f = feature_of(schema, name)
    label = f.display if f is not None else name
    b, a = fmt_value(f, before), fmt_value(f, after)
    way = _way(f, before, after)
    if f is not None and f.is_group:
        b, a = f"“{b}”", f"“{a}”"
    phrase = phrasebook.phrase(name, way) if phrasebook is not None else None
    if phrase:
        if "{before}" in phrase or "{after}" in phrase:
            return cap_first(phrase.replace("{before}", b).replace("{after}", a))
        return f"{cap_first(phrase)} from {b} to {a}"
    if way == "change":
        return f"Change {label} from {b} to {a}"
    if f is not None and f.kind == "ordinal":
        return f"{'Raise' if way == 'increase' else 'Lower'} {label} from {b} to {a}"
    return f"{'Increase' if way == 'increase' else 'Reduce'} {label} from {b} to {a}"


def causal_sentence(schema: FeatureSchema, actions: Any, consequences: Any) -> str:
    """"If you reduce credit amount from 1,131 DM to 350 DM, then loan duration will move
    from 12 months to 6 months as a consequence." — with the schema's labels and units
    (empty without consequences). Replaces ``RecourseResult.causal_summary`` in text
    for people."""
    if not actions or not consequences:
        return ""

    def label(n: str) -> str:
        f = feature_of(schema, n)
        return f.display if f is not None else n

    def join(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    acts = []
    for c in actions:
        f = feature_of(schema, c.feature)
        if c.before == c.after:
            acts.append(f"keep {label(c.feature)} at {fmt_value(f, c.after)}")
        else:
            s = change_sentence(schema, c.feature, c.before, c.after)
            acts.append(s[:1].lower() + s[1:])
    cons = [f"{label(c.feature)} will move from "
            f"{fmt_value(feature_of(schema, c.feature), c.before)}"
            f" to {fmt_value(feature_of(schema, c.feature), c.after)}" for c in consequences]
    return f"If you {join(acts)}, then {join(cons)} as a consequence."

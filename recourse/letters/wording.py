"""Wording of believable and robust recourse: certified ranges, margins, plausibility,
data support, the cost of each option.

Used by the letters (:mod:`recourse.letters.context`), by
:meth:`recourse.robust.CertifiedBox.advice` and by the CLI's result summary, so that a range
reads the same everywhere. Printed range ends are rounded *inwards* to the shown precision:
a printed end is never outside the certified box.
"""

from __future__ import annotations

import math
from typing import Any

from recourse.letters.text import feature_of, fmt_value
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["OPTION_FLAGS", "box_phrases", "range_phrase", "range_sentence", "robust_rows"]

#: The command-line flag of each option named in ``stats.cost_without`` and
#: ``stats.blocking_options``.
OPTION_FLAGS = {"min_margin": "--min-margin", "seen_together": "--seen-together",
                "plausibility": "--plausible", "models": "--also-model",
                "support": "--support", "all options": "all options"}


def _inward(value: float, side: str, integer: bool) -> float:
    """``value`` rounded to what ``fmt_number`` shows, towards the inside of the range
    (an upper end down, a lower end up), so a printed end is never outside the box."""
    if integer or abs(value - round(value)) < 1e-9:
        return float(round(value))
    scaled = value * 100.0
    return (math.floor(scaled + 1e-9) if side == "upper" else math.ceil(scaled - 1e-9)) / 100.0


def range_phrase(box: Any, name: str, schema: FeatureSchema | None = None,
                 ) -> tuple[str, float | None, float | None] | None:
    """The certified range of one feature, in words and numbers.

    Parameters
    ----------
    box : CertifiedBox
        The box around an answer (``result.box``).
    name : str
        A feature name.
    schema : FeatureSchema, optional
        For the feature's units and integer rounding.

    Returns
    -------
    tuple or None
        ``("7,839 DM or less", None, 7839.0)``: the phrase and the printed ends (None for
        a side the action set closes, which is left unsaid); None when the model sets no
        range for the feature. The ends are rounded inwards to the shown precision.
    """
    if name not in box.bounds:
        return None
    lo, hi = box.bounds[name]
    limits = ("model", "margin")  # a side the action set closes is left unsaid
    up = box.faces.get((name, "upper")) in limits
    down = box.faces.get((name, "lower")) in limits
    if lo == hi or not (up or down):
        return None
    f = feature_of(schema, name) if schema is not None else None
    integer = f is not None and f.kind == "integer"
    a = _inward(lo, "lower", integer) if down else None
    b = _inward(hi, "upper", integer) if up else None
    if a is not None and b is not None and a > b:  # a sliver narrower than the precision
        a, b = float(lo), float(hi)

    def show(v: float) -> str:
        return fmt_value(f, v) if f is not None else f"{v:.6g}"

    if a is not None and b is not None:
        return f"between {show(a)} and {show(b)}", a, b
    if b is not None:
        return f"{show(b)} or less", None, b
    assert a is not None
    return f"{show(a)} or more", a, None


def box_phrases(box: Any, schema: FeatureSchema | None = None) -> list[tuple[str, str]]:
    """``[(feature, "Credit amount: 7,839 DM or less"), ...]`` for every feature whose
    range the model sets (as ``CertifiedBox.advice(schema)``, ends rounded inwards)."""
    out = []
    for name in box.bounds:
        got = range_phrase(box, name, schema)
        if got is None:
            continue
        f = feature_of(schema, name) if schema is not None else None
        label = f.display if f is not None else name
        out.append((name, f"{label[:1].upper()}{label[1:]}: {got[0]}"))
    return out


def range_sentence(schema: FeatureSchema, name: str, before: Any, after: Any,
                   box: Any) -> str | None:
    """``"Reduce credit amount from 8,318 DM to 7,839 DM or less"``: a change phrased as
    its certified range; None when the box sets no range for it or the range holds the
    applicant's own value (then the point sentence is the honest one)."""
    got = range_phrase(box, name, schema) if box is not None else None
    if got is None:
        return None
    phrase, a, b = got
    try:
        x, y = float(before), float(after)
    except (TypeError, ValueError):
        return None
    if (a is None or a <= x) and (b is None or x <= b):
        return None  # the applicant's own value is in the range
    f = feature_of(schema, name)
    label = f.display if f is not None else name
    verb = "Increase" if y > x else "Reduce"
    return f"{verb} {label} from {fmt_value(f, before)} to {phrase}"


def _num(x: Any, spec: str = ".4g") -> str:
    return "–" if x is None else format(float(x), spec)  # noqa: RUF001 (a dash for "none")


def robust_rows(result: RecourseResult, schema: FeatureSchema) -> list[tuple[str, str]]:
    """``(label, text)`` rows for a result summary: margin reached, plausibility score,
    unseen category pairs, cost without each option, the blocking option, the certified
    ranges (or why there is no box). Empty when no option was on."""
    s = result.stats
    rows: list[tuple[str, str]] = []
    if s.min_margin is not None:
        rows.append(("min margin / reached",
                     f"{_num(s.min_margin)} / {_num(s.margin)} "
                     f"({s.margin_units or ''})"))
    if s.plausibility_score is not None:
        score, need = s.plausibility_score, s.plausibility_min_score
        verdict = "" if need is None else (
            " (plausible: at least " if score >= need else " (implausible: below ") + \
            f"{need:.4f})"
        rows.append(("plausibility score", f"{score:.4f}{verdict}"))
    if s.unseen_pairs is not None:
        rows.append(("unseen category pairs", str(s.unseen_pairs)))
    if s.support is not None:
        dist = s.support_distance
        rows.append(("supporting rows (within the radius)",
                     str(s.support) + (f"; distance to the k-th nearest {_num(dist)}"
                                          if dist is not None else "")))
    for option, cost in (s.cost_without or {}).items():
        rows.append((f"cost without {OPTION_FLAGS.get(option, option)}",
                     "no recourse" if cost is None else _num(cost)))
    blocking = s.blocking_options or ([s.blocking_option]
                                             if s.blocking_option else [])
    if blocking:
        rows.append(("blocked by", ", ".join(f"{OPTION_FLAGS.get(o, o)} ({o})"
                                             for o in blocking)))
    if result.box is not None:
        phrases = [p for _, p in box_phrases(result.box, schema)]
        rows.append(("certified ranges", "; ".join(phrases) + (
            " (every combination approved; categories as in the answer)" if phrases else
            "none: every face of the box is the action set's limit")))
    elif s.box_error:
        rows.append(("certified ranges", f"not available: {s.box_error}"))
    return rows

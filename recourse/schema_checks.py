"""Input rules of a schema, apart from the schema itself: the numeric range each feature
accepts, which columns a table may hold, and small value helpers (used by
:meth:`recourse.schema.FeatureSchema.validate_row`, the readers and the audit)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recourse.encoders.domain import level_codes
from recourse.encoders.errors import InputValidationError, cap_list

if TYPE_CHECKING:  # pragma: no cover
    from recourse.schema import Feature, FeatureSchema

__all__ = ["DIRECTIONS", "FLOAT32_MAX", "KINDS", "OPEN_LIMIT", "OUTER_FACTOR", "check_columns",
           "outer_range", "outside_bounds", "plainly_valid", "valid_range"]

KINDS = ("continuous", "integer", "binary", "categorical", "ordinal")
DIRECTIONS = ("any", "increase", "decrease")

#: Largest magnitude a float32 holds: models compute in float32 (trees compare float32
#: thresholds), so a value beyond it is infinite to the model.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Beyond a bounded side, a starting value is accepted up to this many bound widths (at
#: least this many ``scale`` units) away: further out, the value is almost surely a unit or
#: parsing error, and the problem's numbers are no longer meaningful.
OUTER_FACTOR = 1e3
#: On a side without a bound, a value may lie at most this many ``scale`` units from 0.
#: Beyond it the solver's tolerances (about 1e-9 relative) no longer tell a change from
#: rounding, and "proven minimal" would be meaningless.
OPEN_LIMIT = 1e9
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def valid_range(feature: Feature) -> tuple[float, float]:
    """The values :meth:`FeatureSchema.validate_row` accepts for a numeric feature.

    The action set's bounds where declared; on an open side ``OPEN_LIMIT * scale`` from
    0; never beyond the float32 range.
    """
    lo, hi = feature.bounds()
    reach = min(OPEN_LIMIT * feature.scale, FLOAT32_MAX)
    lo = -reach if math.isinf(lo) else max(lo, -FLOAT32_MAX)
    hi = reach if math.isinf(hi) else min(hi, FLOAT32_MAX)
    return lo, hi


def _number(f: Feature, v: Any) -> float:
    """A numeric feature's value as a float, or a clear error (text must be a plain
    decimal number; booleans only in binary features)."""
    if isinstance(v, (bool, np.bool_)) and f.kind != "binary":
        raise InputValidationError(
            f"Feature {f.name!r} is {f.kind} but got the boolean {v!r}; give a number.")
    if isinstance(v, str) and not _DECIMAL.fullmatch(v):
        raise InputValidationError(
            f"Feature {f.name!r} is {f.kind} but got the non-numeric value {v!r}; give a "
            "plain decimal number such as 1250 or 0.5.")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        raise InputValidationError(
            f"Feature {f.name!r} is {f.kind} but got the non-numeric value {v!r}."
        ) from None
    if math.isnan(x) or math.isinf(x):
        raise InputValidationError(
            f"Feature {f.name!r} is {x}; recourse needs a finite value for every feature "
            "(impute missing values before explaining).")
    return x


def _check_range(f: Feature, x: float) -> None:
    if abs(x) > FLOAT32_MAX:
        raise InputValidationError(
            f"Feature {f.name!r} is {x!r}, beyond the float32 range (|x| <= "
            f"{FLOAT32_MAX:.4g}) the model computes in; the model would see infinity. Fix "
            "the value (a unit or parsing error?).")
    lo, hi = valid_range(f)
    if lo <= x <= hi:
        return
    blo, bhi = f.bounds()
    if (x < lo and math.isfinite(blo)) or (x > hi and math.isfinite(bhi)):
        if blo >= 0 > x:
            raise InputValidationError(
                f"Feature {f.name!r} is {x!r}, negative, while the schema's bounds "
                f"[{_g(blo)}, {_g(bhi)}] say it never is. Fix the value, or lower the "
                "feature's lower bound in the schema if negative values are real.")
        wlo, whi = outer_range(f)
        if wlo <= x <= whi:
            return  # outside the action set: allowed as a starting point (see above)
        raise InputValidationError(
            f"Feature {f.name!r} is {x!r}, far outside the action set's bounds [{_g(blo)}, "
            f"{_g(bhi)}] (more than {OUTER_FACTOR:g} bound widths, i.e. outside [{_g(wlo)}, "
            f"{_g(whi)}]): "
            "no meaningful answer starts there. Fix the value (a unit or parsing error?), "
            "or widen the feature's lower/upper bound in the schema if it is real.")
    raise InputValidationError(
        f"Feature {f.name!r} is {x!r}, more than {OPEN_LIMIT:g} scale units ({_g(hi)}) from "
        "0 on a side the schema leaves unbounded: beyond this the solver cannot prove a "
        "change minimal. Fix the value, or declare the feature's lower/upper bound in the "
        "schema (or a larger scale).")


def outer_range(feature: Feature) -> tuple[float, float]:
    """The starting values accepted for a numeric feature: its bounds widened by
    :data:`OUTER_FACTOR` bound widths (at least that many ``scale`` units) on each bounded
    side, within the float32 range."""
    lo, hi = valid_range(feature)
    blo, bhi = feature.bounds()
    width = OUTER_FACTOR * (max(hi - lo, feature.scale) if math.isfinite(hi - lo)
                            else feature.scale)
    if math.isfinite(blo):
        lo = max(blo - width, -FLOAT32_MAX)
    if math.isfinite(bhi):
        hi = min(bhi + width, FLOAT32_MAX)
    return lo, hi


def outside_bounds(schema: FeatureSchema, row: Mapping[str, Any]) -> list[str]:
    """The numeric features of a validated row that lie outside the action set's bounds
    (accepted as starting points; an answer may keep such a value). For flagging them in
    results and reports."""
    out = []
    for f in schema:
        if f.is_group:
            continue
        lo, hi = f.bounds()
        if not lo <= float(row[f.name]) <= hi:
            out.append(f.name)
    return out


def _g(x: float) -> str:
    return f"{x:.6g}"


def check_columns(schema: FeatureSchema, columns: Iterable[Any], *,
                  extra_columns: Iterable[str] = (), used: Mapping[str, str] | None = None,
                  where: str = "The applicant data") -> list[str]:
    """The one rule for an applicant table's columns (explain, letter and audit alike).

    A table holds the schema's feature columns, the columns a command is told to use
    (``used``: e.g. ``{"id column": "app_id"}``), and the columns the caller lists in
    ``extra_columns`` (carried along and ignored). Any other column is refused, naming
    it: an unknown column is often a mislabelled feature, a label column left in, or a
    sign that the file belongs to another model.

    Returns
    -------
    list of str
        The columns ignored (those of ``extra_columns``).

    Raises
    ------
    InputValidationError
        A feature column is missing, a column is neither a feature, nor used, nor listed,
        or ``extra_columns`` names a column that is not there.
    """
    cols = [str(c) for c in columns]
    extra = [str(c) for c in extra_columns]
    used = dict(used or {})
    missing = [n for n in schema.names if n not in cols]
    if missing:
        raise InputValidationError(
            f"{where} lacks {len(missing)} of the schema's feature columns: "
            f"{cap_list(missing)}. Add them, or use the schema the model was trained with.")
    absent = [c for c in extra if c not in cols]
    if absent:
        raise InputValidationError(
            f"extra_columns names {cap_list(absent)}, not columns of {where.lower()}; "
            f"its columns are {cap_list(cols)}.")
    allowed = set(schema.names) | set(used.values()) | set(extra)
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise InputValidationError(
            f"{where} has unexpected columns, not features of the schema: {cap_list(unknown)}. "
            "Remove them, or list them to be carried along and ignored: extra_columns=[...] "
            "(CLI: --extra-column NAME, repeatable)"
            + (f"; columns in use: {', '.join(f'{k} {v!r}' for k, v in used.items())}"
               if used else "") + ".")
    return [c for c in cols if c in set(extra) and c not in schema.names]


def plainly_valid(schema: FeatureSchema, frame: pd.DataFrame) -> np.ndarray:
    """Rows of ``frame`` that :meth:`FeatureSchema.validate_row` accepts with every value
    kept as it is, found column by column (a fast path for many rows).

    A row qualifies when each category is found among its feature's categories by
    :func:`~recourse.encoders.domain.level_codes` (pandas' look-up; a value it does not
    find, such as ``True`` for the level ``1``, is left to ``validate_row``) and each
    numeric value sits in a numeric, non-boolean column, is finite, lies within
    :func:`valid_range` and is whole where the feature is integer. A row that does not
    qualify is not thereby invalid: ``validate_row`` decides it (it also accepts, for
    example, a category given as equal text, or a starting value just outside the bounds).
    """
    ok = np.ones(len(frame), dtype=bool)
    for f in schema:
        col = frame[f.name]
        if f.is_group:
            # found by the look-up that SearchSpace.encode_frame makes (pandas' own equality)
            ok &= col.map(level_codes(list(f.categories or ()))).notna().to_numpy(dtype=bool)
            continue
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            return np.zeros(len(frame), dtype=bool)
        x = col.to_numpy(dtype=float, na_value=np.nan)
        lo, hi = valid_range(f)
        with np.errstate(invalid="ignore"):
            fine = np.isfinite(x) & (x >= lo) & (x <= hi)
            if f.is_integer:
                fine &= x == np.round(x)
        ok &= fine
    return ok


def _is_missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v

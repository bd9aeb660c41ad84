"""One column of a schema: :class:`Feature` (its kind, levels, bounds, direction, scale,
weight and wording), checked on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.encoders.errors import SchemaError
from recourse.schema_checks import DIRECTIONS, FLOAT32_MAX, KINDS

__all__ = ["Feature"]

_GROUP_KINDS = ("categorical", "ordinal")


@dataclass(frozen=True)
class Feature:
    """One column of the applicant data and the rules for changing it.

    Parameters
    ----------
    name : str
        Column name, as in the training frame and the model's ``feature_names_in_``.
    kind : {"continuous", "integer", "binary", "categorical", "ordinal"}
        ``binary`` is a numeric 0/1 column; ``categorical`` and ``ordinal`` take one of
        ``categories`` (for ``ordinal`` listed in their order, lowest first).
    categories : tuple, optional
        Levels of a categorical or ordinal feature.
    lower, upper : float, optional
        Bounds of a numeric feature in user units (default: the observed training range).
    immutable : bool
        The person cannot change it (e.g. sex, nationality, age at decision time).
    direction : {"any", "increase", "decrease"}
        One-direction features (age and education only go up). For ordinal features the
        direction refers to the order of ``categories``.
    scale : float
        The change that costs 1 (numeric: user units; ordinal: levels). Default MAD.
    weight : float
        User weight multiplying the cost of this feature (L1 and L0).
    label, unit : str
        Human-readable name and unit for tables and letters ("credit amount", "DM").
    reason : str
        Why the feature is constrained (shown in letters and audit reports).
    """

    name: str
    kind: str
    categories: tuple[Any, ...] | None = None
    lower: float | None = None
    upper: float | None = None
    immutable: bool = False
    direction: str = "any"
    scale: float = 1.0
    weight: float = 1.0
    label: str = ""
    unit: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        n = self.name
        _check_types(self)
        if self.kind not in KINDS:
            raise SchemaError(
                f"Feature {n!r}: kind must be one of {KINDS}, got {self.kind!r}."
            )
        if self.direction not in DIRECTIONS:
            raise SchemaError(
                f"Feature {n!r}: direction must be one of {DIRECTIONS}, got {self.direction!r}."
            )
        if self.immutable and self.direction != "any":
            raise SchemaError(
                f"Feature {n!r} is declared immutable and {self.direction}-only: these "
                "contradict each other. Declare it either immutable or one-direction."
            )
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise SchemaError(f"Feature {n!r}: scale must be a positive number, got {self.scale}.")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise SchemaError(
                f"Feature {n!r}: weight must be a positive number, got {self.weight}. "
                "To forbid changes, declare the feature immutable."
            )
        if self.is_group:
            if not self.categories or len(self.categories) < 1:
                raise SchemaError(f"Feature {n!r} is {self.kind} but lists no categories.")
            if len(set(self.categories)) != len(self.categories):
                raise SchemaError(f"Feature {n!r}: categories contain duplicates.")
            if self.kind == "categorical" and self.direction != "any":
                raise SchemaError(
                    f"Feature {n!r} is categorical (unordered) and cannot be "
                    f"{self.direction}-only; declare it ordinal with ordered categories."
                )
        else:
            if self.categories is not None:
                raise SchemaError(f"Feature {n!r} is {self.kind}; categories apply only to "
                                  "categorical and ordinal features.")
            lo = -math.inf if self.lower is None else float(self.lower)
            hi = math.inf if self.upper is None else float(self.upper)
            if math.isnan(lo) or math.isnan(hi) or lo > hi:
                raise SchemaError(f"Feature {n!r}: bounds [{self.lower}, {self.upper}] are empty.")
            if any(math.isfinite(b) and abs(b) > FLOAT32_MAX for b in (lo, hi)):
                raise SchemaError(
                    f"Feature {n!r}: bounds [{self.lower}, {self.upper}] lie beyond the float32 "
                    f"range (|x| <= {FLOAT32_MAX:.4g}) models compute in; leave a side out to "
                    "leave it unbounded.")
            if self.kind == "binary" and ((self.lower is not None and lo < 0)
                                          or (self.upper is not None and hi > 1)):
                raise SchemaError(f"Feature {n!r} is binary; bounds must lie within [0, 1].")

    @property
    def is_group(self) -> bool:
        """True for categorical and ordinal features (one-hot groups in the search)."""
        return self.kind in _GROUP_KINDS

    @property
    def is_integer(self) -> bool:
        return self.kind in ("integer", "binary")

    @property
    def display(self) -> str:
        """Human-readable name (the label, else the column name)."""
        return self.label or self.name

    def bounds(self) -> tuple[float, float]:
        """Numeric bounds with ``None`` read as unbounded (binary: [0, 1])."""
        lo = -math.inf if self.lower is None else float(self.lower)
        hi = math.inf if self.upper is None else float(self.upper)
        if self.kind == "binary":
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        return lo, hi


def _check_types(f: Feature) -> None:
    """Python callers' types, checked as strictly as a YAML document's."""
    def bad(key: str, what: str) -> SchemaError:
        value = getattr(f, key)
        return SchemaError(f"Feature {f.name!r}: {key} must be {what}, got {value!r} "
                           f"({type(value).__name__}).")

    if not isinstance(f.name, str) or not f.name:
        raise SchemaError(f"A feature's name must be non-empty text, got {f.name!r}.")
    if not isinstance(f.immutable, (bool, np.bool_)):
        raise bad("immutable", "True or False")
    for key in ("lower", "upper", "scale", "weight"):
        v = getattr(f, key)
        if (v is None and key in ("lower", "upper")) or (
                isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_))):
            continue
        raise bad(key, "a number")
    for key in ("label", "unit", "reason", "kind", "direction"):
        if not isinstance(getattr(f, key), str):
            raise bad(key, "text")
    if f.categories is not None:
        if not isinstance(f.categories, (tuple, list)):
            raise bad("categories", "a list of levels")
        for c in f.categories:
            if not isinstance(c, (str, int, float, bool, np.generic)) or (
                    isinstance(c, float) and math.isnan(c)):
                raise SchemaError(
                    f"Feature {f.name!r}: every category must be a plain value (text, number "
                    f"or boolean), got {c!r} ({type(c).__name__}).")
        object.__setattr__(f, "categories", tuple(f.categories))

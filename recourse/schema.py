"""Feature schema and action set: what each column is and how a person may change it.

A :class:`FeatureSchema` describes the user's columns (in the user's own units, never in
scaled or one-hot coordinates) and the *action set*: which features are immutable, which
may only rise or fall, their bounds, and what a unit of change costs.

Costs
-----
The L1 cost of a change is ``sum_j weight_j * |x'_j - x_j| / scale_j`` over numeric
features, plus ``weight_j`` for every categorical feature that changes level, plus
``weight_j * |rank'_j - rank_j| / scale_j`` for ordinal features (rank = position in the
ordered levels). The default ``scale`` is the median absolute deviation (MAD) of the
training column; where the MAD is zero (a column that is mostly one value) the mean
absolute deviation from the median is used, and where that is zero too (a constant
column), 1. The L0 cost counts changed features, each weighted by ``weight``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import InputValidationError, SchemaError, cap_list, name_mismatch
from recourse.feature import Feature
from recourse.schema_checks import (
    DIRECTIONS,
    FLOAT32_MAX,
    KINDS,
    OPEN_LIMIT,
    OUTER_FACTOR,
    _check_range,
    _is_missing,
    _number,
    _plain,
    check_columns,
    outer_range,
    outside_bounds,
    valid_range,
)
from recourse.schema_document import validate_document
from recourse.solvers.spec import ActionSpec

__all__ = ["DIRECTIONS", "FLOAT32_MAX", "KINDS", "OPEN_LIMIT", "OUTER_FACTOR", "Feature", "FeatureSchema",
           "check_columns", "outer_range", "outside_bounds", "valid_range",
           "validate_document"]

_GROUP_KINDS = ("categorical", "ordinal")


def robust_scale(values: np.ndarray) -> float:
    """MAD of ``values``; mean absolute deviation from the median if the MAD is 0; else 1."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 1.0
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med)))
    if mad > 0:
        return mad
    mean_ad = float(np.mean(np.abs(v - med)))
    return mean_ad if mean_ad > 0 else 1.0


@dataclass(frozen=True)
class FeatureSchema:
    """An ordered collection of :class:`Feature` objects: the applicant's columns.

    Build one from training data with :meth:`from_frame`, or from YAML with
    :meth:`from_yaml`; lower it to arrays for the solver with :meth:`lower`.
    """

    features: tuple[Feature, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        feats = tuple(self.features)
        object.__setattr__(self, "features", feats)
        if not feats:
            raise SchemaError("A FeatureSchema needs at least one feature.")
        index: dict[str, int] = {}
        for i, f in enumerate(feats):
            if not isinstance(f, Feature):
                raise SchemaError(f"FeatureSchema items must be Feature objects, got {type(f)}.")
            if f.name in index:
                raise SchemaError(f"Feature {f.name!r} appears twice in the schema.")
            index[f.name] = i
        object.__setattr__(self, "_index", index)

    # ------------------------------------------------------------------ access
    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Feature:
        try:
            return self.features[self._index[name]]
        except KeyError:
            raise KeyError(
                f"No feature {name!r} in the schema; known features: {cap_list(self.names)}."
            ) from None

    def replace(self, name: str, **changes: Any) -> FeatureSchema:
        """A new schema with the fields of feature ``name`` changed (e.g. ``immutable=True``)."""
        feat = self[name]
        new = replace(feat, **changes)
        return FeatureSchema(tuple(new if f.name == name else f for f in self.features))

    # ------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        immutable: Iterable[str] = (),
        increase_only: Iterable[str] = (),
        decrease_only: Iterable[str] = (),
        categorical: Iterable[str] | None = None,
        ordinal: Mapping[str, Sequence[Any]] | None = None,
        integer: Iterable[str] | None = None,
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        weights: Mapping[str, float] | None = None,
        scales: Mapping[str, float] | None = None,
        labels: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        reasons: Mapping[str, str] | None = None,
        widen: float = 0.0,
    ) -> FeatureSchema:
        """Infer a schema from training data and apply the user's declarations.

        Parameters
        ----------
        frame : pandas.DataFrame
            Training data (features only), one column per feature, in the model's order.
        immutable, increase_only, decrease_only : iterable of str
            Action-set declarations by column name.
        categorical : iterable of str, optional
            Columns to treat as unordered categories (default: object, string, category
            and bool columns).
        ordinal : mapping of str to sequence, optional
            Columns with ordered levels, lowest first.
        integer : iterable of str, optional
            Numeric columns to treat as integers (default: numeric columns whose observed
            values are all whole numbers; 0/1 columns become ``binary``).
        bounds : mapping of str to (lower, upper), optional
            Override the observed range (``None`` keeps that side).
        weights, scales, labels, units, reasons : mapping, optional
            Per-feature cost weight, cost scale (default MAD), display label, unit and
            the reason shown for a constraint.
        widen : float
            Widen every observed numeric range by this fraction of its width on each
            side (0 keeps the training range).

        Raises
        ------
        SchemaError
            A declaration names an unknown column, or declarations contradict each other.
        """
        if not isinstance(frame, pd.DataFrame):
            raise SchemaError("FeatureSchema.from_frame needs a pandas DataFrame of training data.")
        if len(frame.columns) == 0:
            raise SchemaError("The training frame has no columns; pass the feature columns "
                              "the model was trained on.")
        if len(frame) == 0:
            raise SchemaError(
                "The training frame has no rows: bounds, scales and category levels are "
                "read from the data. Pass the training data (or write the schema YAML by "
                "hand).")
        cols = [str(c) for c in frame.columns]
        if len(set(cols)) != len(cols):
            raise SchemaError("The training frame has duplicate column names.")
        ordinal = dict(ordinal or {})
        decl = {
            "immutable": set(immutable),
            "increase_only": set(increase_only),
            "decrease_only": set(decrease_only),
            "ordinal": set(ordinal),
            "bounds": set(bounds or {}),
            "weights": set(weights or {}),
            "scales": set(scales or {}),
            "labels": set(labels or {}),
            "units": set(units or {}),
            "reasons": set(reasons or {}),
        }
        if categorical is not None:
            decl["categorical"] = set(categorical)
        if integer is not None:
            decl["integer"] = set(integer)
        for what, names in decl.items():
            unknown = sorted(set(names) - set(cols))
            if unknown:
                raise SchemaError(
                    f"{what} names columns not in the training frame: {cap_list(unknown)}. "
                    f"Known columns: {cap_list(cols)}."
                )
        both = sorted(decl["increase_only"] & decl["decrease_only"])
        if both:
            raise SchemaError(f"Features declared both increase-only and decrease-only: {both}.")
        for name in sorted(decl["immutable"] & (decl["increase_only"] | decl["decrease_only"])):
            raise SchemaError(
                f"Feature {name!r} is declared immutable and one-direction: these contradict "
                "each other. Declare it either immutable or increase/decrease-only."
            )

        feats = []
        for col, name in zip(frame.columns, cols):
            s = frame[col]
            if s.isna().any():
                raise SchemaError(
                    f"Training column {name!r} has missing values; impute or drop them before "
                    "building the schema (the model's own handling of NaN is not encoded)."
                )
            direction = (
                "increase" if name in decl["increase_only"]
                else "decrease" if name in decl["decrease_only"] else "any"
            )
            common: dict[str, Any] = dict(
                immutable=name in decl["immutable"],
                direction=direction,
                weight=float((weights or {}).get(name, 1.0)),
                label=(labels or {}).get(name, ""),
                unit=(units or {}).get(name, ""),
                reason=(reasons or {}).get(name, ""),
            )
            is_cat = (
                name in decl["categorical"] if categorical is not None
                else not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
            )
            if name in ordinal:
                levels = tuple(ordinal[name])
                unseen = sorted(set(s.unique()) - set(levels), key=str)
                if unseen:
                    raise SchemaError(
                        f"Ordinal feature {name!r}: observed values {cap_list(unseen)} are not in "
                        "the declared levels."
                    )
                ranks = s.map({v: i for i, v in enumerate(levels)}).to_numpy(float)
                scale = (scales or {}).get(name, robust_scale(ranks))
                feats.append(Feature(name, "ordinal", categories=levels, scale=float(scale),
                                     **common))
                continue
            if is_cat:
                levels = tuple(sorted(s.unique().tolist(), key=lambda v: (str(type(v)), v)))
                feats.append(Feature(name, "categorical", categories=levels, **common))
                continue
            if not pd.api.types.is_numeric_dtype(s):
                raise SchemaError(f"Column {name!r} is not numeric; declare it categorical.")
            v = s.to_numpy(dtype=float)
            if not np.all(np.isfinite(v)):
                raise SchemaError(f"Training column {name!r} has infinite values.")
            whole = bool(np.all(v == np.round(v)))
            is_int = name in decl["integer"] if integer is not None else whole
            if is_int and not whole:
                raise SchemaError(f"Column {name!r} is declared integer but has fractional values.")
            kind = "continuous"
            if is_int:
                kind = "binary" if set(np.unique(v)) <= {0.0, 1.0} else "integer"
            lo, hi = float(v.min()), float(v.max())
            pad = widen * (hi - lo)
            lo, hi = lo - pad, hi + pad
            if is_int:
                lo, hi = math.floor(lo), math.ceil(hi)
            if kind == "binary":
                lo, hi = max(lo, 0), min(hi, 1)
            user_lo, user_hi = (bounds or {}).get(name, (None, None))
            lo = lo if user_lo is None else float(user_lo)
            hi = hi if user_hi is None else float(user_hi)
            scale = float((scales or {}).get(name, robust_scale(v)))
            feats.append(Feature(name, kind, lower=lo, upper=hi, scale=scale, **common))
        return cls(tuple(feats))

    # ------------------------------------------------------------------- YAML
    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (round-trips through :meth:`from_dict` and YAML)."""
        out = []
        for f in self.features:
            d = asdict(f)
            if d["categories"] is not None:
                d["categories"] = [_plain(c) for c in d["categories"]]
            out.append({k: v for k, v in d.items() if v not in (None, "")})
        return {"features": out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSchema:
        """A schema from its plain-data form (see :meth:`to_dict`), checked against the
        declared document schema :class:`SchemaDocument` first.

        Raises
        ------
        SchemaError
            Every key of the wrong type, unknown, or missing, each named with the value
            found and the fix (``immutable: "false"`` is text, not a boolean: refused).
        """
        doc = validate_document(data)
        return cls(tuple(Feature(**item) for item in doc))

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> FeatureSchema:
        """Read a schema written by :meth:`to_yaml` (a path, or YAML text)."""
        import yaml

        text = str(source)
        if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
            if not Path(text).exists():
                raise FileNotFoundError(f"Schema file {text!r} does not exist.")
        if "\n" not in text and Path(text).exists():
            text = Path(text).read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SchemaError(f"The schema YAML could not be parsed: {exc}") from None
        if not isinstance(data, Mapping):
            raise SchemaError(
                f"The schema YAML must hold a mapping with 'features'; got {text[:80]!r}.")
        return cls.from_dict(data)

    # ------------------------------------------------------------- validation
    def validate_row(self, row: Any) -> dict[str, Any]:
        """Check one applicant and return ``{name: value}`` in schema order.

        Accepts a ``pandas.Series``, a mapping, a one-row ``DataFrame`` or a 1-D
        sequence in schema order.

        The numeric range policy. Refused: a value beyond the float32 range the models
        compute in; on a side
        without a bound, a value more than :data:`OPEN_LIMIT` scale units from 0; a
        negative value where the bounds are non-negative; a value more than
        :data:`OUTER_FACTOR` bound widths outside the bounds (:func:`outer_range`). Accepted: a value outside the
        action set's bounds but within that margin -- the search may then keep it (the
        reachable set is the hull of the bounds and the applicant's value); such
        features are named by :func:`outside_bounds` and flagged in audit messages.
        Nothing is ever clipped.

        Raises
        ------
        InputValidationError
            Missing or unexpected columns, wrong length, NaN or inf, a non-numeric value
            (text that is not a plain decimal number, a boolean in a non-binary feature)
            in a numeric feature, a fractional value in an integer feature, a value
            outside the valid range, or an unknown category.
        """
        values = self._row_to_dict(row)
        out: dict[str, Any] = {}
        for f in self.features:
            v = values[f.name]
            if f.is_group:
                if _is_missing(v):
                    raise InputValidationError(f"Feature {f.name!r} is missing (NaN/None).")
                cats = f.categories or ()
                if v not in cats:
                    match = [c for c in cats if str(c) == str(v)]
                    if len(match) != 1:
                        raise InputValidationError(
                            f"Feature {f.name!r} has unknown category {v!r}; known categories: "
                            f"{cap_list(cats)}. Fix the value or add the category to the schema."
                        )
                    v = match[0]
                out[f.name] = v
                continue
            x = _number(f, v)
            if f.is_integer and x != round(x):
                raise InputValidationError(
                    f"Feature {f.name!r} is {f.kind} but got {x!r}; give a whole number.")
            _check_range(f, x)
            out[f.name] = x
        return out

    def _row_to_dict(self, row: Any) -> dict[str, Any]:
        if isinstance(row, pd.DataFrame):
            if len(row) != 1:
                raise InputValidationError(
                    f"Expected one applicant (a one-row DataFrame), got {len(row)} rows."
                )
            row = row.iloc[0]
        if isinstance(row, pd.Series | Mapping):
            problem = name_mismatch(self.names, [str(k) for k in row.keys()],
                                    extra="unexpected columns", missing="missing columns")
            if problem:
                raise InputValidationError(
                    f"The applicant's columns do not match the schema: {problem}. Pass the "
                    "same columns the model was trained on."
                )
            return {str(k): v for k, v in row.items()}
        arr = np.asarray(row, dtype=object).ravel()
        if arr.size != len(self):
            raise InputValidationError(
                f"The applicant has {arr.size} features, but the schema expects {len(self)}."
            )
        return dict(zip(self.names, arr.tolist()))

    def row_frame(self, row: Mapping[str, Any]) -> pd.DataFrame:
        """A one-row DataFrame of a validated row in schema column order."""
        return pd.DataFrame([[row[n] for n in self.names]], columns=self.names)

    # ----------------------------------------------------------------- lower
    def search_space(self) -> SearchSpace:
        """The layout of the search variables (one per numeric feature, a one-hot group
        per categorical or ordinal feature) handed to the encoders."""
        return SearchSpace(
            names=tuple(self.names),
            levels=tuple(f.categories if f.is_group else None for f in self.features),
            integer=np.array([f.is_integer for f in self.features], dtype=bool),
            lower=np.array([f.bounds()[0] if not f.is_group else np.nan for f in self.features]),
            upper=np.array([f.bounds()[1] if not f.is_group else np.nan for f in self.features]),
        )

    def lower(self) -> ActionSpec:
        """The action set as plain arrays for the solver layer (see ``solvers.ActionSpec``)."""
        n = len(self)
        direction = np.array(
            [{"any": 0, "increase": 1, "decrease": -1}[f.direction] for f in self.features],
            dtype=np.int8,
        )
        ordered = np.array([f.kind == "ordinal" for f in self.features], dtype=bool)
        unit_cost = np.array(
            [f.weight if f.kind == "categorical" else f.weight / f.scale for f in self.features]
        )
        return ActionSpec(
            space=self.search_space(),
            mutable=np.array([not f.immutable for f in self.features], dtype=bool),
            direction=direction,
            ordered=ordered,
            unit_cost=unit_cost,
            l0_weight=np.array([f.weight for f in self.features]),
        ).checked(n)

    def encode_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """A validated row as a search-space vector (numeric values and one-hot levels)."""
        return self.search_space().encode(row)

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
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import InputValidationError, SchemaError, cap_list, name_mismatch
from recourse.solvers.spec import ActionSpec

__all__ = ["DIRECTIONS", "FLOAT32_MAX", "KINDS", "OPEN_LIMIT", "OUTER_FACTOR", "Feature", "FeatureSchema",
           "check_columns", "outer_range", "outside_bounds", "valid_range",
           "validate_document"]

KINDS = ("continuous", "integer", "binary", "categorical", "ordinal")
DIRECTIONS = ("any", "increase", "decrease")
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


# ------------------------------------------------------------- document schema
_HINTS = {
    "name": "write the column name as text (quote it if it looks like a number or a date)",
    "kind": f"write one of {', '.join(KINDS)}",
    "categories": "write a YAML list of plain levels, one per item, e.g. [rent, own] "
                  "(no nested lists, no nulls; quote levels that look like dates)",
    "lower": "write a number without quotes, or leave the key out (unbounded)",
    "upper": "write a number without quotes, or leave the key out (unbounded)",
    "immutable": "write true or false without quotes",
    "direction": f"write one of {', '.join(DIRECTIONS)}",
    "scale": "write a positive number without quotes",
    "weight": "write a positive number without quotes",
    "label": "write text", "unit": "write text", "reason": "write text",
    "features": "write a list of feature mappings, each with at least name and kind",
}


def _document_models() -> tuple[Any, Any]:
    """The pydantic models of a schema document (built on first use)."""
    global _MODELS
    if _MODELS is None:
        from typing import Literal

        from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

        number = float | int  # strict: no text, no booleans
        level = StrictStr | bool | int | float

        class FeatureDocument(BaseModel):
            """One feature of a schema YAML file (see :class:`Feature`)."""

            model_config = ConfigDict(extra="forbid", strict=True)
            name: StrictStr = Field(min_length=1)
            kind: Literal[KINDS]  # type: ignore[valid-type]
            categories: list[level] | None = None  # type: ignore[valid-type]
            lower: number | None = None  # type: ignore[valid-type]
            upper: number | None = None  # type: ignore[valid-type]
            immutable: StrictBool = False
            direction: Literal[DIRECTIONS] = "any"  # type: ignore[valid-type]
            scale: number = 1.0  # type: ignore[valid-type]
            weight: number = 1.0  # type: ignore[valid-type]
            label: StrictStr = ""
            unit: StrictStr = ""
            reason: StrictStr = ""

        class SchemaDocument(BaseModel):
            """A schema YAML file: ``features:`` and a list of features."""

            model_config = ConfigDict(extra="forbid", strict=True)
            features: list[FeatureDocument] = Field(min_length=1)

        _MODELS = (FeatureDocument, SchemaDocument)
    return _MODELS


_MODELS: tuple[Any, Any] | None = None


def _plain_data(value: Any) -> Any:
    """numpy scalars as Python scalars and tuples as lists (Python callers' documents)."""
    if isinstance(value, Mapping):
        return {k: _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    return _plain(value)


def validate_document(data: Any) -> list[dict[str, Any]]:
    """Check a schema document (the parsed YAML) against the declared document schema.

    Returns the features as keyword dicts for :class:`Feature` (only the keys given).

    Raises
    ------
    SchemaError
        Listing every problem: where (feature number and name, key), the value found and
        the fix.
    """
    from pydantic import ValidationError

    if not isinstance(data, Mapping):
        raise SchemaError(
            f"A schema document must be a mapping with a 'features' list; got "
            f"{type(data).__name__} {_short(data)}.")
    data = _plain_data(data)
    _, document = _document_models()
    try:
        doc = document.model_validate(data)
    except ValidationError as exc:
        raise SchemaError(_explain_errors(exc, data)) from None
    out = []
    for item, given in zip(doc.features, data["features"]):
        kw = {k: getattr(item, k) for k in given}
        if kw.get("categories") is not None:
            kw["categories"] = tuple(kw["categories"])
        out.append(kw)
    return out


def _explain_errors(exc: Any, data: Mapping[str, Any]) -> str:
    lines = []
    seen = set()
    for err in exc.errors():
        loc = list(err["loc"])
        where, key = "the schema document", None
        if loc and loc[0] == "features":
            key = "features"
            if len(loc) >= 2 and isinstance(loc[1], int):
                i = loc[1]
                feats = data.get("features")
                item = feats[i] if isinstance(feats, list) and i < len(feats) else None
                name = item.get("name") if isinstance(item, Mapping) else None
                where = f"feature #{i}" + (f" ({name!r})" if isinstance(name, str) else "")
                key = str(loc[2]) if len(loc) >= 3 else None
                if len(loc) >= 4 and isinstance(loc[3], int):
                    where += f", {key} item #{loc[3]}"
        elif loc:
            key = str(loc[0])
        if (where, key) in seen or any(w.startswith(where + ",") and k == key
                                        for w, k in seen):  # a union reports one error per member: keep the first
            continue
        seen.add((where, key))
        if err["type"] == "extra_forbidden":
            allowed = "features" if where == "the schema document" else ", ".join(
                k for k in _HINTS if k != "features")
            lines.append(f"{where}: unknown key {key!r} (value {_short(err['input'])}); "
                         f"allowed keys: {allowed}.")
            continue
        if err["type"] == "missing":
            lines.append(f"{where}: the key {key!r} is missing; add it ({_HINTS.get(key or '', '')}).")
            continue
        value = err.get("input")
        hint = _HINTS.get(key or "", "fix the value")
        if key is None and where != "the schema document":
            hint = "each feature is a mapping with at least name and kind"
        if isinstance(value, str) and key in ("lower", "upper", "scale", "weight"):
            try:
                float(value)
                hint += (f" ({value!r} is text: drop the quotes; YAML also reads an exponent "
                         "without a sign, like 1e5, as text: write 100000 or 1.0e+5)")
            except ValueError:
                pass
        if key == "features" and where != "the schema document":
            key_text = ""
        else:
            key_text = f", key {key!r}" if key else ""
        lines.append(f"{where}{key_text}: got {_short(value)} ({type(value).__name__}); "
                     f"{err['msg'].rstrip('.')}. Fix: {hint}.")
    head = "The schema document is not valid"
    return f"{head} ({len(lines)} problem{'s' if len(lines) != 1 else ''}):\n- " + \
        "\n- ".join(lines)


def _short(value: Any, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n - 3] + "..."


def _is_missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v

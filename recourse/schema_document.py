"""The declared document schema of a feature-schema YAML file (pydantic, strict), with
messages that name the feature, the key, the value and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recourse.encoders.errors import SchemaError
from recourse.schema_checks import DIRECTIONS, KINDS, _plain

__all__ = ["validate_document"]


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
            categories: list[level] | None = None
            lower: number | None = None
            upper: number | None = None
            immutable: StrictBool = False
            direction: Literal[DIRECTIONS] = "any"  # type: ignore[valid-type]
            scale: number = 1.0
            weight: number = 1.0
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
    lines: list[str] = []
    seen: set[Any] = set()
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
                                        for w, k in seen):
                # a union reports one error per member: keep the first
            continue
        seen.add((where, key))
        if err["type"] == "extra_forbidden":
            allowed = "features" if where == "the schema document" else ", ".join(
                k for k in _HINTS if k != "features")
            lines.append(f"{where}: unknown key {key!r} (value {_short(err['input'])}); "
                         f"allowed keys: {allowed}.")
            continue
        if err["type"] == "missing":
            lines.append(f"{where}: the key {key!r} is missing; add it "
                         f"({_HINTS.get(key or '', '')}).")
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

"""The declared document schema of a causal-model YAML file (pydantic, strict): every key
type-checked before a graph is built, with messages that name the key, the value and the
fix (``recourse.causal.CausalModel.from_dict`` reads documents through it)."""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["validate_causal_document"]

_FIX = ("write a mapping with 'edges' (a list of [cause, effect] pairs of column names), "
        "optional 'nodes' (column names) and optional 'equations': per node a mapping with "
        "type 'linear' or 'piecewise' (linear: coef {cause: number}, intercept; piecewise: "
        "also pieces {cause: {breakpoints: [numbers], values: [numbers]}})")


def _models() -> Any:
    from pydantic import BaseModel, ConfigDict, Field

    class Strict(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")

    class Linear(Strict):
        type: Literal["linear"] = "linear"
        coef: dict[str, float] = Field(default_factory=dict)
        intercept: float = 0.0

    class Piece(Strict):
        breakpoints: list[float]
        values: list[float]

    class Piecewise(Strict):
        type: Literal["piecewise"]
        pieces: dict[str, Piece]
        coef: dict[str, float] = Field(default_factory=dict)
        intercept: float = 0.0

    class Document(Strict):
        nodes: list[str] = Field(default_factory=list)
        edges: list[list[str]]
        equations: dict[str, Linear | Piecewise] = Field(default_factory=dict)

    return Document


def validate_causal_document(data: Any) -> dict[str, Any]:
    """``data`` checked and returned as plain data (``edges`` as pairs), or a
    :class:`recourse.causal.CausalGraphError` naming the key, the value and the fix."""
    from pydantic import ValidationError

    from recourse.encoders.errors import SchemaError

    if not isinstance(data, dict):
        raise SchemaError(f"A causal model document must be a mapping, got "
                          f"{type(data).__name__}; {_FIX}.")
    try:
        doc = _models().model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        got = first.get("input")
        raise SchemaError(
            f"Causal model document: {where} = {_short(got)} is not valid ({first['msg']}); "
            f"{_FIX}.") from None
    for e in doc.edges:
        if len(e) != 2:
            raise SchemaError(f"Each edge must be a [cause, effect] pair; got {e!r}.")
    out = doc.model_dump()
    out["edges"] = [tuple(e) for e in doc.edges]
    return out


def _short(value: Any, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."

"""An audit's inputs, read and checked once: the model, the applicants and the schema
loaded from files or objects, the id column, the target, which rows the model denies
(the plan), and a hash of each input frame for the audit's identity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recourse.audit.workers import Record
from recourse.encoders.errors import InputValidationError, cap_list
from recourse.engine import RecourseEngine
from recourse.schema import FeatureSchema, check_columns
from recourse.verify import model_predict

__all__ = ["MAX_GROUPS"]

#: Most distinct values a numeric protected attribute may have (else: bin it first).
MAX_GROUPS = 20


def _load_inputs(model: Any, data: Any, schema: Any, reference: Any,
                 trust_pickle: bool) -> tuple[Any, str, pd.DataFrame, FeatureSchema, Any]:
    import joblib

    from recourse.io import load_model, load_schema, read_table

    if isinstance(model, (str, Path)):
        model_hash = "file:" + hashlib.sha256(Path(model).read_bytes()).hexdigest() \
            if Path(model).is_file() else ""
        model = load_model(model, trust_pickle=trust_pickle)
    else:
        model_hash = "object:" + joblib.hash(model)
    if isinstance(schema, (str, Path)):
        schema = load_schema(schema)
    if not isinstance(schema, FeatureSchema):
        raise InputValidationError(
            f"schema must be a FeatureSchema or the path of a schema YAML file, got "
            f"{type(schema).__name__}.")
    data = read_data(data)
    if isinstance(reference, (str, Path)):
        reference = read_table(reference)
    return model, model_hash, data, schema, reference


def _check_data(data: pd.DataFrame, schema: FeatureSchema, id_column: str | None,
                protected: str | None, extra_columns: Any = (),
                intersect: str | None = None) -> pd.Series:
    """Up-front checks; returns the applicants' ids."""
    if len(data) == 0:
        raise InputValidationError(
            "The data set is empty: there is no applicant to audit. Check the file or filter.")
    columns = [str(c) for c in data.columns]
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise InputValidationError(
            f"The data has duplicated column names {cap_list(dup)}; give every column a "
            "unique name.")
    if isinstance(extra_columns, str):
        extra_columns = [extra_columns]
    used = {k: v for k, v in (("id column", id_column), ("protected attribute", protected),
                              ("second protected attribute", intersect))
            if v is not None and v in columns}
    check_columns(schema, columns, extra_columns=extra_columns or (), used=used,
                  where="The data")
    if protected is not None and protected not in columns:
        raise InputValidationError(
            f"The protected attribute {protected!r} is not a column of the data; columns: "
            f"{cap_list(columns)}.")
    if intersect is not None:
        from recourse.audit.fairness import check_intersect

        check_intersect(protected, intersect, columns)
    for attr in (protected, intersect):
        if attr is None:
            continue
        values = data[attr]
        if pd.api.types.is_numeric_dtype(values.dtype) and values.nunique() > MAX_GROUPS:
            raise InputValidationError(
                f"The protected attribute {attr!r} is numeric with "
                f"{values.nunique()} distinct values; bin it into at most {MAX_GROUPS} "
                "groups first (e.g. pandas.cut into a new column) and pass that column.")
    if id_column is None:
        ids = pd.Series(data.index, index=data.index)
        where = "the data's index"
    else:
        if id_column not in columns:
            raise InputValidationError(
                f"The id column {id_column!r} is not a column of the data; columns: "
                f"{cap_list(columns)}.")
        if id_column in schema.names:
            raise InputValidationError(
                f"The id column {id_column!r} is one of the model's features; choose a "
                "column that only identifies the applicant.")
        ids = data[id_column]
        where = f"the id column {id_column!r}"
    if ids.isna().any():
        raise InputValidationError(
            f"{where} has {int(ids.isna().sum())} missing ids; every applicant needs one.")
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise InputValidationError(
            f"{where} has duplicated ids {cap_list(dup)}; every applicant needs a unique id.")
    return ids


def _id_values(ids: pd.Series) -> tuple[list[Any], pa.DataType]:
    if pd.api.types.is_integer_dtype(ids.dtype):
        return [int(v) for v in ids], pa.int64()
    return [str(v) for v in ids], pa.string()


def _resolve_target(engine: RecourseEngine, target: Any) -> Any:
    if target is None:
        raise InputValidationError(
            f"Name the class applicants should reach with target=... (CLI: --target); the "
            f"model's classes are {cap_list(engine.classes)}.")
    for c in engine.classes:
        if c == target or str(c) == str(target):
            return c.item() if hasattr(c, "item") else c
    raise InputValidationError(
        f"Unknown target class {target!r}; the model's classes are {cap_list(engine.classes)}.")


def _plan(data: pd.DataFrame, schema: FeatureSchema, model: Any, target: Any,
          select: str, ids: list[Any]) -> list[Record]:
    """Validate every row; keep the invalid ones and those the model does not give target."""
    raw_rows = data[schema.names].to_dict(orient="records")
    problems: list[str | None] = []
    valid: list[dict[str, Any]] = []
    for raw in raw_rows:
        try:
            valid.append(schema.validate_row(raw))
            problems.append(None)
        except InputValidationError as exc:
            problems.append(str(exc))
    keep = np.ones(len(raw_rows), dtype=bool)
    if select == "denied" and valid:
        ok = np.flatnonzero([p is None for p in problems])
        pred = _predict_each(model, schema, valid)
        for i, p in zip(ok, pred):
            if isinstance(p, _Failed):  # the model itself cannot score this row
                problems[i] = p.message
            else:
                keep[i] = str(p) != str(target)
    plain = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
             for r in raw_rows]
    return [(i, ids[i], plain[i] if problems[i] is None else None, problems[i])
            for i in range(len(raw_rows)) if keep[i]]


@dataclass(frozen=True)
class _Failed:
    message: str


def _predict_each(model: Any, schema: FeatureSchema, rows: list[dict[str, Any]]) -> list[Any]:
    """The model's predictions; when the batch fails, row by row, so that a row the model
    cannot score becomes that row's problem instead of the end of the audit."""
    try:
        return list(model_predict(model, schema, rows))
    except Exception:  # one bad row: find it below
        pass
    out: list[Any] = []
    for r in rows:
        try:
            out.append(model_predict(model, schema, [r])[0])
        except Exception as exc:  # the model's own failure on this row
            out.append(_Failed(f"The model's predict failed on this row "
                               f"({type(exc).__name__}: {exc}); check its values."))
    return out


def _frame_hash(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return "none"
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def read_data(data: Any) -> pd.DataFrame:
    """The applicants: a DataFrame as given, or read from a CSV/Parquet path."""
    from recourse.io import read_table

    if isinstance(data, (str, Path)):
        data = read_table(data)
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(
            f"data must be a DataFrame or the path of a CSV/Parquet file, got "
            f"{type(data).__name__}.")
    return data

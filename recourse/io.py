"""Reading and writing models, schemas and applicants without running untrusted code.

Models are saved in the skops format, which stores an object's state instead of code.
Loading a ``.skops`` file trusts skops' own safe types plus a short allow-list of
scikit-learn and numpy types (:data:`TRUSTED_SKOPS_TYPES`); any other type in the file
stops the load with :class:`~recourse.errors.UntrustedModelError`. Pickle files
(``.pkl``, ``.pickle``, ``.joblib``) can run arbitrary code when loaded, so they are
loaded only when the caller says they trust the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from recourse.encoders.errors import InputValidationError, UntrustedModelError, cap_list
from recourse.schema import FeatureSchema, check_columns

__all__ = [
    "PICKLE_SUFFIXES",
    "SKOPS_SUFFIXES",
    "TRUSTED_SKOPS_TYPES",
    "load_applicant",
    "load_model",
    "load_schema",
    "read_table",
    "save_model",
]

SKOPS_SUFFIXES = (".skops",)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Cells read as missing in applicant CSVs. Narrower than pandas' default list, which also
# turns the text "None" into NaN and would corrupt a category of that name.
_NA_VALUES = ["", "NaN", "nan", "NA", "N/A", "<NA>", "null", "NULL"]

#: Types that skops does not trust by default but that we do: plain data holders from
#: scikit-learn and numpy whose state cannot run code.
TRUSTED_SKOPS_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.ExponentialLoss",
})


def _existing_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"The {what} file {str(p)!r} does not exist; check the path.")
    if not p.is_file():
        raise FileNotFoundError(f"The {what} path {str(p)!r} is not a file; give a file path.")
    return p


def save_model(model: Any, path: str | Path) -> Path:
    """Save a fitted model in the skops format.

    Parameters
    ----------
    model : fitted estimator or Pipeline
    path : str or Path
        Target file; must end in ``.skops``.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputValidationError
        ``path`` does not end in ``.skops``.
    """
    import skops.io as sio

    p = Path(path)
    if p.suffix.lower() not in SKOPS_SUFFIXES:
        raise InputValidationError(
            f"Models are saved in the skops format; name the file '*.skops', got {str(p)!r}."
        )
    sio.dump(model, p)
    return p


def load_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    """Load a model saved with :func:`save_model` (skops) or, if trusted, a pickle.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file, or a ``.pkl`` / ``.pickle`` / ``.joblib`` file.
    trust_pickle : bool
        Load pickle files. A pickle runs arbitrary code while loading: pass True only
        for files you created or otherwise trust.

    Returns
    -------
    object
        The fitted model.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    UntrustedModelError
        A skops file holds types outside skops' defaults and
        :data:`TRUSTED_SKOPS_TYPES` (they are named), or a pickle file was given without
        ``trust_pickle=True``.
    InputValidationError
        The extension is not one of the supported ones, or the file cannot be read.
    """
    p = _existing_file(path, "model")
    suffix = p.suffix.lower()
    if suffix in SKOPS_SUFFIXES:
        return _load_skops(p)
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise UntrustedModelError(
                f"Refusing to load {str(p)!r}: pickle files ({', '.join(PICKLE_SUFFIXES)}) "
                "run arbitrary code while loading. Pass trust_pickle=True (CLI: "
                "--trust-pickle) only for a file you created or otherwise trust, or convert "
                "the model to skops with recourse.io.save_model(model, 'model.skops')."
            )
        import joblib

        try:
            return joblib.load(p)
        except Exception as exc:  # any failure means "cannot read"
            raise InputValidationError(
                f"Could not load the pickle file {str(p)!r}: {type(exc).__name__}: {exc}"
            ) from exc
    raise InputValidationError(
        f"Unknown model file type {p.suffix!r} for {str(p)!r}; use a skops file "
        f"({', '.join(SKOPS_SUFFIXES)}) or, if you trust it, a pickle file "
        f"({', '.join(PICKLE_SUFFIXES)})."
    )


def _load_skops(p: Path) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:  # a corrupt or foreign file
        raise InputValidationError(
            f"Could not read the skops file {str(p)!r}: {type(exc).__name__}: {exc}"
        ) from exc
    refused = sorted(t for t in untrusted if t not in TRUSTED_SKOPS_TYPES)
    if refused:
        raise UntrustedModelError(
            f"Refusing to load {str(p)!r}: it contains types that are not on the "
            f"allow-list of scikit-learn and numpy types: {cap_list(refused)}. Inspect the "
            "file with skops.io.get_untrusted_types and load it yourself with "
            "skops.io.load(path, trusted=[...]) if you trust those types."
        )
    return sio.load(p, trusted=list(untrusted))


def load_schema(path: str | Path) -> FeatureSchema:
    """Read a feature schema from a YAML file (see :meth:`FeatureSchema.to_yaml`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    SchemaError
        The file is not a valid schema.
    """
    p = _existing_file(path, "schema")
    return FeatureSchema.from_yaml(p.read_text(encoding="utf-8") + "\n")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame (the applicants' file format).

    A CSV is read as UTF-8 (a byte-order mark is allowed) with its first line as the
    header, and never with an index column: before pandas parses it, every line is
    checked to have exactly as many fields as the header, so a row with one field too
    many or too few is an error naming the line, never a row shifted by one column.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    InputValidationError
        Unsupported extension; an empty file or header; a duplicated column name; a line
        whose field count differs from the header's; a file that is not
        UTF-8; or a file that cannot be parsed. (An unnamed column, such as an index
        written by pandas, is read as ``Unnamed: N`` and then refused as an unexpected
        column by the column rule.)
    """
    p = _existing_file(path, "applicant")
    kind = _TABLE_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputValidationError(
            f"Unknown applicant file type {p.suffix!r} for {str(p)!r}; use "
            f"{', '.join(_TABLE_SUFFIXES)}."
        )
    try:
        if kind == "csv":
            n_rows = _check_csv_shape(p)
            frame = pd.read_csv(p, keep_default_na=False, na_values=_NA_VALUES,
                                index_col=False, encoding="utf-8-sig")
            if len(frame) != n_rows:  # the two parsers disagree: never guess
                raise InputValidationError(
                    f"{str(p)!r}: pandas read {len(frame)} rows where {n_rows} lines have "
                    "data (an unbalanced quote?); check the file's quoting.")
        else:
            frame = pd.read_parquet(p)
    except InputValidationError:
        raise
    except ImportError as exc:
        raise InputValidationError(
            f"Reading Parquet needs pyarrow: pip install pyarrow ({exc})."
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputValidationError(
            f"{str(p)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
            "UTF-8 (e.g. in a spreadsheet: CSV UTF-8)."
        ) from None
    except Exception as exc:  # parser errors of every kind
        raise InputValidationError(
            f"Could not read {str(p)!r}: {type(exc).__name__}: {exc}"
        ) from exc
    _check_column_names([str(c) for c in frame.columns], p)
    return frame


def _check_column_names(names: list[str], p: Path) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputValidationError(
            f"{str(p)!r} has duplicated column names {cap_list(dup)}; give every column a "
            "unique name (which of the two would be the applicant's value is unknowable).")


def _check_csv_shape(p: Path) -> int:
    """Check that every non-blank line of a CSV has as many fields as its header.

    Returns the number of data rows.
    """
    import csv

    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise InputValidationError(
                    f"The applicant file {str(p)!r} is empty or its first line (the header) "
                    "is blank; the first line must name the columns.")
            _check_column_names(header, p)
            n_rows = 0
            for fields in reader:
                if not fields:  # a blank line: pandas skips it too
                    continue
                if len(fields) != len(header):
                    more = len(fields) > len(header)
                    raise InputValidationError(
                        f"{str(p)!r}, line {reader.line_num} (data row {n_rows}, 0-based): "
                        f"{len(fields)} fields but the header names {len(header)} columns. "
                        + ("A field too many would shift every value by one column; remove "
                           "the extra field (a trailing comma?) or add its column name to "
                           "the header." if more else
                           "Add the missing field(s); an empty field (two commas) is a "
                           "missing value."))
                n_rows += 1
        except csv.Error as exc:
            raise InputValidationError(
                f"{str(p)!r}, line {reader.line_num}: not valid CSV ({exc}).") from None
    return n_rows


def load_applicant(
    path: str | Path, schema: FeatureSchema, *, row: int | None = None,
    extra_columns: Iterable[str] = (),
) -> dict[str, Any]:
    """Read one applicant from a CSV or Parquet file and validate it against ``schema``.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.parquet`` or ``.pq`` with one column per schema feature (in any
        order; other columns only when listed in ``extra_columns``). In a CSV, empty cells
        and ``NaN``, ``nan``, ``NA``,
        ``N/A``, ``<NA>``, ``null``, ``NULL`` are missing values (and are rejected).
    schema : FeatureSchema
    row : int, optional
        0-based position of the applicant in a file with several rows. Required when the
        file has more than one row.
    extra_columns : iterable of str
        Columns that are not features but may be in the file (an id, a label): carried
        along and ignored. Any other non-feature column is an error (see
        :func:`recourse.schema.check_columns`, the rule audits follow too).

    Returns
    -------
    dict
        ``{feature: value}`` in schema order (see :meth:`FeatureSchema.validate_row`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    InputValidationError
        The file is empty, has several rows and no ``row`` was given, ``row`` is out of
        range, or the applicant fails validation (missing value, unknown category, ...).
    """
    frame = read_table(path)
    ignored = check_columns(schema, frame.columns, extra_columns=extra_columns,
                            where=f"The applicant file {str(path)!r}")
    frame = frame.drop(columns=ignored)
    n = len(frame)
    if n == 0:
        raise InputValidationError(f"The applicant file {str(path)!r} has no rows.")
    if row is None:
        if n > 1:
            raise InputValidationError(
                f"The applicant file {str(path)!r} has {n} rows; choose one with row=N "
                f"(CLI: --row N), 0-based, 0 <= N < {n}."
            )
        row = 0
    if not 0 <= row < n:
        raise InputValidationError(
            f"Row {row} is out of range: {str(path)!r} has {n} row{'s' if n != 1 else ''} "
            f"(0-based, 0 <= N < {n})."
        )
    return schema.validate_row(_plain_row(frame.iloc[row]))


def _plain_row(series: pd.Series) -> Mapping[str, Any]:
    """A row as ``{column: python value}`` (numpy scalars unwrapped)."""
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in series.items()}

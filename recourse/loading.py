"""Loading what the data-driven options need: training rows and the isolation forest.

``recourse explain|letter --data TRAIN`` and ``recourse audit --reference TRAIN`` read the
training rows with :func:`load_training`; ``--plausible`` (and the plausibility score every
answer reports when training rows are given) uses :func:`fit_isolation_forest`, which the
benchmarks use too, so that the CLI and the benchmarks fit the same forest.

Nothing here parses flags or solves anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.schema import FeatureSchema

__all__ = ["ISO_SAMPLES", "ISO_TREES", "fit_isolation_forest", "load_training"]

#: Trees of the isolation forest ``--plausible`` fits (each becomes part of the MILP;
#: 50 trees of at most 256 samples keep the German RF 100x6 answers near 0.1 s).
ISO_TREES = 50
#: Samples per isolation tree (sklearn's default ``"auto"`` is ``min(256, n)``).
ISO_SAMPLES = 256


def load_training(source: str | Path, schema: FeatureSchema,
                  flag: str = "--data") -> pd.DataFrame:
    """Training rows from a CSV/Parquet file, or a bundled data set's training split.

    Parameters
    ----------
    source : str or Path
        A file path, or ``"german"`` / ``"credit_data"`` (the stratified 70 % split of
        :func:`recourse.datasets.train_test`, seed 0: the rows the bundled models see).
    schema : FeatureSchema
        Every schema feature must be a column; other columns are ignored.
    flag : str
        The option's name in messages.

    Returns
    -------
    DataFrame
        The schema's feature columns, in schema order, with a fresh index.

    Raises
    ------
    InputValidationError
        The file does not exist and is no bundled name; a feature column is missing;
        a feature has missing values or a category the schema does not know.
    """
    from recourse.datasets import DATASETS, train_test
    from recourse.io import read_table

    path = Path(source)
    if path.is_file():
        frame = read_table(path)
    elif str(source) in DATASETS:
        frame = train_test(str(source), seed=0)[0]
    else:
        raise InputValidationError(
            f"{flag} {str(source)!r} is neither a file nor a bundled data set "
            f"({', '.join(DATASETS)}); give a CSV/Parquet of the training rows.")
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise InputValidationError(
            f"{flag} lacks {len(missing)} of the schema's feature columns: "
            f"{cap_list(missing)}; give the training rows the model was fitted on.")
    frame = frame[schema.names]
    if len(frame) == 0:
        raise InputValidationError(f"{flag} has no rows.")
    bad = frame.columns[frame.isna().any()].tolist()
    if bad:
        raise InputValidationError(
            f"{flag} has missing values in {cap_list(bad)} "
            f"({int(frame[bad].isna().any(axis=1).sum())} rows); drop or impute them first.")
    for f in schema:
        if f.is_group:
            unknown = sorted(set(frame[f.name].astype(object)) - set(f.categories or ()),
                             key=str)
            if unknown:
                raise InputValidationError(
                    f"{flag}: {f.name!r} has levels the schema does not know: "
                    f"{cap_list(unknown)}; use the schema the model was trained with.")
    return frame.reset_index(drop=True)


def fit_isolation_forest(model: Any, X: pd.DataFrame, *, n_estimators: int = ISO_TREES,
                         seed: int = 0) -> Any:
    """An ``IsolationForest`` fitted on ``X``.

    Parameters
    ----------
    model : estimator
        When a scikit-learn ``Pipeline``, the forest sits behind a fresh copy of its
        preprocessing steps (so it reads the same columns as the model).
    X : DataFrame
        The training rows.
    n_estimators : int
        Trees of the forest (each becomes part of the MILP).
    seed : int
        ``random_state`` of the forest.

    Returns
    -------
    estimator
        The fitted ``IsolationForest`` or ``Pipeline`` ending in one.
    """
    from sklearn.base import clone
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import Pipeline

    iso = IsolationForest(n_estimators=n_estimators, max_samples=min(ISO_SAMPLES, len(X)),
                          random_state=seed)
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        steps = [(name, clone(step)) for name, step in model.steps[:-1]]
        return Pipeline([*steps, ("iso", iso)]).fit(X)
    return iso.fit(X)

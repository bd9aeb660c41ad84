"""The audit table read the way its figures need it: a few flat columns at once, nested
columns in batches.

An audit of a portfolio has one row per applicant, and most of a row's weight is in its
nested columns (``changes``, ``why_sets``, ``cost_without``) and its text (``message``).
The summary, the fairness figures and the plots need only a handful of flat columns
(status, cost, L0, ...) for every row; the change counts need ``changes`` but only one
batch at a time; the listings need ``id`` and ``message`` of a few statuses only.
:class:`ResultsView` gives exactly that, from ``results.parquet`` (Arrow reads only the
columns asked for, and filters rows by status before they become Python objects) or from
an in-memory DataFrame (tests, callers of :func:`recourse.audit.summarize`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["BATCH_ROWS", "FLAT", "LIST_CAP", "ResultsView"]

#: Flat columns every summary figure may use (read for every row).
FLAT = ("position", "status", "target", "norm", "cost", "l1_cost", "l0", "n_changes",
        "optimal", "verified", "total_time")
#: Rows per batch when a nested column is streamed.
BATCH_ROWS = 4096
#: Most applicants a listing in ``summary.json`` (and a table of the reports) names; the
#: counts are always complete, and every applicant is in ``results.parquet`` (the
#: no-recourse ones also in ``no_recourse.csv``).
LIST_CAP = 100


class ResultsView:
    """Column-wise access to an audit table.

    Parameters
    ----------
    source : DataFrame or Path
        The table itself, or the path of ``results.parquet``.
    """

    def __init__(self, source: pd.DataFrame | str | Path) -> None:
        self._frame = source if isinstance(source, pd.DataFrame) else None
        self._path = None if self._frame is not None else Path(source)
        self._flat: pd.DataFrame | None = None

    @property
    def columns(self) -> list[str]:
        """Every column of the table."""
        if self._frame is not None:
            return list(self._frame.columns)
        import pyarrow.parquet as pq

        return list(pq.read_schema(self._path).names)

    def flat(self) -> pd.DataFrame:
        """The flat columns of :data:`FLAT` for every row (read once, then kept)."""
        if self._flat is None:
            cols = [c for c in FLAT if c in self.columns]
            if self._frame is not None:
                self._flat = self._frame[cols].reset_index(drop=True)
            else:
                import pyarrow.parquet as pq

                self._flat = pq.read_table(self._path, columns=cols).to_pandas()
        return self._flat

    def __len__(self) -> int:
        return len(self.flat())

    def select(self, columns: Sequence[str], statuses: Sequence[str],
               limit: int | None = None) -> pd.DataFrame:
        """``columns`` of the rows whose status is in ``statuses``, in table order, at
        most ``limit`` of them (None: all)."""
        parts = []
        n = 0
        for part in self.batches(columns, statuses):
            if limit is not None:
                part = part.head(limit - n)
            parts.append(part)
            n += len(part)
            if limit is not None and n >= limit:
                break
        if not parts:
            return pd.DataFrame({c: [] for c in columns})
        return pd.concat(parts, ignore_index=True)

    def batches(self, columns: Sequence[str], statuses: Sequence[str] | None = None
                ) -> Iterator[pd.DataFrame]:
        """``columns`` in batches of at most :data:`BATCH_ROWS` rows, in table order,
        optionally only the rows whose status is in ``statuses``."""
        cols = list(columns)
        if self._frame is not None:
            frame = self._frame
            if statuses is not None:
                frame = frame[frame["status"].isin(list(statuses))]
            yield frame[cols].reset_index(drop=True)
            return
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        need = cols + ([] if statuses is None or "status" in cols else ["status"])
        wanted: Any = None if statuses is None else list(statuses)
        with pq.ParquetFile(self._path) as fh:
            for batch in fh.iter_batches(batch_size=BATCH_ROWS, columns=need):
                if wanted is not None:
                    batch = batch.filter(pc.is_in(batch.column("status"),
                                                  value_set=_array(wanted)))
                    if not batch.num_rows:
                        continue
                yield batch.select(cols).to_pandas()


def _array(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, type=pa.string())

"""The search space: the variables in which recourse is searched, in the user's units.

Every numeric feature is one variable (its value, in user units); every categorical or
ordinal feature is a one-hot group with one 0/1 variable per level (exactly one active).
Encoders receive a :class:`SearchSpace` and express the model's inputs as an affine map
of these variables, so that the search never happens in scaled or one-hot model
coordinates the user does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SearchSpace", "level_codes"]


def level_codes(levels: Sequence[Any]) -> dict[Any, int]:
    """``{level: index}``, the first index of a repeated level (as ``list.index`` finds it)."""
    first: dict[Any, int] = {}
    for k, v in enumerate(levels):
        first.setdefault(v, k)
    return first


@dataclass(frozen=True)
class SearchSpace:
    """Layout of the search variables.

    Attributes
    ----------
    names : tuple of str
        Feature names, in the user's column order.
    levels : tuple
        For each feature, its category levels (a one-hot group) or ``None`` (numeric).
    integer : ndarray of bool
        Integer-valued numeric features.
    lower, upper : ndarray of float
        Bounds of numeric features (NaN for groups; may be infinite).
    """

    names: tuple[str, ...]
    levels: tuple[tuple[Any, ...] | None, ...]
    integer: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    start: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = [1 if lv is None else len(lv) for lv in self.levels]
        object.__setattr__(self, "start", np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def n_vars(self) -> int:
        return int(self.start[-1])

    def is_group(self, j: int) -> bool:
        return self.levels[j] is not None

    def vars_of(self, j: int) -> np.ndarray:
        """Indices of the search variables of feature ``j``."""
        return np.arange(self.start[j], self.start[j + 1])

    def feature_of_var(self) -> np.ndarray:
        """For every search variable, the index of its feature."""
        return np.repeat(np.arange(self.n_features), np.diff(self.start))

    def encode(self, row: Mapping[str, Any]) -> np.ndarray:
        """A row ``{name: value}`` (validated) as a search vector."""
        out = np.zeros(self.n_vars)
        for j, name in enumerate(self.names):
            lv = self.levels[j]
            v = row[name]
            if lv is None:
                out[self.start[j]] = float(v)
            else:
                out[self.start[j] + lv.index(v)] = 1.0
        return out

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Validated rows (a DataFrame with every feature's column) as search vectors,
        row for row equal to :meth:`encode`."""
        out = np.zeros((len(frame), self.n_vars))
        rows = np.arange(len(frame))
        for j, name in enumerate(self.names):
            lv = self.levels[j]
            col = frame[name]
            if lv is None:
                out[:, self.start[j]] = col.to_numpy(dtype=float)
                continue
            # the look-up recourse.schema_checks.plainly_valid clears rows with
            idx = col.map(level_codes(lv)).to_numpy(dtype=float, na_value=np.nan)
            if np.isnan(idx).any():
                raise ValueError(f"{name!r} holds a value that is not one of its levels")
            out[rows, self.start[j] + idx.astype(np.int64)] = 1.0
        return out

    def decode(self, vec: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """A search vector as a row ``{name: value}`` (groups: the most active level)."""
        v = np.asarray(vec, dtype=float)
        out: dict[str, Any] = {}
        for j, name in enumerate(self.names):
            lv = self.levels[j]
            s = self.start[j]
            if lv is None:
                x = float(v[s])
                out[name] = int(round(x)) if self.integer[j] else x
            else:
                out[name] = lv[int(np.argmax(v[s : s + len(lv)]))]
        return out

    def frame(self, vecs: np.ndarray, dtypes: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows of search vectors as a DataFrame of user values (for a model's predict)."""
        vecs = np.atleast_2d(np.asarray(vecs, dtype=float))
        cols: dict[str, Any] = {}
        for j, name in enumerate(self.names):
            lv = self.levels[j]
            s = self.start[j]
            if lv is None:
                col = vecs[:, s]
                cols[name] = np.round(col) if self.integer[j] else col
            else:
                idx = np.argmax(vecs[:, s : s + len(lv)], axis=1)
                cols[name] = np.array(lv, dtype=object)[idx]
        df = pd.DataFrame(cols, columns=list(self.names))
        if dtypes:
            for name, dt in dtypes.items():
                if name in df.columns:
                    try:
                        df[name] = df[name].astype(dt)
                    except (TypeError, ValueError):
                        pass
        return df

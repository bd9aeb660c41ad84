"""Believable category combinations: the "seen together" rule (issue 8, item 1c).

A counterfactual should not combine category levels that no applicant in the data has,
e.g. ``housing = "for free"`` with ``property = "real estate"`` if that pair never occurs.
:class:`SeenTogether` records, from data, every pair of levels of two categorical
features seen fewer than ``min_count`` times; given to the engine
(``RecourseEngine(..., seen_together=rule)``) each such pair becomes the row
``o_ia + o_jb <= 1`` (``recourse.solvers.problem.forbid_level_pairs``). The applicant's own
combination is never forbidden. Every result reports ``stats.unseen_pairs``, the
number of such pairs in the counterfactual, whether or not the rule was on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pandas as pd

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.schema import FeatureSchema

__all__ = ["SeenTogether"]


@dataclass(frozen=True)
class SeenTogether:
    """Level pairs of categorical features seen fewer than ``min_count`` times.

    ``unseen`` holds ``(feature_i, level_a, feature_j, level_b)`` with ``feature_i``
    before ``feature_j`` in schema order.
    """

    unseen: frozenset[tuple[str, Any, str, Any]]
    features: tuple[str, ...]
    min_count: int

    @classmethod
    def fit(cls, data: pd.DataFrame, schema: FeatureSchema,
            features: Iterable[str] | None = None, min_count: int = 1) -> SeenTogether:
        """Count the level pairs of every two categorical (or ordinal) features in
        ``data`` (``features``: a subset; default all of them).

        Raises
        ------
        InputValidationError
            ``data`` lacks a feature, a feature is not categorical, or ``min_count < 1``.
        """
        if int(min_count) < 1:
            raise InputValidationError(f"min_count must be at least 1, got {min_count!r}.")
        groups = [f.name for f in schema if f.is_group]
        names = list(groups if features is None else features)
        bad = [n for n in names if n not in groups]
        if bad:
            raise InputValidationError(
                f"seen-together features must be categorical or ordinal schema features; "
                f"{cap_list(bad)} are not (categorical: {cap_list(groups)}).")
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InputValidationError(f"The data lacks the columns {cap_list(missing)}.")
        order = {n: k for k, n in enumerate(schema.names)}
        names.sort(key=order.__getitem__)
        unseen: set[tuple[str, Any, str, Any]] = set()
        for fi, fj in combinations(names, 2):
            counts = data.groupby([fi, fj], observed=True).size()
            for a in schema[fi].categories or ():
                for b in schema[fj].categories or ():
                    if int(counts.get((a, b), 0)) < int(min_count):
                        unseen.add((fi, a, fj, b))
        return cls(frozenset(unseen), tuple(names), int(min_count))

    def pairs_in(self, row: Mapping[str, Any]) -> list[tuple[str, Any, str, Any]]:
        """The unseen pairs a row (``{name: value}``) holds."""
        return sorted((p for p in self.unseen if row.get(p[0]) == p[1] and row.get(p[2]) == p[3]),
                      key=str)

    def indices(self, schema: FeatureSchema) -> list[tuple[int, int, int, int]]:
        """The pairs as ``(feature, level, feature, level)`` indices of ``schema``."""
        out = []
        for fi, a, fj, b in self.unseen:
            ci, cj = list(schema[fi].categories or ()), list(schema[fj].categories or ())
            out.append((schema.names.index(fi), ci.index(a), schema.names.index(fj),
                        cj.index(b)))
        return sorted(out)

"""Distinct options: up to ``k`` genuinely different verified answers, cheapest first.

Option 1 is ``explain``'s answer. Option ``i + 1`` is the cheapest answer that changes
neither the set of features of any earlier option nor a superset of it (each earlier
set gets the row ``sum_{j in S} changed_j <= |S| - 1``): it may share features with
earlier options, but always leaves one of each earlier option's features alone, so it is
different advice, not the same advice plus more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from recourse.encoders.errors import InputValidationError
from recourse.engine.query import as_name_sets
from recourse.result import RecourseOptions, RecourseResult

__all__ = ["distinct_options"]

_STOP_TEXT = {
    "k_reached": "{n} option(s) found, as many as requested.",
    "exhausted": "Only {n} distinct option(s) exist: the solver proved that every other "
                 "allowed change reaching the target changes all features of an earlier "
                 "option.",
    "no_recourse": "No recourse exists: {msg}",
    "already_target": "The model already predicts the target class; nothing needs to "
                      "change.",
    "time_limit": "{n} option(s) found; the search for option {next} reached the time "
                  "limit before finding one.",
    "error": "{n} option(s) found; the search for option {next} failed: {msg}",
}


def distinct_options(engine: Any, applicant: Any, *, k: int, target: Any, norm: str,
                     time_limit: float, exclude: Iterable[Iterable[str]],
                     min_margin: float | None, box: bool) -> RecourseOptions:
    """See :meth:`recourse.RecourseEngine.options` and the module docstring.

    Returns
    -------
    RecourseOptions
        ``options`` (each verified; option ``i`` is ``optimal`` when proven cheapest
        among the answers avoiding the earlier options' sets) and ``stopped``:
        ``"k_reached"``, ``"exhausted"`` (proven: no further distinct option exists),
        ``"no_recourse"``, ``"already_target"``, ``"time_limit"`` or ``"error"``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputValidationError(
            f"The 'k' parameter must be a positive integer. Got {k!r} instead.")
    sets = list(as_name_sets(exclude))
    found: list[RecourseResult] = []
    final: RecourseResult | None = None
    stopped = "k_reached"
    for _ in range(int(k)):
        res = engine.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                             exclude=sets, min_margin=min_margin, box=box)
        if res.status in ("optimal", "feasible"):
            found.append(res)
            sets.append(frozenset(c.feature for c in res.changes))
            continue
        final = res
        if res.status == "no_recourse":
            stopped = "exhausted" if found else "no_recourse"
        else:
            stopped = res.status
        break
    msg = final.message if final is not None else ""
    return RecourseOptions(options=tuple(found), requested=int(k), stopped=stopped,
                           message=_STOP_TEXT[stopped].format(n=len(found), k=int(k),
                                                              next=len(found) + 1, msg=msg),
                           final=final)

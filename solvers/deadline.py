"""One deadline per query, handed to every stage that can take time.

A query's time limit bounds the whole query: validation, heuristics, bound tightening,
every solver call, option pricing and boxes. Each stage asks the deadline how long it may
take (:meth:`Deadline.remaining`, or :meth:`Deadline.budget` for a stage that wants at most
a few seconds of it) instead of carrying a fixed limit of its own.

Examples
--------
>>> d = Deadline.after(2.0)
>>> 0.0 < d.remaining() <= 2.0
True
>>> d.budget(5.0) <= 2.0          # a stage that would take 5 s gets what is left
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

__all__ = ["Deadline", "check_time_limit"]

#: Least time handed to a solver call, so that a nearly spent deadline still lets the
#: solver return the incumbent it was given instead of failing on a zero limit.
MIN_SLICE = 1e-3


def check_time_limit(time_limit: object, name: str = "time_limit") -> float:
    """``time_limit`` as a positive finite float, or a ``ValueError`` naming the fix.

    >>> check_time_limit(2)
    2.0
    """
    from recourse.encoders.errors import InputValidationError

    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise InputValidationError(
            f"The '{name}' parameter must be a positive number of seconds. Got "
            f"{time_limit!r} instead.")
    value = float(time_limit)
    if not math.isfinite(value) or value <= 0:
        raise InputValidationError(
            f"The '{name}' parameter must be a positive, finite number of seconds. Got "
            f"{time_limit!r} instead; e.g. time_limit=60.")
    return value


@dataclass(frozen=True)
class Deadline:
    """An absolute point in ``time.perf_counter()`` time.

    Attributes
    ----------
    start : float
        When the query began.
    end : float
        When every stage must have returned.
    """

    start: float
    end: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        now = time.perf_counter()
        return cls(now, now + float(seconds))

    @property
    def limit(self) -> float:
        """The whole query's time limit in seconds."""
        return self.end - self.start

    def remaining(self) -> float:
        """Seconds left (never below :data:`MIN_SLICE`)."""
        return max(MIN_SLICE, self.end - time.perf_counter())

    def budget(self, seconds: float) -> float:
        """At most ``seconds``, and never past the deadline."""
        return min(float(seconds), self.remaining())

    def share(self, fraction: float) -> Deadline:
        """A deadline for a stage that may use at most ``fraction`` of the time left (a
        heuristic, so that the stages after it keep the rest)."""
        now = time.perf_counter()
        return Deadline(self.start, min(self.end, now + fraction * max(0.0, self.end - now)))

    def before(self, seconds: float) -> Deadline:
        """The same deadline, ``seconds`` earlier (time kept back for later stages)."""
        return Deadline(self.start, self.end - max(0.0, float(seconds)))

    def expired(self) -> bool:
        return time.perf_counter() >= self.end

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

"""Compatibility: the engine lives in :mod:`recourse.engine` (the query pipeline)."""

from recourse.engine import BACKENDS, DEFAULT_MARGIN, NORMS, RecourseEngine, find_recourse

__all__ = ["RecourseEngine", "find_recourse", "NORMS", "BACKENDS", "DEFAULT_MARGIN"]

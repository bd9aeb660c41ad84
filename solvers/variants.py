"""Switches for search variants, so a benchmark can measure each against the plain search
in one run, query by query (``benchmarks/peers.py --variants NAME``).

``ACTIVE`` holds the names switched on. The environment variable
``RECOURSE_SEARCH_VARIANTS`` (comma separated) sets it at import; :func:`enabled`
switches a variant on for the duration of a ``with`` block.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NAMES", "ACTIVE", "enabled", "is_on"]

#: Known variants: ``"local"``, a local search over threshold cells that improves the
#: first solution before the tree pruning (``recourse.solvers.local_search``).
NAMES = ("local",)

ACTIVE: set[str] = {v for v in os.environ.get("RECOURSE_SEARCH_VARIANTS", "").split(",") if v}


def _check(names: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise ValueError(f"Unknown search variant(s) {unknown}; known: {list(NAMES)}.")


_check(tuple(ACTIVE))


def is_on(name: str) -> bool:
    """Whether the variant ``name`` is switched on."""
    return name in ACTIVE


@contextmanager
def enabled(*names: str) -> Iterator[None]:
    """Switch the variants ``names`` on inside the ``with`` block (restored after)."""
    _check(names)
    before = set(ACTIVE)
    ACTIVE.update(names)
    try:
        yield
    finally:
        ACTIVE.clear()
        ACTIVE.update(before)

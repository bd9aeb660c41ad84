"""What makes two audits different: the words for a refused output directory.

An audit directory records the *identity* of its audit in ``manifest.json``
(``manifest["identity"]``: hashes of the model, the schema, the applicants and the
reference rows, and the options). :func:`identity_differences` compares a stored identity
with a new one and names what differs, so that the refusal to write a different audit into
the same directory can say why ("the model file differs; the time limit differs: 60 s
before, 30 s now").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IDENTITY_WORDS", "identity_differences"]

#: The words for each identity entry; entries holding a hash are compared, not shown.
IDENTITY_WORDS: dict[str, tuple[str, bool]] = {
    "model": ("the model", True),
    "schema": ("the schema", True),
    "data": ("the applicants (rows or ids)", True),
    "reference": ("the reference rows", True),
    "causal": ("the causal model", True),
    "seen_together": ("the seen-together rule", True),
    "support": ("the data-support option", True),
    "min_margin": ("min_margin", False),
    "target": ("the target class", False),
    "norm": ("the norm", False),
    "time_limit": ("the time limit (s)", False),
    "select": ("select", False),
    "why": ("why (relaxation sets per applicant)", False),
    "relaxed_range": ("the relaxed range of why", False),
    "engine_version": ("the engine version", False),
}


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def identity_differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What differs between a stored audit identity and a new one, in words.

    Parameters
    ----------
    old : mapping or None
        ``manifest["identity"]`` of the audit in the directory (None: an older manifest
        without one).
    new : mapping
        The identity of the audit about to run.

    Returns
    -------
    list of str
        One phrase per differing entry, in the order of :data:`IDENTITY_WORDS` (then any
        other keys), e.g. ``"the model differs"`` or ``"norm: l1 before, l0 now"``; empty
        when the identities agree. Without ``old``, one phrase saying it is unknown.
    """
    if old is None:
        return ["the directory's manifest does not record what its audit was run on"]
    out = []
    keys = [*IDENTITY_WORDS, *sorted((set(old) | set(new)) - set(IDENTITY_WORDS))]
    for key in keys:
        if key not in old and key not in new:
            continue
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        words, hashed = IDENTITY_WORDS.get(key, (key, False))
        if hashed:
            out.append(f"{words} differ{'' if words.endswith('s') else 's'}")
        else:
            out.append(f"{words}: {_shown(a)} before, {_shown(b)} now")
    return out

"""The bank's internal note on an applicant without recourse: which of its own rules
preclude the applicant, and the smallest relaxations that would open recourse.

A note is a separate document from the applicant's letter, never a section of it: the
relaxations are policy questions for the bank (may a rule the bank set be relaxed?), not
advice to the applicant — in particular never advice to change an immutable feature. The
letter templates receive none of it (:mod:`recourse.letters.context` has no key for it);
the note has its own templates, ``bank-note.md.j2`` and ``bank-note.html.j2``.

The note reads the minimal relaxation sets in the audit's row format (``why_sets``,
:mod:`recourse.audit.why`), so it is written alike from a result of
``explain(..., why=True)`` and from an audit's Parquet file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recourse.audit.why import why_columns
from recourse.encoders.errors import InputValidationError
from recourse.letters.text import feature_of, fmt_value
from recourse.result import RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["NOTE_FORMATS", "note_sets", "preclusion_summary", "render_bank_note",
           "write_bank_note"]

#: Note formats and their file suffixes.
NOTE_FORMATS = {"md": ".md", "html": ".html"}


def _label(schema: FeatureSchema, name: str) -> str:
    f = feature_of(schema, name)
    return f.display if f is not None else name


def _change_text(schema: FeatureSchema, c: Mapping[str, Any]) -> str:
    f = feature_of(schema, str(c["feature"]))
    before = c.get("before_value") if c.get("before_value") is not None else c["before"]
    after = c.get("after_value") if c.get("after_value") is not None else c["after"]
    label = _label(schema, str(c["feature"]))
    return f"{label}: {fmt_value(f, before)} \u2192 {fmt_value(f, after)}"


def preclusion_summary(preclusion: Any, schema: FeatureSchema) -> str:
    """``precluded by {Debt is immutable} (relaxing it alone: cost 0.08, change Debt:
    27.3 → 26.5) or by {...}``: :meth:`Preclusion.summary` with the schema's display
    labels and units for the counterfactual's features (the rules' texts already use the
    labels)."""
    return str(preclusion.summary(lambda c: _change_text(
        schema, {"feature": c.feature, "before": c.before, "after": c.after})))


def note_sets(answer: Any) -> tuple[list[dict[str, Any]], bool] | None:
    """``(why_sets, complete)`` of an answer with a preclusion analysis, else None.

    ``answer`` is a :class:`RecourseResult` (its ``preclusion``), a
    :class:`RecourseOptions` (its ``final`` result's), or a mapping with the audit's
    ``why_sets`` and ``why_complete`` (an audit row)."""
    if isinstance(answer, RecourseOptions):
        answer = answer.final
    if isinstance(answer, RecourseResult):
        if answer.preclusion is None:
            return None
        cols = why_columns(answer.preclusion)
        return list(cols["why_sets"]), bool(cols["why_complete"])
    if isinstance(answer, Mapping) and answer.get("why_complete") is not None:
        return [dict(s) for s in list(answer.get("why_sets") or [])], bool(
            answer["why_complete"])
    return None


def _context(sets: Sequence[Mapping[str, Any]], complete: bool, schema: FeatureSchema,
             applicant_id: str, organisation: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for i, s in enumerate(sets, 1):
        rows.append({
            "number": i,
            "rules": [str(t) for t in list(s.get("texts") or [])],
            "keys": [str(k) for k in list(s.get("rules") or [])],
            "cost": s.get("cost"),
            "verified": bool(s.get("verified")),
            "changes": [_change_text(schema, c) for c in list(s.get("changes") or [])],
        })
    return {"applicant_id": applicant_id, "organisation": organisation, "sets": rows,
            "complete": complete, "alone": [r["rules"][0] for r in rows
                                            if len(r["rules"]) == 1]}


def render_bank_note(answer: Any, schema: FeatureSchema, *, format: str = "md",
                     applicant_id: str = "", organisation: str = "",
                     template_dir: str | Path | None = None) -> str:
    """The bank's internal note (Markdown or HTML) for an applicant without recourse.

    Parameters
    ----------
    answer : RecourseResult, RecourseOptions or mapping
        A result of ``explain(..., why=True)`` (or options whose final result is one), or
        an audit row with ``why_sets`` and ``why_complete``.
    schema : FeatureSchema
        The schema the answer was computed with (display labels, units).
    format : {"md", "html"}
    applicant_id, organisation : str
    template_dir : path, optional
        A directory with your own ``bank-note.md.j2`` / ``bank-note.html.j2``.

    Raises
    ------
    InputValidationError
        Unknown format, or an answer without a preclusion analysis (run ``explain`` or
        ``audit`` with ``why``).
    """
    from recourse.letters.render import template_env

    if format not in NOTE_FORMATS:
        raise InputValidationError(
            f"The note format must be one of {list(NOTE_FORMATS)}. Got {format!r} instead.")
    found = note_sets(answer)
    if found is None:
        raise InputValidationError(
            "This answer has no preclusion analysis: a bank note needs explain(..., why=True) "
            "on an applicant without recourse, or an audit run with why (--why).")
    ctx = _context(found[0], found[1], schema, applicant_id, organisation)
    env = template_env(template_dir)
    return str(env.get_template(f"bank-note.{format}.j2").render(**ctx))


def write_bank_note(answer: Any, path: str | Path, schema: FeatureSchema, *,
                    overwrite: bool = False, **kwargs: Any) -> Path:
    """Write :func:`render_bank_note` to ``path`` (format from its suffix, ``.md`` or
    ``.html``); an existing file is replaced only with ``overwrite=True``."""
    p = Path(path)
    fmt = {v: k for k, v in NOTE_FORMATS.items()}.get(p.suffix.lower())
    if fmt is None:
        raise InputValidationError(
            f"Cannot tell the note format from {p.name!r}; name the file *.md or *.html.")
    if p.exists() and not overwrite:
        raise InputValidationError(
            f"{str(p)!r} already exists; nothing was written. Choose another file, or pass "
            "--overwrite (overwrite=True) to replace it.")
    p.write_text(render_bank_note(answer, schema, format=fmt, **kwargs), encoding="utf-8")
    return p

"""Recourse letters for compliance teams: Markdown, HTML and PDF, from Jinja2 templates.

>>> from recourse.letters import write_letter                              # doctest: +SKIP
>>> opts = engine.options(applicant, k=3, target="good")                   # doctest: +SKIP
>>> write_letter(opts, "letter.html", schema, model="model.skops",         # doctest: +SKIP
...              applicant_id="A-1027")

The template context is documented in :mod:`recourse.letters.context`; replace the
templates with ``template_dir=``.
"""

from recourse.letters.batch import AUDIT_OPTIONAL, AUDIT_REQUIRED, read_audit, write_letters
from recourse.letters.context import letter_context, principal_reasons
from recourse.letters.render import FORMATS, html_to_pdf, render_letter, write_letter
from recourse.letters.text import change_sentence, fmt_number, fmt_value
from recourse.letters.trace import (
    Trace,
    action_set_summary,
    fixed_clock,
    make_trace,
    model_fingerprint,
    schema_hash,
)

__all__ = [
    "AUDIT_OPTIONAL",
    "AUDIT_REQUIRED",
    "FORMATS",
    "Trace",
    "action_set_summary",
    "change_sentence",
    "fixed_clock",
    "fmt_number",
    "fmt_value",
    "html_to_pdf",
    "letter_context",
    "make_trace",
    "model_fingerprint",
    "principal_reasons",
    "read_audit",
    "render_letter",
    "schema_hash",
    "write_letter",
    "write_letters",
]

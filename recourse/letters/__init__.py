"""Recourse letters for compliance teams: Markdown, HTML and PDF, from Jinja2 templates.

>>> from recourse.letters import write_letter                              # doctest: +SKIP
>>> opts = engine.options(applicant, k=3, target="good")                   # doctest: +SKIP
>>> write_letter(opts, "letter.html", schema, model="model.skops",         # doctest: +SKIP
...              applicant_id="A-1027")

Templates by purpose (``purpose="plain" | "adverse-action" | "explanation"``), the bank's
words (``phrasebook=``, :mod:`recourse.letters.phrasebook`), checked principal reasons
(:mod:`recourse.letters.reasons`) and an appendix for the bank's file
(``appendix="none" | "internal" | "full"``). The template context is documented in
:mod:`recourse.letters.context`; replace the templates with ``template_dir=``.
"""

from recourse.letters.batch import (
    AUDIT_OPTIONAL,
    AUDIT_REQUIRED,
    WrittenLetters,
    read_audit,
    write_letters,
)
from recourse.letters.context import APPENDIX, PURPOSES, letter_context, principal_reasons
from recourse.letters.note import preclusion_summary, render_bank_note, write_bank_note
from recourse.letters.phrasebook import Phrasebook, dataset_phrasebook, load_phrasebook
from recourse.letters.reasons import ReasonCheck, check_attribution_reasons
from recourse.letters.render import (
    FORMATS,
    ReasonWithheldWarning,
    html_to_pdf,
    render_letter,
    write_letter,
)
from recourse.letters.text import causal_sentence, change_sentence, fmt_number, fmt_value
from recourse.letters.trace import (
    Trace,
    action_set_summary,
    fixed_clock,
    make_trace,
    model_fingerprint,
    schema_hash,
)

__all__ = [
    "APPENDIX",
    "AUDIT_OPTIONAL",
    "AUDIT_REQUIRED",
    "FORMATS",
    "PURPOSES",
    "Phrasebook",
    "ReasonCheck",
    "ReasonWithheldWarning",
    "Trace",
    "WrittenLetters",
    "action_set_summary",
    "causal_sentence",
    "change_sentence",
    "check_attribution_reasons",
    "dataset_phrasebook",
    "load_phrasebook",
    "fixed_clock",
    "fmt_number",
    "fmt_value",
    "html_to_pdf",
    "letter_context",
    "make_trace",
    "model_fingerprint",
    "preclusion_summary",
    "principal_reasons",
    "read_audit",
    "render_bank_note",
    "render_letter",
    "schema_hash",
    "write_bank_note",
    "write_letter",
    "write_letters",
]

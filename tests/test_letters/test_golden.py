"""Golden letters: a fixed model, fixed applicants and a fixed clock give exactly the
committed, human-reviewed letters in ``golden/``.

The environment-dependent lines of the appendix (model fingerprint, library versions)
are fixed in ``letter_cases.golden_trace``; ``test_letters.py`` checks their real values.

Regenerate after an intended change of wording or templates, then READ the diff:

    RECOURSE_REGEN_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_letters/test_golden.py
    git diff tests/test_letters/golden/
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from letter_cases import CASES, case, golden_trace
from recourse.letters import PURPOSES, render_letter

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("RECOURSE_REGEN_GOLDEN") == "1"

#: (case, purpose, format, appendix): every template in both formats for the denied
#: applicant with three options, and the proven no-recourse case under each purpose.
FILES = [(name, purpose, fmt, "internal")
         for name in ("german_tree_491", "german_tree_491_no_recourse")
         for purpose in PURPOSES for fmt in ("md", "html")]
FILES += [("german_tree_656", "plain", "md", "full"),
          ("german_tree_491", "adverse-action", "md", "none")]


@pytest.mark.parametrize(("name", "purpose", "fmt", "appendix"), FILES)
def test_golden_letter(name, purpose, fmt, appendix):
    opts, schema, _, kw = case(name)
    text = render_letter(opts, schema, format=fmt, purpose=purpose, phrasebook="german",
                         appendix=appendix,
                         trace=golden_trace(opts, schema, kw["applicant_id"]))
    path = GOLDEN / f"{name}_{purpose}_{appendix}.{fmt}"
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: regenerate as the module docstring says"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"The {fmt} letter for {name} ({CASES[name][2]}) differs from {path.name}. If the "
        "change is intended, regenerate (module docstring) and review the diff.")

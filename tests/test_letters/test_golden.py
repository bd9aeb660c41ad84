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
from recourse.letters import render_letter

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("RECOURSE_REGEN_GOLDEN") == "1"

FILES = [("german_tree_491", "md"), ("german_tree_491", "html"), ("german_tree_656", "md"),
         ("german_tree_491_no_recourse", "md"), ("german_tree_491_no_recourse", "html")]


@pytest.mark.parametrize(("name", "fmt"), FILES)
def test_golden_letter(name, fmt):
    opts, schema, _, kw = case(name)
    text = render_letter(opts, schema, format=fmt,
                         trace=golden_trace(opts, schema, kw["applicant_id"]))
    path = GOLDEN / f"{name}.{fmt}"
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: regenerate as the module docstring says"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"The {fmt} letter for {name} ({CASES[name][2]}) differs from {path.name}. If the "
        "change is intended, regenerate (module docstring) and review the diff.")

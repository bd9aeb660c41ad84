"""Letters for results that carry a certified box: each change reads as a range
("Reduce credit amount from 8,318 DM to 7,811 DM or less") and the option lists the
ranges within which approval holds.

Oracles: the model's own ``predict`` / ``predict_proba`` at every combination of the
range ends *as printed in the letter* (parsed back from the text), so a rounding that
moves a printed end outside the box fails; and committed, reviewed golden letters.
Regenerate the golden files as ``test_golden.py`` says (``RECOURSE_REGEN_GOLDEN=1``).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from letter_cases import german_tree, golden_trace
from oracles import model_predict
from recourse import FeatureSchema, RecourseEngine
from recourse.letters import render_letter
from synthdata import credit_frame, tree_pipeline

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("RECOURSE_REGEN_GOLDEN") == "1"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_RANGES_INTRO = "These are ranges, not exact targets"

#: name -> (German credit row, k): 491 has three options, each with a box (two changes
#: read as ranges in option 1); 292's change is a range closed on both sides.
BOX_CASES = {"german_tree_491_box": (491, 3), "german_tree_292_box": (292, 1)}
BOX_FILES = [("german_tree_491_box", "md"), ("german_tree_491_box", "html"),
             ("german_tree_292_box", "md")]


def _box_case(name: str):
    row, k = BOX_CASES[name]
    model, schema, X_test = german_tree()
    opts = RecourseEngine(model, schema).options(X_test.loc[row], k=k, target="good",
                                                 box=True)
    return opts, schema, model, f"German credit row {row}"


@pytest.mark.parametrize(("name", "fmt"), BOX_FILES)
def test_golden_box_letter(name, fmt) -> None:
    opts, schema, _, ident = _box_case(name)
    text = render_letter(opts, schema, format=fmt, trace=golden_trace(opts, schema, ident))
    path = GOLDEN / f"{name}.{fmt}"
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: regenerate (see test_golden.py)"
    assert text == path.read_text(encoding="utf-8"), (
        f"The {fmt} letter {name} differs from {path.name}; if intended, regenerate and "
        "review the diff.")


def _parse_ranges(block: list[str], schema: FeatureSchema) -> dict[str, tuple]:
    """``{feature: (low or None, high or None)}`` from the letter's range lines."""
    by_label = {f.display[:1].upper() + f.display[1:]: f.name for f in schema}
    out = {}
    for line in block:
        label, _, phrase = line[2:].partition(": ")
        nums = [float(t.replace(",", "")) for t in _NUMBER.findall(phrase)]
        if phrase.startswith("between"):
            out[by_label[label]] = (nums[0], nums[1])
        elif phrase.endswith("or less"):
            out[by_label[label]] = (None, nums[0])
        else:
            assert phrase.endswith("or more"), line
            out[by_label[label]] = (nums[0], None)
    return out


def _range_blocks(text: str) -> list[list[str]]:
    """The bullet lines after each ranges paragraph of a Markdown letter."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith(_RANGES_INTRO):
            block, j = [], i + 2
            while j < len(lines) and lines[j].startswith("- "):
                block.append(lines[j])
                j += 1
            blocks.append(block)
    return blocks


def _check_printed_ends(model, schema, opts, target) -> int:
    """Every combination of the printed range ends (the box's own bound where a side is
    left unsaid) is approved by the model; returns the number of rows checked."""
    text = render_letter(opts, schema, format="md")
    blocks = _range_blocks(text)
    with_box = [o for o in opts if o.box is not None and o.box.advice(schema)]
    assert len(blocks) == len(with_box)
    checked = 0
    for res, block in zip(with_box, blocks):
        printed = _parse_ranges(block, schema)
        assert set(printed) == {n for n, r in res.box.bounds.items()
                                if r[0] < r[1] and any(res.box.faces.get((n, s)) == "model"
                                                       for s in ("upper", "lower"))}
        axes = {}
        for n, (lo, hi) in res.box.bounds.items():
            a, b = printed.get(n, (None, None))
            a, b = lo if a is None else a, hi if b is None else b
            assert lo <= a <= b <= hi, (n, a, b, lo, hi)  # printed ends inside the box
            axes[n] = sorted({a, b})
        rows = [dict(res.counterfactual, **res.box.fixed, **dict(zip(axes, corner)))
                for corner in itertools.product(*axes.values())]
        assert set(model_predict(model, schema, rows)) == {target}
        checked += len(rows)
    return checked


def test_german_letter_phrases_changes_as_ranges_and_ends_are_approved() -> None:
    opts, schema, model, _ = _box_case("german_tree_491_box")
    text = render_letter(opts, schema, format="md")
    assert "- Reduce credit amount from 8,318 DM to 7,811 DM or less." in text
    assert "- Reduce loan duration from 27 months to 26 months or less." in text
    html = render_letter(opts, schema, format="html")
    assert "<li>Credit amount: 7,811 DM or less</li>" in html
    assert _check_printed_ends(model, schema, opts, "good") > 0
    opts292, _, _, _ = _box_case("german_tree_292_box")
    assert "to between 27 months and 45 months" in render_letter(opts292, schema)
    assert _check_printed_ends(model, schema, opts292, "good") > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_range_ends_are_rounded_inwards(seed, global_random_seed) -> None:
    """Continuous features print two decimals: a printed end rounded outwards would lie
    beyond a split threshold about half the time; every printed end must be approved."""
    X, y, _ = credit_frame(seed + global_random_seed, n=200)
    schema = FeatureSchema.from_frame(X, increase_only=["age"])
    est = (DecisionTreeClassifier(max_depth=4, random_state=seed) if seed == 0 else
           RandomForestClassifier(n_estimators=6, max_depth=3, random_state=seed))
    model = tree_pipeline(est).fit(X, y)
    engine = RecourseEngine(model, schema)
    pred = model.predict(X)
    checked = 0
    for i in np.flatnonzero(pred == 0)[:4]:
        opts = engine.options(X.iloc[i], k=2, target=1, box=True)
        if len(opts):
            checked += _check_printed_ends(model, schema, opts, 1)
    assert checked > 0


def test_box_with_min_margin_keeps_the_margin_throughout() -> None:
    """``explain(min_margin=m, box=True)``: at corners and random points of the box the
    model's own predict_proba gives the target a lead of at least m."""
    model, schema, X_test = german_tree()
    engine = RecourseEngine(model, schema)
    rng = np.random.default_rng(0)
    tried = 0
    for idx in X_test.index[model.predict(X_test) == "bad"][:6]:
        res = engine.explain(X_test.loc[idx], target="good", min_margin=0.3, box=True)
        if res.box is None:
            continue
        tried += 1
        names = list(res.box.bounds)
        rows = [dict(res.counterfactual, **res.box.fixed, **dict(zip(names, c)))
                for c in itertools.product(*[res.box.bounds[n] for n in names])]
        rows += [dict(res.counterfactual, **res.box.fixed,
                      **{n: float(np.round(rng.uniform(*res.box.bounds[n]))) for n in names})
                 for _ in range(200)]
        frame = pd.DataFrame(rows)[schema.names]
        p = model.predict_proba(frame)
        good = list(model.classes_).index("good")
        assert (p[:, good] - p[:, 1 - good] >= 0.3 - 1e-9).all()
    assert tried > 0

"""Issue 15, item 1: user text reaches ``report.html`` and ``summary.md`` only as text.

A real audit runs on a small model whose schema labels, units, reasons, category levels
(and a feature name), protected-group values, applicant ids and an invalid row's message
carry hostile strings. The outputs are parsed (HTML by ``html.parser``; Markdown rendered
to HTML by markdown-it with raw HTML on) and must contain no element, event attribute or
``javascript:`` URL from user text -- and must still show every hostile string as text
(escaped, not dropped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hostile import HOSTILE, flat, live_markup, markdown_to_html, text_of
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from recourse import FeatureSchema
from recourse.audit import audit
from recourse.audit.report import md_escape

H = HOSTILE
FEATURE = H[1]  # a hostile column name


def _template_tags() -> dict[str, int]:
    """How often the report template (with the templates it includes) writes each element
    (none is inside a loop, so these are upper bounds for a rendered report)."""
    import re
    from importlib.resources import files

    src = files("recourse.audit").joinpath("templates/report.html.j2").read_text("utf-8")
    for name in re.findall(r'{%\s*include\s+"([^"]+)"', src):  # included sections too
        src += files("recourse.audit").joinpath(f"templates/{name}").read_text("utf-8")
    counts: dict[str, int] = {}
    for tag in re.findall(r"<([a-z][a-z0-9]*)", src):
        counts[tag] = counts.get(tag, 0) + 1
    return counts


TEMPLATE_TAGS = _template_tags()


@pytest.fixture(scope="module")
def hostile_audit(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame({
        "income": rng.uniform(0, 10, n).round(2),
        FEATURE: rng.uniform(0, 10, n).round(2),
        "housing": rng.choice([H[0], H[3], "rent"], n),
    })
    y = np.where(X["income"] + X[FEATURE] + 3 * (X["housing"] == "rent") > 11, "good", "bad")
    schema = FeatureSchema.from_frame(
        X, labels={"income": H[4], "housing": H[6]}, units={"income": H[2]},
        reasons={"housing": H[5]})
    model = Pipeline([
        ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"),
                                     ["housing"])], remainder="passthrough")),
        ("lr", LogisticRegression(max_iter=1000)),
    ]).fit(X, y)
    data = X.copy()
    data["app"] = [f"{H[i % len(H)]}#{i}" for i in range(n)]
    data["group"] = [H[(i + 3) % len(H)] for i in range(n)]
    data = data.astype({"housing": object})
    data.loc[0, "housing"] = H[9]  # unknown category: an invalid row whose message echoes it
    denied = data[model.predict(X) != "good"].head(8)
    rows = pd.concat([data.iloc[[0]], denied[denied.index != 0]])
    out = tmp_path_factory.mktemp("hostile") / "audit"
    res = audit(model, rows, schema, out, target="good", id_column="app",
                protected="group", n_jobs=1, time_limit=20)
    return res, rows


def test_report_html_has_no_live_markup(hostile_audit):
    res, rows = hostile_audit
    html = res.files["report"].read_text(encoding="utf-8")
    problems = live_markup(html, allowed=TEMPLATE_TAGS)
    assert not problems, problems
    # every hostile string is still there, as text: escaped, not dropped (a live <b> or
    # link would show only its inner text)
    text = text_of(html)
    for s in (H[4], H[6], FEATURE, H[0], H[3], *rows["group"].unique()):
        assert flat(s) in text, f"{s!r} was dropped, not escaped"
    assert flat(H[9]) in text  # the invalid row's message, as text
    assert flat(rows["app"].iloc[0]) in text  # the invalid row's id


def test_summary_md_has_no_live_markup(hostile_audit):
    res, rows = hostile_audit
    md = res.files["summary_md"].read_text(encoding="utf-8")
    html = markdown_to_html(md)
    # the template's own Markdown: tables, headings, bold figures; nothing else
    problems = live_markup(html, allowed={"h1": 1, "h2": 20, "strong": 40})
    assert not problems, problems
    text = text_of(html)
    for s in (H[4], H[6], FEATURE, H[9], *rows["group"].unique()):
        assert flat(s) in text, f"{s!r} was dropped, not escaped"


@pytest.mark.parametrize("s", HOSTILE)
def test_md_escape_renders_as_the_same_text(s):
    """Inside a paragraph and inside a table cell, the escaped text renders as exactly
    the original text and creates no element."""
    para = markdown_to_html(f"before {md_escape(s)} after")
    assert not live_markup(para)
    assert text_of(para) == flat(f"before {s} after")
    table = markdown_to_html(f"| a | b |\n|---|---|\n| {md_escape(s)} | x |\n")
    assert not live_markup(table)
    assert text_of(table) == flat(f"a b {s} x")  # still two cells: no | leaked

"""Fuzzing every input a user hands the engine (issue 15): applicant CSV and Parquet files,
schema and causal-graph YAML, and hostile text in every field that reaches an output.

Each property: the engine gives a clear error (one of its own error classes, with a
message) or a correct answer -- never another exception type, never a value that differs
from the one in the file, never live markup. The CI runs a few dozen examples per property
(well under a minute); ``--runslow`` runs the long campaign (``*_campaign``).
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hostile import HOSTILE, flat, live_markup, markdown_to_html, text_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recourse import FeatureSchema
from recourse.errors import RecourseError
from recourse.io import load_applicant

CI = settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
SLOW = settings(max_examples=1500, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SCHEMA = FeatureSchema.from_dict({"features": [
    {"name": "amount", "kind": "continuous", "lower": 0.0, "upper": 20000.0},
    {"name": "years", "kind": "integer", "lower": 0.0, "upper": 80.0},
    {"name": "owner", "kind": "binary"},
    {"name": "housing", "kind": "categorical", "categories": ["rent", "own", "None"]},
]})
_PLAIN = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_NA = {"", "NaN", "nan", "NA", "N/A", "<NA>", "null", "NULL"}

# ----------------------------------------------------------------- strategies
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-30, max_value=1e-30),
    st.sampled_from([1e308, 1e39, 3.5e38, 1e15, -1.0, 0.0, 1e-45, 20000.0, 20000.5, 80]),
    st.integers(min_value=-(10**20), max_value=10**20),
)
cell_values = st.one_of(
    numbers.map(repr), numbers.map(str), st.sampled_from(
        ["True", "False", "true", "rent", "own", "None", "castle", " 5", "1_000", "0x10",
         "\u0661\u0662", "1e5", "inf", "-Infinity", "", "NA", '"1,5"', "5,", "Ä"]),
    st.text(max_size=8), st.sampled_from(HOSTILE),
)


@st.composite
def csv_files(draw):
    """A header (possibly with extra, missing, duplicated or renamed columns) and rows of
    any cells, encoded in one of several encodings."""
    names = list(SCHEMA.names)
    header = draw(st.permutations(names))
    header = list(header)
    mutation = draw(st.sampled_from(["none", "none", "extra", "missing", "dup", "rename"]))
    if mutation == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(
            ["label", "id", "", "amount ", *HOSTILE[:2]])))
    elif mutation == "missing":
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif mutation == "dup":
        header.append(draw(st.sampled_from(header)))
    elif mutation == "rename":
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(
            ["Amount", "years.1", "Unnamed: 0"]))
    n_rows = draw(st.integers(1, 3))
    rows = []
    for _ in range(n_rows):
        width = len(header) + draw(st.sampled_from([0, 0, 0, 1, -1]))
        rows.append([draw(cell_values) for _ in range(max(width, 0))])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return header, rows, encoding


def _csv_text(header, rows):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def _expected(cell: str, kind: str, cats) -> object:
    """What the cell means, decided independently: a number, a category, or None (no
    valid value)."""
    if cell in _NA:
        return None
    if kind == "categorical":
        return cell if cell in cats else None
    if not _PLAIN.fullmatch(cell):
        return None
    return float(cell)


def check_csv(header, rows, encoding):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "applicant.csv"
        try:
            data = _csv_text(header, rows).encode(encoding)
        except UnicodeEncodeError:
            return
        p.write_bytes(data)
        try:
            got = load_applicant(p, SCHEMA, row=0)
        except RecourseError as exc:
            assert str(exc).strip(), "an error without a message"
            return
    # an answer: only from a well-formed file, with exactly the values written
    assert sorted(header) == sorted(SCHEMA.names), header
    assert all(len(r) == len(header) for r in rows)
    assert encoding in ("utf-8", "utf-8-sig") or _csv_text(header, rows).isascii()
    cells = dict(zip(header, rows[0]))
    for f in SCHEMA:
        want = _expected(cells[f.name].strip() if f.kind != "categorical" else cells[f.name],
                         f.kind, f.categories)
        assert want is not None, (f.name, cells[f.name], got[f.name])
        if f.kind == "categorical":
            assert got[f.name] == want
        else:
            assert got[f.name] == want, (f.name, cells[f.name], got[f.name])
            lo, hi = f.bounds()
            assert lo <= got[f.name] <= hi
            if f.is_integer:
                assert got[f.name] == round(got[f.name])


@CI
@given(csv_files())
def test_fuzz_applicant_csv(case):
    check_csv(*case)


@pytest.mark.slow
@SLOW
@given(csv_files())
def test_fuzz_applicant_csv_campaign(case):
    check_csv(*case)


# -------------------------------------------------------------------- Parquet
parquet_columns = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=1),
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=1),
    st.lists(st.booleans(), min_size=1, max_size=1),
    st.lists(st.text(max_size=6) | st.sampled_from(["rent", "own", "None", *HOSTILE]),
             min_size=1, max_size=1),
)


@st.composite
def parquet_frames(draw):
    names = list(draw(st.permutations(SCHEMA.names)))
    if draw(st.booleans()):
        names.append(draw(st.sampled_from(["label", "id", *HOSTILE[:2]])))
    if draw(st.integers(0, 4)) == 0:
        names.pop(0)
    return {n: draw(parquet_columns) for n in names}


def check_parquet(columns):
    frame = pd.DataFrame(columns)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "applicant.parquet"
        frame.to_parquet(p)
        try:
            got = load_applicant(p, SCHEMA)
        except RecourseError as exc:
            assert str(exc).strip()
            return
    assert sorted(columns) == sorted(SCHEMA.names)
    for f in SCHEMA:
        v = columns[f.name][0]
        if f.kind == "categorical":
            assert isinstance(v, str) and v in f.categories and got[f.name] == v
            continue
        assert not isinstance(v, str)
        if isinstance(v, bool):
            assert f.kind == "binary"
        assert got[f.name] == float(v) and math.isfinite(got[f.name])
        lo, hi = f.bounds()
        assert lo <= got[f.name] <= hi


@CI
@given(parquet_frames())
def test_fuzz_applicant_parquet(columns):
    check_parquet(columns)


@pytest.mark.slow
@SLOW
@given(parquet_frames())
def test_fuzz_applicant_parquet_campaign(columns):
    check_parquet(columns)


# ---------------------------------------------------------------- schema YAML
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8) | st.sampled_from(["false", "true", "1e5", "yes", "business",
                                              "continuous", "any", *HOSTILE[:3]]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=2),
    max_leaves=5,
)
KEYS = ["name", "kind", "categories", "lower", "upper", "immutable", "direction", "scale",
        "weight", "label", "unit", "reason"]


@st.composite
def schema_documents(draw):
    feats = []
    for i in range(draw(st.integers(1, 3))):
        f = {"name": f"f{i}", "kind": draw(st.sampled_from(
            ["continuous", "integer", "binary", "categorical", "ordinal"]))}
        if f["kind"] in ("categorical", "ordinal"):
            f["categories"] = ["a", "b"]
        for key in draw(st.lists(st.sampled_from([*KEYS, "colour"]), max_size=3,
                                 unique=True)):
            f[key] = draw(yaml_values)
        feats.append(f)
    return {"features": feats}


def _ok_type(key, v):
    if key in ("lower", "upper"):
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    if key in ("scale", "weight"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if key == "immutable":
        return isinstance(v, bool)
    if key == "categories":
        return v is None or (isinstance(v, list) and all(
            isinstance(c, (str, int, float, bool)) for c in v))
    if key in ("name", "kind", "direction", "label", "unit", "reason"):
        return isinstance(v, str)
    return False


def check_schema_document(doc):
    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        schema = FeatureSchema.from_yaml(text)
    except RecourseError as exc:
        assert str(exc).strip()
        return
    # accepted: every key had the declared type and means exactly what was written
    for item, f in zip(doc["features"], schema):
        for key, v in item.items():
            assert _ok_type(key, v), (key, v)
            got = getattr(f, key)
            if key == "categories":
                assert (got is None and v is None) or list(got) == v
            elif key in ("lower", "upper", "scale", "weight") and v is not None:
                assert got == float(v)
            else:
                assert got == v and type(got) is type(v), (key, v, got)


@CI
@given(schema_documents())
def test_fuzz_schema_yaml(doc):
    check_schema_document(doc)


@pytest.mark.slow
@SLOW
@given(schema_documents())
def test_fuzz_schema_yaml_campaign(doc):
    check_schema_document(doc)


# --------------------------------------------------------- causal-graph YAML
@st.composite
def causal_documents(draw):
    doc = {"edges": [["amount", "years"]],
           "equations": {"years": {"type": "linear", "coef": {"amount": 0.001},
                                   "intercept": 1.0}}}
    where = draw(st.sampled_from(["edges", "edge", "nodes", "equations", "equation",
                                  "type", "coef", "coef_value", "intercept", "root"]))
    v = draw(yaml_values)
    if where == "edges":
        doc["edges"] = v
    elif where == "edge":
        doc["edges"] = [v]
    elif where == "nodes":
        doc["nodes"] = v
    elif where == "equations":
        doc["equations"] = v
    elif where == "equation":
        doc["equations"]["years"] = v
    elif where == "type":
        doc["equations"]["years"]["type"] = v
    elif where == "coef":
        doc["equations"]["years"]["coef"] = v
    elif where == "coef_value":
        doc["equations"]["years"]["coef"]["amount"] = v
    elif where == "intercept":
        doc["equations"]["years"]["intercept"] = v
    else:
        doc = v
    return doc


def check_causal_document(doc):
    from recourse.causal import CausalModel

    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        CausalModel.from_yaml(text).check(SCHEMA)
    except RecourseError as exc:
        assert str(exc).strip()


@CI
@given(causal_documents())
def test_fuzz_causal_yaml(doc):
    check_causal_document(doc)


@pytest.mark.slow
@SLOW
@given(causal_documents())
def test_fuzz_causal_yaml_campaign(doc):
    check_causal_document(doc)


# ------------------------------------------------------ hostile text in outputs
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from([*HOSTILE, "<", ">", "&", "|", "*", "_", "[", "]", "(", ")",
                              "`", "#", "!", "\\", "\n", "x", " "]),
             min_size=1, max_size=6).map("".join),
    # control characters excepted: CommonMark turns NUL into U+FFFD by design
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10),
)


@st.composite
def hostile_reports(draw):
    texts = draw(st.lists(hostile_text, min_size=8, max_size=8))
    levels = list(dict.fromkeys([texts[0], texts[1], "plain"]))
    return texts, levels


def check_reports(texts, levels):
    """Render both reports from a synthetic audit table whose every user field is
    hostile; parse them; no live markup, and the text still shows."""
    from recourse.audit.report import render_html, render_markdown
    from recourse.audit.summary import summarize

    if len(levels) < 2 or any(not t.strip() for t in texts):
        return
    name = texts[2]
    schema = FeatureSchema.from_dict({"features": [
        {"name": name, "kind": "continuous", "lower": 0.0, "upper": 10.0,
         "label": texts[3], "unit": texts[4], "reason": texts[5], "immutable": True},
        {"name": "housing", "kind": "categorical", "categories": levels},
    ]})
    rows = []
    for i, status in enumerate(["optimal", "no_recourse", "invalid_input", "error"]):
        rows.append({
            "id": f"{texts[6]}{i}", "position": i, "status": status,
            "message": f"{texts[7]} {i}", "target": texts[1], "predicted": texts[0],
            "norm": "l1", "cost": 1.0 if status == "optimal" else None,
            "l1_cost": 1.0 if status == "optimal" else None,
            "l0": 1.0 if status == "optimal" else None,
            "n_changes": 1 if status == "optimal" else 0,
            "optimal": status == "optimal", "verified": status == "optimal",
            "total_time": 0.1,
            "changes": [{"feature": "housing", "before": levels[0], "after": levels[1],
                         "delta": None, "cost": 1.0, "role": "action"}]
            if status == "optimal" else [],
        })
    frame = pd.DataFrame(rows)
    groups = pd.Series([texts[0], texts[1], texts[0], texts[1]])
    summary = summarize(frame, groups=groups, protected=texts[5], n_rows=4)
    html = render_html(summary, schema, plots={})
    md_html = markdown_to_html(render_markdown(summary, schema))
    from test_hostile_outputs import TEMPLATE_TAGS

    assert not live_markup(html, allowed=TEMPLATE_TAGS), live_markup(html,
                                                                   allowed=TEMPLATE_TAGS)
    assert not live_markup(md_html, allowed={"h1": 1, "h2": 20, "strong": 40})
    for t in (texts[6] + "1", texts[7] + " 2"):  # a no-recourse id, an invalid message
        assert flat(t) in text_of(html)
        assert flat(t) in text_of(md_html)


@CI
@given(hostile_reports())
def test_fuzz_hostile_text_in_reports(case):
    check_reports(*case)


@pytest.mark.slow
@SLOW
@given(hostile_reports())
def test_fuzz_hostile_text_in_reports_campaign(case):
    check_reports(*case)


def test_the_oracles_see_a_leak():
    """The checks above catch what they look for: raw markup is flagged, and text that a
    renderer would eat is missing from the text."""
    assert live_markup("<p>" + HOSTILE[0] + "</p>")
    assert live_markup(markdown_to_html("| a |\n|---|\n| " + HOSTILE[1] + " |\n"))
    assert flat("**x**") not in text_of(markdown_to_html("**x**"))
    assert np.isfinite(0.0)

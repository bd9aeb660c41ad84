"""The README's examples run as written.

* every ```python block runs, in order, in one namespace, in a temporary directory (as a
  reader pasting them one after the other into one session); an expression followed by a
  comment that is a Python literal (``result.status, result.cost   # ('optimal', 0.143)``)
  must evaluate to that literal (numbers to the digits shown);
* every ``recourse ...`` line of the ```bash blocks names a real subcommand and only
  options that subcommand has; ``make`` targets and ``python benchmarks/...`` scripts exist;
* the cheap commands run: the demo's audit command on the demo's own files, ``schema``
  and ``causal-graph``;
* the documents the repository cites exist, and every ``docs/theory.md §X`` label cited in
  the code and the ``analyze`` report has its item in ``docs/theory.md``.
"""

from __future__ import annotations

import ast
import math
import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from recourse.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(lang: str, text: str | None = None) -> list[tuple[int, str]]:
    """``(line number, code)`` of every fenced block of language ``lang``."""
    out, current, start = [], None, 0
    for no, line in enumerate((text if text is not None else README.read_text()).splitlines(),
                              1):
        m = FENCE.match(line)
        if m and current is None:
            current, start, kind = [], no + 1, m.group(1)
        elif line.startswith("```") and current is not None:
            if kind == lang:
                out.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return out


# ------------------------------------------------------------------ python blocks
def _literal_comment(source_lines: list[str], stmt: ast.stmt):
    """The literal in the comment after an expression statement, else None."""
    if not isinstance(stmt, ast.Expr):
        return None
    line = source_lines[stmt.end_lineno - 1]
    tail = line[stmt.end_col_offset:].strip()
    if not tail.startswith("#"):
        return None
    try:
        return ast.literal_eval(tail[1:].strip())
    except (ValueError, SyntaxError):
        return None  # prose, or an object repr: not checked


def _digits(x: float) -> float:
    """Half a unit of the last digit a number is written with (0.143 -> 5e-4)."""
    text = repr(x)
    if "e" in text or "." not in text:
        return 0.5
    return 0.5 * 10 ** -len(text.split(".")[1])


def _matches(got, want) -> bool:
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return got == want
    if isinstance(want, (int, float)):
        try:
            g = float(got)
        except (TypeError, ValueError):
            return False
        tol = _digits(float(want)) if isinstance(want, float) else 0.0
        return math.isclose(g, want, abs_tol=tol + 1e-12)
    if isinstance(want, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(want)
                and all(_matches(g, w) for g, w in zip(got, want)))
    if isinstance(want, dict):
        return (isinstance(got, dict) and set(want) <= set(got)
                and all(_matches(got[k], w) for k, w in want.items()))
    return got == want


def run_blocks(code_blocks: list[tuple[int, str]], namespace: dict) -> int:
    """Run the blocks in order; check literal comments. Returns how many were checked."""
    checked = 0
    for start, code in code_blocks:
        lines = code.splitlines()
        tree = ast.parse(code, filename=f"README.md:{start}")
        for stmt in tree.body:
            where = f"README.md line {start + stmt.lineno - 1}"
            want = _literal_comment(lines, stmt)
            try:
                if want is None:
                    exec(compile(ast.Module([stmt], []), where, "exec"), namespace)
                    continue
                got = eval(compile(ast.Expression(stmt.value), where, "eval"), namespace)
            except Exception as exc:  # name the README line, not this file's
                raise AssertionError(f"{where} fails: {type(exc).__name__}: {exc}") from exc
            assert _matches(got, want), f"{where}: the README says {want!r}, the code gives {got!r}"
            checked += 1
    return checked


def test_python_blocks_run_in_order(tmp_path, monkeypatch):
    code_blocks = blocks("python")
    assert len(code_blocks) >= 5, "the README's Python examples were not found"
    monkeypatch.chdir(tmp_path)
    checked = run_blocks(code_blocks, {"__name__": "__readme__"})
    assert checked >= 3  # the literal results the README quotes were compared
    # the files the examples say they write
    assert (tmp_path / "letter.html").is_file()
    assert (tmp_path / "audit_german" / "results.parquet").is_file()


def test_runner_reports_the_failing_line_and_wrong_results():
    """The checker itself: an undefined name and a wrong quoted result both fail."""
    text = "```python\nx = 1\ny = undefined_name\n```\n"
    with pytest.raises(AssertionError, match="line 3 fails: NameError"):
        run_blocks(blocks("python", text), {})
    text = "```python\nx = 0.1428\nx, 'a'   # (0.143, 'a')\nx   # 0.15\n```\n"
    with pytest.raises(AssertionError, match="line 4: the README says 0.15"):
        run_blocks(blocks("python", text), {})


# -------------------------------------------------------------------- bash blocks
def _command_lines() -> list[tuple[int, str]]:
    out = []
    for start, code in blocks("bash"):
        joined, first = "", None
        for no, line in enumerate(code.splitlines(), start):
            first = no if not joined else first
            if line.rstrip().endswith("\\"):
                joined += line.rstrip()[:-1] + " "
                continue
            out.append((first, (joined + line).split("#")[0].strip()))
            joined = ""
    return [(no, line) for no, line in out if line]


def _options(command) -> set[str]:
    names = {"--help"}
    for p in command.params:
        names.update(getattr(p, "opts", ()))
        names.update(getattr(p, "secondary_opts", ()))
    return names


def test_bash_lines_name_real_commands_and_options():
    cli = get_command(app)
    ctx = cli.make_context("recourse", ["--help"], resilient_parsing=True)
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    seen = 0
    for no, line in _command_lines():
        words = line.split()
        if words[0].endswith("/recourse"):
            words[0] = "recourse"
        if words[0] == "recourse":
            command = cli.get_command(ctx, words[1])
            assert command is not None, f"README line {no}: no command {words[1]!r}"
            known = _options(command)
            for token in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(words[2:])):
                assert token in known, (
                    f"README line {no}: `recourse {words[1]}` has no option {token}")
            seen += 1
        elif words[0] == "make":
            assert set(words[1:]) <= targets, f"README line {no}: no make target {words[1:]}"
        elif words[:2] == ["python", words[1]] and words[1].startswith("benchmarks/"):
            assert (ROOT / words[1]).is_file(), f"README line {no}: {words[1]} is missing"
    assert seen >= 10


def test_option_check_catches_an_unknown_option():
    cli = get_command(app)
    ctx = cli.make_context("recourse", ["--help"], resilient_parsing=True)
    known = _options(cli.get_command(ctx, "audit"))
    assert "--reference" in known and "--trust-pickle" in known
    assert "--no-such-option" not in known


def _readme_command(prefix: str) -> list[str]:
    """The first README command line starting with ``prefix``, as arguments."""
    for _, line in _command_lines():
        if line.startswith(prefix):
            return shlex.split(line)[1:]
    raise AssertionError(f"the README has no `{prefix} ...` command")


def test_demo_portfolio_audit_command_runs(tmp_path, monkeypatch):
    """The files ``make demo`` writes for the forest (built here as the demo builds them;
    ``tests/test_cli`` runs the demo itself), then the README's audit command, as written."""
    import pandas as pd

    from recourse.datasets import TARGET_CLASS, applicant_rows, make_model, train_test
    from recourse.io import save_model

    X_train, _, y_train, _, schema = train_test("german", seed=0)
    model = make_model("rf100x6", X_train, y_train, seed=0, schema=schema)
    demo = tmp_path / "demo_output"
    demo.mkdir()
    save_model(model, demo / "model_rf100x6.skops")
    schema.to_yaml(demo / "schema.yaml")
    portfolio = applicant_rows("german", with_row=True)
    portfolio.to_csv(demo / "portfolio.csv", index=False)
    monkeypatch.chdir(tmp_path)
    args = _readme_command("recourse audit --model demo_output/")
    out = CliRunner().invoke(app, [*args, "--jobs", "1"])
    assert out.exit_code == 0, out.output
    res = pd.read_parquet(tmp_path / "audit_out" / "results.parquet")
    denied = portfolio[model.predict(portfolio[schema.names]) != TARGET_CLASS]
    assert sorted(res["id"]) == sorted(denied["dataset_row"]) and len(res) > 0


@pytest.mark.parametrize("prefix, written", [
    ("recourse schema --dataset", "schema.yaml"),
    ("recourse causal-graph --dataset", "graph.yaml"),
])
def test_cheap_commands_run(tmp_path, monkeypatch, prefix, written):
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, _readme_command(prefix))
    assert out.exit_code == 0, out.output
    assert (tmp_path / written).stat().st_size > 0


# ------------------------------------------------------------------ cited documents
LABEL = re.compile(r"docs/theory\.md §([A-D]\d+(?:\.\d)?(?:[–-][A-D]?\d+)?"
                   r"(?:, [A-D]\d*(?:\.\d)?(?:[–-][A-D]?\d+)?)*)")


def _theory_labels() -> set[str]:
    text = (ROOT / "docs" / "theory.md").read_text()
    labels = set(re.findall(r"^## ([A-D]\d+)\.", text, re.M))
    labels |= set(re.findall(r"\*\*(D\.\d)\*\*", text))
    for section, body in re.findall(r"^## ([A-D]\d+)\.[^\n]*\n(.*?)(?=^## |\Z)", text,
                                    re.M | re.S):
        labels |= {f"{section}.{n}" for n in re.findall(r"^(\d)\. ", body, re.M)}
    return labels


def _cited_labels() -> list[tuple[str, str]]:
    out = []
    files = [ROOT / "README.md", *sorted((ROOT / "recourse").rglob("*.py")),
             *sorted((ROOT / "tests").rglob("*.py"))]
    for path in files:
        if path == Path(__file__):
            continue
        for group in LABEL.findall(path.read_text(encoding="utf-8")):
            for item in group.split(", "):
                first, _, last = item.replace("–", "-").partition("-")
                out.append((str(path.relative_to(ROOT)), first))
                if last:
                    out.append((str(path.relative_to(ROOT)), first[0] + last.lstrip("ABCD")))
    return out


def test_cited_theory_labels_exist():
    labels = _theory_labels()
    cited = _cited_labels()
    assert len(cited) > 30, "no citations found: did the pattern break?"
    missing = sorted({(f, lab) for f, lab in cited
                      if lab not in labels and len(lab) > 1})
    assert not missing, f"cited but not in docs/theory.md: {missing}"


def test_label_check_sees_a_missing_label():
    labels = _theory_labels()
    assert {"A7", "A13.3", "A15.4", "B3", "C6", "D.6"} <= labels
    assert "A16" not in labels and "A13.9" not in labels


def test_documents_and_licence_exist():
    for name in ("docs/theory.md", "docs/formulations.md", "LICENSE"):
        assert (ROOT / name).is_file(), name
    text = "\n".join(p.read_text(encoding="utf-8") for p in [
        ROOT / "README.md", ROOT / "pyproject.toml", *(ROOT / "recourse").rglob("*.py"),
        *(ROOT / "encoders").rglob("*.py"), *(ROOT / "solvers").rglob("*.py")])
    assert not re.search(r"\bTHEORY\b|\bDESIGN\.md\b", text), "a citation of notes that "
    "are not in the repository"
    formulations = (ROOT / "docs" / "formulations.md").read_text()
    for heading in ("Float32 threshold handling", "Tree ensembles: shared thresholds and "
                    "leaf rows"):
        assert f"## {heading}" in formulations, heading

"""Letters in bulk: one file per applicant, from results or from an audit's Parquet.

Audit Parquet column contract (assumed; the audit module is written in parallel)
--------------------------------------------------------------------------------
One row per applicant. Required: ``id`` (any type; used in the file name and the letter)
and ``status`` (one of ``recourse.audit.AUDIT_STATUSES``: the engine's statuses plus
``invalid_input``). Optional, read when present: ``target``,
``predicted``, ``cost``, ``l1_cost``, ``l0``, ``bound``, ``gap``, ``optimal`` (proven),
``verified``, ``norm``, ``backend``, ``message``, and ``changes``: the changes of the
optimal recourse as a list of structs ``{feature, before, after}`` (values as stored:
numbers or text), or that list as a JSON string. Numbers stored as text in ``before`` /
``after`` are read back as numbers for numeric features. Optional ``model_sha256``
(``sha256:<hex>`` or bare hex) is used as the model fingerprint when no model is given.
A letter from an audit row shows its one (optimal) option: the audit keeps no other.

Rows without a letter to send
-----------------------------
No letter is written for an ``invalid_input`` row (the applicant's data could not be
used, so there is no decision to explain: fix the row and rerun) nor for an applicant
the model approves (``already_target``: no adverse-action letter is due). They are
listed, with the reason, in ``WrittenLetters.skipped``; the CLI prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recourse.encoders.errors import InputValidationError, cap_list
from recourse.letters.note import note_sets, render_bank_note
from recourse.letters.render import FORMATS, render_letter
from recourse.letters.trace import model_fingerprint
from recourse.result import Change, RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["write_letters", "read_audit", "AUDIT_REQUIRED", "AUDIT_OPTIONAL", "WrittenLetters",
           "skip_reason", "refuse_overwrite"]

AUDIT_REQUIRED = ("id", "status")
AUDIT_OPTIONAL = ("target", "predicted", "cost", "l1_cost", "l0", "bound", "gap", "optimal",
                  "verified", "norm", "backend", "message", "changes", "model_sha256")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _value(schema: FeatureSchema, name: str, v: Any) -> Any:
    if name in schema and not schema[name].is_group and isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _changes(raw: Any, schema: FeatureSchema, ident: Any) -> list[Change]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise InputValidationError(
                f"Audit row {ident!r}: 'changes' is text but not JSON; store a list of "
                "{feature, before, after} structs or its JSON.") from None
    out = []
    for c in list(raw):
        if not isinstance(c, dict) or not {"feature", "before", "after"} <= set(c):
            raise InputValidationError(
                f"Audit row {ident!r}: each change needs 'feature', 'before' and 'after'; "
                f"got {c!r}.")
        name = str(c["feature"])
        if name not in schema:
            raise InputValidationError(
                f"Audit row {ident!r} changes {name!r}, which is not in the schema; pass "
                "the schema the audit was run with.")
        out.append(Change(name, _value(schema, name, c["before"]),
                          _value(schema, name, c["after"])))
    return out


def _consequences(raw: Any, changes: list[Change]) -> list[Change]:
    """The changes an audit row marks ``role: consequence`` (causal recourse)."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    roles = [c.get("role") if isinstance(c, dict) else None for c in list(raw or [])]
    return [c for c, r in zip(changes, roles) if r == "consequence"]


def _opt_float(v: Any) -> float | None:
    try:
        return None if v is None or v != v else float(v)
    except (TypeError, ValueError):
        return None


class WrittenLetters(list):
    """The written paths in input order (a list), and ``skipped``: ``(id, reason)`` of
    every applicant who got no letter (module docstring)."""

    def __init__(self, paths: Iterable[Path] = (), skipped: Iterable[tuple[str, str]] = ()):
        super().__init__(paths)
        self.skipped: list[tuple[str, str]] = list(skipped)
        self.notes: list[Path] = []  # the bank's internal notes (recourse.letters.note)


def _audit_why(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{id: {why_sets, why_complete}}`` of an audit file's analysed rows (empty when the
    audit ran without ``why``)."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if "why_complete" not in names:
        return {}
    table = pq.read_table(path, columns=["id", "why_sets", "why_complete"])
    return {str(r["id"]): r for r in table.to_pylist() if r["why_complete"] is not None}


def skip_reason(answer: RecourseResult | RecourseOptions | None, status: str = "",
                message: str = "") -> str | None:
    """Why no letter is written for this answer (or audit status), or None."""
    if answer is not None:
        head = (answer.options[0] if isinstance(answer, RecourseOptions) and answer.options
                else answer.final if isinstance(answer, RecourseOptions) else answer)
        status = head.status if head is not None else status
        message = head.message if head is not None else message
    if status == "invalid_input":
        return ("invalid_input: the applicant's row could not be used"
                + (f" ({message})" if message else "") + "; fix the row and rerun")
    if status == "already_target":
        return "approved by the model: no adverse-action letter is due"
    return None


def refuse_overwrite(paths: Iterable[Path]) -> None:
    """Raise if any of ``paths`` exists (a letter may have been edited by hand).

    Raises
    ------
    InputValidationError
        Naming the files and the fix (``overwrite=True`` / ``--overwrite``).
    """
    there = [str(p) for p in paths if Path(p).exists()]
    if there:
        raise InputValidationError(
            f"{len(there)} letter file(s) already exist: {cap_list(there, 5)}; nothing was "
            "written. Choose another --out, move them away, or pass --overwrite "
            "(overwrite=True) to replace them.")


def read_audit(path: str | Path, schema: FeatureSchema) -> Iterator[tuple[str, RecourseResult,
                                                                          str | None]]:
    """``(id, RecourseResult, model_sha256 or None)`` per row of an audit Parquet file
    (column contract in the module docstring). An ``invalid_input`` row is yielded as a
    result with that status (it never reaches a letter: see :func:`skip_reason`).

    Raises
    ------
    InputValidationError
        A required column is missing, a status is unknown, or a change is malformed.
    """
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"The audit file {str(p)!r} does not exist; check the path.")
    table = pq.read_table(p)
    missing = [c for c in AUDIT_REQUIRED if c not in table.column_names]
    if missing:
        raise InputValidationError(
            f"The audit file lacks the columns {missing}; it has "
            f"{cap_list(table.column_names, 12)}. Letters need at least {list(AUDIT_REQUIRED)}.")
    from recourse.audit.rows import AUDIT_STATUSES

    for row in table.to_pylist():
        ident = row["id"]
        status = str(row["status"])
        if status not in AUDIT_STATUSES:
            raise InputValidationError(
                f"Audit row {ident!r} has unknown status {status!r}; known: "
                f"{list(AUDIT_STATUSES)}.")
        changes = [] if status == "invalid_input" else _changes(row.get("changes"), schema,
                                                                 ident)
        factual = {c.feature: c.before for c in changes}
        res = RecourseResult(
            status=status, target=row.get("target", "the target class"),
            predicted=row.get("predicted", "another class"), factual=factual,
            changes=changes, consequences=_consequences(row.get("changes"), changes),
            cost=_opt_float(row.get("cost")),
            l1_cost=_opt_float(row.get("l1_cost")), l0=_opt_float(row.get("l0")),
            bound=_opt_float(row.get("bound")), gap=_opt_float(row.get("gap")),
            optimal=bool(row.get("optimal", False)), verified=bool(row.get("verified", False)),
            norm=str(row.get("norm") or "l1"), backend=str(row.get("backend") or "auto"),
            message=str(row.get("message") or ""))
        sha = row.get("model_sha256")
        if sha is not None and not str(sha).startswith("sha256:"):
            sha = "sha256:" + str(sha)
        yield str(ident), res, sha


def _file_name(ident: str, fmt: str, used: set[str]) -> str:
    base = _SAFE.sub("_", ident).strip("._") or "applicant"
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return f"letter_{name}{FORMATS[fmt]}"


def write_letters(items: Iterable[tuple[Any, RecourseResult | RecourseOptions]] | str | Path,
                  out_dir: str | Path, schema: FeatureSchema, *, format: str = "md",
                  model: Any = None, progress: bool = False, overwrite: bool = False,
                  notes: bool = True, **kwargs: Any) -> WrittenLetters:
    """One letter per applicant in ``out_dir``; returns the written paths in input order
    (a :class:`WrittenLetters`, whose ``skipped`` lists the applicants without a letter:
    invalid rows and approved applicants, and ``notes`` the bank's internal notes).

    Parameters
    ----------
    items : iterable of (id, RecourseResult or RecourseOptions), or a path
        Results with their applicant ids, or an audit Parquet file (module docstring).
    out_dir : path
        Created if missing; files are ``letter_<id>.<md|html|pdf>`` (ids made file-safe,
        duplicates numbered).
    model : path or fitted model, optional
        Hashed once for every letter's fingerprint.
    progress : bool
        Show a rich progress bar on the terminal (count, rate, elapsed time and ETA; the
        CLI turns it on).
    overwrite : bool
        Replace letter files that already exist; without it an existing file stops the
        batch before anything is written.
    notes : bool
        For an applicant without recourse whose answer carries a preclusion analysis
        (``explain(..., why=True)``, or an audit run with ``why``), also write the bank's
        internal note ``bank-note_<id>.<md|html>`` (:mod:`recourse.letters.note`), a
        separate file: the letter itself never holds it. Listed in ``written.notes``.
    kwargs
        Passed to :func:`recourse.letters.render_letter` (``clock``, ``template_dir``,
        ``title``, ...).

    Raises
    ------
    InputValidationError
        Unknown format; a malformed audit file or item; a letter file exists and
        ``overwrite`` is False.
    """
    from recourse.letters.render import html_to_pdf

    if format not in FORMATS:
        raise InputValidationError(
            f"The letter format must be one of {list(FORMATS)}. Got {format!r} instead.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fp = kwargs.pop("fingerprint", None)
    if fp is None and model is not None:
        fp = model_fingerprint(model)
    why_rows: dict[str, Any] = {}
    if isinstance(items, (str, Path)):
        rows: list[tuple[str, Any, str | None]] = list(read_audit(items, schema))
        why_rows = _audit_why(items) if notes else {}
    else:
        rows = []
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2
                    and isinstance(item[1], (RecourseResult, RecourseOptions))):
                raise InputValidationError(
                    "write_letters needs (id, RecourseResult or RecourseOptions) pairs or an "
                    f"audit Parquet path; got {type(item).__name__} {str(item)[:60]!r}.")
            rows.append((str(item[0]), item[1], None))
    used: set[str] = set()
    written = WrittenLetters()
    todo: list[tuple[str, Any, str | None, Path]] = []
    for ident, answer, sha in rows:
        why = skip_reason(answer)
        if why is not None:
            written.skipped.append((ident, why))
        else:
            todo.append((ident, answer, sha, out / _file_name(ident, format, used)))
    planned = []  # (note's answer, path): a separate file beside the letter
    for ident, answer, _, p in todo:
        source = why_rows.get(ident, answer) if notes else None
        if source is not None and note_sets(source) is not None:
            ext = ".md" if format == "md" else ".html"
            planned.append((ident, source, p.with_name("bank-note_" + p.stem[7:] + ext)))
    if not overwrite:
        refuse_overwrite([*(p for *_, p in todo), *(p for *_, p in planned)])
    paths = written
    for ident, source, p in planned:
        p.write_text(render_bank_note(source, schema, format=p.suffix[1:],
                                      applicant_id=ident,
                                      organisation=kwargs.get("organisation", "")),
                     encoding="utf-8")
        written.notes.append(p)

    def one(ident: str, answer: Any, sha: str | None, p: Path) -> None:
        this_fp = fp if fp is not None else (
            (sha, "recorded in the audit file") if sha else None)
        text = render_letter(answer, schema, format=format, applicant_id=ident,
                             fingerprint=this_fp, **kwargs)
        if format == "pdf":
            html_to_pdf(text, p)
        else:
            p.write_text(text, encoding="utf-8")
        paths.append(p)

    if not progress:
        for job in todo:
            one(*job)
        return paths
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("Writing letters"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn()) as bar:
        task = bar.add_task("letters", total=len(todo), rate="– letters/s")  # noqa: RUF001
        for job in todo:
            one(*job)
            speed = bar.tasks[0].speed
            bar.update(task, advance=1,
                       rate=f"{speed:.1f} letters/s" if speed else "– letters/s")  # noqa: RUF001
    return paths


def letter_options(purpose: str, appendix: str, phrasebook: str | None,
                   overwrite: bool) -> dict[str, Any]:
    """The letter keywords of the CLI's ``letter`` command, validated early (before any
    solving)."""
    from recourse.letters.context import APPENDIX, PURPOSES
    from recourse.letters.phrasebook import load_phrasebook

    if purpose not in PURPOSES:
        raise InputValidationError(f"--purpose must be one of {list(PURPOSES)}, got "
                                   f"{purpose!r}.")
    if appendix not in APPENDIX:
        raise InputValidationError(f"--appendix must be one of {list(APPENDIX)}, got "
                                   f"{appendix!r}.")
    return {"purpose": purpose, "appendix": appendix,
            "phrasebook": load_phrasebook(phrasebook), "overwrite": overwrite}


def letters_summary(paths: WrittenLetters | list[Path], target_dir: Path) -> str:
    """``Wrote 3 letters to out/`` plus one line per skipped applicant (markup escaped)."""
    from rich.markup import escape

    lines = [f"Wrote {len(paths)} letters to {escape(str(target_dir))}/"]
    notes = getattr(paths, "notes", [])
    if notes:
        lines.append(f"and {len(notes)} internal note(s) for the bank (bank-note_*: not for "
                     "the applicant)")
    skipped = getattr(paths, "skipped", [])
    if skipped:
        lines.append(f"No letter for {len(skipped)} applicant(s):")
        lines += [f"  {escape(ident)}: {escape(why)}" for ident, why in skipped]
    return "\n".join(lines)

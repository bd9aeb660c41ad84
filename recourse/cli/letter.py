"""``recourse letter``: a recourse letter per applicant (Markdown, HTML or PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from recourse.cli.common import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    AlsoModel,
    Data,
    ExtraColumns,
    MinMargin,
    MinScore,
    Plausible,
    Seen,
    Support,
    SupportK,
    TrustPickle,
    console,
    fail,
    resolve_target,
)
from recourse.cli.flags import build_robust, flags_from
from recourse.encoders.errors import InputValidationError, RecourseError

__all__ = ["letter"]


def letter(
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")]
    = None,
    applicant: Annotated[Path | None, typer.Option(
        "--applicant", "-a", help="CSV or Parquet with the applicant(s), or german / "
        "credit_data (the bundled test split).")] = None,
    schema: Annotated[Path | None, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html or pdf.")] = "md",
    out: Annotated[Path | None, typer.Option(
        help="Letter file (one applicant) or directory (--all-rows, --audit); default: "
        "print Markdown/HTML, or letters/ for batches.")] = None,
    row: Annotated[int | None, typer.Option(
        help="0-based row of the applicant in a file with several rows.")] = None,
    all_rows: Annotated[bool, typer.Option(
        "--all-rows", help="One letter per row of the applicant file, into --out.")] = False,
    audit: Annotated[Path | None, typer.Option(
        help="Audit Parquet: one letter per row, into --out (no solving; see "
        "recourse.letters.batch for the columns).")] = None,
    k: Annotated[int, typer.Option(help="Most distinct options per letter.")] = 3,
    target: Annotated[str | None, typer.Option(
        help="Class to reach, e.g. 'good' (default: decided by the engine).")] = None,
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Solver time limit per option (s).")]
    = 60.0,
    applicant_id: Annotated[str | None, typer.Option(
        "--id", help="Applicant id in the letter (default: file name and row).")] = None,
    template_dir: Annotated[Path | None, typer.Option(
        help="Directory with your own letter.md.j2 / letter.html.j2.")] = None,
    trust_pickle: TrustPickle = False,
    min_margin: MinMargin = None,
    box: Annotated[bool, typer.Option(
        "--box", help="Phrase each change as a certified range (\"reduce the credit amount "
        "to 7,839 DM or less\") and list the ranges within which approval holds.")]
    = False,
    data: Data = None,
    seen_together: Seen = False,
    plausible: Plausible = False,
    min_score: MinScore = None,
    also_model: AlsoModel = None,
    support: Support = None,
    support_k: SupportK = 1,
    purpose: Annotated[str, typer.Option(
        help="Template: plain, adverse-action (US notice) or explanation (EU style).")]
    = "plain",
    appendix: Annotated[str, typer.Option(
        help="Appendix for the bank's file: none, internal or full.")] = "internal",
    phrasebook: Annotated[str | None, typer.Option(
        help="The bank's words: a phrasebook YAML, or german / credit_data for the "
        "bundled defaults.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace letter files that already exist.")] = False,
    extra_column: ExtraColumns = None,
    why: Annotated[bool, typer.Option(
        "--why", help="For an applicant without recourse, also write the bank's internal "
        "note (bank-note_*.md/html beside the letter, never in it): the smallest "
        "relaxations of the bank's rules that would open recourse.")] = False,
) -> None:
    """Write a recourse letter: decision, principal reasons, up to k distinct options,
    traceability appendix."""
    import recourse.engine as engine
    from recourse.datasets import applicant_rows
    from recourse.io import load_model, load_schema, read_table
    from recourse.letters import FORMATS, render_letter, write_letter, write_letters
    from recourse.letters.batch import letter_options, letters_summary

    flags = flags_from(min_margin, box, data, seen_together, plausible, min_score,
                       also_model, support, support_k)

    try:
        if fmt not in FORMATS:
            raise InputValidationError(f"--format must be one of {list(FORMATS)}, got {fmt!r}.")
        if norm not in engine.NORMS:
            raise InputValidationError(f"--norm must be one of {list(engine.NORMS)}, got "
                                       f"{norm!r}.")
        if k < 1:
            raise InputValidationError(f"--k must be at least 1, got {k}.")
        if schema is None:
            raise InputValidationError("--schema is required (the schema YAML the model uses).")
        feature_schema = load_schema(schema)
        words = letter_options(purpose, appendix, phrasebook, overwrite)
        if why and out is None:
            raise InputValidationError(
                "--why writes the bank's internal note to its own file beside the letter; "
                "pass --out (a letter file or, for batches, a directory).")
        if audit is not None:
            if why:
                raise InputValidationError(
                    "--audit writes the bank's notes from the audit's own analysis (an audit "
                    "run with --why); drop --why here.")
            if flags.any():
                raise InputValidationError(
                    "--audit writes letters from an audit's stored answers without solving; "
                    "--min-margin, --box, --data, --seen-together, --plausible and "
                    "--also-model do not apply. Drop them, or pass --model and --applicant.")
            target_dir = out or Path("letters")
            paths = write_letters(audit, target_dir, feature_schema, format=fmt, model=model,
                                  progress=True, template_dir=template_dir, **words)
            console.print(letters_summary(paths, target_dir), highlight=False)
            raise typer.Exit(EXIT_OK)
        if model is None or applicant is None:
            raise InputValidationError(
                "--model and --applicant are required (or --audit FILE to write letters from "
                "an audit's results).")
        fitted = load_model(model, trust_pickle=trust_pickle)
        setup = build_robust(fitted, feature_schema, flags, trust_pickle=trust_pickle,
                             target=resolve_target(fitted, target))
        eng = engine.RecourseEngine(setup.model, feature_schema, **setup.engine_kwargs)
        goal = resolve_target(fitted, target)
        frame = applicant_rows(applicant)  # german / credit_data: the test split
        if frame is None:
            from recourse.schema import check_columns

            frame = read_table(applicant)
            frame = frame.drop(columns=check_columns(
                feature_schema, frame.columns, extra_columns=extra_column or (),
                where=f"The applicant file {str(applicant)!r}"))
        if all_rows:
            positions = list(range(len(frame)))
        elif row is None and len(frame) > 1:
            raise InputValidationError(
                f"The applicant file has {len(frame)} rows; choose one with --row N or "
                "write one letter per row with --all-rows.")
        else:
            positions = [row or 0]
        answers = []
        for pos in positions:
            if not 0 <= pos < len(frame):
                raise InputValidationError(f"--row {pos} is out of range: the file has "
                                           f"{len(frame)} rows.")
            ident = applicant_id if applicant_id and not all_rows else (
                f"{applicant.stem} row {pos}")
            opts = eng.options(frame.iloc[pos], k=k, target=goal, norm=norm,
                               time_limit=time_limit, **setup.explain_kwargs)
            if why and not len(opts) and opts.final is not None \
                    and opts.final.status == "no_recourse":
                from dataclasses import replace

                opts = replace(opts, final=eng.explain(
                    frame.iloc[pos], target=goal, norm=norm, time_limit=time_limit, why=True,
                    **setup.explain_kwargs))
            answers.append((ident, opts))
        if all_rows:
            target_dir = out or Path("letters")
            paths = write_letters(answers, target_dir, feature_schema, format=fmt,
                                  model=model, progress=True, template_dir=template_dir,
                                  **words)
            console.print(letters_summary(paths, target_dir), highlight=False)
            raise typer.Exit(EXIT_OK)
        ident, opts = answers[0]
        kw: dict[str, Any] = dict(applicant_id=ident, model=model, template_dir=template_dir,
                                  **words)
        if out is None:
            kw.pop("overwrite")
        if out is not None:
            from recourse.letters.note import note_sets, write_bank_note

            note = out.with_name(f"bank-note_{out.stem}{'.md' if fmt == 'md' else '.html'}")
            if note_sets(opts) is not None and note.exists() and not overwrite:
                raise InputValidationError(
                    f"{str(note)!r} already exists; nothing was written. Pass --overwrite.")
            write_letter(opts, out, feature_schema, format=fmt, **kw)
            console.print(f"Wrote the letter to {escape(str(out))}")
            if note_sets(opts) is not None:
                write_bank_note(opts, note, feature_schema, overwrite=overwrite,
                                applicant_id=ident)
                console.print(f"Wrote the bank's internal note (not for the applicant) to "
                              f"{escape(str(note))}")
        elif fmt == "pdf":
            raise InputValidationError("A PDF letter needs a file: pass --out letter.pdf.")
        else:
            console.out(render_letter(opts, feature_schema, format=fmt, **kw), highlight=False)
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    raise typer.Exit(EXIT_OK if opts.stopped not in ("time_limit", "error") or len(opts)
                     else EXIT_NO_ANSWER)

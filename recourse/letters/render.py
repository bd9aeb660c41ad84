"""Render letters with Jinja2 templates; write Markdown, HTML and PDF files.

The templates ship in ``recourse/templates``, one per purpose and format:
``plain.md.j2``, ``plain.html.j2``, ``adverse-action.md.j2``, ``adverse-action.html.j2``,
``explanation.md.j2``, ``explanation.html.j2`` (shared pieces in ``_parts.*.j2``). A
compliance team replaces any of them by passing ``template_dir``: a directory holding
its own ``<purpose>.<md|html>.j2`` (a file missing there falls back to the bundled one;
an old-style ``letter.md.j2`` / ``letter.html.j2`` there serves the ``plain`` purpose).
A template may also ``{% extends "adverse-action.md.j2" %}`` and override only the
``rights`` block. Templates get the context documented in
:mod:`recourse.letters.context`, rendered with ``StrictUndefined`` (a misspelt key is an
error, not a blank), HTML autoescaped, and the filters ``capitalize_first``, ``md_cell``
(a Markdown table cell: ``|`` escaped, newlines removed), ``md_text`` (Markdown/HTML
special characters escaped, for user text in Markdown) and ``hashes`` (HTML: escapes,
then keeps each ``sha256:`` digest on one line).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recourse.encoders.errors import BackendUnavailableError, InputValidationError
from recourse.letters.context import letter_context
from recourse.letters.trace import Clock, Trace, make_trace
from recourse.result import RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["FORMATS", "render_letter", "write_letter", "html_to_pdf", "template_env",
           "template_name", "ReasonWithheldWarning"]

#: Output formats and their file suffixes.
FORMATS = {"md": ".md", "html": ".html", "pdf": ".pdf"}
_EXT = {"md": "md", "html": "html", "pdf": "html"}
_HASH = re.compile(r"sha256:[0-9a-f]{64}")


class ReasonWithheldWarning(UserWarning):
    """A candidate reason failed its check and the letter has no appendix recording it."""


def template_name(purpose: str, fmt: str) -> str:
    """``"adverse-action.md.j2"`` and the like."""
    return f"{purpose}.{_EXT[fmt]}.j2"


def _capitalize_first(text: Any) -> str:
    s = str(text)
    return s[:1].upper() + s[1:]


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_text(text: Any) -> str:
    """User text for Markdown: the characters that start markup (``<``, ``&``, ``*``,
    ``_``, ``[``, ``]``, backquote, ``|``, backslash) get a backslash (CommonMark's escape),
    so no HTML tag, entity, link or emphasis can arise; they still display as typed."""
    return re.sub(r"([<&*_\[\]`|\\])", r"\\\1", str(text).replace("\n", " "))


def _hashes(text: Any) -> Any:
    import markupsafe

    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(_HASH.sub(lambda m: f'<span class="hash">{m.group(0)}</span>',
                                       escaped))


def template_env(template_dir: str | Path | None = None) -> Any:
    """The Jinja2 environment for letters (``template_dir`` first, then the bundled
    templates). The bundled templates' environment is made once per process, so that
    they are compiled once; one with a ``template_dir`` is made anew on every call (a
    template the user adds to the directory later is found)."""
    if template_dir is not None:
        d = Path(template_dir)
        if not d.is_dir():
            raise InputValidationError(
                f"template_dir {str(d)!r} is not a directory; give the directory holding "
                "your letter.md.j2 / letter.html.j2.")
        return _make_env(str(d))
    return _bundled_env()


@functools.lru_cache(maxsize=1)
def _bundled_env() -> Any:
    return _make_env(None)


def _make_env(template_dir: str | None) -> Any:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.PackageLoader("recourse", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                            default_for_string=False),
    )
    env.filters["capitalize_first"] = _capitalize_first
    env.filters["md_cell"] = _md_cell
    env.filters["md_text"] = _md_text
    env.filters["hashes"] = _hashes
    return env


def _get_template(env: Any, template_dir: str | Path | None, purpose: str, fmt: str) -> Any:
    name = template_name(purpose, fmt)
    if purpose == "plain" and template_dir is not None:
        legacy = Path(template_dir) / f"letter.{_EXT[fmt]}.j2"
        if legacy.is_file() and not (Path(template_dir) / name).is_file():
            return env.get_template(legacy.name)
    return env.get_template(name)


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputValidationError(
            f"The letter format must be one of {list(FORMATS)}. Got {fmt!r} instead.")
    return fmt


def render_letter(answer: RecourseResult | RecourseOptions, schema: FeatureSchema, *,
                  format: str = "md", applicant_id: str = "", model: Any = None,
                  fingerprint: tuple[str, str] | None = None, clock: Clock | None = None,
                  trace: Trace | None = None, template_dir: str | Path | None = None,
                  reasons: Mapping[str, float] | None = None, attribution_method: str = "",
                  consequences: Sequence[Sequence[Any]] = (),
                  title: str | None = None, organisation: str = "",
                  purpose: str = "plain", phrasebook: Any = None,
                  appendix: str = "internal", failed_reasons: str = "withhold",
                  rights: str = "", applicant: Mapping[str, Any] | None = None) -> str:
    """A letter as text (Markdown or HTML).

    Parameters
    ----------
    answer : RecourseResult or RecourseOptions
        :func:`recourse.find_recourse`'s answer, or :meth:`RecourseEngine.options`'s.
    schema : FeatureSchema
        The schema the answer was computed with.
    format : {"md", "html"}
        ``"pdf"`` renders the HTML (use :func:`write_letter` for the file).
    applicant_id : str
        Shown in the letter and its appendix.
    model : path or fitted model, optional
        For the fingerprint (a file's sha256, or the pickle bytes' of an in-memory model);
        a fitted model also checks attribution reasons (``reasons=``).
    fingerprint : (str, str), optional
        Precomputed ``(fingerprint, what was hashed)`` instead of ``model``.
    clock : callable, optional
        Time of the letter (default now, UTC); see ``recourse.letters.fixed_clock``.
    trace : Trace, optional
        A ready trace (then ``model``, ``fingerprint``, ``clock`` are not used).
    template_dir : path, optional
        Directory with your own ``letter.md.j2`` / ``letter.html.j2``.
    reasons : mapping of feature name to score, optional
        Attribution scores of the approval class's score (e.g. SHAP from
        ``recourse.analysis``): the principal reasons are taken from them, each checked
        by the ray test (:mod:`recourse.letters.reasons`); needs a fitted ``model``.
    consequences : sequence of sequences, optional
        Per option, the expected consequences of its actions under a causal model.
    purpose : {"plain", "adverse-action", "explanation"}
        Which template: today's letter, a US-style adverse-action notice, or an EU-style
        explanation of an automated decision.
    phrasebook : Phrasebook, "german", "credit_data" or a YAML path, optional
        The bank's words for decisions and changes (:mod:`recourse.letters.phrasebook`).
    appendix : {"none", "internal", "full"}
        The computation record for the bank's file: left out, the essentials (fingerprints,
        solver, proof, costs, reason checks), or everything (plus versions, excluded
        change sets and the JSON trace).
    failed_reasons : {"withhold", "mark"}
        A reason that fails its check is left out of the applicant's text, or printed
        marked for the bank's reviewer; either way the appendix records the check.
    rights : str
        The applicant's-rights paragraph (``adverse-action``, ``explanation``).
    applicant : mapping, optional
        The applicant's full row, for checking attribution reasons (default: the
        result's ``factual``).

    Warns
    -----
    ReasonWithheldWarning
        A reason was withheld and ``appendix="none"`` leaves no record of it in the
        letter.

    Raises
    ------
    InputValidationError
        Unknown format; an option changes an immutable feature; see
        :func:`recourse.letters.letter_context`.
    """
    fmt = _check_format(format)
    results = list(answer.options) if isinstance(answer, RecourseOptions) else (
        [answer] if answer.status in ("optimal", "feasible") else [])
    final = (answer.final if isinstance(answer, RecourseOptions)
             else (None if results else answer))
    if trace is None:
        trace = make_trace(results, schema, applicant_id=applicant_id, model=model,
                           fingerprint=fingerprint, clock=clock, final=final)
    fitted = None if model is None or isinstance(model, (str, Path)) else model
    ctx = letter_context(answer, schema, trace, purpose=purpose, title=title,
                         organisation=organisation, reasons=reasons,
                         attribution_method=attribution_method, consequences=consequences,
                         phrasebook=phrasebook, appendix=appendix,
                         failed_reasons=failed_reasons, rights=rights, check_model=fitted,
                         applicant=applicant)
    if ctx["withheld"] and appendix == "none":
        left = [c["label"] for c in ctx["checks"] if c["result"] == "withheld"]
        warnings.warn(
            f"Letter {trace.applicant_id!r}: {len(left)} candidate reason(s) failed their "
            f"check and were withheld ({', '.join(left)}); with appendix='none' the letter "
            "does not record this. Keep an appendix for the bank's file.",
            ReasonWithheldWarning, stacklevel=2)
    env = template_env(template_dir)
    return str(_get_template(env, template_dir, purpose, fmt).render(**ctx))


def html_to_pdf(html: str, path: str | Path) -> Path:
    """Write ``html`` as a PDF with WeasyPrint (the optional extra ``pdf``).

    Raises
    ------
    BackendUnavailableError
        WeasyPrint (or the system libraries it needs: Pango) is not installed.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise BackendUnavailableError(
            "PDF letters need WeasyPrint, which is not installed or cannot load its system "
            f"libraries ({type(exc).__name__}: {exc}). Install the extra: pip install "
            "'recourse-engine[pdf]' (on Debian/Ubuntu also: apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0); or write HTML or Markdown letters instead.") from None
    p = Path(path)
    weasyprint.HTML(string=html).write_pdf(str(p))
    return p


def write_letter(answer: RecourseResult | RecourseOptions, path: str | Path,
                 schema: FeatureSchema, *, format: str | None = None,
                 overwrite: bool = False, **kwargs: Any) -> Path:
    """Write one letter; the format follows ``format`` or the suffix of ``path``.

    ``kwargs`` are those of :func:`render_letter`. Returns the written path. An existing
    file (perhaps a letter edited by hand) is replaced only with ``overwrite=True``.

    Raises
    ------
    InputValidationError
        The format is unknown or cannot be told from the suffix; the file exists and
        ``overwrite`` is False.
    BackendUnavailableError
        PDF asked for without WeasyPrint.
    """
    p = Path(path)
    if format is None:
        by_suffix = {v: k for k, v in FORMATS.items()}
        format = by_suffix.get(p.suffix.lower())
        if format is None:
            raise InputValidationError(
                f"Cannot tell the letter format from {p.name!r}; name the file *.md, *.html "
                "or *.pdf, or pass format=.")
    fmt = _check_format(format)
    if p.exists() and not overwrite:
        raise InputValidationError(
            f"{str(p)!r} already exists; nothing was written. Choose another file, or pass "
            "--overwrite (overwrite=True) to replace it.")
    text = render_letter(answer, schema, format=fmt, **kwargs)
    if fmt == "pdf":
        return html_to_pdf(text, p)
    p.write_text(text, encoding="utf-8")
    return p

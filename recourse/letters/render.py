"""Render letters with Jinja2 templates; write Markdown, HTML and PDF files.

The templates ship in ``recourse/templates`` (``letter.md.j2``, ``letter.html.j2``). A
compliance team replaces them by passing ``template_dir``: a directory holding its own
``letter.md.j2`` and/or ``letter.html.j2`` (a file missing there falls back to the
bundled one). Templates get the context documented in :mod:`recourse.letters.context`,
rendered with ``StrictUndefined`` (a misspelt key is an error, not a blank), HTML
autoescaped, and two filters: ``capitalize_first`` and ``md_cell`` (a Markdown table
cell: ``|`` escaped, newlines removed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recourse.encoders.errors import BackendUnavailableError, InputValidationError
from recourse.letters.context import letter_context
from recourse.letters.trace import Clock, Trace, make_trace
from recourse.result import RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["FORMATS", "render_letter", "write_letter", "html_to_pdf", "template_env"]

#: Output formats and their file suffixes.
FORMATS = {"md": ".md", "html": ".html", "pdf": ".pdf"}
_TEMPLATES = {"md": "letter.md.j2", "html": "letter.html.j2", "pdf": "letter.html.j2"}


def _capitalize_first(text: Any) -> str:
    s = str(text)
    return s[:1].upper() + s[1:]


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def template_env(template_dir: str | Path | None = None) -> Any:
    """The Jinja2 environment for letters (``template_dir`` first, then the bundled
    templates)."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        d = Path(template_dir)
        if not d.is_dir():
            raise InputValidationError(
                f"template_dir {str(d)!r} is not a directory; give the directory holding "
                "your letter.md.j2 / letter.html.j2.")
        loaders.append(jinja2.FileSystemLoader(str(d)))
    loaders.append(jinja2.PackageLoader("recourse", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                            default_for_string=False),
    )
    env.filters["capitalize_first"] = _capitalize_first
    env.filters["md_cell"] = _md_cell
    return env


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
                  title: str = "Decision on your application",
                  organisation: str = "") -> str:
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
        For the fingerprint (a file's sha256, or the pickle bytes' of an in-memory model).
    fingerprint : (str, str), optional
        Precomputed ``(fingerprint, what was hashed)`` instead of ``model``.
    clock : callable, optional
        Time of the letter (default now, UTC); see ``recourse.letters.fixed_clock``.
    trace : Trace, optional
        A ready trace (then ``model``, ``fingerprint``, ``clock`` are not used).
    template_dir : path, optional
        Directory with your own ``letter.md.j2`` / ``letter.html.j2``.
    reasons : mapping of feature name to score, optional
        Attribution scores (e.g. from ``recourse.analysis``), shown labelled as such
        with ``attribution_method``.
    consequences : sequence of sequences, optional
        Per option, the expected consequences of its actions under a causal model.

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
    ctx = letter_context(answer, schema, trace, title=title, organisation=organisation,
                         reasons=reasons, attribution_method=attribution_method,
                         consequences=consequences)
    return str(template_env(template_dir).get_template(_TEMPLATES[fmt]).render(**ctx))


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
                 **kwargs: Any) -> Path:
    """Write one letter; the format follows ``format`` or the suffix of ``path``.

    ``kwargs`` are those of :func:`render_letter`. Returns the written path.

    Raises
    ------
    InputValidationError
        The format is unknown or cannot be told from the suffix.
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
    text = render_letter(answer, schema, format=fmt, **kwargs)
    if fmt == "pdf":
        return html_to_pdf(text, p)
    p.write_text(text, encoding="utf-8")
    return p

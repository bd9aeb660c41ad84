"""Hostile text and an independent check that an output holds no live markup.

The check parses the output with the standard library's ``html.parser`` (Markdown is
first rendered to HTML by markdown-it, the CommonMark reference parser in Python, with
raw HTML and tables on, as a ticket system or a browser extension would). It never
looks at how the engine escapes: it looks at what a browser would build.
"""

from __future__ import annotations

from html.parser import HTMLParser

#: Strings a hostile or careless user might put in any text that reaches an output.
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "<a href='javascript:alert(4)'>click</a>",
    "[click](javascript:alert(5))",
    "![img](http://example.invalid/x.png)",
    "x | y | <b>z</b>",
    "**bold** _em_ `code` # heading ~~s~~",
    "&lt;script&gt;alert(6)&lt;/script&gt;",
    "<iframe src=//example.invalid></iframe>",
    "<style>body{display:none}</style>",
)

#: Elements user text must never create.
FORBIDDEN = {"script", "img", "svg", "a", "iframe", "object", "embed", "b", "strong", "em",
             "code", "s", "del", "h1", "h2", "h3", "h4", "h5", "h6", "style", "link",
             "meta", "form", "input", "button", "video", "audio", "math"}


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)


def parse(html: str) -> tuple[list[tuple[str, list[tuple[str, str | None]]]], str]:
    """The elements (tag, attributes) and the concatenated text of an HTML document."""
    p = _Collect()
    p.feed(html)
    p.close()
    return p.elements, " ".join(" ".join(p.text).split())


def markdown_to_html(text: str) -> str:
    """CommonMark + tables, raw HTML passed through (the dangerous setting)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def live_markup(html: str, *, allowed: dict[str, int] | None = None) -> list[str]:
    """Problems: elements user text could have made, event-handler attributes,
    ``javascript:`` URLs. ``allowed`` maps a tag the template itself writes to how many
    times it may appear (e.g. the report's ``style`` element and plot ``img``\\ s, whose
    ``src`` must be an embedded PNG)."""
    elements, _ = parse(html)
    counts: dict[str, int] = {}
    problems = []
    for tag, attrs in elements:
        counts[tag] = counts.get(tag, 0) + 1
        for name, value in attrs:
            if name.lower().startswith("on"):
                problems.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith(("javascript:", "vbscript:")):
                problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img":
            src = dict(attrs).get("src") or ""
            if not src.startswith("data:image/png;base64,"):
                problems.append(f"<img src={src!r}>")
    for tag, n in counts.items():
        if tag in FORBIDDEN and n > (allowed or {}).get(tag, 0):
            problems.append(f"{n} <{tag}> element(s)")
    return problems


def text_of(html: str) -> str:
    """The visible text (whitespace collapsed)."""
    return parse(html)[1]


def flat(s: str) -> str:
    """``s`` with whitespace collapsed, as :func:`text_of` shows it."""
    return " ".join(s.split())

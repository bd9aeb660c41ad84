"""The audit's written outputs: ``summary.json``, ``no_recourse.csv``, ``summary.md`` and a
self-contained ``report.html`` (Jinja2 templates beside this module, matplotlib plots
embedded as PNG), which a reviewer opens in any browser.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recourse.audit.rows import AUDIT_STATUSES, HAS_RECOURSE
from recourse.audit.store import atomic_write
from recourse.audit.summary import summarize
from recourse.audit.table import ResultsView
from recourse.audit.why import rule_table
from recourse.schema import FeatureSchema

__all__ = ["render_html", "render_markdown", "write_outputs"]


def _autoescape(name: str | None) -> bool:
    """HTML-escape every value in every template except the Markdown ones (``*.md.j2``),
    which escape through :func:`md_escape` (``finalize``) instead. A template whose name
    ends in ``.html.j2`` does not match ``select_autoescape(["html"])``: that was the
    hole this rule closes, so the default is *on*."""
    return not (name or "").endswith((".md.j2", ".md"))


def md_escape(value: Any) -> str:
    r"""Text made safe for a cell or a line of Markdown.

    The rule (also in SECURITY.md): ``&``, ``<`` and ``>`` become HTML entities, so no
    raw HTML reaches a Markdown renderer; the Markdown control characters
    ``\ ` * _ { } [ ] ( ) # + ! | ~`` are backslash-escaped, so user text cannot open a
    link, an image, emphasis or a new table cell; line breaks become spaces, so a value
    cannot start a new table row or heading. Values the templates compute themselves
    (numbers, percentages) contain none of these characters and pass unchanged.
    """
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_CONTROL.sub(r"\\\g<0>", text)
    return _MD_BREAK.sub(" ", text)


_MD_CONTROL = re.compile(r"[\\`*_{}\[\]()#+!|~]")
_MD_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


@functools.lru_cache(maxsize=2)
def _env(markdown: bool = False) -> Any:
    """One environment per output kind and process: templates are compiled once (Jinja2
    reloads a template whose file changed)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("recourse.audit", "templates"),
        autoescape=False if markdown else _autoescape,
        finalize=md_escape if markdown else None,
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"  # noqa: RUF001 (a dash for "none")
    if isinstance(x, int) or (isinstance(x, float) and x == round(x) and abs(x) < 1e12):
        return f"{int(round(x)):,}"
    return f"{x:.{digits}g}"


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"  # noqa: RUF001


# ---------------------------------------------------------------------- plots
def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(frame: pd.DataFrame, summary: dict[str, Any], groups: pd.Series | None,
           labels: dict[str, str]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    counts = summary["status_counts"]
    if counts:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(list(counts), list(counts.values()), color="#4c72b0")
        ax.set_ylabel("applicants")
        ax.set_title("Status of every audited applicant")
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
        plots["status"] = _png(fig)
    answered = frame[frame["status"].isin(HAS_RECOURSE)]
    if len(answered):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(answered["cost"].astype(float), bins=min(30, max(5, len(answered) // 3)),
                color="#55a868")
        ax.set_xlabel(f"cost ({summary['norm']})")
        ax.set_ylabel("applicants")
        ax.set_title("Cost of the cheapest recourse")
        plots["cost"] = _png(fig)
        hist = summary["n_changes_histogram"]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([int(k) for k in hist], list(hist.values()), color="#8172b2")
        ax.set_xlabel("features to change")
        ax.set_ylabel("applicants")
        ax.set_title("Number of changes (L0)")
        plots["l0"] = _png(fig)
    if summary["top_features"]:
        top = summary["top_features"][::-1]
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(top) + 1))
        ax.barh([labels.get(t["feature"], t["feature"]) for t in top],
                [t["count"] for t in top], color="#c44e52")
        ax.set_xlabel("applicants whose recourse changes it")
        ax.set_title("Most frequently required changes")
        plots["features"] = _png(fig)
    if groups is not None and summary.get("groups"):
        g = summary["groups"]
        rows = [r for r in g["rows"] if r["recourse_rate"] is not None]
        if rows:
            fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.2))
            ax.barh([r["group"] for r in rows], [100 * r["recourse_rate"] for r in rows],
                    color="#4c72b0")
            ax.set_xlim(0, 100)
            ax.set_xlabel("recourse rate (%)")
            ax.set_title(f"Recourse rate by {labels.get(g['attribute'], g['attribute'])}")
            plots["group_rate"] = _png(fig)
        keyed = answered.assign(_g=groups.astype(str).to_numpy()[
            frame["status"].isin(HAS_RECOURSE).to_numpy()])
        data = [(name, part["cost"].astype(float).to_numpy())
                for name, part in keyed.groupby("_g", sort=True)]
        if data:
            fig, ax = plt.subplots(figsize=(7, 0.4 * len(data) + 1.2))
            # whiskers at the 5th and 95th percentiles, no mark per outlying applicant
            ax.boxplot([d for _, d in data], orientation="horizontal", whis=(5, 95),
                       showfliers=False)
            ax.set_yticks(range(1, len(data) + 1), [n for n, _ in data])
            ax.set_xlabel(f"cost ({summary['norm']}); box: quartiles, whiskers: 5-95 %")
            ax.set_title(f"Cost of recourse by {labels.get(g['attribute'], g['attribute'])}")
            plots["group_cost"] = _png(fig)
    return plots


# -------------------------------------------------------------------- writers
def _context(summary: dict[str, Any], schema: FeatureSchema) -> dict[str, Any]:
    labels = {f.name: f.display for f in schema}
    o = summary["overall"]
    counts = {"no_recourse": o["n_no_recourse"], "unresolved": o["n_unresolved"],
              "invalid_input": o["n"] - o["n_valid"]}
    return {"s": summary, "statuses": AUDIT_STATUSES, "labels": labels, "counts": counts,
            "immutable": [f.display for f in schema if f.immutable]}


def render_markdown(summary: dict[str, Any], schema: FeatureSchema) -> str:
    """The Markdown summary."""
    return _env(markdown=True).get_template("summary.md.j2").render(**_context(summary, schema))


def render_html(summary: dict[str, Any], schema: FeatureSchema, plots: dict[str, str]) -> str:
    """The self-contained HTML report."""
    return _env().get_template("report.html.j2").render(plots=plots,
                                                        **_context(summary, schema))


def write_outputs(out: Path, frame: pd.DataFrame | Path, schema: FeatureSchema, *,
                  groups: pd.Series | None, protected: str | None, n_rows: int,
                  select: str, report: bool = True,
                  population: pd.DataFrame | None = None,
                  ) -> tuple[dict[str, Any], dict[str, Path]]:
    """Write the summary files (and the report) of an assembled audit table.

    ``frame`` is the table, or the path of ``results.parquet``: then only the flat columns
    are read for every row, the nested ones in batches (:class:`ResultsView`), and the
    report's per-applicant tables stop at :data:`~recourse.audit.table.LIST_CAP` rows.
    ``population`` (the protected column(s) of every input row, in input order) adds the
    ``fairness`` figures of :func:`recourse.audit.fairness.fairness_section`."""
    view = ResultsView(frame)
    summary = summarize(view, groups=groups, protected=protected, n_rows=n_rows,
                        select=select)
    why = rule_table(view)
    if why is not None:
        summary["why"] = why
    flat = view.flat()
    if population is not None:
        from recourse.audit.fairness import fairness_section

        summary["fairness"] = fairness_section(flat, population)
    files: dict[str, Path] = {}
    text = json.dumps(summary, indent=2, default=_json_default)
    path = out / "summary.json"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    files["summary_json"] = path
    path = out / "no_recourse.csv"
    atomic_write(path, lambda p: _no_recourse_csv(p, view, groups, protected))
    files["no_recourse"] = path
    if report:
        md = render_markdown(summary, schema)
        path = out / "summary.md"
        atomic_write(path, lambda p: p.write_text(md, encoding="utf-8"))
        files["summary_md"] = path
        labels = {f.name: f.display for f in schema}
        html = render_html(summary, schema, _plots(flat, summary, groups, labels))
        path = out / "report.html"
        atomic_write(path, lambda p: p.write_text(html, encoding="utf-8"))
        files["report"] = path
    return summary, files


def _no_recourse_csv(path: Path, view: ResultsView, groups: pd.Series | None,
                     protected: str | None) -> None:
    """Every applicant without recourse (id, message and group), written batch by batch."""
    rows = np.flatnonzero((view.flat()["status"] == "no_recourse").to_numpy())
    done = 0
    header = True
    for batch in view.batches(["id", "message"], ("no_recourse",)):
        if groups is not None:
            batch[protected or "group"] = groups.to_numpy()[rows[done:done + len(batch)]]
        batch.to_csv(path, index=False, header=header, mode="w" if header else "a")
        header = False
        done += len(batch)
    if header:  # none: the columns alone
        cols = ["id", "message"] + ([protected or "group"] if groups is not None else [])
        pd.DataFrame(columns=cols).to_csv(path, index=False)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)

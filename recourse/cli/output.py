"""The result of one query as a table on the console (``explain`` and ``demo``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from recourse.cli.common import console, fmt_opt
from recourse.letters.note import preclusion_summary
from recourse.letters.text import feature_of, fmt_value
from recourse.letters.wording import robust_rows
from recourse.result import STATUSES, RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["print_result", "print_preclusion"]

_STATUS_STYLE = {
    "optimal": "bold green",
    "feasible": "bold yellow",
    "no_recourse": "bold magenta",
    "already_target": "bold green",
    "time_limit": "bold red",
    "error": "bold red",
}


def print_result(result: RecourseResult, schema: FeatureSchema, title: str = "") -> None:
    """Print the status, the changes (with the causal role of each), costs, bound, timing
    and the believable/robust rows of ``result``; every user text escaped."""
    style = _STATUS_STYLE.get(result.status, "bold")
    if title:
        console.rule(escape(title))
    console.print(
        f"Status: [{style}]{escape(result.status)}[/] — "
        f"{escape(STATUSES.get(result.status, ''))}"
    )
    if result.status == "no_recourse":
        console.print(Panel(
            f"No recourse: no change allowed by the action set makes the model predict "
            f"{escape(repr(result.target))}. The solver proved this; it is an answer, not a "
            "failure.",
            border_style="magenta",
        ))
    if result.preclusion is not None:
        print_preclusion(result.preclusion, schema)
    causal = bool(result.actions or result.consequences)
    if result.changes or causal:
        table = Table(title="Recommended changes", title_justify="left")
        cols = [("Feature", "left"), ("Before", "right"), ("After", "right"), ("Cost", "right")]
        for col, just in cols + ([("Role", "left")] if causal else []):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        role = {c.feature: "consequence" for c in result.consequences}
        role.update({c.feature: "action" for c in result.actions})
        listed = result.changes + [c for c in result.actions if c not in result.changes]
        for c in listed:
            f = feature_of(schema, c.feature)
            table.add_row(
                escape(f.display if f is not None else c.feature),
                escape(fmt_value(f, c.before)),
                escape(fmt_value(f, c.after)),
                fmt_opt(result.feature_costs.get(c.feature, 0.0 if causal else None)),
                *([role.get(c.feature, "action")] if causal else []),
            )
        console.print(table)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column()
    rows = [
        ("predicted / target", f"{result.predicted!r} → {result.target!r}"),
        (f"cost ({result.norm})", fmt_opt(result.cost)),
        ("L1 cost / L0", f"{fmt_opt(result.l1_cost)} / {fmt_opt(result.l0)}"),
        ("bound / gap", f"{fmt_opt(result.bound)} / {fmt_opt(result.gap, '.2%')}"),
        ("optimality proven", "yes" if result.optimal else "no"),
        ("verified by the model", "yes" if result.verified else "no"),
        ("solve / total time", f"{result.solve_time:.3f} s / {result.total_time:.3f} s"),
    ]
    rows += robust_rows(result, schema)
    if result.message:
        rows.append(("message", result.message))
    for key, value in rows:
        summary.add_row(key, escape(value))
    console.print(summary)


def print_preclusion(pre: Any, schema: FeatureSchema) -> None:
    """Why there is no recourse (``result.preclusion``): every minimal relaxation set with
    its verified counterfactual; every user text escaped."""
    console.print(f"[bold]no recourse: {escape(preclusion_summary(pre, schema))}[/]")
    if pre.sets:
        table = Table(title="Smallest policy changes that open recourse", title_justify="left")
        for col, just in (("#", "right"), ("Relax", "left"), ("Cost", "right"),
                          ("Counterfactual changes", "left"), ("Verified", "left")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for i, s in enumerate(pre.sets, 1):
            ch = ", ".join(
                f"{_label(schema, c.feature)}: {fmt_value(feature_of(schema, c.feature), c.before)}"
                f" → {fmt_value(feature_of(schema, c.feature), c.after)}" for c in s.changes)
            table.add_row(str(i), escape("; ".join(r.text for r in s.rules)),
                          fmt_opt(s.cost), escape(ch or s.note),
                          "yes" if s.verified else "no")
        console.print(table)
    console.print(f"[dim]enumeration {'complete' if pre.complete else 'stopped at its limit'}"
                  f" ({pre.time:.2f} s); never relaxed: {escape('; '.join(pre.not_relaxed))}[/]")
    if pre.fixed:
        console.print(f"[dim]bounds kept, no wider range known (in Python: reference= or "
                      f"relaxed_range=): {escape(', '.join(pre.fixed))}[/]")


def _label(schema: FeatureSchema, name: str) -> str:
    f = feature_of(schema, name)
    return f.display if f is not None else name

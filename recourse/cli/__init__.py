"""Command-line interface: ``recourse explain``, ``letter``, ``audit``, ``compare``,
``analyze``, ``demo``, ``schema`` and ``causal-graph``.

One module per command (a plain function with typer annotations), registered on
:data:`app` here; :mod:`recourse.cli.common` holds the consoles, exit codes, error handling
and shared options, :mod:`recourse.cli.flags` turns the believable/robust flags into engine
options, :mod:`recourse.cli.output` prints a result. The core of the package never prints
and never parses flags: this package is the only one that does.

Exit codes: 0 when an answer was produced (a counterfactual, a proof that no recourse
exists, or "nothing to change"); 1 when the solver gave no answer (time limit before any
verified counterfactual, or a solver error); 2 on bad input (the message says what to
fix); ``compare`` exits 3 when a ``--fail-if`` release gate fails.
"""

from __future__ import annotations

import typer

from recourse.cli import (
    analyze,
    audit,
    causal_graph,
    compare,
    demo,
    explain,
    letter,
    schema,
)
from recourse.cli.common import EXIT_BAD_INPUT, EXIT_NO_ANSWER, EXIT_OK

__all__ = ["EXIT_BAD_INPUT", "EXIT_NO_ANSWER", "EXIT_OK", "app"]

app = typer.Typer(
    name="recourse",
    help="Exact, verified recourse: the smallest actionable change that flips a model's decision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help labels every flag "<bool>" (e.g. "--trust-pickle
    # <bool>"), which reads as if the flag took a value.
    rich_markup_mode=None,
)
app.command("explain")(explain.explain)
app.command("causal-graph")(causal_graph.causal_graph)
app.command("audit")(audit.audit)
app.command("compare")(compare.compare)
app.command("schema")(schema.schema)
app.command("analyze")(analyze.analyze)
app.command("demo")(demo.demo)
app.command("letter")(letter.letter)

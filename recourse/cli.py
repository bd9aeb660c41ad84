"""Command-line interface: ``recourse explain``, ``recourse demo``, ``recourse schema``.

Exit codes: 0 when an answer was produced (a counterfactual, a proof that no recourse
exists, or "nothing to change"); 1 when the solver gave no answer (time limit before any
verified counterfactual, or a solver error); 2 on bad input (the message says what to
fix). This is the only module of the package that prints.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from encoders.errors import InputValidationError, RecourseError
from recourse.result import STATUSES, RecourseResult
from recourse.schema import Feature, FeatureSchema

__all__ = ["EXIT_BAD_INPUT", "EXIT_NO_ANSWER", "EXIT_OK", "app"]

EXIT_OK = 0
EXIT_NO_ANSWER = 1
EXIT_BAD_INPUT = 2

#: Statuses that answer the question (exit code 0).
_ANSWERED = ("optimal", "feasible", "no_recourse", "already_target")
_STATUS_STYLE = {
    "optimal": "bold green",
    "feasible": "bold yellow",
    "no_recourse": "bold magenta",
    "already_target": "bold green",
    "time_limit": "bold red",
    "error": "bold red",
}

app = typer.Typer(
    name="recourse",
    help="Exact, verified recourse: the smallest actionable change that flips a model's decision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


# ------------------------------------------------------------------ formatting
def _fmt_number(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    return f"{x:,.2f}"


def _fmt_value(feature: Feature | None, value: Any) -> str:
    """A value in the user's units: ``5,951 DM``, ``24 months``, ``no checking account``."""
    if feature is None or feature.is_group or isinstance(value, str):
        return str(value)
    try:
        text = _fmt_number(float(value))
    except (TypeError, ValueError):
        return str(value)
    return f"{text} {feature.unit}" if feature.unit else text


def _fmt_opt(x: float | None, spec: str = ".4g") -> str:
    return "–" if x is None else format(x, spec)  # noqa: RUF001 (a dash for "none")


def _feature(schema: FeatureSchema, name: str) -> Feature | None:
    return schema[name] if name in schema else None  # noqa: SIM401 (no .get)


def _change_sentence(schema: FeatureSchema, name: str, before: Any, after: Any) -> str:
    """``Reduce credit amount from 5,951 DM to 3,200 DM`` and the like."""
    f = _feature(schema, name)
    label = f.display if f is not None else name
    b, a = _fmt_value(f, before), _fmt_value(f, after)
    if f is not None and f.kind == "ordinal" and f.categories:
        rank = {c: i for i, c in enumerate(f.categories)}
        if before in rank and after in rank:
            verb = "Raise" if rank[after] > rank[before] else "Lower"
            return f"{verb} {label} from “{b}” to “{a}”"
    if f is not None and f.kind in ("continuous", "integer"):
        try:
            verb = "Increase" if float(after) > float(before) else "Reduce"
            return f"{verb} {label} from {b} to {a}"
        except (TypeError, ValueError):
            pass
    return f"Change {label} from “{b}” to “{a}”"


# --------------------------------------------------------------------- output
def _print_result(result: RecourseResult, schema: FeatureSchema, title: str = "") -> None:
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
    if result.changes:
        table = Table(title="Recommended changes", title_justify="left")
        for col, just in (("Feature", "left"), ("Before", "right"), ("After", "right"),
                          ("Cost", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for c in result.changes:
            f = _feature(schema, c.feature)
            table.add_row(
                escape(f.display if f is not None else c.feature),
                escape(_fmt_value(f, c.before)),
                escape(_fmt_value(f, c.after)),
                _fmt_opt(result.feature_costs.get(c.feature)),
            )
        console.print(table)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column()
    rows = [
        ("predicted / target", f"{result.predicted!r} → {result.target!r}"),
        (f"cost ({result.norm})", _fmt_opt(result.cost)),
        ("L1 cost / L0", f"{_fmt_opt(result.l1_cost)} / {_fmt_opt(result.l0)}"),
        ("bound / gap", f"{_fmt_opt(result.bound)} / {_fmt_opt(result.gap, '.2%')}"),
        ("optimality proven", "yes" if result.optimal else "no"),
        ("verified by the model", "yes" if result.verified else "no"),
        ("solve / total time", f"{result.solve_time:.3f} s / {result.total_time:.3f} s"),
    ]
    if result.message:
        rows.append(("message", result.message))
    for key, value in rows:
        summary.add_row(key, escape(value))
    console.print(summary)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]Error:[/] [red]{escape(message)}[/]", soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _exit_code(result: RecourseResult) -> int:
    return EXIT_OK if result.status in _ANSWERED else EXIT_NO_ANSWER


def _resolve_target(model: Any, target: str | None) -> Any:
    """Map the target given on the command line to one of the model's classes."""
    if target is None:
        return None
    classes = getattr(model, "classes_", None)
    if classes is None:
        return target
    for c in classes:
        if str(c) == target:
            return c.item() if hasattr(c, "item") else c
    raise InputValidationError(
        f"Target {target!r} is not a class of the model; its classes are "
        f"{[str(c) for c in classes]}."
    )


# -------------------------------------------------------------------- explain
@app.command()
def explain(
    model: Annotated[Path, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")],
    applicant: Annotated[Path, typer.Option(
        "--applicant", "-a", help="CSV or Parquet with the applicant (one row, or --row).")],
    schema: Annotated[Path, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")],
    row: Annotated[int | None, typer.Option(
        help="0-based row of the applicant in a file with several rows.")] = None,
    target: Annotated[str | None, typer.Option(
        help="Class to reach, e.g. 'good' (default: decided by the engine).")] = None,
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Solver time limit in seconds.")] = 60.0,
    backend: Annotated[str, typer.Option(
        help="Solver backend: highs, cpsat (tree ensembles), pyomo or auto.")] = "highs",
    solver: Annotated[str | None, typer.Option(
        help="With --backend pyomo: the Pyomo solver (appsi_highs, gurobi, cplex, scip, "
        "...).")] = None,
    trust_pickle: Annotated[bool, typer.Option(
        "--trust-pickle", help="Load a pickle model (runs code from the file: only if "
        "you trust it).")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the result as JSON.")] = False,
) -> None:
    """Find the cheapest actionable change that gives the applicant the target class."""
    from recourse import explain as engine
    from recourse.io import load_applicant, load_model, load_schema

    backends = getattr(engine, "BACKENDS", (backend,))
    try:
        if norm not in engine.NORMS:
            raise InputValidationError(
                f"--norm must be one of {list(engine.NORMS)}, got {norm!r}."
            )
        if backend not in backends:
            raise InputValidationError(
                f"--backend must be one of {list(backends)}, got {backend!r}."
            )
        if not time_limit > 0:
            raise InputValidationError(f"--time-limit must be positive, got {time_limit}.")
        if solver is not None and backend != "pyomo":
            raise InputValidationError("--solver is for --backend pyomo only.")
        feature_schema = load_schema(schema)
        fitted = load_model(model, trust_pickle=trust_pickle)
        row_values = load_applicant(applicant, feature_schema, row=row)
        result = engine.find_recourse(
            fitted, row_values, feature_schema, target=_resolve_target(fitted, target),
            norm=norm, backend=backend, time_limit=time_limit,
            backend_options={"solver": solver} if solver else None,
        )
    except (RecourseError, OSError) as exc:
        _fail(str(exc))
    if json_output:
        payload = result.to_dict()
        payload.setdefault("counterfactual", result.counterfactual)
        payload.setdefault("feature_costs", result.feature_costs)
        console.print_json(data=payload, default=_json_default)
    else:
        _print_result(result, feature_schema)
    raise typer.Exit(_exit_code(result))


# ---------------------------------------------------------------------- schema
@app.command("schema")
def schema_command(
    dataset: Annotated[str, typer.Option(help="Bundled data set: german or credit_data.")]
    = "german",
    out: Annotated[Path | None, typer.Option(
        help="Write the YAML here (default: print it).")] = None,
) -> None:
    """Write the schema (action set) of a bundled data set as YAML."""
    from recourse.datasets import load

    try:
        _, _, feature_schema = load(dataset)
        text = feature_schema.to_yaml(out)
    except (RecourseError, OSError) as exc:
        _fail(str(exc))
    if out is None:
        console.out(text, highlight=False)
    else:
        console.print(f"Wrote the {escape(dataset)} schema to {escape(str(out))}")


# ------------------------------------------------------------------------ demo
@app.command()
def demo(
    dataset: Annotated[str, typer.Option(help="Bundled data set: german or credit_data.")]
    = "german",
    models: Annotated[str, typer.Option(
        help="Comma-separated model kinds: logreg, tree, rf100x6, rf300x8.")]
    = "logreg,tree,rf100x6",
    out: Annotated[Path, typer.Option(help="Directory for models, applicants and letters.")]
    = Path("demo_output"),
    time_limit: Annotated[float, typer.Option(help="Solver time limit per applicant (s).")]
    = 60.0,
) -> None:
    """Train bundled models, explain one denied applicant per model, write letters."""
    from recourse.datasets import DATASETS, MODEL_KINDS, TARGET_CLASS, make_model, train_test
    from recourse.explain import find_recourse
    from recourse.io import load_applicant, save_model

    kinds = [k.strip() for k in models.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if not kinds or unknown:
        _fail(f"--models: unknown kinds {unknown or [models]}; choose from {list(MODEL_KINDS)}.")
    if dataset not in DATASETS:
        _fail(f"--dataset must be one of {list(DATASETS)}, got {dataset!r}.")
    try:
        _letter_env()
        out.mkdir(parents=True, exist_ok=True)
    except InputValidationError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"Cannot create the output directory {str(out)!r}: {exc}")

    with console.status(f"Loading {dataset} ..."):
        X_train, X_test, y_train, y_test, feature_schema = train_test(dataset, seed=0)
    schema_path = out / "schema.yaml"
    feature_schema.to_yaml(schema_path)
    fitted: dict[str, Any] = {}
    with console.status("Training ...") as status:
        for kind in kinds:
            status.update(f"Training {kind} on {len(X_train):,} rows of {dataset} ...")
            fitted[kind] = make_model(kind, X_train, y_train, seed=0, schema=feature_schema)
            accuracy = fitted[kind].score(X_test, y_test)
            console.print(f"Trained [bold]{kind}[/]: test accuracy {accuracy:.3f}")

    reproduce: list[str] = []
    failed = False
    for kind, model in fitted.items():
        denied = [i for i, p in enumerate(model.predict(X_test)) if p != TARGET_CLASS]
        if not denied:
            console.print(f"[yellow]{kind}: no test applicant is denied; nothing to explain.")
            continue
        pos = denied[0]
        model_path = save_model(model, out / f"model_{kind}.skops")
        applicant_path = out / f"applicant_{kind}.csv"
        X_test.iloc[[pos]].to_csv(applicant_path, index=False)
        try:
            applicant = load_applicant(applicant_path, feature_schema)
            with console.status(f"Explaining the denied applicant for {kind} ..."):
                result = find_recourse(
                    model, applicant, feature_schema, target=TARGET_CLASS,
                    reference=X_train, time_limit=time_limit,
                )
        except RecourseError as exc:
            err_console.print(f"[bold red]{kind}: {escape(str(exc))}[/]", soft_wrap=True)
            failed = True
            continue
        ident = f"test row {pos} (row {X_test.index[pos]} of {dataset})"
        _print_result(result, feature_schema, title=f"{kind} — {ident}")
        letter = _render_letter(result, feature_schema, model_kind=kind, dataset=dataset,
                                applicant_id=ident)
        (out / f"letter_{kind}.md").write_text(letter, encoding="utf-8")
        failed |= result.status not in _ANSWERED
        reproduce.append(" ".join([
            "recourse explain", "--model", shlex.quote(str(model_path)),
            "--applicant", shlex.quote(str(applicant_path)),
            "--schema", shlex.quote(str(schema_path)), "--target", TARGET_CLASS,
        ]))

    console.rule("Files")
    console.print(f"Wrote models, applicants, schema and letters to {escape(str(out))}/")
    if reproduce:
        console.print("Reproduce the first explanation from the written files with:")
        console.print(reproduce[0], markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_NO_ANSWER if failed else EXIT_OK)


# --------------------------------------------------------------------- letter
_LETTER = """\
# Your credit application: {{ decision }}

*Model: {{ model_kind }} · data set: {{ dataset }} · applicant: {{ applicant_id }}*

{% if status == "already_target" %}
The model already predicts "{{ target }}" for your application: nothing needs to change.
{% elif changes %}
## What would change the decision

The model predicted "{{ predicted }}". It predicts "{{ target }}" after these changes:

{% for line in changes %}
- {{ line }}
{% endfor %}

Total cost of these changes: {{ cost }} ({{ norm_text }}).

{% if optimal %}
The solver **proved** that no cheaper combination of allowed changes exists.
{% else %}
The solver stopped before proving that no cheaper combination exists \
(proven lower bound {{ bound }}).
{% endif %}

{% if verified %}
We **verified** these changes with the model itself: with them, it predicts "{{ target }}".
{% else %}
These changes could **not** be verified with the model itself; do not rely on them.
{% endif %}
{% elif status == "no_recourse" %}
## No recourse exists

**No combination of the changes you are able to make would lead this model to predict \
"{{ target }}".** The solver proved this under the rules listed below; it is not a \
failure of the search.
{% else %}
## No answer

We could not find an answer ({{ status }}): {{ message }}
{% endif %}
{% if fixed %}

## What we did not ask you to change

{% for item in fixed %}
- {{ item }}
{% endfor %}
{% endif %}
{% if one_way %}

## Changes allowed in one direction only

{% for item in one_way %}
- {{ item }}
{% endfor %}
{% endif %}
"""

_NORM_TEXT = {
    "l1": "weighted L1: each unit of change divided by the feature's typical spread; "
          "a change of category costs 1",
    "l0": "the number of features changed",
    "l0_l1": "the number of features changed, ties broken by the weighted L1 cost",
}


def _letter_env() -> Any:
    """The Jinja2 environment for letters (a clear error when Jinja2 is missing)."""
    try:
        import jinja2
    except ImportError:
        raise InputValidationError(
            "Writing letters needs Jinja2, which is not installed: pip install 'jinja2>=3.1'."
        ) from None
    return jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def _render_letter(result: RecourseResult, schema: FeatureSchema, *, model_kind: str,
                   dataset: str, applicant_id: str) -> str:
    """A short Markdown letter for the applicant (Jinja2)."""
    env = _letter_env()
    approved = str(result.predicted) == str(result.target)
    return env.from_string(_LETTER).render(
        decision="approved" if approved else "declined",
        model_kind=model_kind,
        dataset=dataset,
        applicant_id=applicant_id,
        status=result.status,
        predicted=result.predicted,
        target=result.target,
        changes=[_change_sentence(schema, c.feature, c.before, c.after)
                 for c in result.changes],
        cost=_fmt_opt(result.cost),
        norm_text=_NORM_TEXT.get(result.norm, result.norm),
        optimal=result.optimal,
        verified=result.verified,
        bound=_fmt_opt(result.bound),
        message=result.message,
        fixed=[f"{f.display}: {f.reason}" if f.reason else f.display
               for f in schema if f.immutable],
        one_way=[f"{f.display} may only {f.direction}"
                 + (f": {f.reason}" if f.reason else "")
                 for f in schema if f.direction != "any"],
    )


if __name__ == "__main__":  # pragma: no cover
    app()

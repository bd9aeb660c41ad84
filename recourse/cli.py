"""Command-line interface: ``recourse explain``, ``letter``, ``audit``, ``analyze``, ``demo``,
``schema`` and ``causal-graph``.

Exit codes: 0 when an answer was produced (a counterfactual, a proof that no recourse
exists, or "nothing to change"); 1 when the solver gave no answer (time limit before any
verified counterfactual, or a solver error); 2 on bad input (the message says what to
fix). This is the only module of the package that prints.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from recourse.encoders.errors import InputValidationError, RecourseError
from recourse.letters.text import change_sentence, feature_of, fmt_number, fmt_value
from recourse.result import STATUSES, RecourseResult
from recourse.schema import FeatureSchema

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
# The wording lives in recourse.letters.text (one mechanism for tables and letters).
_fmt_number = fmt_number
_fmt_value = fmt_value
_feature = feature_of
_change_sentence = change_sentence


# Options of believable / robust recourse (recourse.robust_cli), shared by explain and letter.
_MinMargin = Annotated[float | None, typer.Option(
    "--min-margin", help="Robust recourse: the target class must win by at least this "
    "much (probability for trees and forests, else decision function).")]
_Box = Annotated[bool, typer.Option(
    "--box", help="Also compute the certified box: ranges in which every value is "
    "approved (\"Credit amount: 7,839 DM or less\").")]
_Data = Annotated[str | None, typer.Option(
    "--data", help="Training rows (CSV/Parquet, or german / credit_data for the bundled "
    "training split) for --seen-together and --plausible; also speeds up the search and "
    "reports every answer's isolation-forest (plausibility) score.")]
_Seen = Annotated[bool, typer.Option(
    "--seen-together", help="Never combine category levels no row of --data has.")]
_Plausible = Annotated[bool, typer.Option(
    "--plausible", help="The answer must be an inlier of an isolation forest fitted on "
    "--data (seed 0, the model's own preprocessing).")]
_MinScore = Annotated[float | None, typer.Option(
    "--min-score", help="With --plausible: the least isolation-forest score_samples "
    "(default: the forest's own inlier threshold).")]
_Support = Annotated[float | None, typer.Option(
    "--support", help="Data support: the answer lies within this scaled (MAD, linf) "
    "distance of --support-k rows of --data that the model puts in the target class.")]
_SupportK = Annotated[int, typer.Option(
    "--support-k", help="With --support: how many supporting rows.")]
_AlsoModel = Annotated[list[Path] | None, typer.Option(
    "--also-model", help="Another fitted model (repeatable) that must approve the answer "
    "too, e.g. the same forest retrained with another seed.")]


def _fmt_opt(x: float | None, spec: str = ".4g") -> str:
    return "–" if x is None else format(x, spec)  # noqa: RUF001 (a dash for "none")


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
            f = _feature(schema, c.feature)
            table.add_row(
                escape(f.display if f is not None else c.feature),
                escape(_fmt_value(f, c.before)),
                escape(_fmt_value(f, c.after)),
                _fmt_opt(result.feature_costs.get(c.feature, 0.0 if causal else None)),
                *([role.get(c.feature, "action")] if causal else []),
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
    from recourse.robust_cli import robust_rows

    rows += robust_rows(result, schema)
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
    causal: Annotated[str | None, typer.Option(
        "--causal", help="Causal model: a YAML file (CausalModel.to_yaml) or the name of a "
        "bundled example (german, credit_data). Recourse becomes interventions.")] = None,
    min_margin: _MinMargin = None,
    box: _Box = False,
    data: _Data = None,
    seen_together: _Seen = False,
    plausible: _Plausible = False,
    min_score: _MinScore = None,
    also_model: _AlsoModel = None,
    support: _Support = None,
    support_k: _SupportK = 1,
) -> None:
    """Find the cheapest actionable change that gives the applicant the target class."""
    from recourse import explain as engine
    from recourse.io import load_applicant, load_model, load_schema
    from recourse.robust_cli import build_robust, flags_from

    flags = flags_from(min_margin, box, data, seen_together, plausible, min_score,
                       also_model, support, support_k)

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
        causal_model = _load_causal(causal) if causal else None
        if flags.any():
            setup = build_robust(fitted, feature_schema, flags, trust_pickle=trust_pickle,
                                 target=_resolve_target(fitted, target))
            eng = engine.RecourseEngine(
                setup.model, feature_schema, backend=backend, causal=causal_model,
                backend_options={"solver": solver} if solver else None,
                **setup.engine_kwargs)
            result = eng.explain(row_values, target=_resolve_target(fitted, target),
                                 norm=norm, time_limit=time_limit, **setup.explain_kwargs)
        else:
            result = engine.find_recourse(
                fitted, row_values, feature_schema, target=_resolve_target(fitted, target),
                norm=norm, backend=backend, time_limit=time_limit,
                **({"causal": causal_model} if causal_model is not None else {}),
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


def _load_causal(source: str) -> Any:
    """A CausalModel from a YAML path or a bundled example's name."""
    from recourse.causal import CausalModel
    from recourse.datasets.graphs import CAUSAL_GRAPHS, example_causal_model

    if source in CAUSAL_GRAPHS:
        return example_causal_model(source)
    if not Path(source).exists():
        raise InputValidationError(
            f"--causal: {source!r} is neither a file nor a bundled example "
            f"({', '.join(sorted(CAUSAL_GRAPHS))}).")
    return CausalModel.from_yaml(Path(source))


@app.command("causal-graph")
def causal_graph_command(
    dataset: Annotated[str, typer.Option(help="Bundled data set: german or credit_data.")]
    = "credit_data",
    out: Annotated[Path | None, typer.Option(
        help="Write the YAML here (default: print it).")] = None,
) -> None:
    """Write the example causal model of a bundled data set (fitted equations) as YAML."""
    from recourse.datasets.graphs import example_causal_model

    try:
        text = example_causal_model(dataset).to_yaml(out)
    except (RecourseError, OSError) as exc:
        _fail(str(exc))
    if out is None:
        console.out(text, highlight=False)
    else:
        console.print(f"Wrote the {escape(dataset)} causal model to {escape(str(out))}")


# ----------------------------------------------------------------------- audit
@app.command("audit")
def audit_command(
    model: Annotated[Path, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")],
    data: Annotated[Path, typer.Option(
        "--data", "-d", help="Applicants: CSV or Parquet, one row per applicant.")],
    schema: Annotated[Path, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output directory (a rerun with the same inputs resumes).")],
    target: Annotated[str, typer.Option(help="Class applicants should reach, e.g. 'good'.")],
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Seconds per applicant.")] = 60.0,
    reference: Annotated[str | None, typer.Option(
        help="Training rows (CSV/Parquet, or german / credit_data for the bundled "
        "training split): faster first solutions, same answers; --seen-together learns "
        "from them.")] = None,
    causal: Annotated[str | None, typer.Option(
        help="Causal model: a YAML file (recourse causal-graph) or a bundled example "
        "(german, credit_data); recourse as interventions.")] = None,
    select: Annotated[str, typer.Option(
        help="denied: applicants the model does not give the target; all: every row.")]
    = "denied",
    id_column: Annotated[str | None, typer.Option(
        help="Column with unique applicant ids (default: the row number).")] = None,
    protected: Annotated[str | None, typer.Option(
        help="Column whose groups the summary compares, e.g. foreign_worker.")] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://host:8786 (instead of local workers).")]
    = None,
    chunk_size: Annotated[int | None, typer.Option(
        help="Applicants per committed chunk.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a different audit in --out.")] = False,
    trust_pickle: Annotated[bool, typer.Option(
        "--trust-pickle", help="Load a pickle model (runs code from the file: only if "
        "you trust it).")] = False,
    min_margin: _MinMargin = None,
    seen_together: Annotated[bool, typer.Option(
        "--seen-together", help="Never combine category levels no row of --reference "
        "(the training data) has.")] = False,
    support: Annotated[float | None, typer.Option(
        "--support", help="Data support: answers lie within this scaled (MAD, linf) "
        "distance of --support-k rows of --reference the model puts in --target.")] = None,
    support_k: _SupportK = 1,
    plausible: Annotated[bool, typer.Option(
        "--plausible", help="Answers must be inliers of an isolation forest fitted on "
        "--reference (seed 0, the model's own preprocessing).")] = False,
    min_score: _MinScore = None,
    also_model: _AlsoModel = None,
) -> None:
    """Audit a model: recourse for every denied applicant, a table, a summary, a report."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from recourse.audit import audit
    from recourse.robust_cli import audit_options

    try:
        causal_model = _load_causal(causal) if causal is not None else None
        fitted = None
        if support is not None or plausible or also_model or min_score is not None:
            from recourse.io import load_model

            fitted = load_model(model, trust_pickle=trust_pickle)
        robust = audit_options(schema, reference, min_margin, seen_together, support,
                               support_k, model=fitted,
                               target=_resolve_target(fitted, target) if fitted is not None
                               else target)
        if plausible or also_model or min_score is not None:
            from recourse.io import load_schema
            from recourse.robust_cli import RobustFlags, build_robust

            setup = build_robust(fitted, load_schema(schema), RobustFlags(
                data=reference, plausible=plausible, min_score=min_score,
                also_models=tuple(also_model or ())), trust_pickle=trust_pickle,
                data_flag="--reference")
            model = setup.model  # a ModelSet / PlausibleModel object, audited as given
    except (RecourseError, OSError) as exc:
        _fail(str(exc))
    bar = Progress(TextColumn("Auditing"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=err_console, transient=False,
                   auto_refresh=False)  # no refresh thread: local workers can fork
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if "task" not in state:
            state["task"] = bar.add_task("audit", total=total, completed=done, rate="")
            state["start"] = done
            bar.start()
        task = state["task"]
        bar.update(task, completed=done)
        speed = bar.tasks[task].speed
        bar.update(task, rate=f"{speed:.1f} applicants/s" if speed else "")
        bar.refresh()

    try:
        result = audit(model, data, schema, out, target=target, norm=norm,
                       time_limit=time_limit, select=select, causal=causal_model, **robust,
                       id_column=id_column, protected=protected, n_jobs=jobs,
                       scheduler=scheduler, chunk_size=chunk_size, overwrite=overwrite,
                       trust_pickle=trust_pickle, progress=progress)
    except (RecourseError, OSError) as exc:
        bar.stop()
        _fail(str(exc))
    bar.stop()
    o = result.summary["overall"]
    table = Table(title="Audit", title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column()
    rows = [
        ("applicants audited", f"{result.n_audited:,} of {result.n_rows:,} rows"),
        ("resumed / solved now", f"{result.n_resumed:,} / {result.n_solved:,}"
         + (f" ({result.rate:.1f} applicants/s)" if result.n_solved else "")),
        ("recourse rate", "–" if o["recourse_rate"] is None  # noqa: RUF001
         else f"{100 * o['recourse_rate']:.1f} %"),
        ("no recourse (proven)", f"{o['n_no_recourse']:,}"),
        ("unresolved / invalid input", f"{o['n_unresolved']:,} / {o['n'] - o['n_valid']:,}"),
        ("median cost", _fmt_opt(o["median_cost"])),
    ]
    groups = result.summary.get("groups")
    if groups and groups.get("recourse_rate_gap") is not None:
        rows.append((f"recourse-rate gap by {groups['attribute']}",
                     f"{100 * groups['recourse_rate_gap']:.1f} points"))
    for key, value in rows:
        table.add_row(key, escape(value))
    console.print(table)
    for name, path in result.files.items():
        console.print(f"{name}: {escape(str(path))}", highlight=False)
    raise typer.Exit(EXIT_OK)


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


@app.command()
def analyze(
    out: Annotated[Path, typer.Option(help="Directory for report.md and the PNG plots.")]
    = Path("analysis_report"),
    case: Annotated[str, typer.Option(
        help="Construction row (THEORY A7): class, gain or ratio.")] = "class",
    delta: Annotated[float, typer.Option(help="Budget delta (Euclidean).")] = 1.0,
    dim: Annotated[int, typer.Option(help="Dimension of the embedding (2..12).")] = 2,
    grid: Annotated[int, typer.Option(help="Grid points on t in [-delta/2, delta/2] (odd).")]
    = 101,
    seed: Annotated[int, typer.Option(help="Seed of the line, the centre and every "
                                      "stochastic method.")] = 0,
    convergence_seeds: Annotated[int, typer.Option(
        help="Seeds per n in the SmoothGrad/C-LIME convergence experiment.")] = 30,
    tree: Annotated[bool, typer.Option(
        help="Include the engine counterfactual on a decision tree.")] = True,
    model: Annotated[Path | None, typer.Option(help="Your model: analyse its denied "
                                               "applicants instead of the construction.")] = None,
    data: Annotated[Path | None, typer.Option(help="With --model: rows (CSV/Parquet).")] = None,
    schema: Annotated[Path | None, typer.Option(help="With --model: the schema YAML.")] = None,
    target: Annotated[str | None, typer.Option(help="With --model: the class to reach.")] = None,
    applicants: Annotated[int, typer.Option(help="With --model: denied rows to analyse.")] = 8,
    trust_pickle: Annotated[bool, typer.Option("--trust-pickle", help="Load a pickle model.")]
    = False,
) -> None:
    """Impossibility report on the recourse/robustness counterexample, or with --model every
    attribution method on your model's denied applicants (HTML + Markdown + JSON)."""
    from recourse.analysis.report import write_report

    if model is not None:
        from recourse.analysis.user_model import run_analyze

        if data is None or schema is None:
            _fail("--model needs --data and --schema.")
        try:
            paths = run_analyze(model, data, schema, out, target=target, n_applicants=applicants,
                                seed=seed, trust_pickle=trust_pickle)
        except (RecourseError, OSError, ValueError) as exc:
            _fail(str(exc))
        console.print(f"Wrote {escape(str(paths['html']))}, report.md and report.json")
        return

    if case not in ("class", "gain", "ratio"):
        _fail(f"--case must be class, gain or ratio; got {case!r}.")
    if not 2 <= dim <= 12:
        _fail(f"--dim must be between 2 and 12 (exact Shapley values); got {dim}.")
    if grid < 3 or grid % 2 == 0:
        _fail(f"--grid must be odd and at least 3 (so that t = 0 is on it); got {grid}.")
    if not delta > 0:
        _fail(f"--delta must be positive; got {delta}.")
    path = write_report(out, case=case, delta=delta, d=dim, n_grid=grid, seed=seed,
                        convergence_seeds=convergence_seeds, with_tree=tree)
    console.print(f"Wrote the impossibility report to {escape(str(path))} (and report.html)")


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
    causal: Annotated[bool, typer.Option(
        "--causal/--no-causal", help="End with causal recourse on the data set's example "
        "causal graph, for an applicant where it differs from the independent answer.")]
    = True,
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
        out.mkdir(parents=True, exist_ok=True)
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
                    box=kind == kinds[0],  # one certified range line (ms for logreg)
                )
        except RecourseError as exc:
            err_console.print(f"[bold red]{kind}: {escape(str(exc))}[/]", soft_wrap=True)
            failed = True
            continue
        ident = f"test row {pos} (row {X_test.index[pos]} of {dataset})"
        _print_result(result, feature_schema, title=f"{kind} — {ident}")
        letter = _render_letter(result, feature_schema, model_kind=kind, dataset=dataset,
                                applicant_id=ident, model=model_path)
        (out / f"letter_{kind}.md").write_text(letter, encoding="utf-8")
        failed |= result.status not in _ANSWERED
        reproduce.append(" ".join([
            "recourse explain", "--model", shlex.quote(str(model_path)),
            "--applicant", shlex.quote(str(applicant_path)),
            "--schema", shlex.quote(str(schema_path)), "--target", TARGET_CLASS,
        ]))

    if causal and fitted:
        kind = next(iter(fitted))
        _causal_section(dataset, kind, fitted[kind], X_test, X_train, feature_schema,
                        TARGET_CLASS, time_limit)

    console.rule("Files")
    console.print(f"Wrote models, applicants, schema and letters to {escape(str(out))}/")
    if reproduce:
        console.print("Reproduce the first explanation from the written files with:")
        console.print(reproduce[0], markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_NO_ANSWER if failed else EXIT_OK)


def _causal_section(dataset: str, kind: str, model: Any, X_test: Any, X_train: Any,
                    schema: FeatureSchema, target: Any, time_limit: float) -> None:
    """Demo: the first denied test applicant whose causal recourse differs."""
    from recourse.datasets.graphs import causal_differences, example_causal_model

    cm = example_causal_model(dataset)
    console.rule(f"Causal recourse — {kind} on {dataset}")
    edges = ", ".join(f"{u} → {v}" for u, v in cm.graph.edges)
    console.print(f"Example causal graph (assumptions in recourse/datasets/graphs.py): {edges}")
    found = None
    with console.status("Comparing causal and independent recourse ..."):
        for item in causal_differences(model, X_test, schema, cm, target=target, limit=30,
                                       time_limit=time_limit, reference=X_train):
            found = found or item  # the first that differs; better: one with another cost
            if abs((item[1].cost or 0.0) - (item[2].cost or 0.0)) > 1e-6:
                found = item
                break
    if found is None:
        console.print("Among the first 30 denied test applicants the causal answer never "
                      "differs from the independent one.")
        return
    idx, plain, res, broken = found
    _print_result(plain, schema, title=f"row {idx}: independent features")
    if broken:
        console.print("[yellow]The independent answer breaks the causal model:[/] "
                      + escape("; ".join(broken)) + ".")
    _print_result(res, schema, title=f"row {idx}: interventions on the causal graph")
    cheaper = (res.cost or 0.0) < (plain.cost or 0.0) - 1e-9
    console.print(
        "Why they differ: in the causal model only actions cost; their consequences follow "
        "from the structural equations at no cost"
        + (", which makes the causal answer cheaper here." if cheaper else
           ", and changes the independent answer leaves out would follow anyway.")
    )


# --------------------------------------------------------------------- letter
def _render_letter(result: RecourseResult, schema: FeatureSchema, *, model_kind: str,
                   dataset: str, applicant_id: str, model: Any = None) -> str:
    """The demo's Markdown letter (``recourse.letters``, bundled template)."""
    from recourse.letters import render_letter

    return render_letter(result, schema, format="md", model=model,
                         applicant_id=f"{applicant_id}, model {model_kind} on {dataset}")


@app.command()
def letter(
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")]
    = None,
    applicant: Annotated[Path | None, typer.Option(
        "--applicant", "-a", help="CSV or Parquet with the applicant(s).")] = None,
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
    trust_pickle: Annotated[bool, typer.Option(
        "--trust-pickle", help="Load a pickle model (runs code from the file: only if "
        "you trust it).")] = False,
    min_margin: _MinMargin = None,
    box: Annotated[bool, typer.Option(
        "--box", help="Phrase each change as a certified range (\"reduce the credit amount "
        "to 7,839 DM or less\") and list the ranges within which approval holds.")]
    = False,
    data: _Data = None,
    seen_together: _Seen = False,
    plausible: _Plausible = False,
    min_score: _MinScore = None,
    also_model: _AlsoModel = None,
    support: _Support = None,
    support_k: _SupportK = 1,
) -> None:
    """Write a recourse letter: decision, principal reasons, up to k distinct options,
    traceability appendix."""
    from recourse import explain as engine
    from recourse.io import load_model, load_schema, read_table
    from recourse.letters import FORMATS, render_letter, write_letter, write_letters
    from recourse.robust_cli import build_robust, flags_from

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
        if audit is not None:
            if flags.any():
                raise InputValidationError(
                    "--audit writes letters from an audit's stored answers without solving; "
                    "--min-margin, --box, --data, --seen-together, --plausible and "
                    "--also-model do not apply. Drop them, or pass --model and --applicant.")
            target_dir = out or Path("letters")
            paths = write_letters(audit, target_dir, feature_schema, format=fmt, model=model,
                                  progress=True, template_dir=template_dir)
            console.print(f"Wrote {len(paths)} letters to {escape(str(target_dir))}/")
            raise typer.Exit(EXIT_OK)
        if model is None or applicant is None:
            raise InputValidationError(
                "--model and --applicant are required (or --audit FILE to write letters from "
                "an audit's results).")
        fitted = load_model(model, trust_pickle=trust_pickle)
        setup = build_robust(fitted, feature_schema, flags, trust_pickle=trust_pickle,
                             target=_resolve_target(fitted, target))
        eng = engine.RecourseEngine(setup.model, feature_schema, **setup.engine_kwargs)
        goal = _resolve_target(fitted, target)
        frame = read_table(applicant)
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
            answers.append((ident, eng.options(frame.iloc[pos], k=k, target=goal, norm=norm,
                                               time_limit=time_limit,
                                               **setup.explain_kwargs)))
        if all_rows:
            target_dir = out or Path("letters")
            paths = write_letters(answers, target_dir, feature_schema, format=fmt,
                                  model=model, progress=True, template_dir=template_dir)
            console.print(f"Wrote {len(paths)} letters to {escape(str(target_dir))}/")
            raise typer.Exit(EXIT_OK)
        ident, opts = answers[0]
        kw: dict[str, Any] = dict(applicant_id=ident, model=model, template_dir=template_dir)
        if out is not None:
            write_letter(opts, out, feature_schema, format=fmt, **kw)
            console.print(f"Wrote the letter to {escape(str(out))}")
        elif fmt == "pdf":
            raise InputValidationError("A PDF letter needs a file: pass --out letter.pdf.")
        else:
            console.out(render_letter(opts, feature_schema, format=fmt, **kw), highlight=False)
    except (RecourseError, OSError) as exc:
        _fail(str(exc))
    raise typer.Exit(EXIT_OK if opts.stopped not in ("time_limit", "error") or len(opts)
                     else EXIT_NO_ANSWER)


if __name__ == "__main__":  # pragma: no cover
    app()

"""``recourse demo``: train bundled models, explain a denied applicant per model, write
letters, and end with causal recourse."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from recourse.cli.common import (
    ANSWERED,
    EXIT_NO_ANSWER,
    EXIT_OK,
    console,
    err_console,
    fail,
)
from recourse.cli.output import print_result
from recourse.encoders.errors import RecourseError
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["demo", "render_demo_letter"]


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
    from recourse.datasets import (
        DATASETS,
        MODEL_KINDS,
        TARGET_CLASS,
        applicant_rows,
        make_model,
        train_test,
    )
    from recourse.engine import find_recourse
    from recourse.io import load_applicant, save_model

    kinds = [k.strip() for k in models.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if not kinds or unknown:
        fail(f"--models: unknown kinds {unknown or [models]}; choose from {list(MODEL_KINDS)}.")
    if dataset not in DATASETS:
        fail(f"--dataset must be one of {list(DATASETS)}, got {dataset!r}.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"Cannot create the output directory {str(out)!r}: {exc}")

    with console.status(f"Loading {dataset} ..."):
        X_train, X_test, y_train, y_test, feature_schema = train_test(dataset, seed=0)
    schema_path = out / "schema.yaml"
    feature_schema.to_yaml(schema_path)
    portfolio = applicant_rows(dataset, with_row=True)  # a portfolio for `recourse audit`
    if portfolio is not None:
        portfolio.to_csv(out / "portfolio.csv", index=False)
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
        print_result(result, feature_schema, title=f"{kind} — {ident}")
        letter = render_demo_letter(result, feature_schema, model_kind=kind, dataset=dataset,
                                    applicant_id=ident, model=model_path)
        (out / f"letter_{kind}.md").write_text(letter, encoding="utf-8")
        failed |= result.status not in ANSWERED
        reproduce.append(" ".join([
            _program(), "explain", "--model", shlex.quote(str(model_path)),
            "--applicant", shlex.quote(str(applicant_path)),
            "--schema", shlex.quote(str(schema_path)), "--target", TARGET_CLASS,
        ]))

    if causal and fitted:
        kind = next(iter(fitted))
        _causal_section(dataset, kind, fitted[kind], X_test, X_train, feature_schema,
                        TARGET_CLASS, time_limit)

    console.rule("Files")
    console.print(f"Wrote models, applicants, schema, letters and a portfolio of "
                  f"{dataset}'s test applicants (portfolio.csv) to {escape(str(out))}/")
    if reproduce:
        console.print("Reproduce the first explanation from the written files with:")
        console.print(reproduce[0], markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_NO_ANSWER if failed else EXIT_OK)


def _program() -> str:
    """``recourse``, or the full path of this script when ``recourse`` is not on the PATH
    (``make demo`` runs ``.venv/bin/recourse`` without activating the environment)."""
    import shutil
    import sys

    me = Path(sys.argv[0]).resolve()
    found = shutil.which("recourse")
    if me.name == "recourse" and (found is None or Path(found).resolve() != me):
        return shlex.quote(str(me))
    return "recourse"


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
    print_result(plain, schema, title=f"row {idx}: independent features")
    if broken:
        console.print("[yellow]The independent answer breaks the causal model:[/] "
                      + escape("; ".join(broken)) + ".")
    print_result(res, schema, title=f"row {idx}: interventions on the causal graph")
    cheaper = (res.cost or 0.0) < (plain.cost or 0.0) - 1e-9
    console.print(
        "Why they differ: in the causal model only actions cost; their consequences follow "
        "from the structural equations at no cost"
        + (", which makes the causal answer cheaper here." if cheaper else
           ", and changes the independent answer leaves out would follow anyway.")
    )


def render_demo_letter(result: RecourseResult, schema: FeatureSchema, *, model_kind: str,
                       dataset: str, applicant_id: str, model: Any = None) -> str:
    """The demo's Markdown letter (``recourse.letters``, bundled template)."""
    from recourse.letters import render_letter

    return render_letter(result, schema, format="md", model=model,
                         applicant_id=f"{applicant_id}, model {model_kind} on {dataset}")

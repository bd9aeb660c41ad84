"""``recourse explain``: the cheapest actionable change for one applicant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recourse.cli.common import (
    AlsoModel,
    Box,
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
    exit_code,
    fail,
    json_default,
    load_causal,
    resolve_target,
)
from recourse.cli.flags import build_robust, flags_from
from recourse.cli.output import print_result
from recourse.encoders.errors import InputValidationError, RecourseError

__all__ = ["explain"]


def explain(
    model: Annotated[Path, typer.Option(
        "--model", "-m", help="Fitted model: a .skops file, or a trusted .pkl/.joblib.")],
    applicant: Annotated[Path, typer.Option(
        "--applicant", "-a", help="CSV or Parquet with the applicant (one row, or --row); "
        "or german / credit_data (the bundled test split, with --row).")],
    schema: Annotated[Path, typer.Option(
        "--schema", "-s", help="Feature schema YAML (FeatureSchema.to_yaml).")],
    row: Annotated[int | None, typer.Option(
        help="0-based row of the applicant in a file with several rows.")] = None,
    target: Annotated[str | None, typer.Option(
        help="Class to reach, e.g. 'good' (default: decided by the engine).")] = None,
    norm: Annotated[str, typer.Option(help="Cost: l1, l0 or l0_l1.")] = "l1",
    time_limit: Annotated[float, typer.Option(help="Solver time limit in seconds.")] = 60.0,
    backend: Annotated[str, typer.Option(
        help="Solver backend: auto (HiGHS; CP-SAT for large tree problems), highs, "
        "cpsat (tree ensembles) or pyomo.")] = "auto",
    solver: Annotated[str | None, typer.Option(
        help="With --backend pyomo: the Pyomo solver (appsi_highs, gurobi, cplex, scip, "
        "...).")] = None,
    trust_pickle: TrustPickle = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the result as JSON.")] = False,
    causal: Annotated[str | None, typer.Option(
        "--causal", help="Causal model: a YAML file (CausalModel.to_yaml) or the name of a "
        "bundled example (german, credit_data). Recourse becomes interventions.")] = None,
    min_margin: MinMargin = None,
    box: Box = False,
    data: Data = None,
    seen_together: Seen = False,
    plausible: Plausible = False,
    min_score: MinScore = None,
    also_model: AlsoModel = None,
    support: Support = None,
    support_k: SupportK = 1,
    extra_column: ExtraColumns = None,
    why: Annotated[bool, typer.Option(
        "--why", help="On no recourse: the smallest sets of action-set rules and options "
        "whose relaxation opens recourse, each with its verified counterfactual (slower: "
        "one solve per set).")] = False,
) -> None:
    """Find the cheapest actionable change that gives the applicant the target class."""
    import recourse.engine as engine
    from recourse.datasets import applicant_rows, pick_applicant
    from recourse.io import load_applicant, load_model, load_schema

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
        bundled = applicant_rows(applicant)  # german / credit_data: the test split
        row_values = (load_applicant(applicant, feature_schema, row=row,
                                     extra_columns=extra_column or ())
                      if bundled is None
                      else pick_applicant(bundled, feature_schema, row, str(applicant)))
        causal_model = load_causal(causal) if causal else None
        if flags.any():
            setup = build_robust(fitted, feature_schema, flags, trust_pickle=trust_pickle,
                                 target=resolve_target(fitted, target))
            eng = engine.RecourseEngine(
                setup.model, feature_schema, backend=backend, causal=causal_model,
                backend_options={"solver": solver} if solver else None,
                **setup.engine_kwargs)
            result = eng.explain(row_values, target=resolve_target(fitted, target),
                                 norm=norm, time_limit=time_limit, why=why,
                                 **setup.explain_kwargs)
        elif why:
            eng = engine.RecourseEngine(
                fitted, feature_schema, backend=backend, causal=causal_model,
                backend_options={"solver": solver} if solver else None)
            result = eng.explain(row_values, target=resolve_target(fitted, target),
                                 norm=norm, time_limit=time_limit, why=True)
        else:
            result = engine.find_recourse(
                fitted, row_values, feature_schema, target=resolve_target(fitted, target),
                norm=norm, backend=backend, time_limit=time_limit,
                **({"causal": causal_model} if causal_model is not None else {}),
                backend_options={"solver": solver} if solver else None,
            )
    except (RecourseError, OSError) as exc:
        fail(str(exc))
    if json_output:
        payload = result.to_dict()
        payload.setdefault("counterfactual", result.counterfactual)
        payload.setdefault("feature_costs", result.feature_costs)
        if result.preclusion is not None:
            payload["preclusion"] = result.preclusion.to_dict()
        console.print_json(data=payload, default=json_default)
    else:
        print_result(result, feature_schema)
    raise typer.Exit(exit_code(result))

"""Stages 4 and 5, decode and verify: a solver point becomes the applicant's
counterfactual in user units, and is reported only when the model's own ``predict`` (or
score, for a utility) reaches the target and every rule holds on it: the action set,
the causal equations, and every option's own check (by numpy on the data and the models
themselves, never by the MILP).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recourse.engine.query import SolveContext
from recourse.engine.solve import Phase
from recourse.solvers.causal import causal_point
from recourse.solvers.problem import decode
from recourse.solvers.values import value_point
from recourse.verify import action_violations, model_predict

__all__ = ["decode_point", "violations", "check_target"]


def decode_point(ctx: SolveContext, ph: Phase, deep: bool) -> tuple[np.ndarray, list[str]]:
    """The counterfactual's search vector and the names of the acted-on causal nodes."""
    P, q = ctx.prepared, ctx.query
    values = ph.values
    assert values is not None
    for o in ctx.options:  # into every appended model's cells
        values = o.snap(ctx, ph.problem, ctx.view, values)
    base = (value_point(ph.problem, ctx.view, values, deep=deep)
            if ctx.view is not None else None)
    if P.cspec is None:
        s_cf = base if base is not None else decode(ph.problem, values, deep=deep)
        acted: list[str] = []
    else:
        s_cf, idx = causal_point(ph.problem, P.spec, P.cspec, ctx.causal_vars, values,
                                 deep=deep, base=base)
        acted = [P.schema.names[j] for j in P.cspec.nodes[idx]]
    s_cf = np.where(s_cf == q.x0, q.x_true, s_cf)  # unchanged: the applicant's value
    # a value variable within the solver's tolerance of the applicant's value is
    # unchanged (an L0 answer otherwise counts a 1e-16 move as a change)
    s_cf = np.where(P.value_vars & np.isclose(s_cf, q.x0, rtol=1e-9, atol=1e-9),
                    q.x_true, s_cf)
    return s_cf, acted


def violations(ctx: SolveContext, cf: dict[str, Any], acted: list[str]) -> list[str]:
    """Every rule the counterfactual breaks: action rules on actions (and independent
    features), equations and bounds on consequences, every option's check."""
    P, row = ctx.prepared, ctx.query.row
    if P.causal is None:
        bad = action_violations(P.schema, row, cf)
    else:
        consequences = set(P.causal.order) - set(acted)
        as_acted = {n: (row[n] if n in consequences else v) for n, v in cf.items()}
        bad = (action_violations(P.schema, row, as_acted)
               + P.causal.violations(P.schema, row, cf, acted))
    for o in ctx.options:
        bad += o.check(ctx, row, cf)
    return bad


def check_target(ctx: SolveContext, cf: dict[str, Any]) -> tuple[bool, Any, dict[str, Any]]:
    """``(reached, model's class of the applicant, extra stats)`` by the model's own
    ``predict`` on the applicant and the counterfactual in one call (a utility: the
    model's own score on the counterfactual)."""
    P, q = ctx.prepared, ctx.query
    if q.goal is not None:
        from recourse.utility import model_score

        f_cf = float(model_score(P.model, P.schema, [cf])[0])
        return f_cf >= q.goal, q.predicted, {"score": q.f0, "threshold": q.goal,
                                             "counterfactual_score": f_cf}
    pred_x, pred_cf = model_predict(P.model, P.schema, [q.row, cf])
    return pred_cf == q.target, pred_x, {}

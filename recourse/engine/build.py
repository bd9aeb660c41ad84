"""Stage 2, build: the encoding, the query and every option's rows become one problem,
with the best starting point the heuristics find.

The base problem comes from the model's encoding (``recourse.solvers.problem.build_problem``;
ReLU networks are first re-bounded over what the applicant can reach,
``recourse.solvers.tighten``); then, in this order, every option's plain rows, the causal
model's equations (``recourse.solvers.causal``), the value view (``recourse.solvers.values``)
when an option constrains feature values, every option's rows over it, and the starting
points (heuristics of ``recourse.solvers.incumbent``, then each option's own).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from recourse.engine.query import SolveContext
from recourse.solvers.causal import add_causal, causal_incumbent
from recourse.solvers.incumbent import find_incumbent, large_start
from recourse.solvers.problem import RecourseProblem, build_problem, decode, point_costs
from recourse.solvers.tighten import complete, relu_incumbent, tighten_relu
from recourse.solvers.values import add_values, fill_values, value_spec

__all__ = ["build", "HEURISTICS_SHARE"]

#: Share of the time left that the starting-point heuristics and the ReLU bound LPs may
#: use (each stops at its own deadline with what it has: a start is only a bound, and
#: bounds not tightened in time stay valid).
HEURISTICS_SHARE = 0.5


def build(ctx: SolveContext) -> tuple[RecourseProblem, np.ndarray | None]:
    """The problem of one solve attempt and its starting point (None: none found)."""
    P, q = ctx.prepared, ctx.query
    # heuristics may spend at most a share of what is left: the solver needs the rest
    ctx.info["heuristics_deadline"] = hd = q.deadline.share(HEURISTICS_SHARE)
    spec = P.spec if P.cspec is None else P.nspec
    cross_spec = spec  # prices the moves used as lower bounds by the tree pruning
    if ctx.use_values:  # costs move to the value columns
        spec = value_spec(P.encoding, spec)
    indicators = any(o.needs_indicators for o in ctx.options)
    ref = P.ref[P.ref_pred == q.t_idx] if P.ref is not None else None
    if q.goal is not None:
        ref = P.ref  # the forward pass re-checks every reference row
    margin = ctx.margin
    for o in ctx.options:  # a joint tree block of a ModelSet: one margin per member
        margin = o.member_margins(margin, ctx.model_margins)
    inc = None
    priced = None
    enc = P.encoding if q.goal is None else P.encoding.with_threshold(q.goal)
    if P.encoding.network is not None:
        plain_ok = P.cspec is None and not any(o.adds_rows for o in ctx.options)
        prob, inc = _relu_problem(ctx, enc, spec, margin, indicators,
                                  P.ref if ctx.use_incumbent else None, plain_ok)
    else:
        prob = build_problem(enc, spec, q.x0, q.t_idx, norm=q.norm, margin=margin,
                             tie_margin=ctx.ties, indicators=indicators)
        if spec is not cross_spec and enc.tree is not None:
            # a value column costs at least what reaching its cell costs, so the cell
            # prices stay valid lower bounds for pruning and the leaf-distance cuts
            priced = build_problem(enc, cross_spec, q.x0, q.t_idx, norm=q.norm,
                                   margin=margin, tie_margin=ctx.ties)
            prob = replace(prob, crossing=priced.crossing, crossing_l0=priced.crossing_l0)
        for o in ctx.options:
            prob = o.plain_rows(ctx, prob)
    if P.cspec is not None:
        prob, ctx.causal_vars = add_causal(prob, P.spec, P.cspec)
    heuristics = ctx.use_incumbent and ctx.causal_vars is None and P.encoding.network is None
    phase_norm = "l1" if q.norm == "l1" else "l0"
    if ctx.use_values:
        cv = ctx.causal_vars
        existing = ({int(j): int(x) for j, x in zip(cv.nodes, cv.x)} if cv is not None
                    else None)
        prob, ctx.view = add_values(prob, P.spec, norm=q.norm, existing=existing,
                                    indicators=indicators)
        for o in ctx.options:
            prob = o.view_rows(ctx, prob, ctx.view)
        if heuristics and not any(o.replaces_start for o in ctx.options):
            # a point of the plain problem; solve_phase drops it if a constraint fails
            same = (priced is not None and priced.enc is P.encoding and priced.spec is P.spec)
            plain = (priced if same and priced is not None else build_problem(
                P.encoding, P.spec, q.x0, q.t_idx, norm=q.norm, margin=margin,
                tie_margin=ctx.ties))
            ctx.plain = plain
            start = find_incumbent(plain, q.norm, ref, deadline=hd)
            if start is not None:
                inc = fill_values(prob, ctx.view, decode(plain, start))
        for o in ctx.options:  # options that offer a start
            prob, inc = o.start(ctx, prob, ctx.view, inc)
    elif heuristics:
        inc = find_incumbent(prob, q.norm, ref, deadline=hd)
        ctx.info["ascent"] = hd  # the first phase may run the margin ascent (solve_phase)
    elif (ctx.use_incumbent and not q.excluded and ctx.causal_vars is not None
          and P.encoding.network is None and q.goal is None):
        # the heuristics know no equations: start from an independent-feature point
        # turned into an intervention; not with excluded change sets, which its
        # consequences could complete
        plain = build_problem(P.encoding, P.spec, q.x0, q.t_idx, norm=q.norm,
                              margin=margin, tie_margin=ctx.ties)
        start = large_start(plain, phase_norm,
                            find_incumbent(plain, q.norm, ref, deadline=hd), deadline=hd)
        inc = causal_incumbent(prob, P.cspec, ctx.causal_vars, plain, start, phase_norm)
    return prob, inc


def _relu_problem(ctx: SolveContext, enc: Any, spec: Any, margin: Any, indicators: bool,
                  ref: np.ndarray | None, start: bool) -> tuple[RecourseProblem, Any]:
    """ReLU networks: a first solution from the forward pass, then the network
    re-bounded over what the applicant can reach for at most its cost
    (``recourse.solvers.tighten``), so that fewer units need a binary.

    Without a first solution (``start`` False: an option adds rows the forward pass does
    not know, or a causal model, in whose neutral spec consequences move freely, so a
    budget in independent costs bounds no consequence) the network is bounded over the
    whole action set."""
    P, q = ctx.prepared, ctx.query
    s_inc = (relu_incumbent(enc, spec, q.x0, q.t_idx, margin, ctx.ties, q.norm, ref)
             if start else None)
    budget = np.inf
    if s_inc is not None and q.norm == "l1":
        budget = float(point_costs(P.spec, q.x0, s_inc)[0].sum())
    tight = tighten_relu(enc, spec, q.x0, method=P.bounds, budget=budget,
                         deadline=ctx.info["heuristics_deadline"])
    if q.goal is not None:
        tight = tight.with_threshold(q.goal)
    prob = build_problem(tight, spec, q.x0, q.t_idx, norm=q.norm, margin=margin,
                         tie_margin=ctx.ties, indicators=indicators)
    for o in ctx.options:
        prob = o.plain_rows(ctx, prob)
    nb = tight.n_vars
    lb, ub = prob.lb.copy(), prob.ub.copy()
    lb[:nb], ub[:nb] = np.maximum(lb[:nb], tight.lb), np.minimum(ub[:nb], tight.ub)
    prob = prob.with_bounds(lb, ub)
    prob.stats.update(n_binaries=tight.info["n_binaries"],
                      n_binaries_schema_box=tight.info["n_binaries_schema_box"],
                      tighten_time=tight.info["tighten_time"])
    if s_inc is None:
        return prob, None
    full = complete(prob, s_inc)
    l1, l0 = point_costs(P.spec, q.x0, s_inc)
    c, c0 = prob.objective("l1" if q.norm == "l1" else "l0")
    want = float((l1 if q.norm == "l1" else l0).sum())
    if abs(float(c @ full + c0) - want) > 1e-7 * (1.0 + want):
        return prob, None  # the columns did not line up: solve without a start
    return prob, full

"""The query pipeline: validate → build → solve → decode → verify → result.

:func:`run` takes a validated :class:`~recourse.engine.query.Query` through up to three
attempts (each with a margin a thousand times larger, when a candidate fails
verification at a tie the solver's tolerance let through) and assembles the
:class:`~recourse.result.RecourseResult`: every number in it is recomputed on the
verified counterfactual, never read from the solver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from recourse.engine.query import Query, SolveContext
from recourse.engine.solve import Phase, solve
from recourse.engine.verify import check_target, decode_point, violations
from recourse.result import Change, RecourseResult
from recourse.schema_checks import outside_bounds
from recourse.solvers.causal import causal_costs
from recourse.solvers.problem import point_costs
from recourse.solvers.status import Status
from recourse.stats import Stats
from recourse.verify import model_predict

__all__ = ["run"]


#: How a candidate is checked: ``check(ctx, cf) -> (reached, model's class of the
#: applicant, extra stats)``; :func:`~recourse.engine.verify.check_target` by default (a
#: batch defers it, ``recourse.engine.batch``).
Check = Callable[[SolveContext, dict[str, Any]], tuple[bool, Any, dict[str, Any]]]


def run(P: Any, q: Query, check: Check | None = None) -> RecourseResult:
    """One query through the pipeline (see module docstring)."""
    base: dict[str, Any] = dict(target=q.target, predicted=q.predicted, factual=q.row,
                                norm=q.norm, backend=P.backend)
    done = _already(P, q, base)
    if done is not None:
        return _flag_outside(P, q, done)
    return _flag_outside(P, q, _solve_attempts(P, q, base, check or check_target))


def _flag_outside(P: Any, q: Query, res: RecourseResult) -> RecourseResult:
    """Say which of the applicant's values lie outside the action set's bounds."""
    out = outside_bounds(P.schema, q.row)
    if not out:
        return res
    return replace(res, stats=res.stats.with_(outside_bounds=out), message=(
        f"{res.message} Note: the applicant's {', '.join(out)} lie(s) outside the action "
        "set's bounds; the answer may keep such a value."))


def _solve_attempts(P: Any, q: Query, base: dict[str, Any], check: Check) -> RecourseResult:
    """Up to three attempts, each with a margin a thousand times larger."""
    sm = q.score_margin
    model_margins = None
    if q.goal is not None:
        margin: Any = P.margin * max(1.0, abs(q.goal))
    else:
        if sm is not None and np.ndim(sm) == 1:  # one per model of a ModelSet
            model_margins = np.maximum(P.margin, np.asarray(sm, float))
            sm = float(model_margins.min())
        margin = P.margin if sm is None else max(P.margin, sm)
    solve_time = 0.0
    # what the first attempt proved: its phase, and the costs (L1, L0) of its optimum's
    # own point as placed (a hair inside its cells), which later answers are held to
    proven: tuple[Phase, float, float] | None = None
    for attempt in range(3):
        exact = (q.goal is None and attempt == 0 and sm is None
                 and P.encoding.kind in ("trees", "stack"))
        ctx = SolveContext(prepared=P, query=q, options=[o.fresh() for o in q.options],
                           margin=margin, ties=0.0 if exact else margin,
                           # the first-solution heuristics hold a point to the
                           # problem's margins (not to a ModelSet's per-model ones)
                           use_incumbent=attempt == 0 and model_margins is None,
                           model_margins=model_margins)
        ph = solve(ctx)
        solve_time += ph.time
        if ph.values is None:
            return _no_answer(P, q, ph, base, solve_time)
        verify_time = 0.0
        for deep in (False, True):
            s_cf, acted = decode_point(ctx, ph, deep)
            if attempt == 0 and not deep and ph.status is Status.OPTIMAL:
                l1, l0 = _point_costs(ctx, s_cf, acted)
                proven = (ph, float(l1.sum()), float(l0.sum()))
            cf = P.space.decode(s_cf)
            t_v = time.perf_counter()
            reached, pred_x, extra = check(ctx, cf)
            verify_time += time.perf_counter() - t_v
            if not extra.pop("deferred", False):  # a batch measures its own call
                P.timing["verify"] = time.perf_counter() - t_v
            if q.goal is None and pred_x == q.target:
                # the encoding and the model disagree at a boundary
                return _result(q, "already_target", dict(base, predicted=pred_x),
                               message=f"The model already predicts {q.target!r}.")
            base["predicted"] = pred_x
            bad = violations(ctx, cf, acted)
            if reached and not bad:
                return _answer(ctx, ph, base, s_cf, cf, solve_time, attempt, acted,
                               dict(extra, verify_time=verify_time), proven)
        margin = margin * 1000.0
    return RecourseResult(
        status="error", solve_time=solve_time, total_time=q.deadline.elapsed(),
        message="No candidate passed verification with the model's own predict, even "
        "after tightening the margin; this is a bug worth reporting with the model.",
        **base)


def _result(q: Query, status: str, base: dict[str, Any], message: str,
            stats: dict[str, Any] | None = None) -> RecourseResult:
    return RecourseResult(status=status, counterfactual=dict(q.row), cost=0.0, l1_cost=0.0,
                          l0=0.0, bound=0.0, gap=0.0, optimal=True, verified=True,
                          total_time=q.deadline.elapsed(), message=message,
                          stats=Stats.of(stats), **base)


def _already(P: Any, q: Query, base: dict[str, Any]) -> RecourseResult | None:
    if q.goal is not None:
        if q.f0 is not None and q.f0 >= q.goal:
            return _result(q, "already_target", base,
                           f"The score {q.f0:.6g} already meets {q.utility} "
                           f"(>= {q.goal:.6g}).", {"score": q.f0, "threshold": q.goal})
        return None
    if q.predicted != q.target:
        return None
    base["predicted"] = model_predict(P.model, P.schema, [q.row])[0]
    if base["predicted"] != q.target:
        return None
    return _result(q, "already_target", base,
                   f"The model already predicts {q.target!r}: nothing needs to change.")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return float(a) == float(b)
    return bool(a == b)


def _gap(cost: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return max(0.0, cost - bound) / max(1e-12, abs(cost))


def _phase_stats(ph: Phase) -> dict[str, Any]:
    return dict(ph.problem.stats, backend_used=ph.backend, used_incumbent=ph.incumbent,
                solver_status=ph.raw, certified_by=ph.certified_by,
                certify_time=ph.certify_time,
                **({"certificate_disagreement": ph.disagreement}
                   if ph.disagreement is not None else {}))


def _answer(ctx: SolveContext, ph: Phase, base: dict[str, Any], s_cf: np.ndarray,
            cf: dict[str, Any], solve_time: float, attempt: int, acted: list[str],
            extra: dict[str, Any],
            proven: tuple[Phase, float, float] | None) -> RecourseResult:
    P, q = ctx.prepared, ctx.query
    row = q.row
    names = P.schema.names
    changes = [Change(n, row[n], cf[n]) for n in names if not _same(row[n], cf[n])]
    causal_parts: dict[str, Any] = {}
    l1, l0 = _point_costs(ctx, s_cf, acted)
    if P.cspec is not None:
        graph = set(P.causal.order)
        actions = [Change(n, row[n], cf[n]) for n in names
                   if n in acted or (n not in graph and not _same(row[n], cf[n]))]
        consequences = [c for c in changes if c.feature in graph and c.feature not in acted]
        causal_parts = dict(actions=actions, consequences=consequences)
    cost = float(l1.sum()) if q.norm == "l1" else float(l0.sum())
    # Proven minimal only when this point costs what the first attempt proved: an answer
    # moved deeper into its cells, or found with a larger margin after the optimum's own
    # point failed verification, solves a stricter problem than the model's.
    optimal = (ph.status is Status.OPTIMAL and proven is not None
               and _meets(proven, q.norm, float(l1.sum()), float(l0.sum())))
    first = proven[0] if proven is not None else ph
    bound = first.bound if q.norm != "l0_l1" else first.l0_bound
    gap = 0.0 if optimal else _gap(cost, bound)
    stats = _phase_stats(ph)
    for o in ctx.options:
        stats.update(o.report(ctx, cf))
    stats.update(extra, attempts=attempt + 1)
    how = f" ({ph.certified_by})" if ph.certified_by else ""
    stricter = ph.status is Status.OPTIMAL and not optimal
    message = (
        f"Proven minimal{how} and verified with the model's own predict." if optimal else
        f"Verified with the model's own predict; not proven minimal "
        f"({'gap ' + format(gap, '.3g') if gap is not None else 'no bound'}; "
        + ("the proven optimum's own point failed the model's predict at a split "
           "boundary, and this point lies deeper inside the cells or was found with a "
           "larger margin)." if stricter else f"solver: {ph.raw})."))
    if causal_parts:
        summary = RecourseResult(status="", target=None, predicted=None, factual={},
                                 **causal_parts).causal_summary()
        message = f"{summary} {message}" if summary else message
    return RecourseResult(
        status="optimal" if optimal else "feasible", counterfactual=cf, changes=changes,
        **causal_parts, cost=cost, l1_cost=float(l1.sum()), l0=float(l0.sum()), bound=bound,
        gap=gap, optimal=optimal, verified=True, solve_time=solve_time,
        total_time=q.deadline.elapsed(), message=message,
        feature_costs={n: float(l1[j]) for j, n in enumerate(names) if l1[j] > 0},
        stats=Stats.of(stats), **base)


#: Relative slack between an answer's cost and the cost of the proven optimum's own
#: point it is held to (the same point decoded twice costs the same to rounding).
PROOF_SLACK = 1e-9


def _meets(proven: tuple[Phase, float, float], norm: str, l1: float, l0: float) -> bool:
    """Whether an answer costing ``l1`` / ``l0`` costs no more (within
    :data:`PROOF_SLACK`) than the first attempt's optimum as placed (both norms for
    ``l0_l1``)."""
    _, p1, p0 = proven

    def within(cost: float, ref: float) -> bool:
        return cost <= ref + PROOF_SLACK * max(1.0, abs(ref))
    if norm == "l1":
        return within(l1, p1)
    if norm == "l0":
        return within(l0, p0)
    return within(l0, p0) and within(l1, p1)


def _point_costs(ctx: SolveContext, s_cf: np.ndarray,
                 acted: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature L1 and L0 costs of a counterfactual (of its actions, with a causal
    model)."""
    P, q = ctx.prepared, ctx.query
    if P.cspec is None:
        return point_costs(P.spec, q.x_true, s_cf)
    mask = np.isin(np.array(P.schema.names)[P.cspec.nodes], acted)
    return causal_costs(P.spec, P.cspec, q.x_true, s_cf, mask)


def _no_answer(P: Any, q: Query, ph: Phase, base: dict[str, Any],
               solve_time: float) -> RecourseResult:
    stats = _phase_stats(ph)
    how = ph.certified_by or "the solver"
    if ph.status is Status.INFEASIBLE and q.excluded:
        names = [[P.schema.names[j] for j in S] for S in q.excluded]
        stats["excluded"] = names
        status, msg = "no_recourse", (
            f"No change allowed by the action set makes the model predict "
            f"{q.target!r} without changing all features of one of the excluded "
            f"change sets {names} (proven by {how}).")
    elif ph.status is Status.INFEASIBLE:
        from recourse.encoders.errors import cap_list

        mutable = [f.name for f in P.schema if not f.immutable]
        status, msg = "no_recourse", (
            f"No change allowed by the action set makes the model predict "
            f"{q.target!r} (proven by {how}). Mutable features: "
            f"{cap_list(mutable, 8)}; relaxing immutability, directions or bounds may "
            "open recourse.")
    elif ph.status is Status.TIME_LIMIT:
        status = "time_limit"
        msg = "The time limit was reached before any counterfactual was found."
    else:
        status, msg = "error", f"The solver failed ({ph.raw})."
    return RecourseResult(status=status, bound=ph.bound, solve_time=solve_time,
                          total_time=q.deadline.elapsed(), message=msg,
                          stats=Stats.of(stats), **base)

"""Stage 7 (on request), preclusion: *why* there is no recourse, and the smallest policy
change that would open it.

On a ``no_recourse`` answer, ``explain(..., why=True)`` asks which rules of the action set
(and which switchable options) together preclude the applicant, and reports every
*minimal* relaxation set up to a limit, each with the cheapest counterfactual it allows.

The rules
---------
One relaxation indicator ``z_r`` per rule:

* per feature: ``immutable`` (numeric, categorical or ordinal), the declared ``lower`` and
  ``upper`` bound (numeric), the direction ``increase``/``decrease`` (numeric, ordinal);
* per switchable option (the :class:`~recourse.engine.options.base.Option` ``name``):
  switched off.

Not relaxed, and why:

* integrality and the level sets of categorical/ordinal features: they say which values
  exist (a number of dependents is whole; a housing status is one of its levels), not what
  a bank allows; a "relaxation" would describe no real applicant;
* the equations of a causal model: they describe how the world responds to an action, not
  a policy; relaxing them would answer a question about another world. Under a causal
  model the rules apply as the engine applies them (immutability and directions to actions,
  bounds to values), and relaxing the immutability of a node whose immutable child would
  then follow it requires relaxing the child's too (the causal model's own consistency
  rule, ``recourse.causal``).

The relaxed range
-----------------
A relaxed rule opens the feature up to its *relaxed range*, never to an unbounded variable:
the hull of the applicant's value, the schema's finite bounds, the observed range of the
engine's ``reference`` rows (when given), and the caller's ``relaxed_range`` (a mapping
``{feature: (low, high)}``, which may only widen). A bound that its relaxed range does not
widen is not a rule (relaxing it would change nothing) and is listed in
:attr:`Preclusion.fixed`; the kinds never relaxed are listed in :attr:`Preclusion.not_relaxed`.

The problem
-----------
The model is encoded once over the *fully relaxed* schema (every rule relaxed); the
engine's own build stage makes the problem (the same encoding, every option kept that is
not being relaxed, the causal equations, the value view), and an internal option adds the
indicators and their big-M rows over the feature values ``x_j`` (``x0_j`` the applicant's
value, ``[R_lo, R_hi]`` the relaxed range, ``a_j`` the causal action binary, 1 without a
causal model)::

    lower bound  lo:    x_j >= min(lo, x0_j) - (min(lo, x0_j) - R_lo) z
    upper bound  hi:    x_j <= max(hi, x0_j) + (R_hi - max(hi, x0_j)) z
    increase-only:      x_j - x0_j >= -(x0_j - R_lo) (1 - a_j + z)
    decrease-only:      x_j - x0_j <=  (R_hi - x0_j) (1 - a_j + z)
    immutable:          |x_j - x0_j| <= (R_hi - R_lo) z        (causal node: a_j <= z)
    categorical:        1 - o_j,current <= z ;  ordinal direction: sum of levels below
                        (above) the current one <= z

Options are relaxed by enumerating the subsets of switchable options (an option's rows
are its own; the protocol has no relaxed form of them), each subset solved as above.

For each subset ``T`` of options (fewest first) the enumeration repeats: minimise
``sum z`` (``k*``); then, with ``sum z <= k*``, minimise the counterfactual's cost (the
query's norm); the indicators at 1 are a minimal set ``S`` and the point is the cheapest
counterfactual any ``k*``-set allows, hence the cheapest ``S`` allows; the no-good cut
``sum_{r in S} z_r <= |S| - 1`` forbids ``S`` and its supersets. It stops when the
problem is infeasible (proven: no further minimal set) or at ``limit`` sets.

Every set is then verified by re-running the engine (``recourse.engine.run``) on the
schema with exactly those rules relaxed: its counterfactual is checked with the model's
own ``predict`` and reported with its cost.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recourse.encoders.errors import InputValidationError, SchemaError
from recourse.engine.options.base import Option
from recourse.engine.options.requests import Exclusions
from recourse.engine.preclusion_result import Preclusion, Relaxation, Rule, _name, keys_sorted
from recourse.engine.query import Query, SolveContext
from recourse.schema import FeatureSchema
from recourse.solvers.deadline import Deadline
from recourse.solvers.status import Status
from recourse.solvers.values import Columns, append_columns

__all__ = ["Rule", "Relaxation", "Preclusion", "preclusion", "rules_of", "relaxed_schema",
           "DEFAULT_LIMIT"]

#: Minimal relaxation sets reported at most (``explain(..., why=True)``).
DEFAULT_LIMIT = 5
#: Subsets of switchable options enumerated at most (all of them for up to 3 options).
MAX_OPTION_SUBSETS = 8


def _ranges(schema: FeatureSchema, row: dict[str, Any], reference: Any,
            relaxed_range: dict[str, tuple[float, float]] | None
            ) -> dict[str, tuple[float, float]]:
    """Each numeric feature's relaxed range (module docstring)."""
    given = dict(relaxed_range or {})
    unknown = sorted(set(given) - set(schema.names))
    if unknown:
        raise InputValidationError(
            f"relaxed_range names unknown features {unknown}; known: {schema.names}.")
    ref = reference if isinstance(reference, pd.DataFrame) else None
    out = {}
    for f in schema:
        if f.is_group:
            if f.name in given:
                raise InputValidationError(
                    f"relaxed_range gives a range for {f.name!r}, a {f.kind} feature; "
                    "ranges apply to numeric features only.")
            continue
        x0 = float(row[f.name])
        vals = [x0] + [b for b in f.bounds() if math.isfinite(b)]
        if ref is not None and f.name in ref.columns and len(ref):
            col = pd.to_numeric(ref[f.name], errors="coerce").dropna()
            if len(col):
                vals += [float(col.min()), float(col.max())]
        if f.name in given:
            lo, hi = given[f.name]
            if not (math.isfinite(float(lo)) and math.isfinite(float(hi)) and lo <= hi):
                raise InputValidationError(
                    f"relaxed_range[{f.name!r}] = {given[f.name]!r}: give finite (low, high) "
                    "with low <= high.")
            vals += [float(lo), float(hi)]
        lo, hi = min(vals), max(vals)
        if f.kind == "binary":
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        if f.is_integer:
            lo, hi = float(math.floor(lo)), float(math.ceil(hi))
        out[f.name] = (lo, hi)
    return out


def rules_of(schema: FeatureSchema, ranges: dict[str, tuple[float, float]],
             options: Sequence[Option] = ()) -> tuple[list[Rule], list[str]]:
    """The relaxable rules of ``schema`` (and ``options``), and what is fixed."""
    rules: list[Rule] = []
    fixed: list[str] = []
    for f in schema:
        n = _name(f)
        if f.immutable:
            rules.append(Rule("immutable", f.name, f"{n} is immutable", f"{n} may change"))
        if f.direction != "any":
            d = "increases" if f.direction == "increase" else "decreases"
            rules.append(Rule(f.direction, f.name, f"{n} only {d}",
                              f"{n} may also {'fall' if f.direction == 'increase' else 'rise'}"))
        if f.is_group:
            continue
        lo, hi = f.bounds()
        rlo, rhi = ranges[f.name]
        if f.kind != "binary":
            if math.isfinite(lo):
                if rlo < lo:
                    rules.append(Rule("lower", f.name, f"{n} \u2265 {lo:g}",
                                      f"{n} may go down to {rlo:g}", value=lo, relaxed_to=rlo))
                else:
                    fixed.append(f"{n} \u2265 {lo:g}")
            if math.isfinite(hi):
                if rhi > hi:
                    rules.append(Rule("upper", f.name, f"{n} \u2264 {hi:g}",
                                      f"{n} may go up to {rhi:g}", value=hi, relaxed_to=rhi))
                else:
                    fixed.append(f"{n} \u2264 {hi:g}")
    for o in options:
        if o.name:
            rules.append(Rule("option", None, o.text or o.name, f"without {o.name}",
                              option=o.name))
    return rules, fixed


def relaxed_schema(schema: FeatureSchema, rules: list[Rule],
                   ranges: dict[str, tuple[float, float]]) -> FeatureSchema:
    """``schema`` with exactly ``rules`` relaxed (up to their relaxed ranges)."""
    by: dict[str, set[str]] = {}
    for r in rules:
        if r.feature is not None:
            by.setdefault(r.feature, set()).add(r.kind)
    feats = []
    for f in schema:
        kinds = by.get(f.name, set())
        if not kinds:
            feats.append(f)
            continue
        ch: dict[str, Any] = {}
        if "immutable" in kinds:
            ch["immutable"] = False
        if kinds & {"increase", "decrease"}:
            ch["direction"] = "any"
        if not f.is_group and f.kind != "binary":
            rlo, rhi = ranges[f.name]
            lo, hi = f.bounds()
            down = "lower" in kinds or (not math.isfinite(lo) and kinds & {"immutable", "increase"})
            up = "upper" in kinds or (not math.isfinite(hi) and kinds & {"immutable", "decrease"})
            if down:
                ch["lower"] = rlo
            if up:
                ch["upper"] = rhi
        feats.append(replace(f, **ch))
    return FeatureSchema(tuple(feats))


# ----------------------------------------------------------------- the indicator rows
class _Indicators(Option):
    """Adds one binary per feature rule and its big-M rows over the value view."""

    needs_values = True
    adds_rows = True

    def __init__(self, rules: list[Rule], schema: FeatureSchema, relaxed: FeatureSchema,
                 ranges: dict[str, tuple[float, float]]) -> None:
        self.rules, self.schema, self.relaxed, self.ranges = rules, schema, relaxed, ranges
        self.cols: list[int] = []

    def fresh(self) -> Option:
        return _Indicators(self.rules, self.schema, self.relaxed, self.ranges)

    def view_rows(self, ctx: SolveContext, prob: Any, view: Any) -> Any:
        space = ctx.prepared.space
        C = Columns(prob.n)
        cv = ctx.causal_vars
        act = ({int(j): int(a) for j, a in zip(cv.nodes, cv.a)} if cv is not None else {})
        zcol: dict[str, int] = {}
        for r in self.rules:
            z = C.var(0.0, 1.0, True)
            zcol[r.key] = z
            self.cols.append(z)
            assert r.feature is not None  # feature rules only (options are subsets)
            j = self.schema.names.index(r.feature)
            f = self.schema[r.feature]
            if f.is_group:
                cols = view.levels[j]
                if cols is None:
                    continue  # one level, or the model never reads it: changing it helps nothing
                cur = int(view.level0[j])
                k = len(cols)
                keep = {"immutable": [lv for lv in range(k) if lv != cur],
                        "increase": list(range(cur)),
                        "decrease": list(range(cur + 1, k))}[r.kind]
                if keep:
                    C.row({**{int(cols[lv]): 1.0 for lv in keep}, z: -1.0}, -np.inf, 0.0)
                continue
            x = int(view.x[j])
            x0 = float(ctx.query.x0[int(space.start[j])])
            lo_r, hi_r = self.relaxed[r.feature].bounds()
            lo_r, hi_r = min(lo_r, x0), max(hi_r, x0)
            lo, hi = f.bounds()
            a = act.get(j)
            if r.kind == "lower":
                b = min(lo, x0)
                C.row({x: 1.0, z: b - lo_r}, b, np.inf)
            elif r.kind == "upper":
                b = max(hi, x0)
                C.row({x: 1.0, z: -(hi_r - b)}, -np.inf, b)
            elif r.kind == "increase":
                M = x0 - lo_r
                if a is None:   # x - x0 >= -M z
                    C.row({x: 1.0, z: M}, x0, np.inf)
                else:           # x - x0 >= -M (1 - a + z)
                    C.row({x: 1.0, a: -M, z: M}, x0 - M, np.inf)
            elif r.kind == "decrease":
                M = hi_r - x0
                if a is None:
                    C.row({x: 1.0, z: -M}, -np.inf, x0)
                else:
                    C.row({x: 1.0, a: M, z: -M}, -np.inf, x0 + M)
            elif r.kind == "immutable":
                if a is not None:
                    C.row({a: 1.0, z: -1.0}, -np.inf, 0.0)
                else:
                    C.row({x: 1.0, z: -(hi_r - x0)}, -np.inf, x0)
                    C.row({x: 1.0, z: (x0 - lo_r)}, x0, np.inf)
        # causal consistency: an immutable node's immutable child follows it, so relaxing
        # the parent's immutability needs the child's relaxed too (recourse.causal's rule)
        causal = ctx.prepared.causal
        if causal is not None:
            for p, c in causal.graph.edges:
                kp, kc = f"immutable:{p}", f"immutable:{c}"
                if kp in zcol and kc in zcol:
                    C.row({zcol[kp]: 1.0, zcol[kc]: -1.0}, -np.inf, 0.0)
        return append_columns(prob, C, "preclusion")


# --------------------------------------------------------------------------- search
def _solve(prob: Any, c: np.ndarray, c0: float, rows: list[tuple[dict[int, float], float, float]],
           backend: str, options: dict[str, Any], deadline: Deadline) -> Any:
    from recourse.solvers.backends import MilpArrays, solve

    A, lo, hi = prob.A, prob.row_lo, prob.row_hi
    if rows:
        R = sp.lil_matrix((len(rows), prob.n))
        for i, (coefs, _, _) in enumerate(rows):
            for k, v in coefs.items():
                R[i, k] = v
        A = sp.vstack([A, R.tocsr()]).tocsr()
        lo = np.concatenate([lo, [r[1] for r in rows]])
        hi = np.concatenate([hi, [r[2] for r in rows]])
    p = MilpArrays(c=c, c0=c0, lb=prob.lb, ub=prob.ub, integer=prob.integer, A=A,
                   row_lo=lo, row_hi=hi)
    return solve(p, "highs" if backend == "auto" else backend, options=options,
                 deadline=deadline)


def preclusion(engine: Any, q: Query, *, limit: int = DEFAULT_LIMIT,
               relaxed_range: dict[str, tuple[float, float]] | None = None,
               time_limit: float = 60.0) -> Preclusion:
    """Every minimal relaxation set (up to ``limit``) of a query (module docstring).

    Parameters
    ----------
    engine : RecourseEngine
    q : Query
        The query that found no recourse.
    limit : int
        Sets reported at most.
    relaxed_range : dict, optional
        ``{feature: (low, high)}`` widening the relaxed range of numeric features.
    time_limit : float
        Seconds for the whole enumeration and the verifications.
    """
    from recourse.engine.prepared import prepare

    if not (isinstance(limit, int) and limit >= 1):
        raise InputValidationError(f"limit must be a positive whole number, got {limit!r}.")
    t0 = time.perf_counter()
    deadline = Deadline.after(time_limit)
    P = engine.prepared
    schema = P.schema
    ranges = _ranges(schema, q.row, P.reference, relaxed_range)
    switchable = [o for o in q.options if o.name]
    feature_rules, fixed = rules_of(schema, ranges)
    option_rules, _ = rules_of(schema, ranges, switchable)
    option_rules = option_rules[len(feature_rules):]
    kept = ["integrality and category levels (they say which values exist, not what is "
            "allowed)"]
    if P.causal is not None:
        kept.append("the causal model's equations (how the world responds, not a policy)")
    rel = relaxed_schema(schema, feature_rules, ranges)
    PR = replace(prepare(P.model, rel, reference=None, backend=P.backend,
                         backend_options=P.backend_options, margin=P.margin, bounds=P.bounds,
                         causal=P.causal, price_options=False), options=P.options)
    names = [o.name for o in switchable]
    subsets = [T for k in range(len(names) + 1) for T in itertools.combinations(names, k)]
    complete = len(subsets) <= MAX_OPTION_SUBSETS
    subsets = subsets[:MAX_OPTION_SUBSETS]
    found: list[tuple[frozenset[str], frozenset[str], np.ndarray | None, float]] = []
    norm = "l1" if q.norm == "l1" else "l0"
    for T in subsets:
        if len(found) >= limit or deadline.expired():
            complete = False
            break
        opts = [o.fresh() for o in q.options if o.name not in T]
        ind = _Indicators(feature_rules, schema, rel, ranges)
        qT = replace(q, options=tuple(o for o in q.options if o.name not in T),
                     deadline=deadline)
        sm = qT.score_margin
        exact = q.goal is None and sm is None and PR.encoding.kind in ("trees", "stack")
        margin = PR.margin if sm is None else max(PR.margin, float(np.min(sm)))
        ctx = SolveContext(prepared=PR, query=qT, options=opts + [ind], margin=margin,
                           ties=0.0 if exact else margin, use_incumbent=False)
        from recourse.engine.build import build

        prob, _ = build(ctx)
        zc = ind.cols
        keys = [r.key for r in feature_rules]
        cuts: list[tuple[dict[int, float], float, float]] = []
        for Tf, Rf, _, _ in found:  # supersets of sets found with fewer options are not minimal
            if Tf <= frozenset(T):
                if not Rf:
                    cuts.append(({}, 1.0, 1.0))  # infeasible: T already covers a found set
                else:
                    cuts.append(({zc[keys.index(k)]: 1.0 for k in Rf}, -np.inf, len(Rf) - 1))
        if any(not c[0] for c in cuts):
            continue
        count = np.zeros(prob.n)
        count[zc] = 1.0
        cost, cost0 = prob.objective(norm)
        while len(found) < limit:
            s1 = _solve(prob, count, 0.0, cuts, P.backend, P.backend_options, deadline)
            if s1.status is Status.INFEASIBLE:
                break
            if s1.status is not Status.OPTIMAL or s1.values is None:
                complete = False
                break
            k = float(np.round(s1.objective))
            s2 = _solve(prob, cost, cost0, cuts + [({z: 1.0 for z in zc}, -np.inf, k + 1e-6)],
                        P.backend, P.backend_options, deadline)
            sol = s2 if s2.values is not None else s1
            if s2.status is not Status.OPTIMAL:
                complete = False
            S = frozenset(keys[i] for i, z in enumerate(zc) if sol.values[z] > 0.5)
            mc = float(sol.objective) if sol is s2 else math.nan
            found.append((frozenset(T), S, sol.values, mc))
            if not S:
                break  # the options T alone open recourse: nothing smaller under T
            cuts.append(({zc[keys.index(kk)]: 1.0 for kk in S}, -np.inf, len(S) - 1))
        else:
            complete = False
        if len(found) >= limit:
            complete = False
    rules_by = {r.key: r for r in feature_rules + option_rules}
    sets = [_verify(engine, q, [rules_by[f"option:{o}"] for o in sorted(T)]
                    + [rules_by[k] for k in keys_sorted(S, feature_rules)],
                    ranges, mc, deadline)
            for T, S, _, mc in found]
    sets.sort(key=lambda s: (len(s.rules), math.inf if s.cost is None else s.cost))
    return Preclusion(sets=tuple(sets), complete=complete,
                      rules=tuple(feature_rules + option_rules), fixed=tuple(fixed),
                      not_relaxed=tuple(kept),
                      relaxed_range={r.feature: ranges[r.feature] for r in feature_rules
                                     if r.feature in ranges},
                      time=time.perf_counter() - t0)


def _verify(engine: Any, q: Query, rules: list[Rule], ranges: dict[str, tuple[float, float]],
            milp_cost: float, deadline: Deadline) -> Relaxation:
    """Re-run the engine on the schema with exactly ``rules`` relaxed."""
    from recourse.engine.prepared import prepare
    from recourse.engine.query import make_query
    from recourse.engine.run import run

    P = engine.prepared
    off = {r.option for r in rules if r.kind == "option"}
    try:
        S = relaxed_schema(P.schema, [r for r in rules if r.kind != "option"], ranges)
        PS = replace(prepare(P.model, S, reference=P.reference, backend=P.backend,
                             backend_options=P.backend_options, margin=P.margin,
                             bounds=P.bounds, causal=P.causal, price_options=False),
                     options=P.options)
    except SchemaError as exc:
        return Relaxation(tuple(rules), None, [], None, False, milp_cost,
                          note=f"the relaxed schema is not valid: {exc}")
    opts = tuple(o for o in q.options if not isinstance(o, Exclusions) and o.name not in off)
    names = P.schema.names
    qS = make_query(PS, q.row, target=None if q.utility is not None else q.target,
                    norm=q.norm, deadline=deadline,
                    utility=q.utility, exclude=[[names[i] for i in e] for e in q.excluded],
                    options=opts)
    res = run(PS, qS)
    if not res.has_recourse:
        return Relaxation(tuple(rules), None, [], None, False, milp_cost, result=res,
                          note=f"the engine on the relaxed rules says {res.status}")
    return Relaxation(tuple(rules), res.counterfactual, list(res.changes), res.cost,
                      bool(res.verified), milp_cost, result=res)

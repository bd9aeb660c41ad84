"""Checks of an engine answer against an oracle and against the model itself.

Everything is recomputed here from the counterfactual the engine returns: the model's
own ``predict``, the action rules and the cost (``oracles.point_cost``). The engine's
own ``verified`` flag and reported costs are checked, never trusted.
"""

from __future__ import annotations

from typing import Any

from oracles import (
    TOL_ABS,
    OracleOptimum,
    _same,
    actionability_violations,
    costs_close,
    float32_slack,
    model_predict,
    point_cost,
)

TIME_LIMIT = 20.0


def describe(model: Any, schema: Any, x: dict, target: Any, norm: str) -> str:
    acts = {f.name: ("immutable" if f.immutable else f.direction,
                     None if f.kind in ("categorical", "ordinal") else (f.lower, f.upper),
                     f.weight, round(f.scale, 6))
            for f in schema.features}
    return (f"model={model!r}\napplicant={x}\ntarget={target!r} norm={norm}\n"
            f"actions={acts}")


def check_valid_counterfactual(res: Any, model: Any, schema: Any, x: dict, target: Any,
                               ctx: str = "") -> tuple[float, float]:
    """A returned counterfactual is verified, actionable and consistently reported.
    Returns its recomputed (L1, L0)."""
    assert res.counterfactual is not None, f"status {res.status} without counterfactual\n{ctx}"
    cf = dict(res.counterfactual)
    assert set(cf) == set(schema.names), f"counterfactual keys {sorted(cf)}\n{ctx}"
    assert res.verified is True, f"status {res.status} but verified={res.verified}\n{ctx}"
    pred = model_predict(model, schema, [cf])[0]
    assert pred == target, (f"model.predict(counterfactual) = {pred!r}, target {target!r}\n"
                            f"cf={cf}\n{ctx}")
    bad = actionability_violations(schema, x, cf)
    assert not bad, f"action rules broken: {bad}\ncf={cf}\n{ctx}"
    l1, l0 = point_cost(schema, x, cf)
    assert res.l1_cost is not None and costs_close(res.l1_cost, l1), (
        f"reported l1_cost {res.l1_cost} but the counterfactual costs {l1}\ncf={cf}\n{ctx}")
    assert res.l0 is not None and costs_close(res.l0, l0, rel=1e-9, abs_=1e-9), (
        f"reported l0 {res.l0} but the counterfactual changes {l0}\ncf={cf}\n{ctx}")
    own = l1 if res.norm == "l1" else l0
    assert res.cost is not None and costs_close(res.cost, own), (
        f"reported cost {res.cost} but the counterfactual costs {own} ({res.norm})\n{ctx}")
    changed = {n for n in schema.names if not _same(x[n], cf[n])}
    listed = {c.feature for c in res.changes}
    assert listed == changed, f"changes list {sorted(listed)} vs changed {sorted(changed)}\n{ctx}"
    for c in res.changes:
        assert _same(c.before, x[c.feature]) and _same(c.after, cf[c.feature]), (c, ctx)
    return l1, l0


def check_against_oracle(res: Any, model: Any, schema: Any, x: dict, target: Any, norm: str,
                         oracle: OracleOptimum | None, *, require_optimal: bool = True,
                         ctx: str | None = None) -> None:
    """The engine's answer agrees with an exact oracle (``None``: no recourse exists)."""
    ctx = ctx if ctx is not None else describe(model, schema, x, target, norm)
    assert res.norm == norm, (res.norm, ctx)
    if oracle is None:
        assert res.status == "no_recourse", (
            f"oracle: no admissible point reaches {target!r}; engine says {res.status} "
            f"(cost {res.cost}, cf {res.counterfactual})\n{ctx}")
        assert not res.has_recourse
        return
    assert res.status != "no_recourse", (
        f"engine says no_recourse but the oracle found cost {oracle.cost} at "
        f"{oracle.point}\n{ctx}")
    allowed = ("optimal",) if require_optimal else ("optimal", "feasible")
    assert res.status in allowed, f"status {res.status}: {res.message}\n{ctx}"
    assert res.target == target, (res.target, target)
    l1, l0 = check_valid_counterfactual(res, model, schema, x, target, ctx)
    own = l1 if norm == "l1" else l0
    # a verified, actionable point can never beat the exact optimum (this also checks
    # the oracle: if it fails, the oracle missed a cheaper region)
    assert own >= oracle.cost - 1e-9 - 1e-6 * abs(oracle.cost), (
        f"engine point costs {own} < oracle optimum {oracle.cost}: oracle bug?\n"
        f"cf={res.counterfactual}\n{ctx}")
    if res.status == "optimal":
        assert res.optimal is True
        # exact optimum (float64: any value whose float32 rounding crosses the split)
        # plus the float32 placement allowance for moved continuous features
        # (docs/formulations.md, Float32 threshold handling)
        slack = float32_slack(oracle, schema, x, res.counterfactual) if norm != "l0" else 0.0
        if norm == "l1":
            assert costs_close(res.cost, oracle.cost) or (
                oracle.cost <= res.cost <= oracle.cost + slack + TOL_ABS), (
                f"engine claims optimal cost {res.cost}; exact optimum {oracle.cost} at "
                f"{oracle.point} (float32 allowance {slack:.3g})\n"
                f"engine cf={res.counterfactual}\n{ctx}")
        else:
            assert costs_close(res.cost, oracle.cost, rel=1e-9, abs_=1e-9), (
                f"engine claims optimal cost {res.cost}; exact optimum {oracle.cost} at "
                f"{oracle.point}\nengine cf={res.counterfactual}\n{ctx}")
        if norm == "l0_l1":
            assert costs_close(res.l1_cost, oracle.l1) or (
                oracle.l1 <= res.l1_cost <= oracle.l1 + slack + TOL_ABS), (
                f"l0_l1: L1 among the sparsest should be {oracle.l1}, got {res.l1_cost}\n{ctx}")
        if res.bound is not None:
            assert res.bound <= res.cost + 1e-6 + 1e-4 * abs(res.cost), (res.bound, res.cost)


def applicant_problem(model: Any, schema: Any, x: Any, norm: str = "l1",
                      target: int | None = None) -> tuple[Any, Any]:
    """The per-applicant problem as the engine builds it, and the search space: the
    model's encoding, ``x`` validated and encoded, ``target`` (default: the other class of
    a binary model, by the model's own ``predict``) with the engine's 1e-6 margin."""
    from recourse import encoders
    from recourse.solvers.problem import build_problem

    space = schema.search_space()
    enc = encoders.encode(model, space)
    x0 = space.encode(schema.validate_row(x))
    if target is None:
        target = 1 - int(model_predict(model, schema, [x])[0])
    return build_problem(enc, schema.lower(), x0, target, norm=norm, margin=1e-6), space

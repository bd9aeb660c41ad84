"""One applicant's recourse problem as a Pyomo model, for users who add their own rules.

:meth:`recourse.RecourseEngine.pyomo_model` returns a :class:`PyomoRecourse`: the whole
problem (no incumbent pruning, which would assume the user's rules allow the incumbent)
as a ``pyomo.environ.ConcreteModel``, a map from each feature to its variables, and
:meth:`PyomoRecourse.solve`, which solves the (possibly extended) model with any Pyomo
solver and decodes and verifies the answer with the model's own ``predict`` exactly as
:meth:`RecourseEngine.explain` does.

Examples
--------
>>> pm = engine.pyomo_model(applicant, target="good")               # doctest: +SKIP
>>> x = pm.value_var("duration")          # linear models: the feature's own value
>>> pm.model.my_rule = pyo.Constraint(expr=x >= 12)                  # doctest: +SKIP
>>> result = pm.solve(solver="appsi_highs")                          # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from recourse.encoders.block import GroupLink, ThresholdLink, ValueLink
from recourse.encoders.errors import InputValidationError
from recourse.engine.query import Query, SolveContext, make_query
from recourse.engine.run import _answer, _no_answer, _point_costs
from recourse.engine.solve import Phase
from recourse.result import RecourseResult
from recourse.solvers.backends import MilpArrays
from recourse.solvers.deadline import Deadline
from recourse.solvers.problem import RecourseProblem, build_problem, decode
from recourse.solvers.pyomo_backend import DEFAULT_SOLVER, solve_model, to_pyomo
from recourse.solvers.status import Status
from recourse.verify import action_violations, model_predict

if TYPE_CHECKING:
    from recourse.engine.core import RecourseEngine

__all__ = ["PyomoRecourse", "pyomo_model"]


@dataclass
class PyomoRecourse:
    """A Pyomo model of one recourse query (see module docstring).

    Attributes
    ----------
    model : pyomo.environ.ConcreteModel
        ``model.v[i]`` are the problem's variables, ``model.rows`` its rows, ``model.cost``
        the objective. Add components freely; only ``v`` is read back.
    problem : solvers.RecourseProblem
        The arrays the model was built from.
    """

    model: Any
    problem: RecourseProblem
    engine: RecourseEngine
    base: dict[str, Any]
    query: Query

    @property
    def x0(self) -> np.ndarray:
        """The applicant as a search vector (as the problem sees it)."""
        return self.query.x0

    @property
    def x_true(self) -> np.ndarray:
        """The applicant's own values as a search vector."""
        return self.query.x_true

    def feature_vars(self, name: str) -> dict[str, Any]:
        """The variables of feature ``name``, by meaning.

        Numeric features of linear models: ``{"value": v}`` (the feature in user units).
        Numeric features of tree models: ``{"x > t": z}`` per split threshold ``t`` (0/1).
        Categorical features: ``{level: o}`` (0/1, exactly one is 1).
        """
        j = self._feature(name)
        link = self.problem.enc.link_of(j)
        v = self.model.v
        if isinstance(link, ValueLink):
            return {"value": v[int(link.var)]}
        if isinstance(link, ThresholdLink):
            return {f"x > {t:.10g}": v[int(k)] for t, k in zip(link.thresholds, link.vars)}
        if isinstance(link, GroupLink):
            levels = self.engine.space.levels[j] or ()
            return {str(lv): v[int(k)] for lv, k in zip(levels, link.vars)}
        raise InputValidationError(f"Feature {name!r} does not enter the model.")

    def value_var(self, name: str) -> Any:
        """The Pyomo variable holding numeric feature ``name`` (linear models only)."""
        got = self.feature_vars(name)
        if "value" not in got:
            raise InputValidationError(
                f"Feature {name!r} enters this (tree) model through split indicators, not as "
                "a value; use feature_vars(name), e.g. to forbid crossing a threshold.")
        return got["value"]

    def _feature(self, name: str) -> int:
        names = list(self.engine.space.names)
        if name not in names:
            raise InputValidationError(f"Unknown feature {name!r}; the schema has {names}.")
        return names.index(name)

    def solve(self, *, solver: str = DEFAULT_SOLVER, time_limit: float = 60.0,
              options: dict[str, Any] | None = None) -> RecourseResult:
        """Solve the model (with the user's additions), decode, verify with ``predict``."""
        t_start = time.perf_counter()
        sol = solve_model(self.model, solver=solver, time_limit=time_limit, options=options)
        values = sol.values[: self.problem.n] if sol.values is not None else None
        ph = Phase(status=sol.status, values=values, bound=sol.bound, raw=sol.raw_status,
                   time=sol.time, problem=self.problem, backend="pyomo")
        base = dict(self.base, backend=f"pyomo:{solver}")
        eng = self.engine
        q = replace(self.query, deadline=Deadline(t_start, t_start + float(time_limit)))
        if values is None:
            return _no_answer(eng.prepared, q, ph, base, sol.time)
        row = base["factual"]
        ctx = SolveContext(prepared=eng.prepared, query=q, options=[],
                           margin=eng.margin, ties=eng.margin, use_incumbent=False)
        proven = None
        for deep in (False, True):
            s_cf = decode(self.problem, values, deep=deep)
            s_cf = np.where(s_cf == q.x0, q.x_true, s_cf)
            if not deep and sol.status is Status.OPTIMAL:  # the optimum's own point
                l1, l0 = _point_costs(ctx, s_cf, [])
                proven = (ph, float(l1.sum()), float(l0.sum()))
            cf = eng.space.decode(s_cf)
            pred = model_predict(eng.model, eng.schema, [cf])[0]
            if pred == base["target"] and not action_violations(eng.schema, row, cf):
                if sol.status is Status.INFEASIBLE:  # pragma: no cover - no values then
                    break
                return _answer(ctx, ph, base, s_cf, cf, sol.time, 0, [], {}, proven)
        return RecourseResult(
            status="error", solve_time=sol.time, total_time=time.perf_counter() - t_start,
            message="The solver's answer did not pass verification with the model's own "
            "predict (a tie within the solver's tolerance); tighten the margin of the "
            "engine (RecourseEngine(..., margin=1e-4)) and solve again.", **base)


def pyomo_model(engine: RecourseEngine, applicant: Any, *, target: Any = None,
                norm: str = "l1") -> PyomoRecourse:
    """See :meth:`recourse.RecourseEngine.pyomo_model`."""
    if norm not in ("l1", "l0"):
        raise InputValidationError(
            f"pyomo_model supports norm 'l1' or 'l0' (one objective); got {norm!r}. For "
            "'l0_l1', solve with norm='l0', then add a row fixing the L0 count and "
            "minimise L1.")
    if engine.causal is not None:
        raise InputValidationError(
            "pyomo_model does not take a causal model yet (its structural equations are "
            "added inside the engine); build the engine without causal=..., or use "
            "engine.explain(..., ) with backend='pyomo'.")
    P = engine.prepared
    inside = [o.text or o.name for o in P.options if o.adds_rows]
    if inside:
        raise InputValidationError(
            f"pyomo_model does not carry {', '.join(inside)} yet (added inside the engine "
            "through its value view); use engine.explain(...) with backend='pyomo', or an "
            "engine without these options.")
    q = make_query(P, applicant, target=target, norm=norm, deadline=Deadline.after(1.0),
                   utility=None, exclude=(), options=())
    if q.predicted == q.target:
        raise InputValidationError(
            f"The model already predicts {q.target!r} for this applicant: nothing to solve.")
    prob = build_problem(P.encoding, P.spec, q.x0, q.t_idx, norm=norm,
                         margin=P.margin, tie_margin=P.margin)
    c, c0 = prob.objective(norm)
    model = to_pyomo(MilpArrays(c, c0, prob.lb, prob.ub, prob.integer, prob.A, prob.row_lo,
                                prob.row_hi))
    base = dict(target=q.target, predicted=q.predicted, factual=q.row, norm=norm,
                backend="pyomo")
    return PyomoRecourse(model=model, problem=prob, engine=engine, base=base, query=q)

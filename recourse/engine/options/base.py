"""The one protocol every believability, robustness and request option implements.

An option is built once per model (or once per query, for what a query asks: a margin,
excluded change sets) and takes part in every stage of a query through the hooks below;
the engine calls the hooks of every active option in turn and knows no option by type.

Stages and hooks, in the order a query runs them:

``fresh()``
    A copy for one solve, when the option keeps state between its hooks (the rows it
    appended, its starting point). Stateless options return themselves. This is what
    makes one engine safe to share between threads.
``score_margin``
    A margin the target must win by (``None``: the engine's own). At most one option
    of a query sets it.
``plain_rows(ctx, prob)``
    Rows over the model's own variables (excluded change sets; seen-together pairs when
    the problem has no value view).
``needs_values`` / ``view_rows(ctx, prob, view)``
    Options that constrain feature *values* ask for the value view
    (``recourse.solvers.values``) and add their rows over it.
``start(ctx, prob, view, inc)``
    Offer a starting point (or improve the one given); ``solve_phase`` drops any that
    breaks a row of the final problem.
``snap(ctx, prob, view, values)``
    Move a solver point before it is decoded (into the cells of appended models).
``check(ctx, row, cf)``
    Violations of the option on the decoded counterfactual, by numpy on the data and
    the models themselves (never by the MILP): an answer with any is not reported.
``report(ctx, cf)``
    Statistics every answer carries (an entry of :class:`recourse.engine.stats.Stats`).
``name`` / ``text`` / ``price(request)``
    Switchable options (``name`` not empty) are priced: the same query is solved with
    the option switched off (``cost_without[name]``), and on ``no_recourse`` an option
    whose removal alone opens recourse is named as blocking it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from recourse.engine.query import SolveContext
    from recourse.solvers.problem import RecourseProblem

__all__ = ["Option"]


class Option:
    """Base class: every hook does nothing (see module docstring)."""

    #: Key in ``stats.cost_without`` and ``stats.blocking_options``; empty: not switchable
    #: (part of the model or of the request).
    name: str = ""
    #: A phrase naming the option in messages.
    text: str = ""
    #: Whether the option needs the value view (constraints on feature values).
    needs_values: bool = False
    #: Whether the option adds rows that heuristics for the plain problem do not know.
    adds_rows: bool = True
    #: Whether the option needs the change indicators of the plain problem.
    needs_indicators: bool = False
    #: A margin the target must win by, in the model's score (None: the engine's own);
    #: a tuple for a ModelSet, one per model.
    score_margin: Any = None
    #: Per-query options (what a query asks) are always priced; engine options only when
    #: the engine's ``price_options`` is on.
    per_query: bool = False
    #: Whether the option's own starting point replaces the heuristics' (they would be
    #: computed for nothing).
    replaces_start: bool = False

    def member_margins(self, margin: Any, model_margins: np.ndarray | None) -> Any:
        """The margin(s) of the model's target rows (one per member of a joint block)."""
        return margin

    def fresh(self) -> Option:
        return self

    def plain_rows(self, ctx: SolveContext, prob: RecourseProblem) -> RecourseProblem:
        return prob

    def view_rows(self, ctx: SolveContext, prob: RecourseProblem, view: Any) -> RecourseProblem:
        return prob

    def start(self, ctx: SolveContext, prob: RecourseProblem, view: Any,
              inc: np.ndarray | None) -> tuple[RecourseProblem, np.ndarray | None]:
        return prob, inc

    def snap(self, ctx: SolveContext, prob: RecourseProblem, view: Any,
             values: np.ndarray) -> np.ndarray:
        return values

    def check(self, ctx: SolveContext, row: dict[str, Any], cf: dict[str, Any]) -> list[str]:
        return []

    def report(self, ctx: SolveContext, cf: dict[str, Any]) -> dict[str, Any]:
        return {}

    def price(self, request: Any) -> Any:
        """The option's price: the optimal cost of the same query without it (None: no
        recourse without it either). ``request`` has ``engine``, ``query`` and
        ``without(names)``, which solves the query with those options switched off.
        Default: re-solve with this option removed."""
        res = request.without({self.name})
        return res.cost if res.has_recourse else None

    def opens(self, priced: Any) -> bool:
        """Whether recourse exists without the option, given :meth:`price`'s answer."""
        return priced is not None

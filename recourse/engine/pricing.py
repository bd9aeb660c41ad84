"""Stage 6, price the options: what each switchable option costs, and which ones block
recourse, both decided by solving the same query with options switched off (each
re-solve is a proof, not a guess). Generic over :class:`~recourse.engine.options.base.Option`:
an option only says how it is switched off (:meth:`Option.price`).

- On an answer: ``cost_without[name]`` for every switchable option (per-query options
  always; engine options when the engine's ``price_options`` is on).
- On ``no_recourse``: every option whose removal alone opens recourse is named
  (``blocking_option``, ``blocking_options``), else all of them together when only their
  combination blocks it.

The re-solves share the query's deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from recourse.engine.query import Query
from recourse.engine.run import run
from recourse.result import RecourseResult

__all__ = ["price", "solve_without", "PriceRequest"]


def solve_without(engine: Any, q: Query, names: set[str]) -> RecourseResult:
    """The query with the options ``names`` switched off."""
    return run(engine.prepared, q.without(names))


@dataclass(frozen=True)
class PriceRequest:
    """What :meth:`Option.price` gets: the engine, the query, and a way to re-solve."""

    engine: Any
    query: Query

    def without(self, names: set[str]) -> RecourseResult:
        return solve_without(self.engine, self.query, names)


def price(engine: Any, q: Query, res: RecourseResult) -> RecourseResult:
    switchable = [o for o in q.options if o.name]
    if not switchable or res.status not in ("optimal", "feasible", "no_recourse"):
        return res
    if res.status == "no_recourse":
        return _blocking(engine, q, res, switchable)
    t0 = time.perf_counter()
    request = PriceRequest(engine, q)
    priced = {o.name: o.price(request) for o in switchable
              if o.per_query or engine.prepared.price_options}
    if not priced:
        return res
    return replace(res, stats=res.stats.with_(
        cost_without=dict(res.stats.cost_without or {}, **priced),
        time_without=time.perf_counter() - t0))


def _blocking(engine: Any, q: Query, res: RecourseResult, opts: list[Any]) -> RecourseResult:
    priced = {o.name: o.price(PriceRequest(engine, q)) for o in opts}
    opened = [o for o in opts if o.opens(priced[o.name])]
    stats = res.stats.with_(cost_without=priced)
    if not opened and len(opts) > 1:
        r = solve_without(engine, q, {o.name for o in opts})
        if r.has_recourse and r.cost is not None:
            names = [o.name for o in opts]
            texts = " and ".join(o.text for o in opts)
            return replace(res, stats=stats.with_(
                blocking_option=names[0], blocking_options=names,
                cost_without={"all options": r.cost}), message=(
                f"{res.message} Only the options together block it: {texts}; without "
                f"all of them recourse exists (cost {r.cost:.4g})."))
    if not opened:
        return replace(res, stats=stats)
    parts = "; ".join(f"{o.text} (without it the cheapest recourse costs "
                      f"{_cost(priced[o.name])})" for o in opened)
    names = [o.name for o in opened]
    return replace(res, stats=stats.with_(blocking_option=names[0], blocking_options=names),
                   message=f"{res.message} It is blocked by {parts}.")


def _cost(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cost(c) for c in v) + "]"
    return f"{v:.4g}"

"""The seen-together rule as an option: category levels no applicant in the data has
together stay apart (formulation: ``recourse.solvers.problem.forbid_level_pairs``, over the
value view's level columns when the problem has one)."""

from __future__ import annotations

from typing import Any

from recourse.engine.options.base import Option
from recourse.solvers.problem import forbid_level_pairs
from recourse.solvers.values import forbid_level_pairs_view

__all__ = ["SeenTogetherOption"]


class SeenTogetherOption(Option):
    name = "seen_together"
    text = ("the seen-together rule (every answer would combine category levels no "
            "applicant in the data has)")

    def __init__(self, rule: Any, schema: Any) -> None:
        self.rule = rule
        self.pairs = rule.indices(schema)

    def plain_rows(self, ctx: Any, prob: Any) -> Any:
        return prob if ctx.use_values else forbid_level_pairs(prob, self.pairs)

    def view_rows(self, ctx: Any, prob: Any, view: Any) -> Any:
        return forbid_level_pairs_view(prob, view, self.pairs)

    def check(self, ctx: Any, row: dict[str, Any], cf: dict[str, Any]) -> list[str]:
        own = self.rule.pairs_in(row)
        return [f"holds {p[0]}={p[1]!r} with {p[2]}={p[3]!r}, never seen together"
                for p in self.rule.pairs_in(cf) if p not in own]


class SeenTogetherReport(Option):
    """``unseen_pairs`` on every answer, whether the rule is on or switched off."""

    adds_rows = False

    def __init__(self, rule: Any) -> None:
        self.rule = rule

    def report(self, ctx: Any, cf: dict[str, Any]) -> dict[str, Any]:
        return {"unseen_pairs": len(self.rule.pairs_in(cf))}

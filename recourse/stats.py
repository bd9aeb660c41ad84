"""What every result reports beside its answer: :class:`Stats`, typed and documented.

Audit rows, letters and the command line read these fields by attribute. Problem sizes,
reductions and backend-specific counters (which depend on the model family and the
backend) are in :attr:`Stats.problem`, a plain dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["Stats"]


@dataclass(frozen=True)
class Stats:
    """Statistics of one recourse query (None: does not apply to this query).

    Attributes
    ----------
    attempts : int
        Solve attempts (a candidate that fails verification at a tie is solved again
        with a 1000x larger margin).
    backend_used : str
        The backend that ran (None: the engine's own bounds decided).
    used_incumbent : bool
        Whether a starting point bounded the search.
    solver_status : str
        The backend's own status text.
    certified_by : str
        How an ``optimal`` or ``no_recourse`` claim was proven: ``"tree-bounds"`` /
        ``"bounds"`` (the engine's own arithmetic), ``"highs-presolve-off"``,
        ``"cpsat"``, ... (``recourse.solvers.search``).
    certificate_disagreement : object
        When two proof routes disagreed: what each said (the better verified point won).
    certify_time : float
        Seconds spent confirming a claim by a second route (0: none was needed).
    verify_time : float
        Seconds in the model's own ``predict`` for verification.
    excluded : list of list of str
        The excluded change sets of the query.
    outside_bounds : list of str
        Numeric features whose value the applicant gave lies outside the action set's
        bounds (accepted as a starting point, see ``FeatureSchema.validate_row``; an answer
        may keep such a value, and the message says so).
    cost_without : dict
        ``{option: optimal cost without it}`` (None: no recourse without it either); for
        a ModelSet a list, one cost per model alone.
    time_without : float
        Seconds spent pricing the options.
    blocking_option, blocking_options : str, list of str
        On ``no_recourse``: the option(s) whose removal opens recourse.
    unseen_pairs : int
        Category-level pairs in the counterfactual that no applicant in the data has.
    support, support_distance, supported, support_k, support_radius, support_enforced
        Data support of the counterfactual (``recourse.support.DataSupport.measure``).
    plausibility_score, plausibility_min_score : float
        The isolation forest's ``score_samples`` of the answer, and its outlier level.
    min_margin, margin, margin_units
        Robust recourse: the margin asked for, the margin the model's own scores give
        the answer (a list per model for a ModelSet), and their units.
    box_time, box_error
        The certified box's seconds, or why there is none.
    score, threshold, counterfactual_score : float
        Utility queries: the applicant's score, the score to reach, the answer's score.
    problem : dict
        Problem sizes, reductions and backend counters (``n_vars``, ``n_binaries``,
        ``reduced_vars``, ``highs_*``, ``cpsat_row_error``, ``support_cut``, ...).
    """

    attempts: int | None = None
    backend_used: str | None = None
    used_incumbent: bool | None = None
    solver_status: str | None = None
    certified_by: str | None = None
    certificate_disagreement: Any = None
    certify_time: float | None = None
    verify_time: float | None = None
    excluded: list[list[str]] | None = None
    outside_bounds: list[str] | None = None
    cost_without: dict[str, Any] | None = None
    time_without: float | None = None
    blocking_option: str | None = None
    blocking_options: list[str] | None = None
    unseen_pairs: int | None = None
    support: int | None = None
    support_distance: float | None = None
    supported: bool | None = None
    support_k: int | None = None
    support_radius: float | None = None
    support_enforced: bool | None = None
    plausibility_score: float | None = None
    plausibility_min_score: float | None = None
    min_margin: float | None = None
    margin: Any = None
    margin_units: Any = None
    box_time: float | None = None
    box_error: str | None = None
    score: float | None = None
    threshold: float | None = None
    counterfactual_score: float | None = None
    problem: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, values: dict[str, Any] | Stats | None = None, **more: Any) -> Stats:
        """From a dict: known names become fields, every other entry goes to ``problem``."""
        if isinstance(values, Stats):
            return values.with_(**more) if more else values
        known = {f.name for f in fields(cls)} - {"problem"}
        merged = dict(values or {}, **more)
        problem = dict(merged.pop("problem", {}) or {})
        problem.update({k: v for k, v in merged.items() if k not in known})
        return cls(problem=problem, **{k: v for k, v in merged.items() if k in known})

    def with_(self, **values: Any) -> Stats:
        """A copy with some fields set (unknown names go to ``problem``)."""
        known = {f.name for f in fields(self)} - {"problem"}
        extra = {k: v for k, v in values.items() if k not in known}
        out = replace(self, **{k: v for k, v in values.items() if k in known})
        return replace(out, problem=dict(out.problem, **extra)) if extra else out

    def to_dict(self) -> dict[str, Any]:
        """Plain data: every field that applies, and the problem's counters."""
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "problem"}
        out["problem"] = dict(self.problem)
        return out

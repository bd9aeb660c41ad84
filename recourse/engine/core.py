"""The engine: a model prepared once, queries run through the pipeline.

:class:`RecourseEngine` holds only what is built once per model (``recourse.engine.prepared``)
and the engine-level options; each call builds a frozen query and runs it through the
stages of ``recourse.engine.run``, so one engine can serve many threads at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from recourse.encoders.errors import InputValidationError, SchemaError
from recourse.encoders.isolation import PlausibleModel
from recourse.engine.boxes import attach_box
from recourse.engine.options.base import Option
from recourse.engine.options.models import ModelsOption, PlausibilityReport
from recourse.engine.options.requests import MinMargin
from recourse.engine.options.seen import SeenTogetherOption, SeenTogetherReport
from recourse.engine.prepared import Prepared, prepare
from recourse.engine.pricing import price
from recourse.engine.query import make_query
from recourse.engine.run import run
from recourse.result import RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema
from recourse.solvers.deadline import Deadline, check_time_limit
from recourse.solvers.tighten import METHODS as BOUND_METHODS

__all__ = ["RecourseEngine", "BACKENDS", "DEFAULT_MARGIN"]

BACKENDS = ("highs", "cpsat", "pyomo", "race", "auto")
#: Margin by which the target class must win (decision function or summed tree
#: probabilities); keeps answers clear of the solver's feasibility tolerances
#: (``recourse.solvers.highs.FEASIBILITY_TOL`` = 1e-7): a margin equal to the tolerance let a
#: tie that sklearn breaks against the target pass as a win.
DEFAULT_MARGIN = 1e-6


class RecourseEngine:
    """Encode a model once; explain many applicants (safe to share between threads).

    Parameters
    ----------
    model : fitted sklearn estimator or Pipeline
        See ``recourse.encoders.supported_models()``; Pipelines may hold affine
        preprocessing (one-hot, ordinal, scalers, passthrough).
    schema : FeatureSchema
        The applicant's columns and the action set.
    reference : DataFrame, optional
        Known rows (e.g. the training data); rows the model assigns to the target class
        give a first solution at once. Never changes the answer, only the time.
    backend : {"auto", "highs", "cpsat", "pyomo", "race"}
        Solver backend (``recourse.solvers.backends``). ``"auto"`` (the default) solves
        each problem with HiGHS, and pure-integer problems of at least
        ``AUTO_CPSAT_MIN_VARS`` variables after pruning (large tree ensembles) with
        CP-SAT, which proved credit_data's hard forest queries 1.4-7x faster.
    backend_options : dict, optional
        Options of the backend, e.g. ``{"solver": "gurobi"}`` for ``"pyomo"``.
    margin : float
        Margin by which the target class must win (see ``DEFAULT_MARGIN``).
    bounds : {"lp", "interval"}
        ReLU networks only: how the big-M bounds are tightened for each applicant.
    causal : CausalModel, optional
        Recourse as interventions on this causal model (``recourse.causal``).
    seen_together : SeenTogether, optional
        Category combinations no applicant in the data has are forbidden
        (``recourse.seen``); every result reports ``stats.unseen_pairs``.
    plausibility : fitted IsolationForest, optional
        Report only: every answer's ``score_samples`` under it. To require plausibility,
        wrap the model in ``PlausibleModel(model, iforest)``.
    support : DataSupport, optional
        The answer must lie near observed rows (``recourse.support``).
    price_options : bool
        Re-solve every answer with each engine option switched off and report those
        costs in ``stats.cost_without``.
    options : iterable of Option, optional
        Your own options (``recourse.engine.options.base.Option``): rows over the model's
        variables or over feature values, starting points, checks and statistics.
    """

    def __init__(self, model: Any, schema: FeatureSchema, *, reference: Any = None,
                 backend: str = "auto", margin: float = DEFAULT_MARGIN,
                 bounds: str = "lp", causal: Any = None,
                 backend_options: dict[str, Any] | None = None,
                 seen_together: Any = None, plausibility: Any = None,
                 price_options: bool = True, support: Any = None,
                 options: Iterable[Option] = ()) -> None:
        _check_params(schema, backend, bounds, seen_together, plausibility, support, options)
        P = prepare(model, schema, reference=reference, backend=backend,
                    backend_options=dict(backend_options or {}), margin=margin,
                    bounds=bounds, causal=causal, price_options=price_options)
        opts: list[Option] = []
        if seen_together is not None:
            opts.append(SeenTogetherReport(seen_together))
            if seen_together.indices(schema):
                opts.append(SeenTogetherOption(seen_together, schema))
        if P.encoding.info.get("option"):  # ModelSet / PlausibleModel
            opts.append(ModelsOption(P))
        if support is not None:
            from recourse.engine.options.support import SupportReport, SupportRows

            support.lower(schema)  # same schema, or a clear error
            opts += ([SupportRows(support, schema)] if support.enforce else [])
            opts.append(SupportReport(support, schema))
        if isinstance(model, PlausibleModel):  # the forest's own score, always shown
            opts.append(PlausibilityReport(model, schema, own=True))
        elif plausibility is not None:
            opts.append(PlausibilityReport(plausibility, schema, own=False))
        self.prepared: Prepared = replace(P, options=tuple(opts) + tuple(options))
        self.seen_together, self.support, self.plausibility = seen_together, support, plausibility

    # the prepared model, read-only
    model = property(lambda self: self.prepared.model)
    schema = property(lambda self: self.prepared.schema)
    space = property(lambda self: self.prepared.space)
    spec = property(lambda self: self.prepared.spec)
    encoding = property(lambda self: self.prepared.encoding)
    classes = property(lambda self: self.prepared.classes)
    backend = property(lambda self: self.prepared.backend)
    backend_options = property(lambda self: dict(self.prepared.backend_options))
    margin = property(lambda self: self.prepared.margin)
    bounds = property(lambda self: self.prepared.bounds)
    causal = property(lambda self: self.prepared.causal)
    encode_time = property(lambda self: self.prepared.encode_time)

    def explain(self, applicant: Any, *, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0, utility: Any = None,
                exclude: Iterable[Iterable[str]] = (), min_margin: float | None = None,
                box: bool = False, why: bool | int = False,
                relaxed_range: dict[str, tuple[float, float]] | None = None) -> RecourseResult:
        """Find the minimal verified recourse for one applicant.

        Parameters
        ----------
        applicant : Series, mapping, one-row DataFrame or 1-D sequence (schema order)
        target : class label, optional
            The class to reach. Default for a binary model: the class not predicted now.
        norm : {"l1", "l0", "l0_l1"}
            Weighted L1 cost, weighted number of changed features, or fewest changes with
            the L1 cost as tie-break.
        time_limit : float
            Seconds for the whole query, every stage (a positive, finite number); when it
            runs out the best verified answer is returned as ``feasible`` with its gap, or
            ``time_limit`` when there is none.
        utility : Utility, optional
            Instead of a class: a condition on the model's score (``recourse.utility``).
        exclude : iterable of sets of feature names
            Change sets the answer must not repeat (neither ``S`` nor a superset).
        min_margin : float, optional
            Robust recourse: the target must win by at least this much in the model's own
            units; ``stats.cost_without["min_margin"]`` shows what it costs.
        box : bool
            Attach the certified box around the answer (``result.box``).
        why : bool or int
            On ``no_recourse``, find why: every minimal set of action-set rules and options
            whose relaxation opens recourse, each with its cheapest verified counterfactual
            (``result.preclusion``, ``recourse.engine.preclusion``); an int is the number
            of sets reported at most (``True``: 5). Off by default: it solves one MILP
            per set and re-runs the engine on each relaxed schema. It shares
            ``time_limit`` with the query.
        relaxed_range : dict, optional
            With ``why``: ``{feature: (low, high)}`` widening how far a relaxed rule
            opens a numeric feature (default: the hull of its bounds, the applicant's
            value and the ``reference`` rows' observed range).

        Returns
        -------
        RecourseResult

        Raises
        ------
        InputValidationError
            Bad applicant, norm, target, exclusions or time limit (also a ``ValueError``).
        """
        return self._explain(applicant, target=target, norm=norm, time_limit=time_limit,
                             utility=utility, exclude=exclude, min_margin=min_margin,
                             box=box, why=why, relaxed_range=relaxed_range)

    def explain_many(self, applicants: Iterable[Any], *, errors: str = "raise",
                     **kw: Any) -> list[Any]:
        """:meth:`explain` for each applicant, verified by one call of the model's own
        ``predict`` for them all (``recourse.engine.batch``: the same answers, each
        checked by the model; a query the model disagrees with is run again on its own).

        ``kw`` are :meth:`explain`'s keywords, the same for every applicant;
        ``time_limit`` is per applicant. ``errors="return"`` puts an applicant's
        exception (say, an ``InputValidationError`` naming a bad value) in its place in
        the list instead of raising it.
        """
        from recourse.engine.batch import explain_many

        return explain_many(self, applicants, errors=errors, **kw)

    def _explain(self, applicant: Any, *, target: Any = None, norm: str = "l1",
                 time_limit: float = 60.0, utility: Any = None,
                 exclude: Iterable[Iterable[str]] = (), min_margin: float | None = None,
                 box: bool = False, why: bool | int = False,
                 relaxed_range: dict[str, tuple[float, float]] | None = None,
                 check: Any = None) -> RecourseResult:
        """:meth:`explain`, with the candidate check ``check`` (``recourse.engine.run``)."""
        deadline = Deadline.after(check_time_limit(time_limit))
        self.prepared.check_fresh()
        if not (isinstance(why, bool) or (isinstance(why, int) and why >= 1)):
            raise InputValidationError(
                f"why must be True, False or a positive whole number (the most relaxation "
                f"sets to report), got {why!r}.")
        per_query = (MinMargin(self, min_margin),) if min_margin is not None else ()
        q = make_query(self.prepared, applicant, target=target, norm=norm, deadline=deadline,
                       utility=utility, exclude=exclude,
                       options=self.prepared.options + per_query)
        res = price(self, q, run(self.prepared, q, check))
        if why is not False and why is not None and res.status == "no_recourse":
            from recourse.engine.preclusion import DEFAULT_LIMIT, preclusion

            limit = DEFAULT_LIMIT if why is True else why
            res = replace(res, preclusion=preclusion(
                self, q, limit=limit, relaxed_range=relaxed_range,
                time_limit=deadline.remaining()))
        return attach_box(self, res, deadline.remaining()) if box else res

    def options(self, applicant: Any, *, k: int = 3, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0, exclude: Iterable[Iterable[str]] = (),
                min_margin: float | None = None, box: bool = False) -> RecourseOptions:
        """Up to ``k`` genuinely different verified options, cheapest first (see
        ``recourse.engine.alternatives.distinct_options``); ``time_limit`` is per option."""
        from recourse.engine.alternatives import distinct_options

        return distinct_options(self, applicant, k=k, target=target, norm=norm,
                                time_limit=time_limit, exclude=exclude,
                                min_margin=min_margin, box=box)

    def pyomo_model(self, applicant: Any, *, target: Any = None, norm: str = "l1") -> Any:
        """One applicant's problem as a Pyomo model to extend with your own constraints
        (``recourse.engine.custom.PyomoRecourse``; needs the ``pyomo`` extra)."""
        from recourse.engine.custom import pyomo_model

        return pyomo_model(self, applicant, target=target, norm=norm)


def _check_params(schema: Any, backend: str, bounds: str, seen_together: Any,
                  plausibility: Any, support: Any, options: Iterable[Option]) -> None:
    if not isinstance(schema, FeatureSchema):
        raise SchemaError(
            f"schema must be a FeatureSchema, got {type(schema).__name__}; build one with "
            "FeatureSchema.from_frame(X_train, ...) or FeatureSchema.from_yaml(path).")
    if backend not in BACKENDS:
        raise InputValidationError(
            f"The 'backend' parameter must be one of {BACKENDS}. Got {backend!r} instead.")
    if bounds not in BOUND_METHODS:
        raise InputValidationError(
            f"The 'bounds' parameter must be one of {BOUND_METHODS}. Got {bounds!r} instead.")
    from recourse.seen import SeenTogether
    from recourse.support import DataSupport

    if seen_together is not None and not isinstance(seen_together, SeenTogether):
        raise SchemaError(
            f"seen_together must be a recourse.SeenTogether (SeenTogether.fit(X_train, "
            f"schema)), got {type(seen_together).__name__}.")
    if plausibility is not None:
        est = plausibility[-1] if hasattr(plausibility, "steps") else plausibility
        if type(est).__name__ != "IsolationForest" or not hasattr(est, "offset_"):
            raise SchemaError(
                "plausibility must be a fitted sklearn IsolationForest (bare or as the "
                f"last step of a Pipeline), got {type(est).__name__}; fit one on the "
                "training data, e.g. IsolationForest(random_state=0).fit(X_train).")
    if support is not None and not isinstance(support, DataSupport):
        raise InputValidationError(
            f"support must be a recourse.DataSupport (DataSupport.fit(X_approved, schema) "
            f"or DataSupport.from_model(X, model, schema, target=...)), got "
            f"{type(support).__name__}.")
    bad = [o for o in options if not isinstance(o, Option)]
    if bad:
        raise InputValidationError(
            f"options must be recourse.engine.Option instances, got "
            f"{type(bad[0]).__name__}; subclass Option and override its hooks.")

"""The one orchestration point: validate -> encode -> problem -> solve -> decode -> verify.

:class:`RecourseEngine` encodes a model once and explains many applicants;
:func:`find_recourse` is the one-call form (it keeps a small cache of engines, so calling it
in a loop over applicants of one model does not re-encode the model).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recourse import encoders
from recourse.encoders.block import ThresholdLink, ValueLink
from recourse.encoders.errors import InputValidationError, SchemaError, cap_list, name_mismatch
from recourse.encoders.isolation import IMPLAUSIBLE, PlausibleModel
from recourse.encoders.multi import DISAGREE, ModelSet, MultiEncodedModel, StackEncodedModel
from recourse.encoders.pipeline import model_inputs
from recourse.causal import CausalModel
from recourse.result import Change, RecourseOptions, RecourseResult
from recourse.schema import FeatureSchema
from recourse.seen import SeenTogether
from recourse.support import attach_support, support_stats, support_violations
from recourse.utility import Utility, explain_utility
from recourse.verify import action_violations, model_input, model_predict
from recourse.solvers.causal import (
    add_causal,
    causal_costs,
    causal_incumbent,
    causal_point,
    neutral_spec,
)
from recourse.solvers.incumbent import find_incumbent, lp_rounding
from recourse.solvers.problem import (
    build_problem,
    decode,
    exclude_change_sets,
    forbid_level_pairs,
    point_costs,
)
from recourse.solvers.search import satisfies, solve_phase
from recourse.solvers.stack import StackBlocks
from recourse.solvers.status import Status
from recourse.solvers.tighten import METHODS as BOUND_METHODS
from recourse.solvers.tighten import complete, relu_incumbent, tighten_relu
from recourse.solvers.values import (
    ValueView,
    add_values,
    fill_values,
    forbid_level_pairs_view,
    value_point,
    value_spec,
)

__all__ = ["RecourseEngine", "find_recourse", "NORMS", "BACKENDS"]

NORMS = ("l1", "l0", "l0_l1")
BACKENDS = ("highs", "cpsat", "pyomo", "auto")
#: Margin by which the target class must win (decision function or summed tree
#: probabilities); keeps answers clear of the solver's feasibility tolerances
#: (``recourse.solvers.highs.FEASIBILITY_TOL`` = 1e-7): a margin equal to the tolerance let a tie that
#: sklearn breaks against the target pass as a win.
DEFAULT_MARGIN = 1e-6


class RecourseEngine:
    """Encode a model once; explain many applicants.

    Parameters
    ----------
    model : fitted sklearn estimator or Pipeline
        See ``recourse.encoders.supported_models()``; Pipelines may hold affine preprocessing
        (one-hot, ordinal, scalers, passthrough).
    schema : FeatureSchema
        The applicant's columns and the action set.
    reference : DataFrame, optional
        Known rows (e.g. the training data). Rows the model assigns to the target class
        give a first solution at once, which lets the solver discard every move that
        costs more before it starts. Never changes the answer, only the time.
    backend : {"highs", "cpsat", "pyomo", "auto"}
        Solver backend (``recourse.solvers.backends``): HiGHS; OR-Tools CP-SAT (tree ensembles only);
        a Pyomo model solved by any Pyomo solver; or ``"auto"``, the fastest measured one
        per problem (``recourse.solvers.backends.AUTO_RULE``).
    backend_options : dict, optional
        Options of the backend, e.g. ``{"solver": "gurobi"}`` for ``"pyomo"``,
        ``{"num_workers": 2}`` for ``"cpsat"``; for ``"auto"``, one dict per backend name.
    margin : float
        Margin by which the target class must win (see ``DEFAULT_MARGIN``).
    bounds : {"lp", "interval"}
        ReLU networks only: how the big-M bounds are tightened for each applicant, over
        the box the applicant can reach (interval arithmetic, then LPs with ``"lp"``).
    seen_together : SeenTogether, optional
        Category combinations the answer may not hold because no applicant in the data
        has them (``recourse.seen``); each result reports ``stats["unseen_pairs"]``.
    plausibility : fitted IsolationForest (bare or in a Pipeline on the schema's columns), optional
        Report only: every answer's ``score_samples`` under it goes to
        ``stats["plausibility_score"]`` (higher is more typical; sklearn calls a row an
        outlier below its ``offset_``, reported as ``stats["plausibility_min_score"]``),
        whether or not plausibility is required. To require it, wrap the model in
        ``PlausibleModel(model, iforest)``, whose own forest is then reported.
    support : DataSupport, optional
        The answer must lie within a radius of at least ``k`` observed rows (or of their
        hull), see ``recourse.support``; every result reports ``stats["support"]`` and
        ``stats["support_distance"]`` (also with ``DataSupport(..., enforce=False)``).
    price_options : bool
        Show what each believability option costs: every answer also re-solves with each
        of the engine's options switched off in turn (``seen_together``, data support,
        ...) and reports those optimal costs in ``stats["cost_without"]`` (None: no
        recourse without the option either). ``False`` skips the extra solves.
    causal : CausalModel, optional
        Recourse as interventions on this causal model (``recourse.causal``): only
        actions cost, every other graph node follows its structural equation. The
        result lists ``actions`` and ``consequences`` separately.

    Examples
    --------
    >>> engine = RecourseEngine(model, schema, reference=X_train)   # doctest: +SKIP
    >>> engine.explain(X_test.iloc[0], target="good").changes        # doctest: +SKIP
    """

    def __init__(self, model: Any, schema: FeatureSchema, *, reference: Any = None,
                 backend: str = "highs", margin: float = DEFAULT_MARGIN,
                 bounds: str = "lp", causal: CausalModel | None = None,
                 backend_options: dict[str, Any] | None = None,
                 seen_together: SeenTogether | None = None,
                 plausibility: Any = None, price_options: bool = True,
                 support: Any = None) -> None:
        if not isinstance(schema, FeatureSchema):
            raise SchemaError(
                f"schema must be a FeatureSchema, got {type(schema).__name__}; build one with "
                "FeatureSchema.from_frame(X_train, ...) or FeatureSchema.from_yaml(path)."
            )
        if backend not in BACKENDS:
            raise InputValidationError(
                f"The 'backend' parameter must be one of {BACKENDS}. Got {backend!r} instead.")
        if bounds not in BOUND_METHODS:
            raise InputValidationError(
                f"The 'bounds' parameter must be one of {BOUND_METHODS}. Got {bounds!r} instead.")
        _check_columns(model, schema)
        self.bounds = bounds
        self.model = model
        self.schema = schema
        self.backend = backend
        self.backend_options = dict(backend_options or {})
        self.margin = float(margin)
        self.space = schema.search_space()
        self.spec = schema.lower()
        self.causal = causal
        if seen_together is not None and not isinstance(seen_together, SeenTogether):
            raise SchemaError(
                f"seen_together must be a recourse.SeenTogether (SeenTogether.fit(X_train, "
                f"schema)), got {type(seen_together).__name__}.")
        self.seen_together = seen_together
        if plausibility is not None:
            est = plausibility[-1] if hasattr(plausibility, "steps") else plausibility
            if type(est).__name__ != "IsolationForest" or not hasattr(est, "offset_"):
                raise SchemaError(
                    "plausibility must be a fitted sklearn IsolationForest (bare or as the "
                    f"last step of a Pipeline), got {type(est).__name__}; fit one on the "
                    "training data, e.g. IsolationForest(random_state=0).fit(X_train).")
        self.plausibility = plausibility
        self.price_options = bool(price_options)
        self._pairs = seen_together.indices(schema) if seen_together is not None else []
        self._cspec = None
        if causal is not None:
            if not isinstance(causal, CausalModel):
                raise SchemaError(f"causal must be a CausalModel, got {type(causal).__name__}.")
            self._cspec = causal.lower(schema)
            self._nspec = neutral_spec(self.spec, self._cspec)
        t0 = time.perf_counter()
        self.encoding = encoders.encode(model, self.space)
        self.encode_time = time.perf_counter() - t0
        self.classes = list(self.encoding.classes)
        self._value_vars = np.zeros(self.space.n_vars, dtype=bool)
        for link in self.encoding.links:
            if isinstance(link, ValueLink):
                self._value_vars[int(self.space.start[link.feature])] = True
        self._ref, self._ref_pred = self._reference(reference)
        self._reference_rows = reference  # for each model alone (_without_option)
        #: Constraints on feature values (data support, other models' blocks): each has
        #: ``add(engine, prob, view, x0, t_idx) -> RecourseProblem`` and is added to every
        #: problem through the value view (``recourse.solvers.values``), which they all share.
        self._value_constraints: list[Any] = []
        self._force_values = False  # tests: the value view without any constraint
        # ModelSet / PlausibleModel of mixed types: members appended through the view
        self._stack = (StackBlocks(self.encoding, bounds=bounds)
                       if isinstance(self.encoding, StackEncodedModel) else None)
        if self._stack is not None:
            self._value_constraints.append(self._stack)
            self._stack.reference, self._stack.reference_pred = self._ref, self._ref_pred
        self._model_margins: np.ndarray | None = None  # min_margin per ModelSet member
        self._plain: list[RecourseEngine] | None = None  # each option's plain engines
        self._time_limit = 60.0
        self.support: Any = None
        attach_support(self, support)  # recourse.support: DataSupport rows, if given

    @property
    def _use_values(self) -> bool:
        return self._force_values or bool(self._value_constraints)

    # ---------------------------------------------------------------- public
    def explain(self, applicant: Any, *, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0, utility: Utility | None = None,
                exclude: Iterable[Iterable[str]] = (), min_margin: float | None = None,
                box: bool = False, _score_margin: Any = None) -> RecourseResult:
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
            Seconds for the whole query (both phases of ``l0_l1`` and any re-solve);
            when it runs out the best verified answer is returned as ``feasible`` with
            its gap, or ``time_limit`` when there is none.
        utility : Utility, optional
            Instead of a class: a condition on the model's score (regressors, binary
            classifiers), e.g. ``Utility.increase(5000)``; see ``recourse.utility``.
        exclude : iterable of sets of feature names
            Change sets the answer must not repeat: for each set ``S``, the answer leaves
            at least one feature of ``S`` unchanged, so it is neither ``S`` nor a superset
            of it (see ``recourse.solvers.problem.exclude_change_sets``). ``optimal`` then means
            optimal among the answers that avoid these sets, and ``no_recourse`` that no
            such answer exists. Used by :meth:`options`.
        min_margin : float, optional
            Robust recourse: the target class must win by at least this much, in
            probability for forests and trees (``predict_proba``), else in the decision
            function (linear models, boosting margins, MLP logits); checked with the
            model's own scores; for a ModelSet, every model in its own units. The
            result's ``stats`` give the margin reached and the cost without the option
            (see ``recourse.robust.explain_with_margin``).
        box : bool
            After a verified answer, attach the certified box around it
            (``result.box``, see ``recourse.robust.certified_box``; with ``min_margin``
            the box certifies that margin too). When the model or a causal engine does
            not support boxes, ``box`` stays None and ``stats["box_error"]`` says why; the
            answer itself never fails because of the box.

        Returns
        -------
        RecourseResult
            ``status`` says whether the answer is proven optimal, a feasible answer with a
            gap, a proof that no recourse exists, or a time limit; ``verified`` says the
            model's own ``predict`` gives the target on the counterfactual.

        Raises
        ------
        InputValidationError
            The applicant has NaN/inf, wrong columns, unknown categories; or the norm or
            target class is unknown (also a ``ValueError``).
        """
        if box:
            res = self.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                               utility=utility, exclude=exclude, min_margin=min_margin)
            return self._with_box(res)
        if min_margin is not None:
            from recourse.robust import explain_with_margin

            return explain_with_margin(self, applicant, min_margin, target=target, norm=norm,
                                       time_limit=time_limit, utility=utility,
                                       exclude=exclude)
        kw = dict(target=target, norm=norm, time_limit=time_limit, utility=utility,
                  exclude=exclude, _score_margin=_score_margin)
        res = self._explain(applicant, **kw)
        if res.status == "no_recourse" and self._active_options():
            return self._name_blocking(res, applicant, kw)
        if not self.price_options or not res.has_recourse:
            return res
        priced: dict[str, Any] = {}
        for name in self._active_options():
            with self._without(name):
                plain = self._explain(applicant, **kw)
            priced[name] = plain.cost if plain.has_recourse else None
        alone = _without_option(self, res.factual, res.target, res.norm,
                                res.stats.get("excluded", []))  # ModelSet, PlausibleModel
        if alone:
            priced.update(alone["cost_without"])
            res.stats["time_without"] = alone["time_without"]
        if priced:
            res.stats["cost_without"] = dict(res.stats.get("cost_without", {}), **priced)
        return res

    def _active_options(self) -> list[str]:
        """Names of the engine's believability options that can be switched off for one
        query (to price them): ``seen_together`` and each value constraint's ``name``."""
        names = ["seen_together"] if self._pairs else []
        return names + [getattr(c, "name", type(c).__name__) for c in self._value_constraints
                        if c is not self._stack]  # the stack is the model, no option

    def _option_text(self, name: str) -> str:
        if name == "seen_together":
            return ("the seen-together rule (every answer would combine category levels no "
                    "applicant in the data has)")
        for c in self._value_constraints:
            if getattr(c, "name", type(c).__name__) == name:
                return str(getattr(c, "text", name))
        return name

    def _name_blocking(self, res: RecourseResult, applicant: Any,
                       kw: dict[str, Any]) -> RecourseResult:
        """A ``no_recourse`` answer with the options that block it named: each option
        whose removal alone opens recourse, else all of them together when only their
        combination blocks it (each re-solve is a proof, not a guess)."""
        active = self._active_options()
        opened: dict[str, float] = {}
        for name in active:
            with self._without(name):
                r = self._explain(applicant, **kw)
            if r.has_recourse and r.cost is not None:
                opened[name] = r.cost
        if not opened and len(active) > 1:
            with self._without(*active):
                r = self._explain(applicant, **kw)
            if r.has_recourse and r.cost is not None:
                texts = " and ".join(self._option_text(n) for n in active)
                return replace(res, stats=dict(
                    res.stats, blocking_option=active[0], blocking_options=active,
                    cost_without={"all options": r.cost}), message=(
                    f"{res.message} Only the options together block it: {texts}; without "
                    f"all of them recourse exists (cost {r.cost:.4g})."))
        if not opened:
            return res
        names = list(opened)
        parts = "; ".join(f"{self._option_text(n)} (without it the cheapest recourse costs "
                          f"{opened[n]:.4g})" for n in names)
        return replace(res, stats=dict(res.stats, blocking_option=names[0],
                                       blocking_options=names, cost_without=opened),
                       message=f"{res.message} It is blocked by {parts}.")

    @contextmanager
    def _without(self, *names: str) -> Iterator[None]:
        """The engine with the options ``names`` switched off, inside the ``with`` block."""
        pairs, rule, cons = self._pairs, self.seen_together, list(self._value_constraints)
        if "seen_together" in names:
            self._pairs, self.seen_together = [], None
        self._value_constraints = [c for c in cons
                                   if getattr(c, "name", type(c).__name__) not in names]
        try:
            yield
        finally:
            self._pairs, self.seen_together, self._value_constraints = pairs, rule, cons

    def _explain(self, applicant: Any, *, target: Any, norm: str, time_limit: float,
                 utility: Utility | None, exclude: Iterable[Iterable[str]],
                 _score_margin: float | None) -> RecourseResult:
        """:meth:`explain` with every option of the engine as it is (no pricing)."""
        t_start = time.perf_counter()
        if norm not in NORMS:
            raise InputValidationError(
                f"The 'norm' parameter must be one of {NORMS}. Got {norm!r} instead.")
        if utility is not None:
            if target is not None:
                raise InputValidationError("Give either target= (a class) or utility=, not both.")
            if self.causal is not None:
                raise InputValidationError(
                    "utility= cannot be combined with a causal model yet; name the class to "
                    "reach with target=..., or build the engine without causal=.")
            if any(True for _ in exclude):
                raise InputValidationError(
                    "exclude= cannot be combined with utility= yet; ask for options with a "
                    "target class, or drop exclude=.")
            if self.support is not None and self.support.enforce:
                raise InputValidationError(
                    "utility= cannot be combined with enforced data support yet; name the "
                    "class to reach with target=..., or use DataSupport(..., enforce=False).")
            return explain_utility(self, applicant, utility, norm=norm, time_limit=time_limit)
        if self.encoding.decision == "score":
            raise InputValidationError(
                "The model is a regressor: say what the prediction must reach with utility="
                "Utility.reach(tau), Utility.increase(tau) or Utility.relative_increase(p).")
        excluded = self._exclusions(exclude)
        row = self.schema.validate_row(applicant)
        x_true = self.space.encode(row)
        x0 = self._resolve_boundaries(x_true, row)
        # The encoding's own forward pass (exact for trees, see tests) spares one call of
        # the model's predict; the model itself confirms it below, together with the
        # counterfactual, in a single call.
        predicted = self.classes[int(self.encoding.predict_index(x0[None, :])[0])]
        target = self._resolve_target(target, predicted)
        if predicted == target:
            predicted = model_predict(self.model, self.schema, [row])[0]
        base = dict(target=target, predicted=predicted, factual=row, norm=norm,
                    backend=self.backend)
        if excluded:
            base["stats"] = {"excluded": [[self.schema.names[j] for j in S]
                                          for S in excluded]}
        if predicted == target:
            return RecourseResult(
                status="already_target", counterfactual=dict(row), cost=0.0, l1_cost=0.0, l0=0.0,
                bound=0.0, gap=0.0, optimal=True, verified=True,
                total_time=time.perf_counter() - t_start,
                message=f"The model already predicts {target!r}: nothing needs to change.",
                **base)
        t_idx = self.classes.index(target)
        self._model_margins, self._time_limit = None, time_limit
        if _score_margin is not None and np.ndim(_score_margin) == 1:  # one per model
            self._model_margins = np.maximum(self.margin, np.asarray(_score_margin, float))
            _score_margin = float(self._model_margins.min())
        margin = self.margin if _score_margin is None else max(self.margin, _score_margin)
        solve_time = 0.0
        for attempt in range(3):
            deadline = t_start + time_limit
            ties = (0.0 if self.encoding.kind in ("trees", "stack") and attempt == 0
                    and _score_margin is None else margin)
            out = self._solve(x0, t_idx, norm, margin, ties, deadline,
                              # the first-solution heuristics know no margin
                              use_incumbent=attempt == 0 and _score_margin is None,
                              excluded=excluded)
            solve_time += out["time"]
            if out["values"] is None:
                return self._no_answer(out, base, solve_time, t_start)
            for deep in (False, True):
                s_cf, acted = self._decode(out, deep)
                s_cf = np.where(s_cf == x0, x_true, s_cf)  # unchanged: the applicant's value
                # a value variable within the solver's tolerance of the applicant's value
                # is unchanged (an L0 answer otherwise counts a 1e-16 move as a change)
                s_cf = np.where(self._value_vars & np.isclose(s_cf, x0, rtol=1e-9, atol=1e-9),
                                x_true, s_cf)
                cf = self.space.decode(s_cf)
                t_v = time.perf_counter()
                pred_x, pred_cf = model_predict(self.model, self.schema, [row, cf])
                out["verify_time"] = out.get("verify_time", 0.0) + time.perf_counter() - t_v
                if pred_x == target:  # the encoding and the model disagree at a boundary
                    return RecourseResult(
                        status="already_target", counterfactual=dict(row), cost=0.0,
                        l1_cost=0.0, l0=0.0, bound=0.0, gap=0.0, optimal=True, verified=True,
                        total_time=time.perf_counter() - t_start,
                        message=f"The model already predicts {target!r}.",
                        **dict(base, predicted=pred_x))
                base["predicted"] = pred_x
                bad = self._violations(row, cf, acted)
                bad += _repeats(self.schema, row, cf, excluded)
                if self.seen_together is not None:
                    bad += [f"holds {p[0]}={p[1]!r} with {p[2]}={p[3]!r}, never seen together"
                            for p in self.seen_together.pairs_in(cf)
                            if p not in self.seen_together.pairs_in(row)]
                bad += support_violations(self, cf)  # numpy on the data, not the MILP
                if pred_cf == target and not bad:
                    return self._answer(out, base, x_true, s_cf, cf, solve_time, t_start,
                                        attempt, acted)
            margin *= 1000.0
        base.pop("stats", None)
        return RecourseResult(
            status="error", solve_time=solve_time, total_time=time.perf_counter() - t_start,
            message="No candidate passed verification with the model's own predict, even "
            "after tightening the margin; this is a bug worth reporting with the model.",
            **base)

    def options(self, applicant: Any, *, k: int = 3, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0,
                exclude: Iterable[Iterable[str]] = (), min_margin: float | None = None,
                box: bool = False) -> RecourseOptions:
        """Up to ``k`` genuinely different verified recourse options, cheapest first.

        Option 1 is :meth:`explain`'s answer. Option ``i + 1`` is the cheapest answer that
        changes neither the set of features of any earlier option nor a superset of it
        (each earlier set gets the row ``sum_{j in S} changed_j <= |S| - 1``): it may
        share features with earlier options, but always leaves one of each earlier
        option's features alone, so it is different advice, not the same advice plus more.

        Parameters
        ----------
        applicant, target, norm
            As in :meth:`explain`.
        k : int
            Most options to return (at least 1).
        time_limit : float
            Seconds for each option's query.
        exclude : iterable of sets of feature names
            Change sets no option may repeat (e.g. advice already given).
        min_margin, box
            As in :meth:`explain`, for every option.

        Returns
        -------
        RecourseOptions
            ``options`` (each verified with the model's own ``predict``; option ``i`` is
            ``optimal`` when proven cheapest among the answers avoiding the earlier
            options' sets), and ``stopped``/``message`` saying why there are not more:
            ``"k_reached"``, ``"exhausted"`` (the solver proved no further distinct
            option exists: an answer, not a failure), ``"no_recourse"``,
            ``"already_target"``, ``"time_limit"`` or ``"error"``. ``final`` is the
            query that ended the search (None when ``k`` options were found).

        Raises
        ------
        InputValidationError
            As :meth:`explain`; or ``k`` is not a positive integer.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputValidationError(
                f"The 'k' parameter must be a positive integer. Got {k!r} instead.")
        sets = [frozenset(S) for S in (_as_name_sets(exclude))]
        found: list[RecourseResult] = []
        final: RecourseResult | None = None
        stopped = "k_reached"
        for _ in range(int(k)):
            res = self.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                               exclude=sets, min_margin=min_margin, box=box)
            if res.status in ("optimal", "feasible"):
                found.append(res)
                sets.append(frozenset(c.feature for c in res.changes))
                continue
            final = res
            if res.status == "no_recourse":
                stopped = "exhausted" if found else "no_recourse"
            else:
                stopped = res.status
            break
        return RecourseOptions(options=tuple(found), requested=int(k), stopped=stopped,
                               message=_options_message(stopped, len(found), int(k), final),
                               final=final)

    def pyomo_model(self, applicant: Any, *, target: Any = None, norm: str = "l1") -> Any:
        """One applicant's problem as a Pyomo model to extend with your own constraints.

        Returns a ``recourse.custom.PyomoRecourse``: ``.model`` (a ``ConcreteModel``),
        ``.feature_vars(name)`` / ``.value_var(name)`` and ``.solve(solver=...)``, which
        decodes and verifies the answer with the model's own predict. Needs the ``pyomo``
        extra (``pip install 'recourse-engine[pyomo]'``).
        """
        from recourse.custom import pyomo_model

        return pyomo_model(self, applicant, target=target, norm=norm)

    # ------------------------------------------------------------- internals
    def _with_box(self, res: RecourseResult) -> RecourseResult:
        """``res`` with its certified box, or with ``stats["box_error"]`` saying why not."""
        from dataclasses import replace

        from recourse.robust import certified_box

        if not (res.verified and res.status in ("optimal", "feasible")
                and res.counterfactual is not None):
            return res
        if self.causal is not None:
            return replace(res, stats=dict(res.stats, box_error=(
                "certified boxes do not support causal engines yet (a box of interventions "
                "moves the consequences too)")))
        engine = self
        if res.stats.get("min_margin") is not None:  # certify the margin asked for
            import copy

            from recourse.robust import margin_units

            scale = (float(self.encoding.info.get("n_trees", 1))
                     if margin_units(self) == "probability" else 1.0)
            engine = copy.copy(self)
            engine.margin = max(self.margin, float(res.stats["min_margin"]) * scale)
        try:
            found = certified_box(engine, res)
        except Exception as exc:  # the answer never fails because of its box
            return replace(res, stats=dict(res.stats,
                                           box_error=f"{type(exc).__name__}: {exc}"))
        return replace(res, box=found, stats=dict(res.stats, box_time=found.time))

    def _decode(self, out: dict[str, Any], deep: bool) -> tuple[np.ndarray, list[str]]:
        """Counterfactual search vector and the names of the acted-on causal nodes."""
        view: ValueView | None = out.get("view")
        values = out["values"]
        if self._stack is not None and view is not None:  # into every member's cells
            values = self._stack.snap(out["problem"], view, values)
        base = (value_point(out["problem"], view, values, deep=deep)
                if view is not None else None)
        if self._cspec is None:
            if base is not None:
                return base, []
            return decode(out["problem"], out["values"], deep=deep), []
        s_cf, acted = causal_point(out["problem"], self.spec, self._cspec, out["causal"],
                                   values, deep=deep, base=base)
        return s_cf, [self.schema.names[j] for j in self._cspec.nodes[acted]]

    def _violations(self, row: dict[str, Any], cf: dict[str, Any], acted: list[str]) -> list[str]:
        """Action rules on actions (and independent features); equations and bounds on
        consequences."""
        if self.causal is None:
            return action_violations(self.schema, row, cf)
        consequences = set(self.causal.order) - set(acted)
        as_acted = {n: (row[n] if n in consequences else v) for n, v in cf.items()}
        return (action_violations(self.schema, row, as_acted)
                + self.causal.violations(self.schema, row, cf, acted))

    def _exclusions(self, exclude: Iterable[Iterable[str]]) -> list[tuple[int, ...]]:
        """Feature-index tuples of the excluded change sets (validated)."""
        out: list[tuple[int, ...]] = []
        for S in _as_name_sets(exclude):
            unknown = [n for n in S if n not in self.schema]
            if unknown:
                raise InputValidationError(
                    f"exclude names unknown features {cap_list(sorted(unknown))}; known "
                    f"features: {cap_list(self.schema.names)}.")
            if not S:
                raise InputValidationError(
                    "exclude holds an empty change set, which would forbid every answer; "
                    "give sets of feature names, e.g. exclude=[{'credit_amount'}].")
            idx = tuple(sorted(self.schema.names.index(n) for n in S))
            if idx not in out:
                out.append(idx)
        return out

    def _resolve_target(self, target: Any, predicted: Any) -> Any:
        sentinels = (DISAGREE, IMPLAUSIBLE)  # "classes" of ModelSet / PlausibleModel
        classes = [c for c in self.classes if not (isinstance(c, str) and c in sentinels)]
        if target is None and isinstance(predicted, str) and predicted == DISAGREE:
            raise InputValidationError(
                "The models of the ModelSet disagree on this applicant; name the class to "
                f"reach with target=... (one of {cap_list(classes)}).")
        if target is None and isinstance(predicted, str) and predicted == IMPLAUSIBLE:
            raise InputValidationError(
                "The isolation forest finds this applicant implausible, so the model's own "
                "class is not the one to leave; name the class to reach with target=... "
                f"(one of {cap_list(classes)}).")
        if target is None:
            if len(classes) != 2:
                raise InputValidationError(
                    f"The model has {len(classes)} classes {cap_list(classes)}; name "
                    "the class to reach with target=..."
                )
            return classes[1] if predicted == classes[0] else classes[0]
        for c in classes:
            if c == target or str(c) == str(target):
                return c
        raise InputValidationError(
            f"Unknown target class {target!r}; the model's classes are {cap_list(classes)}."
        )

    def _reference(self, reference: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        if reference is None or (self.encoding.tree is None and self.encoding.network is None
                                 and not isinstance(self.encoding, StackEncodedModel)):
            return None, None
        if not isinstance(reference, pd.DataFrame):
            raise InputValidationError("reference must be a DataFrame with the schema's columns.")
        missing = [n for n in self.schema.names if n not in reference.columns]
        if missing:
            raise InputValidationError(f"reference lacks the columns {cap_list(missing)}.")
        rows = []
        for _, r in reference[self.schema.names].iterrows():
            try:
                rows.append(self.space.encode(self.schema.validate_row(r)))
            except InputValidationError:
                continue  # a reference row with NaN or unknown levels is simply not used
        if not rows:
            return None, None
        R = np.array(rows)
        return R, self.encoding.predict_index(R)

    def _resolve_boundaries(self, x0: np.ndarray, row: dict[str, Any]) -> np.ndarray:
        """The applicant as the search sees it: a numeric value within float32 rounding of
        a split is moved a thousandth of a float32 cell to the side the model's own
        preprocessing puts it on (the float64 map back to user units cannot decide that).
        """
        near = []
        for link in self.encoding.links:
            if (isinstance(link, ThresholdLink) and link.split is not None
                    and link.spacing is not None):
                s = int(self.space.start[link.feature])
                idx = np.flatnonzero(np.abs(x0[s] - link.thresholds) <= 4 * link.spacing)
                if idx.size:
                    near.append((link, s, idx))
        if not near:
            return x0
        frame = self.schema.row_frame(row)
        stacked = getattr(self.model, "stacked_inputs", None)  # ModelSet, PlausibleModel
        Z = (stacked(self.space, frame) if stacked is not None
             else model_inputs(self.model, self.space, frame))[0]
        x = x0.copy()
        for link, s, idx in near:
            assert link.split is not None and link.spacing is not None
            for i in idx:
                inp, t_m, a = link.split[i]
                right = float(np.float32(Z[int(inp)])) > t_m
                z = right == (a > 0)
                if bool(link.above(x[s])[i]) != z:
                    gap = 1e-3 * float(link.spacing[i])
                    x[s] = float(link.thresholds[i]) + (gap if z else -gap)
        return x

    def _relu_problem(self, x0: np.ndarray, t_idx: int, norm: str, margin: float,
                      ties: float, ref: np.ndarray | None,
                      goal: float | None = None,
                      excluded: list[tuple[int, ...]] | None = None,
                      spec: Any = None, start: bool = True,
                      ) -> tuple[Any, np.ndarray | None]:
        """ReLU networks: a first solution from the forward pass, then the network
        re-bounded over what the applicant can reach for at most its cost
        (``recourse.solvers.tighten``), so that fewer units need a binary.

        With excluded change sets there is no first solution (the forward-pass one may
        repeat an excluded set, and its cost would then be no valid budget): the network
        is bounded over the whole action set. Nor with a causal model (``spec`` is then
        the neutral spec, in which consequences move freely): a budget in independent
        costs bounds no consequence."""
        spec = self.spec if spec is None else spec
        enc = self.encoding if goal is None else self.encoding.with_threshold(goal)
        s_inc = (relu_incumbent(enc, spec, x0, t_idx, margin, ties, norm, ref)
                 if start and not excluded else None)
        budget = np.inf
        if s_inc is not None and norm == "l1":
            budget = float(point_costs(self.spec, x0, s_inc)[0].sum())
        tight = tighten_relu(enc, spec, x0, method=self.bounds, budget=budget)
        if goal is not None:
            tight = tight.with_threshold(goal)
        prob = build_problem(tight, spec, x0, t_idx, norm=norm, margin=margin,
                             tie_margin=ties, indicators=bool(excluded))
        if excluded:
            prob = exclude_change_sets(prob, excluded)
        if self._pairs and not self._use_values:  # else over the view's levels
            prob = forbid_level_pairs(prob, self._pairs)
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
        l1, l0 = point_costs(self.spec, x0, s_inc)
        c, c0 = prob.objective("l1" if norm == "l1" else "l0")
        want = float((l1 if norm == "l1" else l0).sum())
        if abs(float(c @ full + c0) - want) > 1e-7 * (1.0 + want):
            return prob, None  # the columns did not line up: solve without a start
        return prob, full

    def _solve(self, x0: np.ndarray, t_idx: int, norm: str, margin: float, ties: float,
               deadline: float, use_incumbent: bool,
               goal: float | None = None,
               excluded: list[tuple[int, ...]] | None = None) -> dict[str, Any]:
        causal_vars = None
        view = None
        plain_v = None  # value view: the plain problem the starting points come from
        priced = None  # value view: the problem priced by cells (built once, used twice)
        spec = self.spec if self._cspec is None else self._nspec
        if self._stack is not None:  # every member's margins (solvers.stack)
            self._stack.margin, self._stack.ties = float(margin), float(ties)
            self._stack.extra = self._model_margins
            self._stack.norm = "l1" if norm == "l1" else "l0"
            self._stack.use_start = (use_incumbent and self._cspec is None and goal is None)
        elif self._model_margins is not None and isinstance(self.encoding, MultiEncodedModel):
            margin = np.maximum(margin, self._model_margins)  # one per member
        cross_spec = spec  # prices the moves used as lower bounds by the tree pruning
        if self._use_values:  # costs move to the value columns (solvers.values)
            spec = value_spec(self.encoding, spec)
        phase_norm = "l1" if norm == "l1" else "l0"
        ref = self._ref[self._ref_pred == t_idx] if self._ref is not None else None
        if goal is not None:
            ref = self._ref  # the forward pass re-checks every reference row
        inc = None
        if self.encoding.network is not None:
            prob, inc = self._relu_problem(x0, t_idx, norm, margin, ties,
                                           self._ref if use_incumbent else None, goal,
                                           excluded, spec,
                                           start=(self._cspec is None and not self._pairs
                                                  and not self._use_values))
        else:
            enc = self.encoding if goal is None else self.encoding.with_threshold(goal)
            prob = build_problem(enc, spec, x0, t_idx, norm=norm, margin=margin,
                                 tie_margin=ties, indicators=bool(excluded))
            if spec is not cross_spec and enc.tree is not None:
                # a value column costs at least what reaching its cell costs, so the cell
                # prices stay valid lower bounds for pruning and the leaf-distance cuts
                priced = build_problem(enc, cross_spec, x0, t_idx, norm=norm, margin=margin,
                                       tie_margin=ties)
                prob = replace(prob, crossing=priced.crossing,
                               crossing_l0=priced.crossing_l0)
            if excluded:
                prob = exclude_change_sets(prob, excluded)
            if self._pairs and not self._use_values:  # else over the view's levels
                prob = forbid_level_pairs(prob, self._pairs)
        if self._cspec is not None:
            prob, causal_vars = add_causal(prob, self.spec, self._cspec)
        if self._use_values:
            existing = ({int(j): int(x) for j, x in zip(causal_vars.nodes, causal_vars.x)}
                        if causal_vars is not None else None)
            prob, view = add_values(prob, self.spec, norm=norm, existing=existing,
                                    indicators=bool(excluded))
            if self._pairs:
                prob = forbid_level_pairs_view(prob, view, self._pairs)
            for con in self._value_constraints:
                prob = con.add(self, prob, view, x0, t_idx)
            if self._stack is not None:
                inc = self._stack.start  # checked against every row (solvers.stack)
            elif use_incumbent and causal_vars is None and self.encoding.network is None:
                # a point of the plain problem; solve_phase drops it if a constraint fails
                same = (priced is not None and priced.enc is self.encoding
                        and priced.spec is self.spec)
                plain = (priced if same and priced is not None else build_problem(
                    self.encoding, self.spec, x0, t_idx, norm=norm, margin=margin,
                    tie_margin=ties))
                plain_v = plain
                start = find_incumbent(plain, norm, ref)
                if start is not None:
                    inc = fill_values(prob, view, decode(plain, start))
            for con in self._value_constraints:  # constraints that offer a start
                if hasattr(con, "warm_start"):
                    prob, inc = con.warm_start(self, prob, view, x0, t_idx, phase_norm, inc,
                                               use_incumbent, deadline=deadline)
        elif use_incumbent and causal_vars is None and self.encoding.network is None:
            inc = lp_rounding(prob, phase_norm, find_incumbent(prob, norm, ref))
        elif (use_incumbent and not excluded and causal_vars is not None
              and self._cspec is not None and self.encoding.network is None
              and goal is None):
            # the heuristics know no equations: start from an independent-feature point
            # turned into an intervention (solvers.causal.causal_incumbent); not with
            # excluded change sets, which its consequences could complete
            plain = build_problem(self.encoding, self.spec, x0, t_idx, norm=norm,
                                  margin=margin, tie_margin=ties)
            start = lp_rounding(plain, phase_norm, find_incumbent(plain, norm, ref))
            inc = causal_incumbent(prob, self._cspec, causal_vars, plain, start, phase_norm)
        out = solve_phase(prob, phase_norm, inc, deadline, self.backend, self.backend_options)
        out["causal"] = causal_vars
        out["view"] = view
        if norm != "l0_l1" or out["values"] is None:
            return out
        k_star = float(prob.l0 @ out["values"] + prob.l0_0)
        row = sp.csr_matrix(prob.l0[None, :])
        tol = 1e-7 * max(1.0, k_star)
        prob2 = prob.with_rows(row, np.array([-np.inf]), np.array([k_star - prob.l0_0 + tol]))
        inc2 = out["values"]
        alt = (find_incumbent(prob, "l1", ref, l0_cap=k_star + tol)
               if use_incumbent and causal_vars is None and view is None else None)
        if view is not None and plain_v is not None:
            alt = find_incumbent(plain_v, "l1", ref, l0_cap=k_star + tol)
            alt = (fill_values(prob2, view, decode(plain_v, alt)) if alt is not None
                   else None)
            alt = alt if alt is not None and satisfies(prob2, alt) else None
        if alt is not None and prob.l1 @ alt < prob.l1 @ inc2:
            inc2 = alt
        out2 = solve_phase(prob2, "l1", inc2, deadline, self.backend, self.backend_options)
        out2["time"] += out["time"]
        if out["status"] is not Status.OPTIMAL and out2["status"] is Status.OPTIMAL:
            out2["status"] = Status.FEASIBLE
        out2["l0_bound"] = out["bound"]
        out2["causal"] = causal_vars
        out2["view"] = view
        return out2

    def _answer(self, out: dict[str, Any], base: dict[str, Any], x0: np.ndarray,
                s_cf: np.ndarray, cf: dict[str, Any], solve_time: float, t_start: float,
                attempt: int, acted: list[str] | None = None) -> RecourseResult:
        row = base["factual"]
        changes = [Change(n, row[n], cf[n]) for n in self.schema.names if not _same(row[n], cf[n])]
        causal_parts: dict[str, Any] = {}
        if self._cspec is not None:
            acted = acted or []
            mask = np.isin(np.array(self.schema.names)[self._cspec.nodes], acted)
            l1, l0 = causal_costs(self.spec, self._cspec, x0, s_cf, mask)
            graph = set(self.causal.order) if self.causal is not None else set()
            actions = [Change(n, row[n], cf[n]) for n in self.schema.names
                       if n in acted or (n not in graph and not _same(row[n], cf[n]))]
            consequences = [c for c in changes if c.feature in graph and c.feature not in acted]
            causal_parts = dict(actions=actions, consequences=consequences)
        else:
            l1, l0 = point_costs(self.spec, x0, s_cf)
        norm = base["norm"]
        cost = float(l1.sum()) if norm == "l1" else float(l0.sum())
        optimal = out["status"] is Status.OPTIMAL
        bound = out["bound"] if norm != "l0_l1" else out.get("l0_bound")
        gap = 0.0 if optimal else _gap(cost, bound)
        seen = ({"unseen_pairs": len(self.seen_together.pairs_in(cf))}
                if self.seen_together is not None else {})
        stats = dict(base.pop("stats", {}), **out["problem"].stats, **seen,
                     attempts=attempt + 1,
                     backend_used=out.get("backend"),
                     used_incumbent=out.get("incumbent", False),
                     verify_time=out.get("verify_time", 0.0),
                     solver_status=out.get("raw", ""))
        stats.update(support_stats(self, cf))  # numpy on the data, enforced or not
        if isinstance(self.model, PlausibleModel):  # the forest's own score, always shown
            stats["plausibility_score"] = float(self.model.score_samples(
                model_input(self.model, self.schema, [cf]))[0])
            stats["plausibility_min_score"] = self.model.min_score
        elif self.plausibility is not None:  # report only
            iso = self.plausibility
            stats["plausibility_score"] = float(np.asarray(iso.score_samples(
                model_input(iso, self.schema, [cf])))[0])
            est = iso[-1] if hasattr(iso, "steps") else iso
            stats["plausibility_min_score"] = float(est.offset_)
        message = (
            "Proven minimal by the solver and verified with the model's own predict."
            if optimal else
            f"Verified with the model's own predict; not proven minimal "
            f"({'gap ' + format(gap, '.3g') if gap is not None else 'no bound'}; solver: "
            f"{out.get('raw', '')})."
        )
        if causal_parts:
            summary = RecourseResult(status="", target=None, predicted=None, factual={},
                                     **causal_parts).causal_summary()
            message = f"{summary} {message}" if summary else message
        return RecourseResult(
            status="optimal" if optimal else "feasible", counterfactual=cf, changes=changes,
            **causal_parts,
            cost=cost, l1_cost=float(l1.sum()), l0=float(l0.sum()), bound=bound, gap=gap,
            optimal=optimal, verified=True, solve_time=solve_time,
            total_time=time.perf_counter() - t_start, message=message,
            feature_costs={n: float(l1[j]) for j, n in enumerate(self.schema.names) if l1[j] > 0},
            stats=stats, **base)

    def _no_answer(self, out: dict[str, Any], base: dict[str, Any], solve_time: float,
                   t_start: float) -> RecourseResult:
        st = out["status"]
        extra = base.pop("stats", {})
        if st is Status.INFEASIBLE and extra.get("excluded"):
            status, msg = "no_recourse", (
                f"No change allowed by the action set makes the model predict "
                f"{base['target']!r} without changing all features of one of the excluded "
                f"change sets {extra['excluded']} (proven by the solver).")
        elif st is Status.INFEASIBLE:
            mutable = [f.name for f in self.schema if not f.immutable]
            status, msg = "no_recourse", (
                f"No change allowed by the action set makes the model predict "
                f"{base['target']!r} (proven by the solver). Mutable features: "
                f"{cap_list(mutable, 8)}; relaxing immutability, directions or bounds may "
                "open recourse.")
            option = self.encoding.info.get("option")  # ModelSet / PlausibleModel
            if option:
                extra.update(_without_option(self, base["factual"], base["target"],
                                             base["norm"], extra.get("excluded", [])))
                plain = extra["cost_without"][option]
                if all(c is not None for c in np.atleast_1d(np.asarray(plain, dtype=object))):
                    extra["blocking_option"] = option
                    msg += (f" The model requires {self.encoding.info['option_text']}; "
                            f"without it the cheapest recourse costs {plain} "
                            "(stats['cost_without']).")
                else:
                    msg += (" Even without the requirement of "
                            f"{self.encoding.info['option_text']} some model alone has no "
                            "recourse (stats['cost_without']).")
        elif st is Status.TIME_LIMIT:
            status = "time_limit"
            msg = "The time limit was reached before any counterfactual was found."
        else:
            status, msg = "error", f"The solver failed ({out.get('raw', '')})."
        return RecourseResult(status=status, bound=out.get("bound"), solve_time=solve_time,
                              total_time=time.perf_counter() - t_start, message=msg,
                              stats=dict(extra, **out["problem"].stats,
                                         solver_status=out.get("raw", "")),
                              **base)


def _without_option(engine: RecourseEngine, factual: dict[str, Any], target: Any, norm: str,
                    excluded: list[list[str]]) -> dict[str, Any]:
    """ModelSet / PlausibleModel: the cost of the same query for each model alone (a
    ModelSet's members in order; a PlausibleModel's classifier), so a result shows what
    the option costs: ``{"cost_without": {option: cost or costs}, "time_without": s}``
    (None where a model alone has no recourse)."""
    option = engine.encoding.info.get("option")
    if option is None or not isinstance(engine.model, (ModelSet, PlausibleModel)):
        return {}
    if engine._plain is None:
        models = (engine.model.models if isinstance(engine.model, ModelSet)
                  else [engine.model.model])
        engine._plain = [RecourseEngine(
            m, engine.schema, reference=engine._reference_rows, backend=engine.backend,
            margin=engine.margin,
            bounds=engine.bounds, causal=engine.causal,
            backend_options=engine.backend_options, seen_together=engine.seen_together,
            price_options=False) for m in models]
    t0 = time.perf_counter()
    res = [e.explain(factual, target=target, norm=norm, time_limit=engine._time_limit,
                     exclude=[set(S) for S in excluded]) for e in engine._plain]
    costs = [r.cost if r.has_recourse else None for r in res]
    return {"cost_without": {option: costs if option == "models" else costs[0]},
            "time_without": time.perf_counter() - t0}


def _as_name_sets(exclude: Iterable[Iterable[str]]) -> list[frozenset[str]]:
    if isinstance(exclude, (str, bytes)):
        raise InputValidationError(
            f"exclude must be a collection of sets of feature names, e.g. "
            f"[{{{str(exclude)!r}}}]; got the string {exclude!r}.")
    out = []
    for S in exclude:
        if isinstance(S, (str, bytes)):
            raise InputValidationError(
                f"exclude must hold sets of feature names, got the string {S!r}; write "
                f"[{{{S!r}}}] to exclude changing {S!r}.")
        out.append(frozenset(str(n) for n in S))
    return out


def _repeats(schema: FeatureSchema, row: dict[str, Any], cf: dict[str, Any],
             excluded: list[tuple[int, ...]]) -> list[str]:
    """Excluded change sets the counterfactual changes completely (must be none)."""
    changed = {n for n in schema.names if not _same(row[n], cf[n])}
    return [f"changes all of the excluded set {[schema.names[j] for j in S]}"
            for S in excluded if {schema.names[j] for j in S} <= changed]


_STOP_TEXT = {
    "k_reached": "{n} option(s) found, as many as requested.",
    "exhausted": "Only {n} distinct option(s) exist: the solver proved that every other "
                 "allowed change reaching the target changes all features of an earlier "
                 "option.",
    "no_recourse": "No recourse exists: {msg}",
    "already_target": "The model already predicts the target class; nothing needs to "
                      "change.",
    "time_limit": "{n} option(s) found; the search for option {next} reached the time "
                  "limit before finding one.",
    "error": "{n} option(s) found; the search for option {next} failed: {msg}",
}


def _options_message(stopped: str, n: int, k: int, final: RecourseResult | None) -> str:
    msg = final.message if final is not None else ""
    return _STOP_TEXT[stopped].format(n=n, k=k, next=n + 1, msg=msg)


def _gap(cost: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return max(0.0, cost - bound) / max(1e-12, abs(cost))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return float(a) == float(b)
    return bool(a == b)


def _check_columns(model: Any, schema: FeatureSchema) -> None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        problem = name_mismatch([str(n) for n in names], schema.names,
                                extra="schema features unseen at fit time:",
                                missing="model features missing from the schema:")
        if problem:
            raise SchemaError(f"The schema does not match the model's features; {problem}.")
        return
    n_in = getattr(model, "n_features_in_", None)
    if n_in is not None and int(n_in) != len(schema):
        raise SchemaError(
            f"The schema has {len(schema)} features, but the model expects {n_in} features."
        )


_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[int, int, int], RecourseEngine]] = (
    weakref.WeakKeyDictionary())


def find_recourse(model: Any, applicant: Any, schema: FeatureSchema, *, target: Any = None,
                  norm: str = "l1", backend: str = "highs", time_limit: float = 60.0,
                  reference: Any = None, utility: Utility | None = None,
                  causal: CausalModel | None = None,
                  backend_options: dict[str, Any] | None = None,
                  min_margin: float | None = None, box: bool = False) -> RecourseResult:
    """Minimal verified recourse for one applicant (see :meth:`RecourseEngine.explain`).

    The model's encoding is cached per (model, schema, reference) so calls in a loop
    do not re-encode the model. ``min_margin`` and ``box`` are those of
    :meth:`RecourseEngine.explain` (``box=True`` attaches ``result.box``).

    Examples
    --------
    >>> result = find_recourse(model, X_test.iloc[0], schema, norm="l1")  # doctest: +SKIP
    >>> result.status, result.changes                                      # doctest: +SKIP
    """
    key = (id(schema), id(reference) if reference is not None else 0,
           id(causal) if causal is not None else 0)
    try:
        cache = _ENGINES.setdefault(model, {})
    except TypeError:
        cache = {}
    engine = cache.get(key)
    if (engine is None or engine.schema is not schema or engine.backend != backend
            or engine.causal is not causal
            or engine.backend_options != dict(backend_options or {})):
        engine = RecourseEngine(model, schema, reference=reference, backend=backend,
                                causal=causal, backend_options=backend_options)
        cache[key] = engine
    return engine.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                          utility=utility, min_margin=min_margin, box=box)


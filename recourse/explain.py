"""The one orchestration point: validate -> encode -> problem -> solve -> decode -> verify.

:class:`RecourseEngine` encodes a model once and explains many applicants;
:func:`find_recourse` is the one-call form (it keeps a small cache of engines, so calling it
in a loop over applicants of one model does not re-encode the model).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import encoders
from encoders.block import ThresholdLink
from encoders.errors import InputValidationError, SchemaError, cap_list, name_mismatch
from encoders.pipeline import model_inputs
from recourse.result import Change, RecourseResult
from recourse.schema import FeatureSchema
from recourse.verify import action_violations, model_predict
from solvers.incumbent import find_incumbent, lp_rounding
from solvers.problem import build_problem, decode, point_costs
from solvers.search import solve_phase
from solvers.status import Status

__all__ = ["RecourseEngine", "find_recourse", "NORMS", "BACKENDS"]

NORMS = ("l1", "l0", "l0_l1")
BACKENDS = ("highs", "cpsat", "pyomo", "auto")
#: Margin by which the target class must win (decision function or summed tree
#: probabilities); keeps answers clear of the solver's feasibility tolerances
#: (``solvers.highs.FEASIBILITY_TOL`` = 1e-7): a margin equal to the tolerance let a tie that
#: sklearn breaks against the target pass as a win.
DEFAULT_MARGIN = 1e-6


class RecourseEngine:
    """Encode a model once; explain many applicants.

    Parameters
    ----------
    model : fitted sklearn estimator or Pipeline
        See ``encoders.supported_models()``; Pipelines may hold affine preprocessing
        (one-hot, ordinal, scalers, passthrough).
    schema : FeatureSchema
        The applicant's columns and the action set.
    reference : DataFrame, optional
        Known rows (e.g. the training data). Rows the model assigns to the target class
        give a first solution at once, which lets the solver discard every move that
        costs more before it starts. Never changes the answer, only the time.
    backend : {"highs", "cpsat", "pyomo", "auto"}
        Solver backend (``solvers.backends``): HiGHS; OR-Tools CP-SAT (tree ensembles only);
        a Pyomo model solved by any Pyomo solver; or ``"auto"``, the fastest measured one
        per problem (``solvers.backends.AUTO_RULE``).
    backend_options : dict, optional
        Options of the backend, e.g. ``{"solver": "gurobi"}`` for ``"pyomo"``,
        ``{"num_workers": 2}`` for ``"cpsat"``; for ``"auto"``, one dict per backend name.
    margin : float
        Margin by which the target class must win (see ``DEFAULT_MARGIN``).

    Examples
    --------
    >>> engine = RecourseEngine(model, schema, reference=X_train)   # doctest: +SKIP
    >>> engine.explain(X_test.iloc[0], target="good").changes        # doctest: +SKIP
    """

    def __init__(self, model: Any, schema: FeatureSchema, *, reference: Any = None,
                 backend: str = "highs", margin: float = DEFAULT_MARGIN,
                 backend_options: dict[str, Any] | None = None) -> None:
        if not isinstance(schema, FeatureSchema):
            raise SchemaError(
                f"schema must be a FeatureSchema, got {type(schema).__name__}; build one with "
                "FeatureSchema.from_frame(X_train, ...) or FeatureSchema.from_yaml(path)."
            )
        if backend not in BACKENDS:
            raise InputValidationError(
                f"The 'backend' parameter must be one of {BACKENDS}. Got {backend!r} instead.")
        _check_columns(model, schema)
        self.model = model
        self.schema = schema
        self.backend = backend
        self.backend_options = dict(backend_options or {})
        self.margin = float(margin)
        self.space = schema.search_space()
        self.spec = schema.lower()
        t0 = time.perf_counter()
        self.encoding = encoders.encode(model, self.space)
        self.encode_time = time.perf_counter() - t0
        self.classes = list(self.encoding.classes)
        self._ref, self._ref_pred = self._reference(reference)

    # ---------------------------------------------------------------- public
    def explain(self, applicant: Any, *, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0) -> RecourseResult:
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
        t_start = time.perf_counter()
        if norm not in NORMS:
            raise InputValidationError(
                f"The 'norm' parameter must be one of {NORMS}. Got {norm!r} instead.")
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
        if predicted == target:
            return RecourseResult(
                status="already_target", counterfactual=dict(row), cost=0.0, l1_cost=0.0, l0=0.0,
                bound=0.0, gap=0.0, optimal=True, verified=True,
                total_time=time.perf_counter() - t_start,
                message=f"The model already predicts {target!r}: nothing needs to change.",
                **base)
        t_idx = self.classes.index(target)
        margin = self.margin
        solve_time = 0.0
        for attempt in range(3):
            deadline = t_start + time_limit
            ties = 0.0 if self.encoding.kind == "trees" and attempt == 0 else margin
            out = self._solve(x0, t_idx, norm, margin, ties, deadline,
                              use_incumbent=attempt == 0)
            solve_time += out["time"]
            if out["values"] is None:
                return self._no_answer(out, base, solve_time, t_start)
            for deep in (False, True):
                s_cf = decode(out["problem"], out["values"], deep=deep)
                s_cf = np.where(s_cf == x0, x_true, s_cf)  # unchanged: the applicant's value
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
                bad = action_violations(self.schema, row, cf)
                if pred_cf == target and not bad:
                    return self._answer(out, base, x_true, s_cf, cf, solve_time, t_start,
                                        attempt)
            margin *= 1000.0
        return RecourseResult(
            status="error", solve_time=solve_time, total_time=time.perf_counter() - t_start,
            message="No candidate passed verification with the model's own predict, even "
            "after tightening the margin; this is a bug worth reporting with the model.",
            **base)

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
    def _resolve_target(self, target: Any, predicted: Any) -> Any:
        if target is None:
            if len(self.classes) != 2:
                raise InputValidationError(
                    f"The model has {len(self.classes)} classes {cap_list(self.classes)}; name "
                    "the class to reach with target=..."
                )
            return self.classes[1] if predicted == self.classes[0] else self.classes[0]
        for c in self.classes:
            if c == target or str(c) == str(target):
                return c
        raise InputValidationError(
            f"Unknown target class {target!r}; the model's classes are {cap_list(self.classes)}."
        )

    def _reference(self, reference: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        if reference is None or self.encoding.tree is None:
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
        Z = model_inputs(self.model, self.space, self.schema.row_frame(row))[0]
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

    def _solve(self, x0: np.ndarray, t_idx: int, norm: str, margin: float, ties: float,
               deadline: float, use_incumbent: bool) -> dict[str, Any]:
        prob = build_problem(self.encoding, self.spec, x0, t_idx, norm=norm, margin=margin,
                             tie_margin=ties)
        phase_norm = "l1" if norm == "l1" else "l0"
        ref = self._ref[self._ref_pred == t_idx] if self._ref is not None else None
        inc = None
        if use_incumbent:
            inc = lp_rounding(prob, phase_norm, find_incumbent(prob, norm, ref))
        out = solve_phase(prob, phase_norm, inc, deadline, self.backend, self.backend_options)
        if norm != "l0_l1" or out["values"] is None:
            return out
        k_star = float(prob.l0 @ out["values"] + prob.l0_0)
        row = sp.csr_matrix(prob.l0[None, :])
        tol = 1e-7 * max(1.0, k_star)
        prob2 = prob.with_rows(row, np.array([-np.inf]), np.array([k_star - prob.l0_0 + tol]))
        inc2 = out["values"]
        alt = find_incumbent(prob, "l1", ref, l0_cap=k_star + tol) if use_incumbent else None
        if alt is not None and prob.l1 @ alt < prob.l1 @ inc2:
            inc2 = alt
        out2 = solve_phase(prob2, "l1", inc2, deadline, self.backend, self.backend_options)
        out2["time"] += out["time"]
        if out["status"] is not Status.OPTIMAL and out2["status"] is Status.OPTIMAL:
            out2["status"] = Status.FEASIBLE
        out2["l0_bound"] = out["bound"]
        return out2

    def _answer(self, out: dict[str, Any], base: dict[str, Any], x0: np.ndarray,
                s_cf: np.ndarray, cf: dict[str, Any], solve_time: float, t_start: float,
                attempt: int) -> RecourseResult:
        l1, l0 = point_costs(self.spec, x0, s_cf)
        row = base["factual"]
        changes = [Change(n, row[n], cf[n]) for n in self.schema.names if not _same(row[n], cf[n])]
        norm = base["norm"]
        cost = float(l1.sum()) if norm == "l1" else float(l0.sum())
        optimal = out["status"] is Status.OPTIMAL
        bound = out["bound"] if norm != "l0_l1" else out.get("l0_bound")
        gap = 0.0 if optimal else _gap(cost, bound)
        stats = dict(out["problem"].stats, attempts=attempt + 1, backend_used=out.get("backend"),
                     used_incumbent=out.get("incumbent", False),
                     verify_time=out.get("verify_time", 0.0),
                     solver_status=out.get("raw", ""))
        message = (
            "Proven minimal by the solver and verified with the model's own predict."
            if optimal else
            f"Verified with the model's own predict; not proven minimal "
            f"({'gap ' + format(gap, '.3g') if gap is not None else 'no bound'}; solver: "
            f"{out.get('raw', '')})."
        )
        return RecourseResult(
            status="optimal" if optimal else "feasible", counterfactual=cf, changes=changes,
            cost=cost, l1_cost=float(l1.sum()), l0=float(l0.sum()), bound=bound, gap=gap,
            optimal=optimal, verified=True, solve_time=solve_time,
            total_time=time.perf_counter() - t_start, message=message,
            feature_costs={n: float(l1[j]) for j, n in enumerate(self.schema.names) if l1[j] > 0},
            stats=stats, **base)

    def _no_answer(self, out: dict[str, Any], base: dict[str, Any], solve_time: float,
                   t_start: float) -> RecourseResult:
        st = out["status"]
        if st is Status.INFEASIBLE:
            mutable = [f.name for f in self.schema if not f.immutable]
            status, msg = "no_recourse", (
                f"No change allowed by the action set makes the model predict "
                f"{base['target']!r} (proven by the solver). Mutable features: "
                f"{cap_list(mutable, 8)}; relaxing immutability, directions or bounds may "
                "open recourse.")
        elif st is Status.TIME_LIMIT:
            status = "time_limit"
            msg = "The time limit was reached before any counterfactual was found."
        else:
            status, msg = "error", f"The solver failed ({out.get('raw', '')})."
        return RecourseResult(status=status, bound=out.get("bound"), solve_time=solve_time,
                              total_time=time.perf_counter() - t_start, message=msg,
                              stats=dict(out["problem"].stats, solver_status=out.get("raw", "")),
                              **base)


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


_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[int, int], RecourseEngine]] = (
    weakref.WeakKeyDictionary())


def find_recourse(model: Any, applicant: Any, schema: FeatureSchema, *, target: Any = None,
                  norm: str = "l1", backend: str = "highs", time_limit: float = 60.0,
                  reference: Any = None,
                  backend_options: dict[str, Any] | None = None) -> RecourseResult:
    """Minimal verified recourse for one applicant (see :meth:`RecourseEngine.explain`).

    The model's encoding is cached per (model, schema, reference) so calls in a loop
    do not re-encode the model.

    Examples
    --------
    >>> result = find_recourse(model, X_test.iloc[0], schema, norm="l1")  # doctest: +SKIP
    >>> result.status, result.changes                                      # doctest: +SKIP
    """
    key = (id(schema), id(reference) if reference is not None else 0)
    try:
        cache = _ENGINES.setdefault(model, {})
    except TypeError:
        cache = {}
    engine = cache.get(key)
    if (engine is None or engine.schema is not schema or engine.backend != backend
            or engine.backend_options != dict(backend_options or {})):
        engine = RecourseEngine(model, schema, reference=reference, backend=backend,
                                backend_options=backend_options)
        cache[key] = engine
    return engine.explain(applicant, target=target, norm=norm, time_limit=time_limit)


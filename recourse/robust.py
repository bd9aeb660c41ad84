"""Robust recourse: certified boxes around a verified counterfactual.

:func:`certified_box` turns a point answer ("reduce the credit amount to exactly 3,200")
into a range ("to 3,200 DM or less"): an axis-aligned box around the counterfactual,
inside the action set, in which the model approves every point. Exact for tree ensembles
(from the split thresholds, each slab checked by a small 0/1 program), for linear
models (closed form) and for ReLU networks (per face, the nearest point the network
rejects, by MILP; the whole box proven by MILP, see ``recourse.solvers.relu_box``); the box is
maximal by inclusion (no face can move out), grown face by face in schema order, see
``recourse.solvers.robust``. Categorical features stay at the counterfactual's level.

Examples
--------
>>> res = engine.explain(applicant)                        # doctest: +SKIP
>>> box = certified_box(engine, res)                       # doctest: +SKIP
>>> box.advice()                                           # doctest: +SKIP
['credit_amount: between 250 and 3200', ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from recourse.encoders.errors import InputValidationError
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema
from recourse.verify import model_input, model_predict
from recourse.solvers.relu_box import grow_relu_box
from recourse.solvers.robust import grow_linear_box, grow_tree_box

if TYPE_CHECKING:  # pragma: no cover
    from recourse.explain import RecourseEngine

__all__ = ["CertifiedBox", "certified_box", "BOX_MODELS", "explain_with_margin", "model_margin",
           "plausibility_score",
           "margin_units"]

#: Model families :func:`certified_box` supports.
BOX_MODELS = ("decision trees, random forests, extra trees, gradient boosting, ModelSet, "
              "PlausibleModel (tree encodings)",
              "linear models (LogisticRegression, LinearSVC, ...)",
              "ReLU networks (MLPClassifier with activation='relu', binary or multiclass, "
              "bare or in a Pipeline; encoders.mlp.TorchClassifier)")


@dataclass(frozen=True)
class CertifiedBox:
    """A box of counterfactuals the model approves throughout.

    Attributes
    ----------
    bounds : dict
        ``{numeric feature: (low, high)}``, closed, in user units; an immutable feature or
        one that cannot move has ``low == high``.
    fixed : dict
        ``{categorical feature: level}`` held at the counterfactual's level.
    faces : dict
        ``{(feature, "upper" | "lower"): reason}``: ``"action_set"`` (the action set
        ends there), ``"model"`` (a rejected point lies just beyond, see ``witnesses``),
        ``"margin"`` (ReLU networks: just beyond the face the target's margin falls
        below the box's level, but the nearest point the network rejects clearly lies
        farther out, e.g. past a flat tie; its witness, if any, is kept) or
        ``"undecided"`` (the check timed out; the face may be conservative).
    witnesses : dict
        ``{(feature, side): row}`` for ``"model"`` faces: a full applicant row just
        beyond the face, every other feature inside the box, which the model rejects.
    checks : int
        0/1 programs solved (tree ensembles) or MILPs solved (ReLU networks).
    time : float
        Seconds spent.
    info : dict
        ReLU networks: ``level`` (the margin ``A`` the box is built around: the engine's
        margin, or the counterfactual's own if smaller), ``certified_margin`` (the least
        margin over the whole box, proven by MILP; at least ``A - 3d/4`` with
        ``d = min(A, 1e-6)``, so ``A / 4`` for the default margin; None when the proof
        failed and the box shrank to the counterfactual), ``margin_bound`` and
        ``proven`` (see ``recourse.solvers.relu_box``).
    """

    bounds: dict[str, tuple[float, float]]
    fixed: dict[str, Any]
    faces: dict[tuple[str, str], str] = field(default_factory=dict)
    witnesses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    checks: int = 0
    time: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def contains(self, row: dict[str, Any]) -> bool:
        """Whether the row lies in the box."""
        return (all(lo <= float(row[n]) <= hi for n, (lo, hi) in self.bounds.items())
                and all(row[n] == v for n, v in self.fixed.items()))

    def advice(self, schema: FeatureSchema | None = None) -> list[str]:
        """One phrase per numeric feature that may vary, e.g. ``"debt: 12.5 or less"``
        (a side at the action set's limit is left unsaid). With the ``schema``, in its
        labels and units: ``"Credit amount: 7,839 DM or less"``."""
        from recourse.letters.wording import box_phrases

        # ends rounded inwards to the shown precision: a printed end is inside the box
        return [phrase for _, phrase in box_phrases(self, schema)]


def certified_box(engine: RecourseEngine, result: RecourseResult, *,
                  time_limit: float = 30.0) -> CertifiedBox:
    """The certified box around ``result``'s counterfactual (see module docstring).

    Parameters
    ----------
    engine : RecourseEngine
        The engine that produced ``result`` (its model, schema and margin).
    result : RecourseResult
        A verified answer (status ``optimal`` or ``feasible``).
    time_limit : float
        Seconds per 0/1 check (tree ensembles) or per MILP (ReLU networks); a check that
        times out leaves its face ``"undecided"`` (conservative, never wrong).

    Raises
    ------
    InputValidationError
        ``result`` has no verified counterfactual, or comes from a causal engine.
    NotImplementedError
        The model is none of ``BOX_MODELS`` (e.g. a regressor with a utility).
    """
    if not isinstance(result, RecourseResult) or result.counterfactual is None \
            or result.status not in ("optimal", "feasible") or not result.verified:
        raise InputValidationError(
            "certified_box needs a verified counterfactual (a RecourseResult with status "
            f"'optimal' or 'feasible'); got status {getattr(result, 'status', None)!r}.")
    if engine.causal is not None:
        raise InputValidationError(
            "certified_box does not support causal engines yet: a box of interventions "
            "moves the consequences too; use an engine without causal=.")
    enc = engine.encoding
    if enc.decision == "score" or not any(c == result.target for c in engine.classes):
        raise NotImplementedError(
            "certified_box needs a result with a target class; boxes for a utility on a "
            f"score (target {result.target!r}) are not supported yet. Supported models: "
            f"{'; '.join(BOX_MODELS)}.")
    space, spec = engine.space, engine.spec
    x0 = space.encode(engine.schema.validate_row(result.factual))
    s_cf = space.encode(engine.schema.validate_row(result.counterfactual))
    t_idx = engine.classes.index(result.target)
    if enc.tree is not None:
        box = grow_tree_box(enc, spec, x0, s_cf, t_idx, engine.margin, 0.0, time_limit)
    elif enc.kind == "linear":
        box = grow_linear_box(enc, spec, x0, s_cf, t_idx, engine.margin)
    elif enc.network is not None and enc.decision != "score":
        box = grow_relu_box(enc, spec, x0, s_cf, t_idx, engine.margin, time_limit,
                            lp=engine.bounds == "lp")
    else:
        raise NotImplementedError(
            f"certified_box supports {'; '.join(BOX_MODELS)}; the model is encoded as "
            f"{enc.kind!r} with decision {enc.decision!r}.")
    names = space.names
    bounds = {names[j]: (_user(space, j, box.low[j]), _user(space, j, box.high[j]))
              for j in range(space.n_features) if not space.is_group(j)}
    fixed = {names[j]: (space.levels[j] or ())[lv] for j, lv in box.level.items()}
    side_name = {1: "upper", -1: "lower"}
    faces = {(names[j], side_name[s]): f.reason for (j, s), f in box.faces.items()}
    witnesses = {(names[j], side_name[s]): space.decode(f.witness)
                 for (j, s), f in box.faces.items() if f.witness is not None}
    if enc.network is not None and witnesses:
        # the network's witnesses come from its float64 forward pass: the model's own
        # predict must reject them too, else the face is only known to be safe
        keys = list(witnesses)
        pred = model_predict(engine.model, engine.schema, [witnesses[k] for k in keys])
        for key, p in zip(keys, pred):
            if p == result.target:
                faces[key] = "undecided"
                del witnesses[key]
    return CertifiedBox(bounds=bounds, fixed=fixed, faces=faces, witnesses=witnesses,
                        checks=box.checks, time=box.time, info=dict(box.info))


def _user(space: Any, j: int, v: float) -> float:
    return float(int(round(v))) if space.integer[j] else float(v)


# ------------------------------------------------------------------ score margin
def margin_units(engine: RecourseEngine) -> str:
    """``"probability"`` for forests and trees, ``"decision function"`` otherwise (for a
    ModelSet of mixed units: ``"per model"``, see :func:`member_units`)."""
    per = member_units(engine)
    if per is not None:
        units = {u for u, _ in per}
        return units.pop() if len(units) == 1 else "per model"
    return _units(engine.encoding)


def _units(enc: Any) -> str:
    if enc.tree is not None and "base_score" not in enc.info:
        return "probability"
    return "decision function"


def member_units(engine: RecourseEngine) -> list[tuple[str, float]] | None:
    """For a ModelSet, per model: its margin units and the factor from a margin in those
    units to one in its encoded score (its number of trees for probabilities: forests
    score the sum of their trees' probabilities); None for any other model."""
    from recourse.encoders.multi import ModelSet, StackEncodedModel

    if not isinstance(engine.model, ModelSet):
        return None
    enc = engine.encoding
    if isinstance(enc, StackEncodedModel):
        return [(_units(m), float(m.info.get("n_trees", 1)) if _units(m) == "probability"
                 else 1.0) for m in enc.members]
    return [("probability", float(n)) for n in enc.info["trees_per_model"]]


def model_margin(engine: RecourseEngine, rows: list[dict[str, Any]], target: Any) -> np.ndarray:
    """By how much the target class wins on ``rows``, from the model's own scores.

    Forests and trees: ``predict_proba`` of the target minus the largest other class.
    Otherwise the decision function (``decision_function``; for models without one, such as
    ``MLPClassifier``, log-ratios of ``predict_proba``, i.e. logit differences): for a
    binary model its sign-adjusted value, else the target's minus the largest other's.
    For a ModelSet: every model in its own units (:func:`member_units`), models x rows.
    """
    per = member_units(engine)
    if per is not None:  # a ModelSet: every model in its own units (models x rows)
        return np.array([_margin(m, u, engine.schema, list(engine.classes), rows, target)
                         for m, (u, _) in zip(engine.model.models, per)])
    return _margin(engine.model, margin_units(engine), engine.schema, list(engine.classes),
                   rows, target)


def _margin(model: Any, units: str, schema: FeatureSchema, classes: list[Any],
            rows: list[dict[str, Any]], target: Any) -> np.ndarray:
    X = model_input(model, schema, rows)
    t = classes.index(target)
    if units == "probability":
        P = np.asarray(model.predict_proba(X), dtype=float)
        return P[:, t] - np.delete(P, t, axis=1).max(axis=1)
    if hasattr(model, "decision_function"):
        D = np.asarray(model.decision_function(X), dtype=float)
    else:
        with np.errstate(divide="ignore"):
            D = np.log(np.asarray(model.predict_proba(X), dtype=float))
        if D.shape[1] == 2:
            D = D[:, 1] - D[:, 0]
    if D.ndim == 1:
        return D if t == 1 else -D
    return D[:, t] - np.delete(D, t, axis=1).max(axis=1)


def explain_with_margin(engine: RecourseEngine, applicant: Any, min_margin: float, *,
                        target: Any = None, norm: str = "l1", time_limit: float = 60.0,
                        utility: Any = None,
                        exclude: Iterable[Iterable[str]] = ()) -> RecourseResult:
    """:meth:`RecourseEngine.explain` with ``min_margin`` (the target wins by at least it).

    Solves twice, with and without the margin, so that the result shows what robustness
    costs: ``stats["min_margin"]``, ``stats["margin_units"]``, ``stats["margin"]`` (the
    margin the model's own scores give the counterfactual), ``stats["cost_without"]``
    (``{"min_margin": cost}`` of the plain answer, None when it has none; beside the
    entry of a ModelSet / PlausibleModel). For a ModelSet every model must win by
    ``min_margin`` in its own units (``member_units``); ``stats["margin"]`` and
    ``stats["margin_units"]`` are then lists, one per model. When only the
    margin blocks recourse the status is ``no_recourse`` and ``stats["blocking_option"]``
    is ``"min_margin"``. An applicant the model already assigns to the target class is
    ``already_target`` whatever its margin.
    """
    if utility is not None:
        raise InputValidationError(
            "min_margin cannot be combined with utility= (a utility is already a threshold "
            "on the score); raise the utility's threshold instead.")
    try:
        m = float(min_margin)
    except (TypeError, ValueError):
        m = float("nan")
    units = margin_units(engine)
    per = member_units(engine)
    prob_units = units == "probability" or any(u == "probability" for u, _ in per or ())
    if not np.isfinite(m) or m < 0 or (prob_units and m >= 1):
        raise InputValidationError(
            f"min_margin must be a finite number >= 0 (and < 1 for a probability margin); "
            f"got {min_margin!r}. It is in {units} units for this model.")
    sets = list(_as_sets(exclude))
    enc = engine.encoding
    scale = float(enc.info.get("n_trees", 1)) if units == "probability" else 1.0
    # a ModelSet: each model's margin in its own units, one score margin per model
    score_margin: Any = m * scale if per is None else tuple(m * f for _, f in per)
    res = engine.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                         exclude=sets, _score_margin=score_margin)
    if res.status == "already_target":
        return res
    plain = engine.explain(applicant, target=target, norm=norm, time_limit=time_limit,
                           exclude=sets)
    stats = dict(res.stats, min_margin=m,
                 margin_units=units if per is None else [u for u, _ in per],
                 cost_without=dict(res.stats.get("cost_without") or {},
                                   min_margin=plain.cost if plain.has_recourse else None))
    if res.counterfactual is not None and res.verified:
        own = model_margin(engine, [res.counterfactual], res.target)
        got = float(np.min(own))
        stats["margin"] = got if per is None else [float(v) for v in own[:, 0]]
        if got < m - 1e-9 * max(1.0, m):
            return replace(res, status="error", verified=False, stats=stats, message=(
                f"The counterfactual wins by {got:.6g} in the model's own {units}, less than "
                f"min_margin={m:g}; this is a bug worth reporting with the model."))
        return replace(res, stats=stats)
    if res.status == "no_recourse" and plain.has_recourse:
        stats["blocking_option"] = "min_margin"
        return replace(res, stats=stats, message=(
            f"No allowed change makes {res.target!r} win by min_margin={m:g} ({units}), "
            f"proven by the solver; without the margin the cheapest recourse costs "
            f"{plain.cost:.6g}. Lower min_margin to obtain recourse."))
    return replace(res, stats=stats)


def _as_sets(exclude: Iterable[Iterable[str]]) -> list[Any]:
    if isinstance(exclude, (str, bytes)):
        return [exclude]  # rejected with a clear message by RecourseEngine.explain
    return [S if isinstance(S, (str, bytes)) else frozenset(S) for S in exclude]


def plausibility_score(iforest: Any, engine: RecourseEngine,
                       result: RecourseResult) -> float | None:
    """``iforest.score_samples`` of ``result``'s counterfactual (None without one), for
    results of any engine, with or without the plausibility constraint: the higher, the
    more typical (sklearn's ``predict`` calls a row an inlier from ``offset_`` upwards)."""
    if result.counterfactual is None:
        return None
    return float(np.asarray(iforest.score_samples(
        model_input(iforest, engine.schema, [result.counterfactual])))[0])

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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recourse.encoders.errors import InputValidationError
from recourse.margins import margin_units, model_margin
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema
from recourse.verify import model_input, model_predict
from recourse.solvers.relu_box import grow_relu_box
from recourse.solvers.robust import grow_linear_box, grow_tree_box


__all__ = ["CertifiedBox", "certified_box", "BOX_MODELS", "model_margin",
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


def certified_box(engine: Any, result: RecourseResult, *,
                  time_limit: float = 30.0, margin: float | None = None) -> CertifiedBox:
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
    margin : float, optional
        The margin the target must win by throughout the box, in the encoded score
        (default: the engine's own; ``explain(..., min_margin=m, box=True)`` passes the
        query's).

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
    margin = engine.margin if margin is None else max(engine.margin, float(margin))
    x0 = space.encode(engine.schema.validate_row(result.factual))
    s_cf = space.encode(engine.schema.validate_row(result.counterfactual))
    t_idx = engine.classes.index(result.target)
    if enc.tree is not None:
        box = grow_tree_box(enc, spec, x0, s_cf, t_idx, margin, 0.0, time_limit)
    elif enc.kind == "linear":
        box = grow_linear_box(enc, spec, x0, s_cf, t_idx, margin)
    elif enc.network is not None and enc.decision != "score":
        box = grow_relu_box(enc, spec, x0, s_cf, t_idx, margin, time_limit,
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


def plausibility_score(iforest: Any, engine: Any,
                       result: RecourseResult) -> float | None:
    """``iforest.score_samples`` of ``result``'s counterfactual (None without one), for
    results of any engine, with or without the plausibility constraint: the higher, the
    more typical (sklearn's ``predict`` calls a row an inlier from ``offset_`` upwards)."""
    if result.counterfactual is None:
        return None
    return float(np.asarray(iforest.score_samples(
        model_input(iforest, engine.schema, [result.counterfactual])))[0])

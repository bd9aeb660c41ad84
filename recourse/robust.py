"""Robust recourse: certified boxes around a verified counterfactual.

:func:`certified_box` turns a point answer ("reduce the credit amount to exactly 3,200")
into a range ("to 3,200 DM or less"): an axis-aligned box around the counterfactual,
inside the action set, in which the model approves every point. Exact for tree ensembles
(from the split thresholds, each slab checked by a small 0/1 program) and for linear
models (closed form); the box is maximal by inclusion (no face can move out), grown face
by face in schema order, see ``solvers.robust``. Categorical features stay at the
counterfactual's level.

Examples
--------
>>> res = engine.explain(applicant)                        # doctest: +SKIP
>>> box = certified_box(engine, res)                       # doctest: +SKIP
>>> box.advice()                                           # doctest: +SKIP
['credit_amount: between 250 and 3200', ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from encoders.errors import InputValidationError
from recourse.result import RecourseResult
from solvers.robust import grow_linear_box, grow_tree_box

if TYPE_CHECKING:  # pragma: no cover
    from recourse.explain import RecourseEngine

__all__ = ["CertifiedBox", "certified_box", "BOX_MODELS"]

#: Model families :func:`certified_box` supports.
BOX_MODELS = ("decision trees, random forests, extra trees, gradient boosting "
              "(tree encodings)", "linear models (LogisticRegression, LinearSVC, ...)")


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
        ends there), ``"model"`` (a rejected point lies just beyond, see ``witnesses``)
        or ``"undecided"`` (the check timed out; the face may be conservative).
    witnesses : dict
        ``{(feature, side): row}`` for ``"model"`` faces: a full applicant row just
        beyond the face, every other feature inside the box, which the model rejects.
    checks : int
        0/1 programs solved (tree ensembles).
    time : float
        Seconds spent.
    """

    bounds: dict[str, tuple[float, float]]
    fixed: dict[str, Any]
    faces: dict[tuple[str, str], str] = field(default_factory=dict)
    witnesses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    checks: int = 0
    time: float = 0.0

    def contains(self, row: dict[str, Any]) -> bool:
        """Whether the row lies in the box."""
        return (all(lo <= float(row[n]) <= hi for n, (lo, hi) in self.bounds.items())
                and all(row[n] == v for n, v in self.fixed.items()))

    def advice(self) -> list[str]:
        """One phrase per numeric feature that may vary, e.g. ``"debt: 12.5 or less"``
        (a side at the action set's limit is left unsaid)."""
        out = []
        for name, (lo, hi) in self.bounds.items():
            if lo == hi:
                continue
            up = self.faces.get((name, "upper")) == "model"
            down = self.faces.get((name, "lower")) == "model"
            if up and down:
                out.append(f"{name}: between {lo:.6g} and {hi:.6g}")
            elif up:
                out.append(f"{name}: {hi:.6g} or less")
            elif down:
                out.append(f"{name}: {lo:.6g} or more")
        return out


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
        Seconds per 0/1 check (tree ensembles); a check that times out leaves its face
        ``"undecided"`` (conservative, never wrong).

    Raises
    ------
    InputValidationError
        ``result`` has no verified counterfactual, or comes from a causal engine.
    NotImplementedError
        The model is neither a tree ensemble nor linear (e.g. a ReLU network).
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
    space, spec = engine.space, engine.spec
    x0 = space.encode(engine.schema.validate_row(result.factual))
    s_cf = space.encode(engine.schema.validate_row(result.counterfactual))
    t_idx = engine.classes.index(result.target)
    if enc.tree is not None:
        box = grow_tree_box(enc, spec, x0, s_cf, t_idx, engine.margin, 0.0, time_limit)
    elif enc.kind == "linear":
        box = grow_linear_box(enc, spec, x0, s_cf, t_idx, engine.margin)
    else:
        raise NotImplementedError(
            f"certified_box supports {' and '.join(BOX_MODELS)}; the model is encoded as "
            f"{enc.kind!r}. For ReLU networks, check candidate ranges with the model's "
            "predict instead.")
    names = space.names
    bounds = {names[j]: (_user(space, j, box.low[j]), _user(space, j, box.high[j]))
              for j in range(space.n_features) if not space.is_group(j)}
    fixed = {names[j]: (space.levels[j] or ())[lv] for j, lv in box.level.items()}
    side_name = {1: "upper", -1: "lower"}
    faces = {(names[j], side_name[s]): f.reason for (j, s), f in box.faces.items()}
    witnesses = {(names[j], side_name[s]): space.decode(f.witness)
                 for (j, s), f in box.faces.items() if f.witness is not None}
    return CertifiedBox(bounds=bounds, fixed=fixed, faces=faces, witnesses=witnesses,
                        checks=box.checks, time=box.time)


def _user(space: Any, j: int, v: float) -> float:
    return float(int(round(v))) if space.integer[j] else float(v)

"""Several models in one query: a ModelSet (every model must approve) or a
PlausibleModel (the classifier approves and an isolation forest finds the answer
typical).

All-tree sets share one joint tree block (``recourse.encoders.multi``); any other mix is a
value block with every member appended through the value view
(``recourse.solvers.stack``). Either way the option is priced by solving the same query
with each model alone (``cost_without[option]``: a list for a ModelSet, one cost for a
PlausibleModel), and on ``no_recourse`` it is named as blocking when every model alone
has recourse.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np

from recourse.encoders.multi import ModelSet, MultiEncodedModel, StackEncodedModel
from recourse.engine.options.base import Option
from recourse.solvers.stack import StackBlocks

__all__ = ["ModelsOption", "PlausibilityReport"]


class ModelsOption(Option):
    """The models of a ModelSet / PlausibleModel (see module docstring)."""

    def __init__(self, prepared: Any) -> None:
        enc = prepared.encoding
        self.name = str(enc.info["option"])
        self.text = str(enc.info.get("option_text", self.name))
        self.stack = None
        self.needs_values = False
        self.adds_rows = False
        if isinstance(enc, StackEncodedModel):
            self.stack = StackBlocks(enc, bounds=prepared.bounds)
            self.stack.reference, self.stack.reference_pred = prepared.ref, prepared.ref_pred
            self.needs_values = self.adds_rows = self.replaces_start = True
        self._alone: list[Any] | None = None
        self._lock = threading.Lock()
        self._template = prepared

    def fresh(self) -> Option:
        if self.stack is None:
            return self
        out = object.__new__(ModelsOption)
        out.__dict__.update(self.__dict__)
        out.stack = replace(self.stack)
        return out

    def view_rows(self, ctx: Any, prob: Any, view: Any) -> Any:
        if self.stack is None:
            return prob
        q = ctx.query
        self.stack.margin, self.stack.ties = float(np.min(ctx.margin)), float(ctx.ties)
        self.stack.extra = ctx.model_margins
        self.stack.norm = "l1" if q.norm == "l1" else "l0"
        self.stack.use_start = (ctx.use_incumbent and ctx.prepared.cspec is None
                                and q.goal is None)
        return self.stack.add(ctx.prepared, prob, view, q.x0, q.t_idx)

    def start(self, ctx: Any, prob: Any, view: Any, inc: Any) -> tuple[Any, Any]:
        return (prob, self.stack.start) if self.stack is not None else (prob, inc)

    def snap(self, ctx: Any, prob: Any, view: Any, values: np.ndarray) -> np.ndarray:
        if self.stack is None or view is None:
            return values
        return self.stack.snap(prob, view, values)

    def member_margins(self, margin: Any, model_margins: np.ndarray | None) -> Any:
        """Joint tree blocks of a ModelSet take one margin per member."""
        if model_margins is not None and isinstance(self._template.encoding,
                                                    MultiEncodedModel):
            return np.maximum(margin, model_margins)
        return margin

    # ------------------------------------------------------------- pricing
    def _engines(self, engine: Any) -> list[Any]:
        """One engine per model alone, built on first use (by the engine's own class)."""
        with self._lock:
            if self._alone is None:
                P = engine.prepared
                models = (P.model.models if isinstance(P.model, ModelSet)
                          else [P.model.model])
                self._alone = [type(engine)(
                    m, P.schema, reference=P.reference, backend=P.backend, margin=P.margin,
                    bounds=P.bounds, causal=P.causal, backend_options=P.backend_options,
                    seen_together=engine.seen_together, price_options=False)
                    for m in models]
        return self._alone

    def price(self, request: Any) -> Any:
        q = request.query
        names = [[request.engine.schema.names[j] for j in S] for S in q.excluded]
        res = [e.explain(q.row, target=q.target, norm=q.norm,
                         time_limit=q.deadline.remaining(),
                         exclude=[set(S) for S in names])
               for e in self._engines(request.engine)]
        costs = [r.cost if r.has_recourse else None for r in res]
        return costs if self.name == "models" else costs[0]

    def opens(self, priced: Any) -> bool:
        return all(c is not None for c in np.atleast_1d(np.asarray(priced, dtype=object)))


class PlausibilityReport(Option):
    """``plausibility_score`` (``score_samples``, higher is more typical) and
    ``plausibility_min_score`` of every answer: the PlausibleModel's own forest, or an
    isolation forest given for reporting only."""

    adds_rows = False

    def __init__(self, iforest: Any, schema: Any, own: bool) -> None:
        self.iforest, self.schema, self.own = iforest, schema, own

    def report(self, ctx: Any, cf: dict[str, Any]) -> dict[str, Any]:
        from recourse.verify import model_input

        iso = self.iforest
        if self.own:  # a PlausibleModel: its forest's score on the model's input
            return {"plausibility_score": float(iso.score_samples(
                model_input(iso, self.schema, [cf]))[0]),
                "plausibility_min_score": iso.min_score}
        est = iso[-1] if hasattr(iso, "steps") else iso
        return {"plausibility_score": float(np.asarray(iso.score_samples(
            model_input(iso, self.schema, [cf])))[0]),
            "plausibility_min_score": float(est.offset_)}

"""The certified box stage: after a verified answer, the box around it in which the
model approves every point (``recourse.robust.certified_box``). The answer never fails
because of its box: a box that cannot be built leaves ``box`` None and says why in
``stats.box_error``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from recourse.margins import margin_units
from recourse.result import RecourseResult
from recourse.robust import certified_box

__all__ = ["attach_box"]


def attach_box(engine: Any, res: RecourseResult, time_limit: float) -> RecourseResult:
    if not (res.verified and res.status in ("optimal", "feasible")
            and res.counterfactual is not None):
        return res
    if engine.causal is not None:
        return replace(res, stats=res.stats.with_(box_error=(
            "certified boxes do not support causal engines yet (a box of interventions "
            "moves the consequences too)")))
    margin = None
    if res.stats.min_margin is not None:  # certify the margin asked for
        scale = (float(engine.encoding.info.get("n_trees", 1))
                 if margin_units(engine) == "probability" else 1.0)
        margin = float(res.stats.min_margin) * scale
    try:
        found = certified_box(engine, res, margin=margin,
                              time_limit=max(1e-3, min(30.0, time_limit)))
    except Exception as exc:  # the answer never fails because of its box
        return replace(res, stats=res.stats.with_(box_error=f"{type(exc).__name__}: {exc}"))
    return replace(res, box=found, stats=res.stats.with_(box_time=found.time))

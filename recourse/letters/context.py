"""The template context of a letter: plain data a compliance team's template can use.

Context keys (every template gets all of them; see ``recourse/templates/letter.md.j2``)
--------------------------------------------------------------------------------------
``title``, ``applicant_id``, ``date`` (YYYY-MM-DD, UTC), ``organisation``
    Header fields.
``decision``
    ``"declined"`` when the model's prediction is not the target, else ``"approved"``.
``predicted``, ``target``
    The model's class for the applicant and the class that approval needs (text).
``status``
    Status of the optimal recourse (``optimal``, ``feasible``, ``no_recourse``,
    ``already_target``, ``time_limit``, ``error``; see ``recourse.STATUSES``).
``options``
    List, cheapest first; each a dict with ``number``, ``status``, ``proven`` (optimality
    proven by the solver), ``verified`` (checked with the model's own predict),
    ``cost``/``bound``/``gap`` (text), ``changes`` (list of dicts: ``feature``,
    ``label``, ``before``, ``after`` in the applicant's units, ``sentence``, ``share`` of
    the option's cost in %, ``range``: the certified range of the new value, e.g.
    ``"7,839 DM or less"``, or ``""``), ``consequences`` (list of sentences: the expected
    knock-on effects of the actions under a causal model; empty unless given; render them
    apart from the actions, as things that follow rather than things to do), and
    ``ranges`` (the option's certified box, ``RecourseResult.box``, as phrases such as
    ``"Credit amount: 7,839 DM or less"``: the model approves every combination within
    them; empty without a box). With a box, a change's ``sentence`` reads as a range
    ("Reduce credit amount from 8,318 DM to 7,839 DM or less").
``requested``, ``stopped``, ``stop_text``
    How many options were asked for, why the search stopped (``recourse.OPTION_STOPS``)
    and a sentence for the letter when fewer options than requested are shown.
``no_recourse``, ``no_recourse_text``
    True, and an explicit sentence, when the solver proved that no allowed change reaches
    the target.
``reasons``, ``reasons_source``
    The principal reasons, most important first: dicts with ``feature``, ``label``,
    ``value`` (the applicant's current value) and ``why``; derived from the recourse
    options (the features the cheapest option changes, ranked by their share of its cost,
    then those of the other options).
``attributions``, ``attribution_method``
    Optional scores from an attribution method (``reasons=`` mapping), labelled with the
    method's name; dicts with ``label``, ``score`` (text), ``immutable``. Empty if none.
``fixed``, ``one_way``, ``mutable``
    Sentences on the features the applicant was never asked to change (immutable, with
    the schema's reason) and those allowed in one direction only; the labels of the
    features the action set lets change.
``norm_text``
    What the cost measures.
``trace``, ``trace_json``
    The traceability appendix as (label, value) pairs, and as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recourse.encoders.errors import InputValidationError
from recourse.letters.text import change_sentence, feature_of, fmt_value
from recourse.letters.trace import Trace, trace_json, trace_lines
from recourse.result import Change, RecourseOptions, RecourseResult
from recourse.schema import Feature, FeatureSchema

__all__ = ["letter_context", "principal_reasons", "NORM_TEXT"]

NORM_TEXT = {
    "l1": "weighted L1: each unit of change divided by the feature's typical spread "
          "(median absolute deviation); a change of category costs 1",
    "l0": "the number of features changed",
    "l0_l1": "the number of features changed, ties broken by the weighted L1 cost",
}

_NO_RECOURSE = (
    "No combination of the changes you are able to make would lead this model to "
    "approve the application. The solver proved this under the rules listed below; it "
    "is an answer, not a failure of the search."
)


def _fmt_opt(x: float | None, spec: str = ".4g") -> str:
    return "–" if x is None else format(x, spec)  # noqa: RUF001 (a dash for "none")


def feature_change_cost(f: Feature | None, before: Any, after: Any) -> float:
    """L1 cost of one change as the schema defines it (for cost shares)."""
    if f is None:
        return 0.0
    if f.kind == "categorical":
        return float(f.weight) if before != after else 0.0
    if f.kind == "ordinal":
        cats = list(f.categories or ())
        if before in cats and after in cats:
            return f.weight * abs(cats.index(after) - cats.index(before)) / f.scale
        return float(f.weight)
    try:
        return f.weight * abs(float(after) - float(before)) / f.scale
    except (TypeError, ValueError):
        return float(f.weight)


def _option(i: int, res: RecourseResult, schema: FeatureSchema,
            consequences: Sequence[Any]) -> dict[str, Any]:
    # causal recourse: the result's own consequences, unless given explicitly; the
    # changes to ask for are then the actions only
    following = {c.feature for c in res.consequences}
    consequences = list(consequences) or list(res.consequences)
    acts = [c for c in res.changes if c.feature not in following]
    costs = [res.feature_costs.get(c.feature, feature_change_cost(
        feature_of(schema, c.feature), c.before, c.after)) for c in acts]
    total = sum(costs)
    from recourse.letters.wording import box_phrases, range_phrase, range_sentence

    changes = []
    for c, cost in zip(acts, costs):
        f = feature_of(schema, c.feature)
        if f is not None and f.immutable:
            raise InputValidationError(
                f"Option {i} changes the immutable feature {c.feature!r}; a letter never "
                "suggests that. The result does not match this schema: pass the schema "
                "the recourse was computed with.")
        changes.append({
            "feature": c.feature, "label": f.display if f is not None else c.feature,
            "before": fmt_value(f, c.before), "after": fmt_value(f, c.after),
            "sentence": (range_sentence(schema, c.feature, c.before, c.after, res.box)
                         or change_sentence(schema, c.feature, c.before, c.after)),
            "share": round(100 * cost / total) if total > 0 else None, "cost": cost,
            "range": ((range_phrase(res.box, c.feature, schema) or ("",))[0]
                      if res.box is not None else ""),
        })
    order = sorted(range(len(changes)), key=lambda t: -costs[t])
    changes = [changes[t] for t in order]
    return {
        "number": i, "status": res.status, "proven": bool(res.optimal),
        "verified": bool(res.verified), "cost": _fmt_opt(res.cost, ".3g"),
        "bound": _fmt_opt(res.bound, ".3g"), "gap": _fmt_opt(res.gap, ".2%"),
        "changes": changes,
        "consequences": [_consequence(schema, c) for c in consequences],
        "ranges": [p for _, p in box_phrases(res.box, schema)] if res.box is not None else [],
    }


def _consequence(schema: FeatureSchema, c: Any) -> str:
    if isinstance(c, str):
        return c
    c = Change(*c)
    f = feature_of(schema, c.feature)
    label = f.display if f is not None else c.feature
    return (f"{label[:1].upper()}{label[1:]} would change from {fmt_value(f, c.before)} to "
            f"{fmt_value(f, c.after)} as a result")


def principal_reasons(results: Sequence[RecourseResult], schema: FeatureSchema,
                      factual: Mapping[str, Any], limit: int = 4) -> list[dict[str, Any]]:
    """The features whose change matters most for this applicant, most important first.

    Derived from the recourse options only: the features the cheapest option changes,
    ranked by their share of its cost (the bigger the change needed, the further the
    applicant is from approval on that feature), then the features only later options
    change, in option order. Immutable features never appear (no option changes them).
    """
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, res in enumerate(results, 1):
        opt = _option(i, res, schema, ())
        for ch in opt["changes"]:
            if ch["feature"] in seen:
                continue
            seen.add(ch["feature"])
            f = feature_of(schema, ch["feature"])
            value = factual.get(ch["feature"], ch["before"]) if factual else ch["before"]
            if i == 1 and len(opt["changes"]) > 1 and ch["share"] is not None:
                why = (f"part of the smallest change that would lead to approval "
                       f"({ch['share']} % of its cost)")
            elif i == 1:
                why = "the smallest change that would lead to approval changes it"
            else:
                why = f"changing it is part of option {i}"
            shown = fmt_value(f, value)
            if f is not None and f.is_group:
                shown = f"“{shown}”"
            out.append({"feature": ch["feature"], "label": ch["label"], "value": shown,
                        "why": why})
    return out[:limit]


def _attributions(reasons: Mapping[str, float] | None, schema: FeatureSchema,
                  limit: int) -> list[dict[str, Any]]:
    if not reasons:
        return []
    unknown = [n for n in reasons if n not in schema]
    if unknown:
        raise InputValidationError(
            f"reasons= names features not in the schema: {sorted(unknown)[:5]}; give a "
            "mapping from the schema's feature names to attribution scores.")
    ranked = sorted(reasons.items(), key=lambda kv: -abs(float(kv[1])))[:limit]
    return [{"feature": n, "label": schema[n].display, "score": f"{float(s):+.3g}",
             "immutable": schema[n].immutable} for n, s in ranked]


def letter_context(answer: RecourseResult | RecourseOptions, schema: FeatureSchema,
                   trace: Trace, *, title: str = "Decision on your application",
                   organisation: str = "", reasons: Mapping[str, float] | None = None,
                   attribution_method: str = "", consequences: Sequence[Sequence[Any]] = (),
                   max_reasons: int = 4) -> dict[str, Any]:
    """The documented template context (module docstring) of one letter.

    Parameters
    ----------
    answer : RecourseResult or RecourseOptions
        One answer (one option), or the options of :meth:`RecourseEngine.options`.
    schema : FeatureSchema
        The schema the answer was computed with (labels, units, reasons).
    trace : Trace
        From :func:`recourse.letters.make_trace`.
    reasons : mapping of feature name to score, optional
        Attribution scores from an analysis method (e.g. SHAP); shown in their own
        section, labelled with ``attribution_method``; not used to rank the principal
        reasons, which come from the recourse itself.
    consequences : sequence of sequences, optional
        Per option, the expected consequences of its actions under a causal model:
        ``Change(feature, before, after)`` tuples or sentences.

    Raises
    ------
    InputValidationError
        An option changes a feature the schema declares immutable; ``reasons`` names
        unknown features; more consequence lists than options.
    """
    if isinstance(answer, RecourseOptions):
        results, final = list(answer.options), answer.final
        requested, stopped, stop_msg = answer.requested, answer.stopped, answer.message
    else:
        has = answer.status in ("optimal", "feasible")
        results, final = ([answer] if has else []), (None if has else answer)
        requested, stopped, stop_msg = 1, ("k_reached" if has else answer.status), ""
    if len(consequences) > len(results):
        raise InputValidationError(
            f"{len(consequences)} lists of consequences for {len(results)} options; give "
            "one list per option (an empty list for an option without consequences).")
    head = results[0] if results else final
    assert head is not None
    cons = list(consequences) + [()] * (len(results) - len(consequences))
    options = [_option(i, r, schema, c) for i, (r, c) in enumerate(zip(results, cons), 1)]
    status = head.status
    predicted, target = str(head.predicted), str(head.target)
    stop_text = ""
    if results and stopped == "exhausted":
        stop_text = ("No other option exists: the solver proved that every other allowed "
                     "change that leads to approval includes all the changes of an option "
                     "above.")
    elif results and stopped in ("time_limit", "error"):
        stop_text = ("We looked for further options but the search stopped before finding "
                     f"one ({stop_msg}).")
    factual = head.factual
    return {
        "title": title, "organisation": organisation, "applicant_id": trace.applicant_id,
        "date": trace.time_utc[:10],
        "decision": "approved" if predicted == target else "declined",
        "predicted": predicted, "target": target, "status": status,
        "message": head.message,
        "options": options, "requested": requested, "stopped": stopped,
        "stop_text": stop_text,
        "no_recourse": status == "no_recourse",
        "no_recourse_text": _NO_RECOURSE,
        "reasons": principal_reasons(results, schema, factual, max_reasons),
        "reasons_source": "the recourse options below",
        "attributions": _attributions(reasons, schema, max_reasons),
        "attribution_method": attribution_method or ("attribution scores" if reasons else ""),
        "fixed": [f"{f.display}: {f.reason}" if f.reason else f.display
                  for f in schema if f.immutable],
        "mutable": [f.display for f in schema if not f.immutable],
        "one_way": [f"{f.display} may only {f.direction}" + (f": {f.reason}" if f.reason else "")
                    for f in schema if f.direction != "any"],
        "norm_text": NORM_TEXT.get(head.norm, head.norm),
        "trace": trace_lines(trace), "trace_json": trace_json(trace),
    }

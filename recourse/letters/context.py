"""The template context of a letter: plain data a compliance team's template can use.

Every template (``plain``, ``adverse-action``, ``explanation``, in Markdown and HTML, or
your own) gets the same context, rendered with ``StrictUndefined``. Text meant for the
applicant holds no cost figures, solver names or norms; those are under ``appendix``.

Header and decision
-------------------
``purpose``
    ``"plain"``, ``"adverse-action"`` or ``"explanation"``.
``title``, ``organisation``, ``applicant_id``, ``date`` (YYYY-MM-DD, UTC)
``approved``
    True when the model already predicts the class approval needs.
``decision``
    The decision word of the predicted class from the phrasebook (default
    ``"declined"`` / ``"approved"``).
``assessment``
    The phrasebook's words for the model's assessment of the applicant, or ``""`` (the
    bundled templates then leave the assessment out rather than print a class label).
``predicted``, ``target``
    The raw class labels (for the bank's own templates; the bundled ones do not print
    them).
``status``
    Status of the first query (``recourse.STATUSES``).
``rights``
    The applicant's-rights paragraph given to ``render_letter(rights=...)``, or ``""``:
    the ``adverse-action`` and ``explanation`` templates print it in their ``rights``
    block, which a bank may override instead.

Reasons (every one checked: :mod:`recourse.letters.reasons`)
------------------------------------------------------------
``reasons``
    The principal reasons that passed their check, most important first, at most
    ``max_reasons``: dicts with ``feature``, ``label``, ``phrase`` (the phrasebook's
    reason phrase, else the label), ``value`` (the applicant's value in units),
    ``weight`` (how it weighed, in words: a share of the smallest change, or an
    attribution score) and ``marked`` (False).
``marked_reasons``
    With ``failed_reasons="mark"``: the reasons that failed, same keys plus ``check``
    and ``marked`` True; a template prints them marked for the bank's reviewer. Empty
    with ``"withhold"`` (the default).
``reasons_source``
    ``"options"`` or ``"attribution"``; ``attribution_method``: the method's name.
``withheld``
    How many candidate reasons failed their check (recorded in the appendix).

What would change the decision
------------------------------
``options``
    Cheapest first; each a dict with ``number``, ``proven`` (no smaller change exists),
    ``verified`` (the model's own predict approves it), ``changes`` (dicts with
    ``feature``, ``label``, ``before``, ``after`` in units, ``sentence`` in the bank's
    words, ``share`` of the option in % or None, ``range``), ``consequences`` (sentences
    on what follows under a causal model; not actions), ``causal`` (one sentence joining
    actions and consequences, or ``""``) and ``ranges`` (certified ranges, or empty).
``requested``, ``stopped``, ``stop_text``
    How many options were asked for, why the search stopped, and a sentence when fewer
    were found.
``no_recourse``, ``no_recourse_text``
    True and the sentence when it is proven that no allowed change leads to approval.
``fixed``, ``one_way``, ``mutable``
    Sentences on what the applicant was never asked to change and what may move one
    way only; the labels of the features that may change.

Appendix (for the bank's file)
------------------------------
``appendix``
    ``"none"``, ``"internal"`` or ``"full"``; templates print nothing below for ``none``.
``trace``
    The computation record as (label, value) pairs (model fingerprint, schema hash,
    solver, status and proof, time); ``full`` adds library versions and the change sets
    each option query excluded.
``option_facts``
    Per option: ``number``, ``status``, ``proven``, ``verified``, ``cost``, ``bound``,
    ``gap`` (text), ``features`` (labels).
``checks``
    Every reason check: dicts with ``label``, ``source``, ``score`` (text or ``""``),
    ``result`` (``printed``, ``withheld`` or ``marked``) and ``check`` (what was tested).
``norm_text``
    What the cost measures.
``trace_json``
    The trace as JSON (``full``: embedded in the HTML, shown in Markdown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recourse.encoders.errors import InputValidationError
from recourse.letters.phrasebook import Phrasebook, load_phrasebook
from recourse.letters.reasons import (
    ReasonCheck,
    check_attribution_reasons,
    check_failed_policy,
    check_option_reasons,
    options_budget,
)
from recourse.letters.text import cap_first, causal_sentence, change_sentence, feature_of, fmt_value
from recourse.letters.trace import Trace, trace_json, trace_lines
from recourse.result import Change, RecourseOptions, RecourseResult
from recourse.schema import Feature, FeatureSchema

__all__ = ["letter_context", "principal_reasons", "NORM_TEXT", "PURPOSES", "APPENDIX"]

#: Letter templates by purpose.
PURPOSES = ("plain", "adverse-action", "explanation")
#: How much of the computation record a letter carries.
APPENDIX = ("none", "internal", "full")

NORM_TEXT = {
    "l1": "weighted L1: each unit of change divided by the feature's typical spread "
          "(median absolute deviation); a change of category costs 1",
    "l0": "the number of features changed",
    "l0_l1": "the number of features changed, ties broken by the weighted L1 cost",
}

_NO_RECOURSE = (
    "No combination of the changes you are able to make would lead to approval under our "
    "current model. This was proven, not merely not found: every allowed change was "
    "taken into account."
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


def _option(i: int, res: RecourseResult, schema: FeatureSchema, consequences: Sequence[Any],
            words: Phrasebook) -> dict[str, Any]:
    # causal recourse: the result's own consequences, unless given explicitly; the
    # changes to ask for are then the actions only
    following = {c.feature for c in res.consequences}
    cons_given = list(consequences)
    cons_changes = [Change(*c) for c in (cons_given or res.consequences)
                    if not isinstance(c, str)]
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
                         or change_sentence(schema, c.feature, c.before, c.after, words)),
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
        "consequences": [_consequence(schema, c) for c in (cons_given or res.consequences)],
        "causal": causal_sentence(schema, acts, cons_changes),
        "ranges": [p for _, p in box_phrases(res.box, schema)] if res.box is not None else [],
    }


def _consequence(schema: FeatureSchema, c: Any) -> str:
    if isinstance(c, str):
        return c
    c = Change(*c)
    f = feature_of(schema, c.feature)
    label = f.display if f is not None else c.feature
    return (f"{cap_first(label)} would change from {fmt_value(f, c.before)} to "
            f"{fmt_value(f, c.after)} as a result")


def _shown_value(f: Feature | None, value: Any) -> str:
    shown = fmt_value(f, value)
    return f"“{shown}”" if f is not None and f.is_group else shown


def principal_reasons(results: Sequence[RecourseResult], schema: FeatureSchema,
                      factual: Mapping[str, Any], limit: int = 4,
                      phrasebook: Phrasebook | None = None) -> list[dict[str, Any]]:
    """The features whose change matters most for this applicant, most important first.

    Derived from the *verified* recourse options only: the features the cheapest option
    changes, ranked by their share of its cost (the bigger the change needed, the further
    the applicant is from approval on that feature), then the features only later options
    change, in option order. Immutable features never appear (no option changes them).
    """
    words = phrasebook or load_phrasebook(None)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    first_verified = True
    for i, res in enumerate(results, 1):
        if not res.verified:
            continue
        opt = _option(i, res, schema, (), words)
        for ch in opt["changes"]:
            if ch["feature"] in seen:
                continue
            seen.add(ch["feature"])
            f = feature_of(schema, ch["feature"])
            value = factual.get(ch["feature"], ch["before"]) if factual else ch["before"]
            if first_verified and len(opt["changes"]) > 1 and ch["share"] is not None:
                weight = (f"{ch['share']} % of the smallest change that would lead to "
                          "approval")
            elif first_verified:
                weight = "changing it alone would lead to approval"
            else:
                weight = f"changing it is part of another way to approval (option {i})"
            out.append({"feature": ch["feature"], "label": ch["label"],
                        "phrase": words.reason(ch["feature"]) or ch["label"],
                        "value": _shown_value(f, value), "weight": weight, "why": weight,
                        "marked": False})
        first_verified = False
    return out[:limit]


def _attribution_reason(c: ReasonCheck, schema: FeatureSchema, factual: Mapping[str, Any],
                        words: Phrasebook, method: str) -> dict[str, Any]:
    f = schema[c.feature]
    weight = f"{method} score {c.score:+.3g}" if c.score is not None else ""
    return {"feature": c.feature, "label": f.display,
            "phrase": words.reason(c.feature) or f.display,
            "value": _shown_value(f, factual.get(c.feature, "")), "weight": weight,
            "why": weight, "marked": not c.backed, "check": c.check}


def _check_rows(checks: Sequence[ReasonCheck], schema: FeatureSchema, printed: list[str],
                policy: str) -> list[dict[str, str]]:
    rows = []
    order = {n: i for i, n in enumerate(printed)}
    for c in sorted(checks, key=lambda c: order.get(c.feature, len(order))):
        f = feature_of(schema, c.feature)
        result = ("printed" if c.feature in printed else
                  "marked" if (not c.backed and policy == "mark") else
                  "withheld" if not c.backed else "not printed (limit)")
        rows.append({"feature": c.feature, "label": f.display if f else c.feature,
                     "source": c.source,
                     "score": "" if c.score is None else f"{c.score:+.3g}",
                     "result": result, "check": c.check})
    return rows


def letter_context(answer: RecourseResult | RecourseOptions, schema: FeatureSchema,
                   trace: Trace, *, purpose: str = "plain",
                   title: str | None = None, organisation: str = "",
                   reasons: Mapping[str, float] | None = None, attribution_method: str = "",
                   consequences: Sequence[Sequence[Any]] = (), max_reasons: int = 4,
                   phrasebook: Phrasebook | str | None = None, appendix: str = "internal",
                   failed_reasons: str = "withhold", rights: str = "",
                   check_model: Any = None, applicant: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The documented template context (module docstring) of one letter.

    Parameters
    ----------
    answer : RecourseResult or RecourseOptions
        One answer (one option), or the options of :meth:`RecourseEngine.options`.
    schema : FeatureSchema
        The schema the answer was computed with (labels, units, reasons).
    trace : Trace
        From :func:`recourse.letters.make_trace`.
    purpose : {"plain", "adverse-action", "explanation"}
    reasons : mapping of feature name to score, optional
        Attribution scores of the approval class's score (e.g. SHAP): the principal
        reasons are then taken from them, each checked by the ray test
        (:mod:`recourse.letters.reasons`; needs ``check_model``).
    phrasebook : Phrasebook, data-set name or YAML path, optional
        The bank's words (:mod:`recourse.letters.phrasebook`).
    appendix : {"none", "internal", "full"}
    failed_reasons : {"withhold", "mark"}
        A reason that fails its check is left out (and recorded in the appendix), or
        printed marked for the bank's reviewer.
    consequences : sequence of sequences, optional
        Per option, the expected consequences of its actions under a causal model:
        ``Change(feature, before, after)`` tuples or sentences.
    check_model : fitted model, optional
        The model the options were computed with; needed with ``reasons``.
    applicant : mapping, optional
        The applicant's full row (default: the result's ``factual``).

    Raises
    ------
    InputValidationError
        Unknown purpose, appendix or policy; an option changes an immutable feature;
        ``reasons`` names unknown features or comes without a fitted model; more
        consequence lists than options.
    """
    if purpose not in PURPOSES:
        raise InputValidationError(f"The letter purpose must be one of {list(PURPOSES)}; "
                                   f"got {purpose!r}.")
    if appendix not in APPENDIX:
        raise InputValidationError(f"appendix must be one of {list(APPENDIX)}; got "
                                   f"{appendix!r}.")
    policy = check_failed_policy(failed_reasons)
    words = load_phrasebook(phrasebook).check(schema)
    if isinstance(answer, RecourseOptions):
        results, final = list(answer.options), answer.final
        requested, stopped = answer.requested, answer.stopped
    else:
        has = answer.status in ("optimal", "feasible")
        results, final = ([answer] if has else []), (None if has else answer)
        requested, stopped = 1, ("k_reached" if has else answer.status)
    if len(consequences) > len(results):
        raise InputValidationError(
            f"{len(consequences)} lists of consequences for {len(results)} options; give "
            "one list per option (an empty list for an option without consequences).")
    head = results[0] if results else final
    assert head is not None
    cons = list(consequences) + [()] * (len(results) - len(consequences))
    options = [_option(i, r, schema, c, words)
               for i, (r, c) in enumerate(zip(results, cons), 1)]
    status = head.status
    predicted, target = head.predicted, head.target
    approved = str(predicted) == str(target)
    stop_text = ""
    if results and stopped == "exhausted":
        stop_text = ("There is no other way: every other allowed change that would lead to "
                     "approval includes all the changes of one of the options above.")
    elif results and stopped in ("time_limit", "error"):
        stop_text = ("We looked for further options but stopped before finding one.")
    factual = dict(applicant) if applicant is not None else dict(head.factual)
    method = attribution_method or "attribution"
    if reasons:
        checks = check_attribution_reasons(
            reasons, model=check_model, applicant=factual, schema=schema, target=target,
            budget=options_budget(results), method=method, limit=max_reasons)
        shown = [_attribution_reason(c, schema, factual, words, method) for c in checks]
        backed = [r for r in shown if not r["marked"]][:max_reasons]
        marked = [r for r in shown if r["marked"]] if policy == "mark" else []
        source = "attribution"
    else:
        checks = check_option_reasons(results, schema)
        backed = principal_reasons(results, schema, factual, max_reasons, words)
        failed = [c for c in checks if not c.backed]
        marked = [{"feature": c.feature, "label": schema[c.feature].display,
                   "phrase": words.reason(c.feature) or schema[c.feature].display,
                   "value": _shown_value(schema[c.feature], factual.get(c.feature, "")),
                   "weight": "", "why": "", "marked": True, "check": c.check}
                  for c in failed if c.feature in schema] if policy == "mark" else []
        source = "options"
    printed = [r["feature"] for r in backed + marked]
    check_rows = _check_rows(checks, schema, printed, policy)
    withheld = sum(r["result"] == "withheld" for r in check_rows)
    default_title = {"plain": "Decision on your application",
                     "adverse-action": "Notice of action taken on your application",
                     "explanation": "Explanation of the decision on your application"}
    lines = trace_lines(trace, full=appendix == "full")
    facts = [{"number": o["number"], "status": o["status"], "proven": o["proven"],
              "verified": o["verified"], "cost": o["cost"], "bound": o["bound"],
              "gap": o["gap"], "features": [c["label"] for c in o["changes"]]}
             for o in options]
    return {
        "purpose": purpose,
        "title": title or default_title[purpose], "organisation": organisation,
        "applicant_id": trace.applicant_id, "date": trace.time_utc[:10],
        "approved": approved,
        "decision": words.decision_word(predicted, approved),
        "assessment": words.assessment_of(predicted),
        "predicted": str(predicted), "target": str(target), "status": status,
        "message": head.message, "rights": rights,
        "options": options, "requested": requested, "stopped": stopped,
        "stop_text": stop_text,
        "no_recourse": status == "no_recourse",
        "no_recourse_text": _NO_RECOURSE,
        "reasons": backed, "marked_reasons": marked, "reasons_source": source,
        "attribution_method": method if reasons else "", "withheld": withheld,
        "fixed": [f"{f.display}: {f.reason}" if f.reason else f.display
                  for f in schema if f.immutable],
        "mutable": [f.display for f in schema if not f.immutable],
        "one_way": [f"{f.display} may only {f.direction}" + (f": {f.reason}" if f.reason else "")
                    for f in schema if f.direction != "any"],
        "appendix": appendix, "trace": lines, "option_facts": facts, "checks": check_rows,
        "norm_text": NORM_TEXT.get(head.norm, head.norm),
        "trace_json": trace_json(trace),
    }

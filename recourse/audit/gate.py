"""The release gate of :func:`recourse.audit.compare.compare`: ``--fail-if`` expressions,
parsed before any solving and checked against the comparison's figures.

Grammar (one expression per ``--fail-if``; the release fails when any holds)::

    EXPR   := METRIC [ "[" GROUP "]" ] OP NUMBER
    METRIC := a key of METRICS (below; also recourse.audit.compare.METRICS)
    GROUP  := a group of the protected attribute as written in the report | "*"
    OP     := ">" | ">=" | "<" | "<="
    NUMBER := a plain decimal (0.01, 1.2, 1e-3; not 1%)

``[*]`` checks every group. A metric that is undefined where it is checked (a cost ratio
with no recourse under A, say) fails the gate, except under ``[*]``, where such groups are
listed as not evaluated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.encoders.errors import InputValidationError, cap_list

__all__ = ["GRAMMAR", "METRICS", "Gate", "evaluate_gates", "parse_gate"]

#: Every figure a gate can test, with its meaning. Shares are of the applicants whose row
#: is valid for both models; costs are over applicants with recourse.
METRICS = {
    "denial_rate_a": "share of applicants model A denies",
    "denial_rate_b": "share of applicants model B denies",
    "denial_rate_increase": "denial_rate_b - denial_rate_a",
    "precluded_rate_a": "share of applicants denied by A with proven no recourse",
    "precluded_rate_b": "share of applicants denied by B with proven no recourse",
    "precluded_increase": "precluded_rate_b - precluded_rate_a",
    "recourse_rate_a": "share of A's denied applicants with recourse",
    "recourse_rate_b": "share of B's denied applicants with recourse",
    "recourse_rate_decrease": "recourse_rate_a - recourse_rate_b",
    "newly_denied": "share of applicants approved by A and denied by B",
    "newly_approved": "share of applicants denied by A and approved by B",
    "lost_recourse": "share of applicants denied by both, with recourse under A only",
    "gained_recourse": "share of applicants denied by both, with recourse under B only",
    "newly_precluded": "share of applicants precluded under B but not under A (lost "
                       "recourse, or newly denied without recourse)",
    "unresolved": "share of applicants unresolved (time limit, error) under either model",
    "median_cost_a": "median cost of recourse under A",
    "median_cost_b": "median cost of recourse under B",
    "median_cost_ratio": "median_cost_b / median_cost_a",
    "mean_cost_ratio": "mean cost under B / mean cost under A",
    "median_cost_change": "median of cost_b - cost_a over applicants with recourse under "
                          "both",
    "mean_cost_change": "mean of cost_b - cost_a over applicants with recourse under both",
}

_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
_GATE_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(?P<group>.*)\])?\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
GRAMMAR = ("METRIC[GROUP] OP NUMBER, e.g. 'precluded_increase>0.01', "
           "'median_cost_ratio[*]>1.2' or 'lost_recourse[female]>=0.05': METRIC one of the "
           "compare metrics, the optional [GROUP] a group of the protected attribute as "
           "written in the report or * for every group, OP one of > >= < <=, NUMBER a plain "
           "decimal (0.01, not 1%)")

@dataclass(frozen=True)
class Gate:
    """One parsed ``--fail-if`` expression: the release fails when ``metric op value``
    holds (overall, for one group, or for any group with ``group == "*"``)."""

    text: str
    metric: str
    group: str | None
    op: str
    value: float


def parse_gate(text: str, groups: list[str] | None = None) -> Gate:
    """Parse a release-gate expression.

    Grammar: ``METRIC [ "[" GROUP "]" ] OP NUMBER`` where METRIC is a key of
    :data:`METRICS`, GROUP a group of the protected attribute as written in the report
    (or ``*``: every group), OP one of ``> >= < <=`` and NUMBER a plain decimal
    (``0.01``; percentages are not accepted). Spaces around the parts are allowed.

    Parameters
    ----------
    text : str
    groups : list of str, optional
        The protected attribute's groups; None when there is no protected attribute (a
        ``[GROUP]`` is then refused).

    Raises
    ------
    InputValidationError
        The expression does not follow the grammar, names an unknown metric or group,
        or has a non-finite number.
    """
    m = _GATE_RE.match(str(text))
    if m is None:
        raise InputValidationError(
            f"Cannot read the --fail-if expression {text!r}; write it as {GRAMMAR}.")
    metric, group, op = m.group("metric"), m.group("group"), m.group("op")
    if metric not in METRICS:
        raise InputValidationError(
            f"Unknown metric {metric!r} in --fail-if {text!r}; the metrics are "
            f"{', '.join(METRICS)}.")
    value = float(m.group("value"))
    if not math.isfinite(value):
        raise InputValidationError(f"The threshold of --fail-if {text!r} is not finite.")
    if group is not None:
        group = group.strip()
        if groups is None:
            raise InputValidationError(
                f"--fail-if {text!r} names a group but no protected attribute was given; "
                "pass --protected (protected=...) or drop the [GROUP].")
        if group != "*" and group not in groups:
            raise InputValidationError(
                f"Unknown group {group!r} in --fail-if {text!r}; the groups are "
                f"{cap_list(groups)} (or * for every group).")
    return Gate(text=str(text).strip(), metric=metric, group=group, op=op, value=value)


def evaluate_gates(gates: list[Gate], overall: dict[str, Any],
                   by_group: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each gate with the value(s) it saw and whether the release fails on it.

    A gate over the whole population or one named group fails when its condition holds
    or when its metric is undefined there (e.g. a cost ratio with no recourse under A:
    the threshold cannot be shown to be met). ``[*]`` fails when the condition holds in
    any group; groups where the metric is undefined are listed as not evaluated.
    """
    out = []
    for g in gates:
        scopes = ({"overall": overall} if g.group is None
                  else by_group if g.group == "*" else {g.group: by_group[g.group]})
        hits, undefined, values = [], [], {}
        for name, fig in scopes.items():
            v = fig.get(g.metric)
            values[name] = v
            if v is None:
                undefined.append(name)
            elif bool(_OPS[g.op](v, g.value)):
                hits.append(name)
        failed = bool(hits) or (g.group != "*" and bool(undefined))
        if hits:
            reason = "; ".join(f"{h}: {g.metric} = {values[h]:.4g} {g.op} {g.value:g}"
                               for h in hits)
        elif failed:
            reason = f"{g.metric} is undefined for {', '.join(undefined)}"
        else:
            reason = "threshold not crossed"
            if undefined:
                reason += f" (not evaluated, metric undefined: {', '.join(undefined)})"
        out.append({"expression": g.text, "metric": g.metric, "group": g.group, "op": g.op,
                    "threshold": g.value, "values": values, "failed": failed,
                    "reason": reason})
    return out

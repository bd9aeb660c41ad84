"""Example causal models for the bundled credit data sets (documented assumptions).

These graphs are *illustrations* of causal recourse, not established causal knowledge:
each edge is an assumption stated below, and every equation except the one fixed by
definition is a least-squares fit on the whole data set (``CausalModel.fit``), so its
coefficient is an association read as an effect. Check them before relying on them.

``"credit_data"``
    * ``Seniority -> Age`` with ``Age = Seniority + u`` (fixed, not fitted): a year more
      with the current employer is a year older; ``u`` is the age at which the person
      joined that employer. Waiting to gain seniority therefore also ages the applicant.
    * ``Price -> Amount`` (fitted): the amount requested follows the price of the goods
      financed (the rest is the down payment). Buying cheaper goods lowers the loan.
    * ``Amount -> Time`` (fitted): larger loans are repaid over longer terms (a
      lender's standard schedule), so a change of the amount moves the term as well.
``"german"``
    * ``credit_amount -> duration_in_month`` (fitted): larger loans run longer. The
      duration is an integer number of months, so the consequence is rounded.

The instalment rate (``installment_rate_in_percentage_of_disposable_income``) is left out
on purpose: the fitted regression on amount and duration has the signs opposite to the
mechanism (a larger loan over the same term is a *larger* share of income), because
richer applicants borrow more; a fit would encode that confounding as an effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import networkx as nx
import pandas as pd

from recourse.causal import CausalModel, LinearEquation
from recourse.encoders.errors import InputValidationError
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["CAUSAL_GRAPHS", "example_causal_model", "causal_differences"]

#: Edges of each example graph (cause, effect).
CAUSAL_GRAPHS: dict[str, list[tuple[str, str]]] = {
    "credit_data": [("Seniority", "Age"), ("Price", "Amount"), ("Amount", "Time")],
    "german": [("credit_amount", "duration_in_month")],
}

_FIXED = {
    "credit_data": {"Age": LinearEquation({"Seniority": 1.0})},
    "german": {},
}


def example_causal_model(name: str) -> CausalModel:
    """The example causal model of a bundled data set, fitted on all its rows.

    Parameters
    ----------
    name : {"credit_data", "german"}

    Examples
    --------
    >>> cm = example_causal_model("credit_data")
    >>> sorted(cm.graph.edges)
    [('Amount', 'Time'), ('Price', 'Amount'), ('Seniority', 'Age')]
    >>> cm.equations["Age"].coef
    {'Seniority': 1.0}
    """
    from recourse.datasets import load

    if name not in CAUSAL_GRAPHS:
        raise InputValidationError(
            f"No example causal model for {name!r}; available: {sorted(CAUSAL_GRAPHS)}.")
    X, _, schema = load(name)
    return CausalModel.fit(nx.DiGraph(CAUSAL_GRAPHS[name]), X, schema, fixed=_FIXED[name])


def causal_differences(model: Any, X: pd.DataFrame, schema: FeatureSchema,
                       causal: CausalModel, *, target: Any, limit: int = 30,
                       time_limit: float = 60.0, reference: Any = None,
                       ) -> Iterator[tuple[Any, RecourseResult, RecourseResult, list[str]]]:
    """Denied rows of ``X`` whose causal recourse differs from the independent answer.

    Yields ``(index, independent, causal, broken)`` for each of the first ``limit`` rows
    the model does not assign to ``target`` where the two optimal costs differ or the
    independent counterfactual breaks a structural equation (``broken``: the sentences of
    :meth:`CausalModel.violations`, treating every change as an action on a non-graph
    feature and every graph node that changed as an action).
    """
    from recourse.engine import RecourseEngine

    plain = RecourseEngine(model, schema, reference=reference)
    engine = RecourseEngine(model, schema, reference=reference, causal=causal)
    denied = X[model.predict(X) != target].head(limit)
    for idx, row in denied.iterrows():
        a = plain.explain(row, target=target, time_limit=time_limit)
        b = engine.explain(row, target=target, time_limit=time_limit)
        if not (a.has_recourse and b.has_recourse):
            continue
        assert a.counterfactual is not None
        # the independent answer read as interventions on the graph nodes it left alone
        moved = [c.feature for c in a.changes if c.feature in causal.graph]
        broken = causal.violations(schema, a.factual, a.counterfactual, moved)
        if broken or abs((a.cost or 0.0) - (b.cost or 0.0)) > 1e-6:
            yield idx, a, b, broken

"""``recourse.solvers.problem.decode`` holds a moved value-linked feature to its variable's
bounds: a solver may return a value a feasibility tolerance outside them (seen with a
ReLU network: income 99.98200000000001 against an upper bound of 99.982), which the
action set's bound check then refused on every attempt, and the query ended in an error."""

from __future__ import annotations

import numpy as np
from engine_checks import applicant_problem
from sklearn.linear_model import LogisticRegression
from synthdata import credit_frame, tree_pipeline

from recourse import FeatureSchema
from recourse.encoders.block import ValueLink
from recourse.solvers.problem import decode


def test_a_value_a_tolerance_outside_its_bounds_decodes_to_the_bound():
    X, y, _ = credit_frame(0, n=300)
    model = tree_pipeline(LogisticRegression(max_iter=1000)).fit(X, y)
    schema = FeatureSchema.from_frame(X)
    x = X.iloc[int(np.flatnonzero(model.predict(X) != 1)[0])].to_dict()
    prob, _ = applicant_problem(model, schema, x, "l1", target=1)
    links = [k for k in prob.enc.links if isinstance(k, ValueLink)]
    assert links  # the logistic model's numeric features are value-linked
    space = prob.spec.space
    for link in links:
        s = int(space.start[link.feature])
        for bound, step in ((prob.ub, 1.0), (prob.lb, -1.0)):
            if not np.isfinite(bound[link.var]):
                continue
            values = np.zeros(prob.n)
            values[link.var] = bound[link.var] + step * 1e-9 * max(1.0, abs(bound[link.var]))
            got = decode(prob, values)[s]
            want = bound[link.var]
            assert got == (np.round(want) if space.integer[link.feature] else want)

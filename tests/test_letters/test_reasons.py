"""Every printed reason is checked: attribution reasons by the ray test, withheld when it
fails (issue: letters a compliance officer can send unedited).

Oracle: brute force over the reason's feature with the model's own ``predict`` (every
value on a fine grid of the allowed range in the attribution's direction), and the
analysis package's own ray test (``ray_test_model``) on the same ray.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from letter_cases import CLOCK
from recourse import RecourseEngine
from recourse.analysis import Utility, ray_test_model, shapley_exact
from recourse.letters import ReasonWithheldWarning, render_letter
from recourse.letters.reasons import options_budget
from recourse.schema import FeatureSchema


@pytest.fixture(scope="module")
def shap_case():
    """Approval iff ``income - debt + 3 > 0`` (learnt by a logistic regression).
    Applicant: debt 8 (above the data's mean: SHAP says it held them back, and reducing
    it works) and income 1 (below the mean: SHAP's larger negative score, but its
    direction, *lower* income, can never lead to approval)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(0, 10, size=(600, 2)), columns=["income", "debt"])
    y = np.where(X["income"] - X["debt"] + 3 > 0, "good", "bad")
    model = LogisticRegression(C=100.0, max_iter=2000).fit(X, y)
    schema = FeatureSchema.from_frame(X, bounds={"income": (0, 10), "debt": (0, 10)},
                                      labels={"income": "monthly income",
                                              "debt": "outstanding debt"},
                                      units={"income": "k€", "debt": "k€"})
    x = pd.Series({"income": 1.0, "debt": 8.0})
    assert model.predict(x.to_frame().T)[0] == "bad"
    phi = shapley_exact(model, x.to_numpy(), background=X.to_numpy())
    scores = dict(zip(X.columns, phi))
    opts = RecourseEngine(model, schema).options(x, k=2, target="good")
    return model, schema, x, scores, opts


def _approves_along(model, x, name, step_sign, lo, hi, budget, schema) -> bool:
    """Brute force: does any value of ``name`` in the attribution's direction (within the
    schema's bounds and the budget in engine cost units) make predict say "good"?"""
    f = schema[name]
    reach = budget * f.scale / f.weight
    start = x[name]
    end = min(hi, start + reach) if step_sign > 0 else max(lo, start - reach)
    grid = np.linspace(start, end, 20001)[1:]
    if grid.size == 0:
        return False
    rows = pd.DataFrame([x.to_dict()] * grid.size)
    rows[name] = grid
    return bool((model.predict(rows) == "good").any())


def test_shap_reason_failing_the_ray_test_is_withheld(shap_case):
    model, schema, x, scores, opts = shap_case
    budget = options_budget(list(opts))
    assert budget is not None
    # preconditions: SHAP's top reason is income, both scores negative
    assert scores["income"] < scores["debt"] < 0
    # independent oracle: income along its SHAP direction never approves; debt does
    assert not _approves_along(model, x, "income", np.sign(scores["income"]), 0, 10,
                               budget, schema)
    assert _approves_along(model, x, "debt", np.sign(scores["debt"]), 0, 10, budget, schema)
    # the analysis package's exact ray test agrees (same rays, budget in its L1 units)
    for name, expect in (("income", False), ("debt", True)):
        v = np.zeros(2)
        j = list(x.index).index(name)
        v[j] = scores[name]
        delta = budget * schema[name].scale / schema[name].weight
        got = ray_test_model(model, x.to_numpy(), v, delta, Utility("class"), norm="l1",
                             target="good")
        assert got.provides is expect, (name, got)

    text = render_letter(opts, schema, applicant_id="A-1", clock=CLOCK, model=model,
                         reasons=scores, attribution_method="SHAP (exact, interventional)",
                         purpose="adverse-action")
    letter, appendix = text.split("## Appendix for the bank's file", 1)
    reasons = letter.split("## Principal reasons for our decision", 1)[1].split("##", 1)[0]
    assert "Outstanding debt" in reasons
    assert "Monthly income" not in reasons and "monthly income" not in reasons
    row = next(line for line in appendix.splitlines() if line.startswith("| Monthly income"))
    assert "| withheld |" in row and "proven that no decrease" in row
    debt_row = next(line for line in appendix.splitlines()
                    if line.startswith("| Outstanding debt"))
    assert "| printed |" in debt_row and "verified" in debt_row


def test_failed_reason_can_be_marked_for_the_bank_and_is_never_silent(shap_case):
    model, schema, x, scores, opts = shap_case
    marked = render_letter(opts, schema, applicant_id="A-1", clock=CLOCK, model=model,
                           reasons=scores, failed_reasons="mark")
    line = next(s for s in marked.splitlines() if "Monthly income" in s and "**" in s)
    assert "For the bank's review, not for sending" in line
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        bare = render_letter(opts, schema, applicant_id="A-1", clock=CLOCK, model=model,
                             reasons=scores, appendix="none")
    assert any(issubclass(w.category, ReasonWithheldWarning) and "monthly income"
               in str(w.message) for w in got)
    assert "Monthly income" not in bare and "Appendix" not in bare
    with pytest.raises(Exception, match="fitted model"):
        render_letter(opts, schema, applicant_id="A-1", clock=CLOCK, model="m.skops",
                      fingerprint=("sha256:" + "0" * 64, "test"), reasons=scores)


def test_no_internal_figures_in_the_applicants_text(shap_case):
    model, schema, x, scores, opts = shap_case
    for purpose in ("plain", "adverse-action", "explanation"):
        text = render_letter(opts, schema, applicant_id="A-1", clock=CLOCK, model=model,
                             purpose=purpose)
        letter = text.split("## Appendix for the bank's file", 1)[0]
        for word in ("HiGHS", "solver", "L1", "median absolute", "Cost", "cost ", "norm",
                     "gap"):
            assert word not in letter, (purpose, word)
        for r in opts:
            assert f"{r.cost:.3g}" not in re.sub(r"\d+(\.\d+)? k€", "", letter)

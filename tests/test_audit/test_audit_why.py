"""``audit(..., why=N)`` against independent oracles.

* The audit's why columns equal per-applicant ``RecourseEngine.explain(why=N)`` calls.
* The per-rule counts equal brute force: for each rule, the schema with that one rule
  relaxed *by hand*, the plain engine re-run on every no-recourse applicant, and the
  applicants who then get recourse counted ("alone precludes"); "in some minimal set"
  against the minimal opening subsets of every rule subset (plain engines again).
* Tree, logistic (with the per-query option ``min_margin``) and a causal schema.
"""

from __future__ import annotations

import itertools

import networkx as nx
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from recourse import InputValidationError, RecourseEngine
from recourse.audit import audit
from recourse.causal import CausalModel, LinearEquation
from tests.synthdata import tree_pipeline
from tests.test_recourse.test_preclusion import RANGES, X, Y, _rules, _schema

N_ROWS = 24


def _case(kind):
    """(model, schema, data, rules, options, audit/explain keywords, causal)."""
    if kind == "tree":
        model = tree_pipeline(DecisionTreeClassifier(max_depth=4, random_state=0)).fit(X, Y)
        return model, _schema(), X.head(N_ROWS), _rules(), (), {}, None
    Xn = X.drop(columns="housing")
    model = tree_pipeline(LogisticRegression(max_iter=2000), categorical=()).fit(Xn, Y)
    if kind == "logreg":
        return (model, _schema(False), Xn.head(N_ROWS), _rules(False), ("min_margin",),
                {"min_margin": 2.0}, None)
    cm = CausalModel(nx.DiGraph([("age", "income")]), {"income": LinearEquation({"age": 0.8})})
    schema = _schema(False).replace("income", direction="decrease")
    rules = _rules(False) + [("decrease:income", "income", dict(direction="any"))]
    return model, schema, Xn.head(N_ROWS), rules, (), {}, cm


@pytest.fixture(scope="module", params=["tree", "logreg", "causal"])
def audited(request, tmp_path_factory):
    model, schema, data, rules, options, kw, cm = _case(request.param)
    out = tmp_path_factory.mktemp(f"why_{request.param}")
    res = audit(model, data, schema, out, target=1, time_limit=30, n_jobs=1, why=64,
                relaxed_range=RANGES, causal=cm, report=False, **kw)
    return request.param, model, schema, data, rules, options, kw, cm, res


def _engine(model, schema, cm):
    return RecourseEngine(model, schema, causal=cm)


def test_why_column_equals_explain(audited):
    """Every no-recourse row's sets, costs, cheapest cost and completeness are those of
    explain(why=64) on the same applicant."""
    _, model, schema, data, _, _, kw, cm, res = audited
    frame = res.results
    nr = frame[frame["status"] == "no_recourse"]
    assert len(nr) >= 3, "the test needs applicants without recourse"
    assert frame.loc[frame["status"] != "no_recourse", "why_complete"].isna().all()
    eng = _engine(model, schema, cm)
    for row in nr.itertuples(index=False):
        want = eng.explain(data.iloc[row.position], target=1, time_limit=30, why=64,
                           relaxed_range=RANGES, **kw).preclusion
        got = {frozenset(s["rules"]): s for s in row.why_sets}
        assert set(got) == {s.keys for s in want.sets}
        for s in want.sets:
            g = got[s.keys]
            assert g["verified"] == s.verified
            assert g["cost"] == pytest.approx(s.cost, rel=1e-6, abs=1e-9)
            assert sorted(g["texts"]) == sorted(r.text for r in s.rules)
            assert {c["feature"] for c in g["changes"]} == {c.feature for c in s.changes}
        assert bool(row.why_complete) == want.complete
        costs = [s.cost for s in want.sets if s.verified]
        assert row.why_cost == pytest.approx(min(costs)) if costs else row.why_cost != row.why_cost


def _plain_recourse(model, schema, rows, cm, kw):
    eng = RecourseEngine(model, schema, causal=cm, price_options=False)
    out = []
    for row in rows:
        r = eng.explain(row, target=1, time_limit=30, **kw)
        assert r.status in ("optimal", "no_recourse"), r.status
        out.append(r.has_recourse)
    return out


def test_rule_counts_match_single_rule_brute_force(audited):
    """'alone precludes' = applicants for whom the schema with that one rule relaxed by
    hand (or the option dropped) gives recourse under the plain engine."""
    _, model, schema, data, rules, options, kw, cm, res = audited
    frame = res.results
    rows = [data.iloc[p] for p in frame.loc[frame["status"] == "no_recourse", "position"]]
    table = {r["rule"]: r for r in res.summary["why"]["rules"]}
    assert res.summary["why"]["n_analysed"] == len(rows)
    for key, name, change in rules:
        got = _plain_recourse(model, schema.replace(name, **change), rows, cm, kw)
        assert table.get(key, {"alone": 0})["alone"] == sum(got), key
    for o in options:
        got = _plain_recourse(model, schema, rows, cm,
                              {k: v for k, v in kw.items() if k != o})
        assert table.get(f"option:{o}", {"alone": 0})["alone"] == sum(got), o


def test_rule_participation_matches_subset_brute_force(audited):
    """'in some minimal set' = applicants for whom the rule is in a minimal opening subset
    of rules (every subset relaxed by hand, plain engines; a subset is skipped for an
    applicant once one of its proper subsets opens, as it cannot be minimal)."""
    kind, model, schema, data, rules, options, kw, cm, res = audited
    if kind != "tree":
        pytest.skip("one model type is enough for the subset brute force (64 engines)")
    frame = res.results
    rows = [data.iloc[p] for p in frame.loc[frame["status"] == "no_recourse", "position"]]
    keys = [r[0] for r in rules]
    opening: list[set[frozenset[str]]] = [set() for _ in rows]
    for k in range(1, len(keys) + 1):  # smaller subsets first
        for sub in map(frozenset, itertools.combinations(keys, k)):
            # a subset with a proper subset that opens is not minimal whatever it gives:
            # solve it only for the applicants where none of its proper subsets opens
            todo = [i for i in range(len(rows)) if not any(T < sub for T in opening[i])]
            if not todo:
                continue
            s = schema
            for key, name, change in rules:
                if key in sub:
                    s = s.replace(name, **change)
            for i, ok in zip(todo, _plain_recourse(model, s, [rows[i] for i in todo], cm,
                                                   kw)):
                if ok:
                    opening[i].add(sub)
    count = dict.fromkeys(keys, 0)
    for sets in opening:
        minimal = [S for S in sets if not any(T < S for T in sets)]
        for key in set().union(*minimal) if minimal else ():
            count[key] += 1
    table = {r["rule"]: r["any"] for r in res.summary["why"]["rules"]}
    assert {k: table.get(k, 0) for k in keys} == count


def test_why_is_part_of_the_identity_and_resumes(tmp_path):
    model, schema, data, *_ = _case("tree")
    first = audit(model, data, schema, tmp_path, target=1, time_limit=30, n_jobs=1, why=2,
                  chunk_size=4, relaxed_range=RANGES, report=False)
    first.results  # read now: the resume below writes results.parquet again
    for other in (dict(why=3, relaxed_range=RANGES), dict(why=False),
                  dict(why=2, relaxed_range={"income": (0.0, 60.0)})):
        with pytest.raises(InputValidationError, match="what differs.*(why|relaxed range)"):
            audit(model, data, schema, tmp_path, target=1, time_limit=30, n_jobs=1,
                  chunk_size=4, report=False, **other)
    parts = sorted((tmp_path / "parts").iterdir())
    n_first = pq.read_table(parts[0]).num_rows
    parts[0].unlink()
    again = audit(model, data, schema, tmp_path, target=1, time_limit=30, n_jobs=1, why=2,
                  chunk_size=4, relaxed_range=RANGES, report=False)
    assert (again.n_resumed, again.n_solved) == (first.n_audited - n_first, n_first)
    cols = ["id", "status", "why_cost", "why_complete"]
    assert again.results[cols].equals(first.results[cols])
    assert [[s["rules"].tolist() for s in v] if v is not None else None
            for v in again.results["why_sets"]] == \
        [[s["rules"].tolist() for s in v] if v is not None else None
         for v in first.results["why_sets"]]


def test_bad_why_arguments_are_refused(tmp_path):
    model, schema, data, *_ = _case("tree")
    for bad, msg in ((0, "why must be"), (-1, "why must be"), ("yes", "why must be")):
        with pytest.raises(InputValidationError, match=msg):
            audit(model, data, schema, tmp_path, target=1, n_jobs=1, why=bad)
    with pytest.raises(InputValidationError, match="relaxed_range only applies with why"):
        audit(model, data, schema, tmp_path, target=1, n_jobs=1, relaxed_range=RANGES)
    with pytest.raises(InputValidationError, match="not in the schema"):
        audit(model, data, schema, tmp_path, target=1, n_jobs=1, why=True,
              relaxed_range={"salary": (0, 1)})
    with pytest.raises(InputValidationError, match="numeric features only"):
        audit(model, data, schema, tmp_path, target=1, n_jobs=1, why=True,
              relaxed_range={"housing": (0, 1)})

"""One engine shared by many threads gives the answers serial calls give.

The engine holds only what is built once per model; every query carries its own state
(``recourse.engine.query``), and options that keep state between their hooks work on a
fresh copy per solve. The engine here has the stateful options on (seen-together pairs,
enforced data support, which both are re-solved switched off to price them), and the
queries mix per-query options (``min_margin``, ``exclude``) so that a leak of one
query's state into another changes an answer.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from recourse import DataSupport, RecourseEngine, SeenTogether
from recourse.datasets import make_model, train_test


@pytest.fixture(scope="module")
def setting():
    X_train, X_test, y_train, _, schema = train_test("german")
    model = make_model("tree", X_train, y_train, schema=schema)
    rule = SeenTogether.fit(X_train, schema, min_count=1)
    support = DataSupport.from_model(X_train, model, schema, target="good", k=1, radius=2.0)
    engine = RecourseEngine(model, schema, reference=X_train, seen_together=rule,
                            support=support)
    denied = X_test[model.predict(X_test) == "bad"].head(2)
    return engine, [r for _, r in denied.iterrows()]


def _key(res):
    cf = None if res.counterfactual is None else tuple(sorted(
        (k, round(float(v), 9) if isinstance(v, (int, float, np.number)) else v)
        for k, v in res.counterfactual.items()))
    cost = None if res.cost is None else round(res.cost, 9)
    without = res.stats.cost_without
    return (res.status, cost, cf, None if without is None else tuple(sorted(
        (k, None if v is None else round(float(v), 9)) for k, v in without.items())))


def _queries(rows):
    out = []
    for i, row in enumerate(rows):
        out.append((i, dict(target="good", norm="l1")))
        out.append((i, dict(target="good", norm="l0_l1")))
        out.append((i, dict(target="good", norm="l1", min_margin=0.2)))
        out.append((i, dict(target="good", norm="l1", exclude=[{"duration_in_month"}])))
    return out


def test_threads_answer_as_serial_calls(setting):
    engine, rows = setting
    queries = _queries(rows)
    serial = {n: _key(engine.explain(rows[i], time_limit=60, **kw))
              for n, (i, kw) in enumerate(queries)}
    # every query once, shuffled so that each one runs beside different queries and
    # options of its own row, 8 threads at once
    order = list(range(len(queries)))
    random.Random(0).shuffle(order)

    def one(n):
        i, kw = queries[n]
        return n, _key(engine.explain(rows[i], time_limit=60, **kw))

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(one, order))
    mismatches = [(n, serial[n], k) for n, k in got if k != serial[n]]
    assert not mismatches, mismatches[:3]
    # the serial answers are not all alike: the options did change answers
    assert len({k for k in serial.values()}) > len(rows)


def test_options_of_one_query_do_not_leak(setting):
    """A margin asked by one query never reaches another query's solve."""
    engine, rows = setting
    plain = engine.explain(rows[0], target="good")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(engine.explain, rows[0], target="good", min_margin=0.3)
                   for _ in range(4)]
        again = [pool.submit(engine.explain, rows[0], target="good") for _ in range(4)]
        margins = [f.result() for f in futures]
        plains = [f.result() for f in again]
    assert all(_key(r) == _key(plain) for r in plains)
    assert all(r.stats.min_margin == 0.3 for r in margins if r.has_recourse)


def test_forest_engine_threads():
    X_train, X_test, y_train, _, schema = train_test("german")
    model = make_model("rf100x6", X_train, y_train, schema=schema)
    assert isinstance(model[-1], RandomForestClassifier)
    engine = RecourseEngine(model, schema, reference=X_train)
    rows = [r for _, r in X_test[model.predict(X_test) == "bad"].head(4).iterrows()]
    serial = [_key(engine.explain(r, target="good", norm="l0_l1")) for r in rows]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda r: _key(engine.explain(r, target="good", norm="l0_l1")),
                            rows * 2))
    assert got == serial * 2

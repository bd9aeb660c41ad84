"""Invalid causal graphs and equations are rejected with messages that name the problem."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from recourse import Feature, FeatureSchema, RecourseEngine, SchemaError
from recourse.causal import (
    CausalGraphError,
    CausalModel,
    LinearEquation,
    PiecewiseLinearEquation,
)


@pytest.fixture
def schema() -> FeatureSchema:
    return FeatureSchema((
        Feature("income", "continuous", lower=0, upper=10),
        Feature("debt", "continuous", lower=0, upper=10),
        Feature("age", "integer", lower=18, upper=90, direction="increase"),
        Feature("sex", "binary", lower=0, upper=1, immutable=True),
        Feature("job", "categorical", categories=("a", "b")),
        Feature("open", "continuous", lower=0),
    ))


def test_cycle_is_named():
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    with pytest.raises(CausalGraphError, match=r"cycle: a -> b -> c -> a"):
        CausalModel(g, {})


def test_equation_refers_to_non_parent():
    g = nx.DiGraph([("income", "debt")])
    with pytest.raises(CausalGraphError, match=r"'debt' refers to \['age'\].*not its parents"):
        CausalModel(g, {"debt": LinearEquation({"income": 1.0, "age": 2.0})})


def test_parent_without_term():
    g = nx.DiGraph([("income", "debt"), ("age", "debt")])
    with pytest.raises(CausalGraphError, match=r"edges \['age'\] -> 'debt'.*no term"):
        CausalModel(g, {"debt": LinearEquation({"income": 1.0})})


def test_missing_equation_and_root_equation():
    g = nx.DiGraph([("income", "debt")])
    with pytest.raises(CausalGraphError, match=r"'debt' has parents \['income'\] but no"):
        CausalModel(g, {})
    with pytest.raises(CausalGraphError, match=r"'income' has no parents"):
        CausalModel(g, {"debt": LinearEquation({"income": 1.0}),
                        "income": LinearEquation({})})
    with pytest.raises(CausalGraphError, match=r"nodes not in the graph: \['zzz'\]"):
        CausalModel(g, {"debt": LinearEquation({"income": 1.0}),
                        "zzz": LinearEquation({})})


def test_node_not_in_schema(schema):
    cm = CausalModel(nx.DiGraph([("income", "salary")]),
                     {"salary": LinearEquation({"income": 1.0})})
    with pytest.raises(CausalGraphError, match=r"not in the schema: \['salary'\]"):
        cm.check(schema)


def test_immutable_node_with_mutable_parent(schema):
    cm = CausalModel(nx.DiGraph([("income", "sex")]), {"sex": LinearEquation({"income": 0.1})})
    with pytest.raises(CausalGraphError, match=r"'sex' is immutable but its parents "
                                               r"\['income'\] are mutable"):
        cm.check(schema)


def test_categorical_node_and_unbounded_node(schema):
    cm = CausalModel(nx.DiGraph([("income", "job")]), {"job": LinearEquation({"income": 1.0})})
    with pytest.raises(CausalGraphError, match=r"'job' is categorical; causal nodes must be"):
        cm.check(schema)
    cm = CausalModel(nx.DiGraph([("income", "open")]), {"open": LinearEquation({"income": 1.0})})
    with pytest.raises(CausalGraphError, match=r"'open' has bounds \[0, None\].*finite"):
        cm.check(schema)


def test_bad_equations():
    with pytest.raises(CausalGraphError, match="strictly increasing"):
        PiecewiseLinearEquation({"a": ([0, 0], [1, 2])})
    with pytest.raises(CausalGraphError, match="at least two breakpoints"):
        PiecewiseLinearEquation({"a": ([0], [1])})
    with pytest.raises(CausalGraphError, match="finite"):
        LinearEquation({"a": float("nan")})
    with pytest.raises(CausalGraphError, match="must be a LinearEquation"):
        CausalModel(nx.DiGraph([("a", "b")]), {"b": lambda x: x})  # type: ignore[dict-item]
    with pytest.raises(CausalGraphError, match="networkx.DiGraph"):
        CausalModel([("a", "b")], {})  # type: ignore[arg-type]


def test_engine_rejects_bad_causal(schema):
    X = pd.DataFrame(np.random.default_rng(0).uniform(0, 10, size=(50, 2)),
                     columns=["income", "debt"])
    s2 = FeatureSchema(tuple(f for f in schema if f.name in ("income", "debt")))
    model = LogisticRegression().fit(X, (X.income > X.debt).astype(int))
    bad = CausalModel(nx.DiGraph([("income", "age")]), {"age": LinearEquation({"income": 1.0})})
    with pytest.raises(SchemaError, match=r"not in the schema: \['age'\]"):
        RecourseEngine(model, s2, causal=bad)
    with pytest.raises(SchemaError, match="causal must be a CausalModel"):
        RecourseEngine(model, s2, causal="graph.yaml")  # type: ignore[arg-type]


def test_yaml_errors_and_round_trip(tmp_path):
    cm = CausalModel(nx.DiGraph([("a", "b"), ("b", "c")]), {
        "b": LinearEquation({"a": 2.0}, 1.0),
        "c": PiecewiseLinearEquation({"b": ([0, 1], [0, 5])}, coef={"b": 0.5})})
    path = tmp_path / "g.yaml"
    cm.to_yaml(path)
    back = CausalModel.from_yaml(str(path))
    assert sorted(back.graph.edges) == sorted(cm.graph.edges)
    row = {"a": 3.0, "b": 0.2, "c": 1.0}
    for n in ("b", "c"):
        assert float(back.evaluate(n, row)) == pytest.approx(float(cm.evaluate(n, row)))
    with pytest.raises(CausalGraphError, match="'edges'"):
        CausalModel.from_yaml("nodes: [a]\n")
    with pytest.raises(CausalGraphError, match="type 'linear' or 'piecewise'"):
        CausalModel.from_yaml("edges: [[a, b]]\nequations:\n  b: {type: cubic}\n")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CausalModel.from_yaml(str(tmp_path / "missing.yaml"))


def test_fit_recovers_linear_equations():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 10, 500)
    c = rng.uniform(0, 5, 500)
    b = 2.0 * a - 0.5 * c + 3.0 + rng.normal(0, 0.01, 500)
    df = pd.DataFrame({"a": a, "b": b, "c": c})
    cm = CausalModel.fit(nx.DiGraph([("a", "b"), ("c", "b")]), df)
    eq = cm.equations["b"]
    assert isinstance(eq, LinearEquation)
    assert eq.coef["a"] == pytest.approx(2.0, abs=1e-2)
    assert eq.coef["c"] == pytest.approx(-0.5, abs=1e-2)
    assert eq.intercept == pytest.approx(3.0, abs=5e-2)
    with pytest.raises(CausalGraphError, match=r"lacks columns for the graph nodes \['d'\]"):
        CausalModel.fit(nx.DiGraph([("a", "d")]), df)

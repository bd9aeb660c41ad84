"""Causal models: a causal graph over schema features with structural equations.

Recourse on a :class:`CausalModel` is a set of *interventions* (Karimi, Schölkopf and
Valera, 2021): the person chooses which features to act on and to what value; every
other node of the graph follows its structural equation ``x_j = f_j(pa_j(x)) + u_j`` with
the person's own noise ``u_j = x0_j - f_j(pa_j(x0))`` held fixed (abduction from the
observed values). Only actions cost (L1 of the acted-on changes, L0 = number of actions);
features outside the graph keep their independent cost.

Rules (see ``recourse.solvers.causal`` for the exact MILP):

* Actionability applies to actions: an immutable feature cannot be acted on; a
  direction restricts the value an action sets. Consequences obey the equations and the
  schema's bounds only (a consequence that would leave the bounds makes that action
  infeasible); directions do not restrict them.
* Integer nodes (``integer``/``binary`` features): the consequence is ``f_j + u_j``
  rounded to the nearest integer (either neighbour at an exact half).
* Causal nodes must be numeric and have finite bounds; an immutable node may only have
  immutable parents (otherwise its value would have to change).
* An action may *keep* a node at its current value while its causes move ("hold").
  Under L1 a hold costs nothing (the cost is the size of the intervention, as in Karimi
  et al.), so the causal L1 optimum never exceeds the independent one: the independent
  answer is always an intervention of the same cost. Under L0 a hold counts as an action.
  Results list holds among ``actions`` with ``before == after``.

References
----------
A.-H. Karimi, B. Schölkopf, I. Valera. Algorithmic recourse: from counterfactual
explanations to interventions. FAccT 2021.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recourse.encoders.errors import SchemaError, cap_list
from recourse.schema import FeatureSchema
from recourse.solvers.causal import CausalSpec, Equation

__all__ = ["CausalModel", "LinearEquation", "PiecewiseLinearEquation", "CausalGraphError"]


class CausalGraphError(SchemaError):
    """The causal graph or its structural equations are malformed or contradict the schema."""


@dataclass(frozen=True)
class LinearEquation:
    """``x = intercept + sum_p coef[p] * x_p`` (plus the person's own noise term).

    Parameters
    ----------
    coef : mapping of parent name to float
    intercept : float
    """

    coef: Mapping[str, float]
    intercept: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "coef", {str(k): float(v) for k, v in dict(self.coef).items()})
        object.__setattr__(self, "intercept", float(self.intercept))
        _finite("intercept", [self.intercept])
        _finite("coefficients", list(self.coef.values()))

    @property
    def parents(self) -> set[str]:
        return set(self.coef)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """``f`` at ``values`` (numbers or arrays per parent)."""
        out: Any = self.intercept
        for p, c in self.coef.items():
            out = out + c * np.asarray(values[p], dtype=float)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"type": "linear", "coef": dict(self.coef), "intercept": self.intercept}


@dataclass(frozen=True)
class PiecewiseLinearEquation:
    """``x = intercept + sum_p coef[p] x_p + sum_q g_q(x_q)`` with piecewise-linear ``g_q``.

    Each ``g_q`` is given by breakpoints (strictly increasing) and its values there; it is
    linear between breakpoints and constant beyond the ends (saturation), as
    ``numpy.interp``. It need not be monotone: the MILP encoding is exact for any
    continuous piecewise-linear function (one binary per inner breakpoint in range).

    Parameters
    ----------
    pieces : mapping of parent name to (breakpoints, values)
    intercept : float
    coef : mapping of parent name to float, optional
        Additional linear terms (a parent may appear in both).

    Examples
    --------
    >>> eq = PiecewiseLinearEquation({"income": ([0, 3000], [0, 600])})  # saturates at 600
    >>> float(eq.evaluate({"income": 5000}))
    600.0
    """

    pieces: Mapping[str, tuple[Sequence[float], Sequence[float]]]
    intercept: float = 0.0
    coef: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pieces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for p, bv in dict(self.pieces).items():
            try:
                B, F = (np.asarray(a, dtype=float) for a in bv)
            except (TypeError, ValueError):
                raise CausalGraphError(
                    f"Piecewise term of {p!r} must be (breakpoints, values) lists of numbers; "
                    f"got {bv!r}.") from None
            if B.ndim != 1 or B.shape != F.shape or B.size < 2:
                raise CausalGraphError(
                    f"Piecewise term of {p!r}: give at least two breakpoints and one value "
                    f"per breakpoint (got {B.size} breakpoints, {F.size} values).")
            _finite(f"piecewise term of {p!r}", list(B) + list(F))
            if np.any(np.diff(B) <= 0):
                raise CausalGraphError(
                    f"Piecewise term of {p!r}: breakpoints must be strictly increasing, got "
                    f"{B.tolist()}.")
            pieces[str(p)] = (B, F)
        if not pieces:
            raise CausalGraphError("A PiecewiseLinearEquation needs at least one piecewise "
                                   "term; use LinearEquation for purely linear effects.")
        object.__setattr__(self, "pieces", pieces)
        object.__setattr__(self, "coef", {str(k): float(v) for k, v in dict(self.coef).items()})
        object.__setattr__(self, "intercept", float(self.intercept))
        _finite("intercept", [self.intercept])
        _finite("coefficients", list(self.coef.values()))

    @property
    def parents(self) -> set[str]:
        return set(self.pieces) | set(self.coef)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        out: Any = self.intercept
        for p, c in self.coef.items():
            out = out + c * np.asarray(values[p], dtype=float)
        for p, (B, F) in self.pieces.items():
            out = out + np.interp(np.asarray(values[p], dtype=float), B, F)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"type": "piecewise", "intercept": self.intercept, "coef": dict(self.coef),
                "pieces": {p: {"breakpoints": [float(b) for b in B],
                               "values": [float(f) for f in F]}
                           for p, (B, F) in self.pieces.items()}}


StructuralEquation = LinearEquation | PiecewiseLinearEquation


class CausalModel:
    """A causal DAG over schema features with one structural equation per non-root node.

    Parameters
    ----------
    graph : networkx.DiGraph
        Edges ``cause -> effect`` between feature names.
    equations : mapping of node name to LinearEquation or PiecewiseLinearEquation
        One per node with parents; each refers to exactly the node's parents.

    Raises
    ------
    CausalGraphError
        A cycle (named), an equation for a node outside the graph or for a root, a missing
        equation, an equation that refers to a non-parent or omits a parent.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("Seniority", "Age")])
    >>> cm = CausalModel(g, {"Age": LinearEquation({"Seniority": 1.0})})
    >>> cm.propagate({"Seniority": 2, "Age": 30}, {"Seniority": 5})["Age"]
    33.0
    """

    def __init__(self, graph: nx.DiGraph,
                 equations: Mapping[str, StructuralEquation] | None = None) -> None:
        if not isinstance(graph, nx.DiGraph):
            raise CausalGraphError(
                f"graph must be a networkx.DiGraph, got {type(graph).__name__}.")
        self.graph = nx.DiGraph(graph)
        self.equations: dict[str, StructuralEquation] = dict(equations or {})
        self._check_graph()
        self.order: list[str] = list(nx.topological_sort(self.graph))

    # ---------------------------------------------------------------- checks
    def _check_graph(self) -> None:
        g = self.graph
        if g.number_of_nodes() == 0:
            raise CausalGraphError("The causal graph has no nodes.")
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([str(u) for u, _ in cycle] + [str(cycle[0][0])])
            raise CausalGraphError(f"The causal graph has a cycle: {path}. A structural causal "
                                   "model needs a DAG; remove one of these edges.")
        extra = [n for n in self.equations if n not in g]
        if extra:
            raise CausalGraphError(f"Equations given for nodes not in the graph: "
                                   f"{cap_list(extra)}; add them to the graph or drop them.")
        for node in g.nodes:
            parents = set(map(str, g.predecessors(node)))
            eq = self.equations.get(node)
            if not parents:
                if eq is not None:
                    raise CausalGraphError(
                        f"Node {node!r} has no parents in the graph but has an equation; a "
                        "root takes its observed value unless acted on. Add its parents as "
                        "edges or drop the equation.")
                continue
            if eq is None:
                raise CausalGraphError(
                    f"Node {node!r} has parents {cap_list(sorted(parents))} but no structural "
                    "equation; give one, or fit them all with CausalModel.fit(graph, data).")
            if not isinstance(eq, LinearEquation | PiecewiseLinearEquation):
                raise CausalGraphError(
                    f"The equation of {node!r} must be a LinearEquation or "
                    f"PiecewiseLinearEquation, got {type(eq).__name__}.")
            stray = sorted(eq.parents - parents)
            if stray:
                raise CausalGraphError(
                    f"The equation of {node!r} refers to {cap_list(stray)}, which are not its "
                    f"parents in the graph (parents: {cap_list(sorted(parents))}); add the "
                    "edges or remove the terms.")
            unused = sorted(parents - eq.parents)
            if unused:
                raise CausalGraphError(
                    f"The graph has edges {cap_list(unused)} -> {node!r} but its equation has "
                    "no term for them; remove the edges or give them a term.")

    def check(self, schema: FeatureSchema) -> CausalModel:
        """Check the model against a schema; returns ``self``.

        Raises
        ------
        CausalGraphError
            A node not in the schema, a categorical node, a node without finite bounds, or
            an immutable node with a mutable parent.
        """
        unknown = [n for n in self.order if n not in schema]
        if unknown:
            raise CausalGraphError(
                f"Causal graph nodes not in the schema: {cap_list(unknown)}; the nodes must be "
                f"the schema's feature names (e.g. {cap_list(schema.names, 3)}).")
        for n in self.order:
            f = schema[n]
            if f.is_group:
                raise CausalGraphError(
                    f"Causal node {n!r} is {f.kind}; causal nodes must be numeric "
                    "(continuous, integer or binary). Leave it out of the graph, or encode it "
                    "as a binary 0/1 column.")
            lo, hi = f.bounds()
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise CausalGraphError(
                    f"Causal node {n!r} has bounds [{f.lower}, {f.upper}]; causal nodes need "
                    "finite lower and upper bounds (declare them in the schema).")
        for n in self.order:
            if schema[n].immutable:
                movable = [p for p in self.graph.predecessors(n) if not schema[p].immutable]
                if movable:
                    raise CausalGraphError(
                        f"Node {n!r} is immutable but its parents {cap_list(movable)} are "
                        "mutable: acting on them would change it. Make the parents immutable, "
                        f"make {n!r} mutable, or remove the edges.")
        return self

    # ------------------------------------------------------------ semantics
    def parents(self, node: str) -> list[str]:
        return sorted(map(str, self.graph.predecessors(node)))

    def evaluate(self, node: str, values: Mapping[str, Any]) -> Any:
        """``f_node`` at ``values`` (0 for a root)."""
        eq = self.equations.get(node)
        return 0.0 if eq is None else eq.evaluate(values)

    def noise(self, row: Mapping[str, Any]) -> dict[str, float]:
        """Abduction: ``u_j = x_j - f_j(pa_j(x))`` of every node for observed ``row``."""
        return {n: float(row[n]) - float(self.evaluate(n, row)) for n in self.order}

    def propagate(self, factual: Mapping[str, Any], actions: Mapping[str, float],
                  integer: Sequence[str] = ()) -> dict[str, Any]:
        """The counterfactual of ``factual`` under interventions ``do(actions)``.

        Nodes in ``actions`` take the given value; every other node follows its equation
        with the factual's noise (names in ``integer`` are rounded to the nearest integer).
        Features outside the graph are copied.
        """
        bad = [a for a in actions if a not in self.graph]
        if bad:
            raise CausalGraphError(f"Actions on features not in the graph: {cap_list(bad)}.")
        u = self.noise(factual)
        out = dict(factual)
        for n in self.order:
            if n in actions:
                out[n] = float(actions[n])
                continue
            v = float(self.evaluate(n, out)) + u[n]
            out[n] = float(np.floor(v + 0.5)) if n in integer else v
        return out

    def violations(self, schema: FeatureSchema, factual: Mapping[str, Any],
                   cf: Mapping[str, Any], actions: Sequence[str],
                   tol: float = 1e-6) -> list[str]:
        """Every structural equation or bound that ``cf`` breaks (empty when it holds).

        Nodes not in ``actions`` must equal their equation with the factual's noise
        (within ``tol`` relative; integer nodes within 1/2 + ``tol``) and lie inside the
        schema's bounds.
        """
        u = self.noise(factual)
        out = []
        for n in self.order:
            if n in actions:
                continue
            want = float(self.evaluate(n, cf)) + u[n]
            got = float(cf[n])
            slack = tol * max(1.0, abs(want)) + (0.5 if schema[n].is_integer else 0.0)
            if abs(got - want) > slack:
                out.append(f"{n}={got:g} breaks its structural equation (expected {want:g})")
            lo, hi = schema[n].bounds()
            x0 = float(factual[n])
            if got < min(lo, x0) - tol or got > max(hi, x0) + tol:
                out.append(f"{n}={got:g} (a consequence) is outside its bounds [{lo}, {hi}]")
        return out

    # --------------------------------------------------------------- lower
    def lower(self, schema: FeatureSchema) -> CausalSpec:
        """Plain arrays for the solver layer (``recourse.solvers.causal.CausalSpec``)."""
        self.check(schema)
        idx = {n: i for i, n in enumerate(schema.names)}
        eqs = []
        for n in self.order:
            eq = self.equations.get(n)
            if eq is None:
                eqs.append(Equation(idx[n], np.zeros(0, dtype=np.int64), np.zeros(0)))
                continue
            ps = sorted(eq.coef)
            pieces: tuple[tuple[int, np.ndarray, np.ndarray], ...] = ()
            if isinstance(eq, PiecewiseLinearEquation):
                pieces = tuple((idx[p], np.asarray(B, dtype=float), np.asarray(F, dtype=float))
                               for p, (B, F) in sorted(eq.pieces.items()))
            eqs.append(Equation(idx[n], np.array([idx[p] for p in ps], dtype=np.int64),
                                np.array([eq.coef[p] for p in ps]), eq.intercept, pieces))
        return CausalSpec(tuple(eqs))

    # ----------------------------------------------------------------- fit
    @classmethod
    def fit(cls, graph: nx.DiGraph, data: pd.DataFrame, schema: FeatureSchema | None = None,
            *, fixed: Mapping[str, StructuralEquation] | None = None) -> CausalModel:
        """Fit a linear equation per non-root node by least squares on its parents.

        Parameters
        ----------
        graph : networkx.DiGraph
        data : DataFrame
            Observed rows with a column for every node.
        schema : FeatureSchema, optional
            When given, the model is checked against it.
        fixed : mapping, optional
            Equations known a priori (kept as given, not fitted).
        """
        from sklearn.linear_model import LinearRegression

        fixed = dict(fixed or {})
        missing = [str(n) for n in graph.nodes if n not in data.columns]
        if missing:
            raise CausalGraphError(f"The data lacks columns for the graph nodes "
                                   f"{cap_list(missing)}.")
        probe = cls(graph, {n: LinearEquation({str(p): 0.0 for p in graph.predecessors(n)})
                            for n in graph.nodes if graph.in_degree(n) > 0})  # checks the DAG
        eqs: dict[str, StructuralEquation] = {}
        for n in probe.order:
            ps = probe.parents(n)
            if not ps:
                continue
            if n in fixed:
                eqs[n] = fixed[n]
                continue
            try:
                X = data[ps].to_numpy(dtype=float)
                y = data[n].to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise CausalGraphError(
                    f"Cannot fit the equation of {n!r}: its column or its parents' columns "
                    f"{cap_list(ps)} are not numeric.") from None
            ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
            if ok.sum() < len(ps) + 1:
                raise CausalGraphError(f"Too few complete rows to fit the equation of {n!r}.")
            reg = LinearRegression().fit(X[ok], y[ok])
            eqs[n] = LinearEquation(dict(zip(ps, reg.coef_.tolist())), float(reg.intercept_))
        model = cls(graph, eqs)
        return model.check(schema) if schema is not None else model

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict[str, Any]:
        return {"edges": [[str(u), str(v)] for u, v in self.graph.edges],
                "nodes": [str(n) for n in self.graph.nodes],
                "equations": {n: eq.to_dict() for n, eq in self.equations.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CausalModel:
        if not isinstance(data, Mapping) or "edges" not in data:
            raise CausalGraphError("A causal model needs a mapping with 'edges' (a list of "
                                   "[cause, effect] pairs) and 'equations'.")
        from recourse.causal_document import validate_causal_document

        try:
            data = validate_causal_document(dict(data))
        except SchemaError as exc:
            raise CausalGraphError(str(exc)) from None
        g = nx.DiGraph()
        g.add_nodes_from(str(n) for n in data.get("nodes", []))
        for e in data["edges"]:
            if not isinstance(e, Sequence) or len(e) != 2:
                raise CausalGraphError(f"Each edge must be a [cause, effect] pair; got {e!r}.")
            g.add_edge(str(e[0]), str(e[1]))
        eqs: dict[str, StructuralEquation] = {}
        for n, d in dict(data.get("equations") or {}).items():
            kind = d.get("type", "linear") if isinstance(d, Mapping) else None
            if kind == "linear":
                eqs[str(n)] = LinearEquation(d.get("coef", {}), d.get("intercept", 0.0))
            elif kind == "piecewise":
                pieces = {p: (v["breakpoints"], v["values"]) for p, v in d["pieces"].items()}
                eqs[str(n)] = PiecewiseLinearEquation(pieces, d.get("intercept", 0.0),
                                                      d.get("coef", {}))
            else:
                raise CausalGraphError(f"The equation of {n!r} must be a mapping with type "
                                       f"'linear' or 'piecewise'; got {d!r}.")
        return cls(g, eqs)

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> CausalModel:
        """Read a causal model written by :meth:`to_yaml` (a path, or YAML text)."""
        import yaml

        text = str(source)
        if isinstance(source, Path) or ("\n" not in text and (
                text.endswith((".yaml", ".yml")) or Path(text).exists())):
            if not Path(text).exists():
                raise FileNotFoundError(f"Causal model file {text!r} does not exist.")
            text = Path(text).read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CausalGraphError(f"The causal model YAML could not be parsed: {exc}") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        edges = ", ".join(f"{u}->{v}" for u, v in self.graph.edges)
        return f"CausalModel({edges or ', '.join(self.order)})"


def _finite(what: str, values: Sequence[float]) -> None:
    if not all(np.isfinite(v) for v in values):
        raise CausalGraphError(f"The {what} must be finite numbers; got {list(values)}.")

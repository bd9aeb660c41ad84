"""Causal recourse: interventions on a structural causal model, added to a built problem.

The user's :class:`recourse.CausalModel` is lowered to a :class:`CausalSpec` (plain arrays,
feature indices). :func:`add_causal` adds, to a :class:`~solvers.problem.RecourseProblem`
built with :func:`neutral_spec` (causal features free to move, at no cost), the variables
and rows of the intervention semantics of Karimi, Schölkopf and Valera (2021):

For every node ``j`` of the graph (values in user units):

* ``x_j`` its value: the model's own variable for linear models (``ValueLink``), a new
  variable for tree models, tied to the threshold indicators ``z_i = [x_j > t_i]`` by
  ``x_j >= t_i + e_i - (t_i + e_i - L_j)(1 - z_i)`` and
  ``x_j <= t_i - e_i + (H_j - t_i + e_i) z_i`` (``e_i``: a thousandth of the float32
  cell for continuous features, 1/2 for integer ones);
* ``a_j`` binary, 1 when the person acts on ``j`` (fixed at 0 for immutable features);
* ``t_j >= +-(x_j - x0_j) - M_j (1 - a_j)``, ``M_j = H_j - L_j``: the L1 cost
  ``unit_cost_j * t_j`` counts acted changes only; the L0 cost is ``l0_weight_j * a_j``;
* action range: ``x_j >= lo_j a_j + L_j (1 - a_j)``, ``x_j <= hi_j a_j + H_j (1 - a_j)``
  where ``[lo_j, hi_j]`` is the action set's reachable range (direction, bounds);
* structural equation, with the person's own noise ``u_j = x0_j - f_j(pa_j(x0))``
  (abduction): ``r_j = x_j - f_j(pa_j(x)) - u_j`` satisfies
  ``R_lo a_j - h_j <= r_j <= R_hi a_j + h_j``, with ``[R_lo, R_hi]`` the range of ``r_j``
  over the variable bounds (interval arithmetic), ``h_j = 0`` for continuous nodes and
  ``1/2`` for integer nodes (their consequence is ``f_j + u_j`` rounded to the nearest
  integer). Roots have ``f_j = 0``: not acted on, they keep ``x0_j``.
* ``f_j`` is linear in the parents plus piecewise-linear terms ``g(x_p)`` (``np.interp``:
  linear between breakpoints, constant beyond the ends). Each term is exact through the
  incremental formulation over the breakpoints inside the parent's range:
  ``x_p = B_0 + sum_k d_k``, ``g = F_0 + sum_k s_k d_k``, ``0 <= d_k <= len_k``,
  ``d_k >= len_k y_k``, ``d_{k+1} <= len_{k+1} y_k`` with binaries ``y_k``.

Consequences are bounded by the schema's bounds (``[L_j, H_j]``, widened to hold ``x0_j``)
but not by directions or immutability: a direction says what a person may *do*; an
immutable node has only immutable ancestors (checked by the user layer), so it never moves.

Bounds used for pruning stay valid: the neutral spec gives causal features zero crossing
cost, so leaf distances only count the independent features.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from recourse.encoders.block import GroupLink, ThresholdLink, ValueLink
from recourse.encoders.errors import SchemaError
from recourse.solvers.problem import RecourseProblem, decode, point_costs
from recourse.solvers.spec import ActionSpec
from recourse.solvers.values import Columns, append_columns, tie_eps

__all__ = ["Equation", "CausalSpec", "CausalVars", "neutral_spec", "add_causal",
           "causal_point", "causal_costs"]


@dataclass(frozen=True)
class Equation:
    """``f(x) = intercept + sum_k coef_k x[parents_k] + sum_m interp(x[p_m], B_m, F_m)``.

    Features are indices of the search space (numeric features only); roots have no
    terms and ``intercept = 0``.
    """

    node: int
    parents: np.ndarray
    coef: np.ndarray
    intercept: float = 0.0
    pieces: tuple[tuple[int, np.ndarray, np.ndarray], ...] = ()

    @property
    def is_root(self) -> bool:
        return self.parents.size == 0 and not self.pieces

    def evaluate(self, values: np.ndarray) -> np.ndarray:
        """``f`` at feature values ``values`` (shape ``(..., n_features)``)."""
        v = np.asarray(values, dtype=float)
        out = np.full(v.shape[:-1], float(self.intercept))
        if self.parents.size:
            out = out + v[..., self.parents] @ self.coef
        for p, B, F in self.pieces:
            out = out + np.interp(v[..., p], B, F)
        return out


@dataclass(frozen=True)
class CausalSpec:
    """Structural equations of every graph node, in topological order."""

    equations: tuple[Equation, ...]

    @property
    def nodes(self) -> np.ndarray:
        return np.array([e.node for e in self.equations], dtype=np.int64)


@dataclass(frozen=True)
class CausalVars:
    """Where the causal variables of each node sit in the problem (aligned with nodes)."""

    nodes: np.ndarray
    x: np.ndarray
    a: np.ndarray
    t: np.ndarray
    noise: np.ndarray


def neutral_spec(spec: ActionSpec, cspec: CausalSpec) -> ActionSpec:
    """The action set with every mutable causal node free (any direction) and costless.

    Built with it, a problem lets consequences move anywhere within the bounds; the
    costs and the action rules are added by :func:`add_causal`.
    """
    nodes = cspec.nodes
    mutable, direction = spec.mutable.copy(), spec.direction.copy()
    unit, w = spec.unit_cost.copy(), spec.l0_weight.copy()
    free = nodes[spec.mutable[nodes]]
    direction[free] = 0
    unit[nodes] = 0.0
    w[nodes] = 0.0
    return replace(spec, mutable=mutable, direction=direction, unit_cost=unit, l0_weight=w)


def feature_values(space_start: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per-feature values of search vector(s) ``s`` (numeric features; groups: first var)."""
    return np.asarray(s, dtype=float)[..., space_start[:-1]]


def add_causal(prob: RecourseProblem, spec: ActionSpec,
               cspec: CausalSpec) -> tuple[RecourseProblem, CausalVars]:
    """Add the intervention variables and rows (module docstring) to ``prob``.

    ``prob`` must have been built with ``neutral_spec(spec, cspec)``; ``spec`` is the
    real action set (directions, costs).
    """
    space = spec.space
    enc = prob.enc
    x0f = feature_values(space.start, prob.x0)
    R = Columns(prob.n)
    lb, ub = prob.lb.copy(), prob.ub.copy()
    nodes = cspec.nodes
    L = np.zeros(space.n_features)
    H = np.zeros(space.n_features)
    xvar: dict[int, int] = {}
    for j in nodes:
        j = int(j)
        xv = float(x0f[j])
        L[j] = min(float(space.lower[j]), xv)
        H[j] = max(float(space.upper[j]), xv)
        if not (np.isfinite(L[j]) and np.isfinite(H[j])):
            raise SchemaError(
                f"Causal feature {space.names[j]!r} needs finite bounds (they size the "
                "rows that switch its equation off when acted on); declare lower and upper "
                "bounds in the schema.")
        link = enc.link_of(j)
        is_int = bool(space.integer[j])
        if isinstance(link, ValueLink):
            xvar[j] = link.var
            lb[link.var], ub[link.var] = L[j], H[j]
        elif isinstance(link, ThresholdLink):
            x = R.var(L[j], H[j], is_int)
            xvar[j] = x
            _link_thresholds(R, link, x, L[j], H[j], is_int)
        elif isinstance(link, GroupLink):
            raise SchemaError(f"Causal feature {space.names[j]!r} is categorical; causal "
                              "nodes must be numeric.")
        else:  # the model does not use the feature: a free value variable
            xvar[j] = R.var(L[j], H[j], is_int)
    a_idx, t_idx, noise = [], [], []
    for eq in cspec.equations:
        j = eq.node
        x, xv, M = xvar[j], float(x0f[j]), H[j] - L[j]
        a = R.var(0.0, 1.0 if spec.mutable[j] else 0.0, True, 0.0, float(spec.l0_weight[j]))
        t = R.var(0.0, np.inf, False, float(spec.unit_cost[j]), 0.0)
        a_idx.append(a)
        t_idx.append(t)
        R.row({t: 1.0, x: -1.0, a: -M}, -xv - M, np.inf)
        R.row({t: 1.0, x: 1.0, a: -M}, xv - M, np.inf)
        lo_a, hi_a = spec.numeric_range(j, xv)
        R.row({x: 1.0, a: -(lo_a - L[j])}, L[j], np.inf)
        R.row({x: 1.0, a: -(hi_a - H[j])}, -np.inf, H[j])
        u = xv - float(eq.evaluate(x0f))
        noise.append(u)
        # r = x - sum coef x_p - sum g_m - intercept - u
        coefs: dict[int, float] = {x: 1.0}
        r_lo, r_hi = L[j], H[j]
        for p, c in zip(eq.parents.tolist(), eq.coef.tolist()):
            coefs[xvar[p]] = coefs.get(xvar[p], 0.0) - c
            r_lo -= max(c * L[p], c * H[p])
            r_hi -= min(c * L[p], c * H[p])
        for p, B, F in eq.pieces:
            g, g_lo, g_hi = _piecewise(R, xvar[p], L[p], H[p], B, F)
            coefs[g] = coefs.get(g, 0.0) - 1.0
            r_lo -= g_hi
            r_hi -= g_lo
        shift = eq.intercept + u
        r_lo, r_hi = r_lo - shift, r_hi - shift
        h = 0.5 if space.integer[j] else 0.0
        R.row({**coefs, a: -max(r_hi, 0.0)}, -np.inf, shift + h)
        R.row({**coefs, a: -min(r_lo, 0.0)}, shift - h, np.inf)
    out = append_columns(prob.with_bounds(lb, ub), R, "causal")
    cv = CausalVars(nodes=nodes, x=np.array([xvar[int(j)] for j in nodes], dtype=np.int64),
                    a=np.array(a_idx, dtype=np.int64), t=np.array(t_idx, dtype=np.int64),
                    noise=np.array(noise))
    return out, cv




def _link_thresholds(R: Columns, link: ThresholdLink, x: int, L: float, H: float,
                     is_int: bool) -> None:
    """``z_i = 1  =>  x >= t_i + e_i`` and ``z_i = 0  =>  x <= t_i - e_i``."""
    e = tie_eps(link, is_int)
    for t, ei, z in zip(link.thresholds.tolist(), e.tolist(), link.vars.tolist()):
        R.row({x: 1.0, z: -(t + ei - L)}, L, np.inf)
        R.row({x: 1.0, z: -(H - t + ei)}, -np.inf, t - ei)


def _piecewise(R: Columns, xp: int, Lp: float, Hp: float, B: np.ndarray,
               F: np.ndarray) -> tuple[int, float, float]:
    """A variable equal to ``np.interp(x_p, B, F)`` for ``x_p`` in ``[Lp, Hp]``."""
    inner = B[(B > Lp) & (B < Hp)]
    pts = np.unique(np.concatenate([[Lp], inner, [Hp]]))
    vals = np.interp(pts, B, F)
    g = R.var(float(vals.min()), float(vals.max()))
    if pts.size == 1:
        R.row({g: 1.0}, float(vals[0]), float(vals[0]))
        return g, float(vals.min()), float(vals.max())
    lens = np.diff(pts)
    slopes = np.diff(vals) / lens
    d = [R.var(0.0, float(ln)) for ln in lens]
    R.row({xp: 1.0, **{dk: -1.0 for dk in d}}, float(pts[0]), float(pts[0]))
    R.row({g: 1.0, **{dk: -float(s) for dk, s in zip(d, slopes)}}, float(vals[0]),
          float(vals[0]))
    for k in range(len(d) - 1):
        y = R.var(0.0, 1.0, True)
        R.row({d[k]: 1.0, y: -float(lens[k])}, 0.0, np.inf)
        R.row({d[k + 1]: 1.0, y: -float(lens[k + 1])}, -np.inf, 0.0)
    return g, float(vals.min()), float(vals.max())


def causal_point(prob: RecourseProblem, spec: ActionSpec, cspec: CausalSpec, cv: CausalVars,
                 values: np.ndarray, *, deep: bool = False,
                 base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The counterfactual search vector and which nodes are acted on.

    Actions are read from the solver (``a_j``, ``x_j``; rounded for integer features and
    placed inside the chosen threshold interval for tree models); consequences are then
    *recomputed* from the structural equations in topological order (not read from the
    solver), so they hold exactly. An action whose value equals what its equation would
    give is no action (it is dropped). ``base``: the search vector the other features are
    read from (default ``decode``; ``recourse.solvers.values.value_point`` with a value view).
    """
    space = spec.space
    s_cf = decode(prob, values, deep=deep) if base is None else np.array(base, dtype=float)
    x0f = feature_values(space.start, prob.x0)
    vals = feature_values(space.start, s_cf).copy()
    acted = np.zeros(len(cspec.equations), dtype=bool)
    for k, eq in enumerate(cspec.equations):
        j = eq.node
        lo, hi = min(float(space.lower[j]), x0f[j]), max(float(space.upper[j]), x0f[j])
        natural = float(eq.evaluate(vals)) + float(cv.noise[k])
        if space.integer[j]:
            natural = float(np.floor(natural + 0.5))
        if values[cv.a[k]] > 0.5:
            x = _action_value(prob, j, values, int(cv.x[k]), spec)
            # compared with the equation's own value, not its value clipped to the bounds:
            # an action that holds a node at its bound while the equation would push it
            # beyond is an action (without it the node would leave its bounds)
            if abs(x - natural) > 1e-9 * max(1.0, abs(natural)):
                acted[k] = True
                vals[j] = x
                continue
        vals[j] = min(max(natural, lo), hi)
    for j in cspec.nodes:
        s_cf[int(space.start[j])] = vals[j]
    return s_cf, acted


def _action_value(prob: RecourseProblem, j: int, values: np.ndarray, xvar: int,
                  spec: ActionSpec) -> float:
    """The solver's value of an acted node, on the side of every split the solver chose."""
    space = spec.space
    x = float(values[xvar])
    xv = float(prob.x0[int(space.start[j])])
    lo, hi = spec.numeric_range(j, xv)
    if space.integer[j]:
        x = float(np.round(x))
    link = prob.enc.link_of(j)
    if isinstance(link, ThresholdLink):
        e = tie_eps(link, bool(space.integer[j]))
        m = int(np.round(values[link.vars]).sum())  # the interval the solver chose
        t_lo = link.thresholds[m - 1] + e[m - 1] if m > 0 else -np.inf
        t_hi = link.thresholds[m] - e[m] if m < link.thresholds.size else np.inf
        x = min(max(x, t_lo), t_hi)
    return min(max(x, lo), hi)


def causal_costs(spec: ActionSpec, cspec: CausalSpec, x0: np.ndarray, s_cf: np.ndarray,
                 acted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature L1 and L0 cost: independent features as usual, causal nodes only when
    acted on (an acted node that keeps its value still counts in L0)."""
    l1, l0 = point_costs(spec, x0, s_cf)
    nodes = cspec.nodes
    l1[nodes] = np.where(acted, l1[nodes], 0.0)
    l0[nodes] = np.where(acted, spec.l0_weight[nodes], 0.0)
    return l1, l0


def causal_incumbent(prob: RecourseProblem, cspec: CausalSpec, cv: CausalVars,
                     plain: RecourseProblem, plain_values: np.ndarray | None,
                     norm: str) -> np.ndarray | None:
    """A causal-feasible starting solution from an independent-feature one (tree models).

    The independent point's changes on graph nodes become actions; the other nodes either
    follow their equations, or are held at their value by an action (free under L1: a hold
    changes nothing, so the independent answer itself is always an intervention of the
    same L1 cost). The cheaper variant the encoding assigns to the target is returned as
    problem values (link, ``x``, ``a`` and ``t`` variables: everything that carries a
    cost); ``None`` when neither is approved or ``prob`` is not a tree model.
    """
    enc = prob.enc
    if enc.tree is None or plain_values is None:
        return None
    space = plain.spec.space
    s_ind = decode(plain, plain_values)
    x0f = feature_values(space.start, prob.x0)
    ind = feature_values(space.start, s_ind)
    c, c0 = prob.objective("l1" if norm == "l1" else "l0")
    best, best_cost = None, np.inf
    for hold in (False, True):
        vals = ind.copy()
        acted = np.zeros(len(cspec.equations), dtype=bool)
        ok = True
        for k, eq in enumerate(cspec.equations):
            j = eq.node
            natural = float(eq.evaluate(vals)) + float(cv.noise[k])
            if space.integer[j]:
                natural = float(np.floor(natural + 0.5))
            if ind[j] != x0f[j] or (hold and natural != x0f[j]):
                acted[k] = True
                continue
            lo, hi = min(float(space.lower[j]), x0f[j]), max(float(space.upper[j]), x0f[j])
            if not lo <= natural <= hi:
                ok = False
                break
            vals[j] = natural
        if not ok:
            continue
        s = s_ind.copy()
        s[space.start[cspec.nodes]] = vals[cspec.nodes]
        if enc.predict_index(s[None, :])[0] != prob.target:
            continue
        full = np.zeros(prob.n)
        full[: enc.n_vars] = enc.block_values(s[None, :])[0]
        full[cv.x] = vals[cspec.nodes]
        full[cv.a] = acted
        full[cv.t] = np.where(acted, np.abs(vals[cspec.nodes] - x0f[cspec.nodes]), 0.0)
        cost = float(c @ full + c0)
        if cost < best_cost:
            best, best_cost = full, cost
    return best

"""Data support as an option: the answer lies within a radius of at least ``k`` observed
rows (or of their hull). The user's configuration is :class:`recourse.support.DataSupport`;
the MILP rows are ``recourse.solvers.support``; this module adds them to a query through the
value view, offers starting points from the support rows, and checks and reports every
answer with numpy on the data (:meth:`DataSupport.measure`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.engine.options.base import Option
from recourse.schema import FeatureSchema
from recourse.solvers.incumbent import point_cost_matrix, project
from recourse.solvers.problem import RecourseProblem
from recourse.solvers.search import satisfies
from recourse.solvers.support import (
    SupportSpec,
    SupportVars,
    add_support,
    bound_to_rows,
    column_range,
    distances,
    min_costs,
    support_values,
)
from recourse.solvers.values import fill_values, value_point
from recourse.support import DataSupport

__all__ = ["SupportRows", "SupportReport", "MAX_ANCHORS", "DECOMPOSE_MAX_K"]

#: The anchor decomposition (k = 1) runs when at most this many candidate rows are left
#: after the cost cut; with more, one MILP over all of them was faster (German and
#: credit_data RF 100x6: 25 anchors 27 s -> 1.0 s; 150 anchors 1.3 s -> 26 s).
MAX_ANCHORS = 30
#: The decomposition runs for ``k`` up to this. Measured in one run (German RF 100x6, 15
#: denied applicants, radius 1): k = 1 p90 8.1 s -> 1.1 s (median 0.08 -> 0.13 s); k = 5
#: no gain (p90 5.7 s either way, median 0.37 -> 0.57 s), so k > 1 solves one MILP.
DECOMPOSE_MAX_K = 1


class SupportRows(Option):
    """The engine's value constraint (``RecourseEngine._value_constraints``): adds the
    support rows to every problem through the value view and offers a starting solution
    from the support rows themselves (projected into the action set), whose cost then
    prunes every candidate row that cannot be reached more cheaply. ``name`` and ``text``
    let the engine price the option (``stats.cost_without["support"]``) and name it
    when it blocks recourse (``stats.blocking_option == "support"``)."""

    name = "support"
    needs_values = True

    # ------------------------------------------------------------ Option hooks
    def fresh(self) -> Option:
        out = object.__new__(SupportRows)
        out.__dict__.update(self.__dict__)
        out._vars, out._before, out._after = None, None, (-1, -1)
        return out

    def view_rows(self, ctx: Any, prob: RecourseProblem, view: Any) -> RecourseProblem:
        return self.add(ctx.prepared, prob, view, ctx.query.x0, ctx.query.t_idx)

    def start(self, ctx: Any, prob: RecourseProblem, view: Any,
              inc: np.ndarray | None) -> tuple[RecourseProblem, np.ndarray | None]:
        q = ctx.query
        return self.warm_start(ctx.prepared, prob, view, q.x0, q.t_idx,
                               "l1" if q.norm == "l1" else "l0", inc, ctx.use_incumbent,
                               deadline=q.deadline.end)

    def check(self, ctx: Any, row: dict[str, Any], cf: dict[str, Any]) -> list[str]:
        """Fewer than ``k`` rows within the radius of ``cf``, by numpy on the data."""
        sup = self.support
        m = sup.measure(cf, self.schema)
        if m["supported"]:
            return []
        what = "share its levels with a hull" if sup.hull else "lie"
        return [f"only {m['support']} support row(s) {what} within radius {sup.radius:g} "
                f"(k={sup.k}; distance {m['support_distance']:.6g})"]

    # ------------------------------------------------------------ formulation

    def __init__(self, support: DataSupport, schema: FeatureSchema) -> None:
        self.support = support
        self.schema = schema
        self.text = (
            f"the data-support option (the answer must lie within radius "
            f"{support.radius:g} of the hull of at least {support.k} observed rows sharing "
            "its categorical levels)" if support.hull else
            f"the data-support option (the answer must lie within radius {support.radius:g} "
            f"({support.metric}) of at least {support.k} observed row(s))")
        self.spec = support.lower(schema)
        space = schema.search_space()
        # search vectors of every support row (projected later, per applicant)
        self.R = np.array([space.encode(r) for r in support.rows.to_dict("records")])
        self._vars: SupportVars | None = None
        self._nbrs: list[np.ndarray] | None = None
        self._before: RecourseProblem | None = None
        self._after: tuple[int, int] = (-1, -1)
        self._nbrs = self._groups()  # once per engine: each query works on a fresh copy

    def _groups(self) -> list[np.ndarray]:
        """Per distinct row, itself and its nearest other rows (linf, scaled numeric
        features; for ``radius < 1`` only rows with the same levels) until their
        multiplicities reach ``k``: a set of rows whose boxes may share a point."""
        if self._nbrs is not None:
            return self._nbrs
        from sklearn.neighbors import NearestNeighbors

        sup = self.spec
        n = sup.n_rows
        out: list[np.ndarray] = [np.array([i]) for i in range(n)]
        keys = ([tuple(c) for c in sup.C.tolist()] if sup.radius < 1.0
                else [()] * n)
        by_key: dict[tuple[Any, ...], list[int]] = {}
        for i, kk in enumerate(keys):
            by_key.setdefault(kk, []).append(i)
        Z = sup.A / sup.scale if sup.num_feat.size else np.zeros((n, 1))
        for members in by_key.values():
            idx = np.array(members)
            m = min(idx.size, sup.k)
            if m <= 1 or sup.k <= 1:
                continue
            nn = NearestNeighbors(n_neighbors=m, metric="chebyshev").fit(Z[idx])
            _, nb = nn.kneighbors(Z[idx])
            for a, i in enumerate(idx.tolist()):
                group = idx[nb[a]]
                cum = np.cumsum(sup.weight[group])
                out[i] = group[: int(np.searchsorted(cum, sup.k)) + 1]
        self._nbrs = out
        return out

    def _box_points(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
                    sv: SupportVars) -> np.ndarray:
        """linf: for each kept row and its nearest rows (:meth:`_groups`), the common box
        within the action set, and in it the points nearest the row and nearest the
        applicant (search vectors; the caller checks them)."""
        sup, space = self.spec, engine.space
        lo = np.array([prob.lb[view.x[j]] for j in sup.num_feat])
        hi = np.array([prob.ub[view.x[j]] for j in sup.num_feat])
        x0n, x0c = _split(sup, space, x0[None, :])
        groups = self._groups()
        pts = []
        for i in sv.rows.tolist():
            g = groups[i]
            if int(sup.weight[g].sum()) < sup.k:
                continue
            b_lo = np.maximum(sup.A[g].max(axis=0) - sup.radius * sup.scale, lo)
            b_hi = np.minimum(sup.A[g].min(axis=0) + sup.radius * sup.scale, hi)
            if np.any(b_lo > b_hi):
                continue
            levels = sup.C[i] if sup.radius < 1.0 else x0c[0]
            for target in (sup.A[i], x0n[0]):
                v = x0.copy()
                v[space.start[sup.num_feat]] = np.clip(target, b_lo, b_hi)
                for q, j in enumerate(sup.cat_feat.tolist()):
                    st, en = int(space.start[j]), int(space.start[j + 1])
                    v[st:en] = 0.0
                    v[st + int(levels[q])] = 1.0
                ints = space.integer[sup.num_feat]
                if ints.any():  # integer features: the nearest integer inside the box
                    cols = space.start[sup.num_feat][ints]
                    v[cols] = np.clip(np.round(v[cols]), np.ceil(b_lo[ints]),
                                      np.floor(b_hi[ints]))
                pts.append(v)
        return np.array(pts) if pts else np.zeros((0, x0.size))

    def _cheapest(self, engine: Any, H: np.ndarray, x0: np.ndarray, t_idx: int,
                  norm: str, most: int = 20, chunk: int = 64) -> list[np.ndarray]:
        """Up to ``most`` of the points ``H``, cheapest first, that the encoding assigns
        to the target and that lie within the radius of ``k`` rows (numpy)."""
        if not H.shape[0]:
            return []
        cost = point_cost_matrix(engine.spec, x0, H, "l1" if norm == "l1" else "l0")
        order = np.argsort(cost, kind="stable")
        tol = 1e-9 * max(1.0, self.spec.radius)
        out: list[np.ndarray] = []
        for a in range(0, order.size, chunk):
            B = H[order[a: a + chunk]]
            B = B[engine.encoding.predict_index(B) == t_idx]
            if not B.shape[0]:
                continue
            xn, xc = _split(self.spec, engine.space, B)
            near = distances(self.spec, xn, xc) <= self.spec.radius + tol
            B = B[near.astype(float) @ self.spec.weight >= self.spec.k]
            out += list(B[: most - len(out)])
            if len(out) >= most:
                break
        return out

    def add(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
            t_idx: int) -> RecourseProblem:
        self._before = prob
        prob, self._vars = add_support(prob, view, self.spec)
        self._after = (prob.n, prob.A.shape[0])
        return prob

    def warm_start(self, engine: Any, prob: RecourseProblem, view: Any, x0: np.ndarray,
              t_idx: int, norm: str, inc: np.ndarray | None,
              use: bool, deadline: float | None = None
              ) -> tuple[RecourseProblem, np.ndarray | None]:
        """A starting solution that meets the support rows, and the candidates its cost
        rules out fixed at ``s_i = 0`` (``stats.problem["support_cut"]``); for ``k = 1`` (linf)
        then the anchor decomposition (:meth:`_decompose`) until ``deadline``."""
        sv = self._vars
        enc = engine.encoding
        if (sv is None or not use or enc.tree is None or engine.causal is not None
                or self.spec.hull):
            return prob, inc
        c, c0 = prob.objective(norm)
        best, best_cost = None, np.inf
        pts = [] if inc is None else [value_point(prob, view, inc)]
        H = project(prob, self.R)
        if self.spec.metric == "linf":
            H = np.vstack([H, self._box_points(engine, prob, view, x0, sv)])
        pts += self._cheapest(engine, H, x0, t_idx, norm)
        best_s = None
        for s in pts:
            xn, xc = _split(self.spec, engine.space, s[None, :])
            full = support_values(prob, view, self.spec, sv, fill_values(prob, view, s),
                                  xn[0], xc[0])
            if full is None or not satisfies(prob, full):
                continue
            cost_s = float(c @ full + c0)
            if cost_s < best_cost:
                best, best_cost, best_s = full, cost_s, s
        if best is None or best_s is None:
            return prob, None
        sp_ = engine.spec
        xn0, xc0 = _split(self.spec, engine.space, x0[None, :])
        unit = sp_.unit_cost[self.spec.num_feat]
        lc = [sp_.level_costs(int(j), int(xc0[0][q]))
              for q, j in enumerate(self.spec.cat_feat)]
        if norm == "l1":
            low = min_costs(self.spec, xn0[0], xc0[0], unit, lc)
        else:
            low = min_costs(self.spec, xn0[0], xc0[0], unit, lc,
                            l0_weight=sp_.l0_weight[self.spec.num_feat],
                            cat_l0=sp_.l0_weight[self.spec.cat_feat])
        cut = low > best_cost + 1e-9 * max(1.0, abs(best_cost))
        rebuilt = self._rebuild(engine, prob, view, norm, best_cost, cut, best_s)
        if rebuilt is not None:
            prob, best = rebuilt
        else:
            ub = prob.ub.copy()
            ub[sv.s[cut[sv.rows]]] = 0.0
            n_cut = int(self.spec.weight[sv.rows][cut[sv.rows]].sum())
            prob = replace(prob.with_bounds(np.minimum(prob.lb, ub), ub),
                           stats=dict(prob.stats, support_cut=n_cut))
        if deadline is not None and rebuilt is not None:
            return self._decompose(engine, prob, view, norm, best, low, deadline)
        return prob, best

    def _decompose(self, engine: Any, prob: RecourseProblem, view: Any, norm: str,
                   best: np.ndarray, low: np.ndarray,
                   deadline: float) -> tuple[RecourseProblem, np.ndarray]:
        """linf: every supported point lies in the box of some kept row (its anchor).
        Solve the problem within each anchor's box on its own (levels fixed to the
        anchor's when ``radius < 1``; for ``k > 1`` with support rows over the other
        kept rows whose boxes meet it, needing ``k - w_i`` of them), cheapest lower
        bound first, with the row ``cost <= best``: the box fixes most threshold
        indicators, so each is small. A row proven to support nothing as cheap as the
        best answer is fixed at ``s_i = 0``; the full problem then only decides among
        the rest (``stats.problem["support_anchors_solved"]``, ``support_anchors_dropped``). A
        solve that runs out of time leaves its row (and the later ones) in place."""
        from recourse.solvers.search import solve_phase
        from recourse.solvers.status import Status

        sup, sv = self.spec, self._vars
        if (sup.metric != "linf" or sup.hull or sv is None or self._before is None
                or sup.k > DECOMPOSE_MAX_K):
            return prob, best
        base = self._before
        c, c0 = prob.objective(norm)
        cb, cb0 = base.objective(norm)
        best_cost = float(c @ best + c0)
        ub = prob.ub.copy()
        if int((ub[sv.s] > 0.5).sum()) > MAX_ANCHORS:
            return prob, best  # many boxes: one MILP over all of them is faster
        cols = self._cols(base, view)
        r, sc = sup.radius, sup.scale
        solved = dropped = 0
        for a in np.argsort(low[sv.rows], kind="stable").tolist():
            s_a, i = int(sv.s[a]), int(sv.rows[a])
            if ub[s_a] < 0.5:
                continue
            tol = 1e-7 * max(1.0, abs(best_cost))
            if low[i] > best_cost + tol:
                ub[s_a] = 0.0
                dropped += 1
                continue
            sub = bound_to_rows(base, view, sup, np.array([i]), *cols)
            if r < 1.0:
                sub = _fix_levels(sub, view, sup, i)
            need = sup.k - int(sup.weight[i])
            if need > 0:
                alive = sv.rows[(ub[sv.s] > 0.5) & (sv.rows != i)]
                meet = np.all(np.abs(sup.A[alive] - sup.A[i]) <= 2 * r * sc, axis=1)
                if r < 1.0:
                    meet &= np.all(sup.C[alive] == sup.C[i], axis=1)
                others = alive[meet]
                if int(sup.weight[others].sum()) < need:
                    ub[s_a] = 0.0  # too few rows near it: it supports no answer
                    dropped += 1
                    continue
                sub, _ = add_support(sub, view, replace(
                    sup, A=sup.A[others], C=sup.C[others], weight=sup.weight[others],
                    k=need))
            sub = sub.with_rows(sp.csr_matrix(np.r_[cb, np.zeros(sub.n - base.n)][None, :]),
                                np.array([-np.inf]), np.array([best_cost - cb0 + tol]))
            out = solve_phase(sub, norm, None, deadline, engine.backend,
                              engine.backend_options)
            solved += 1
            if out["status"] is Status.INFEASIBLE:
                ub[s_a] = 0.0  # nothing it supports costs at most the best answer
                dropped += 1
                continue
            if out["status"] is not Status.OPTIMAL or out["values"] is None:
                break  # time: keep this row and the rest for the full problem
            if float(cb @ out["values"][: base.n] + cb0) < best_cost - tol:
                pt = value_point(sub, view, out["values"])
                xn, xc = _split(sup, engine.space, pt[None, :])
                full = support_values(prob, view, sup, sv, fill_values(prob, view, pt),
                                      xn[0], xc[0])
                if full is not None and satisfies(prob, full):
                    best, best_cost = full, float(c @ full + c0)
        prob = replace(prob.with_bounds(np.minimum(prob.lb, ub), ub),
                       stats=dict(prob.stats, support_anchors_solved=solved,
                                  support_anchors_dropped=dropped))
        return prob, best

    def _cols(self, prob: RecourseProblem, view: Any) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
        """Value columns of the spec's numeric features and their bounds in ``prob``."""
        nf = self.spec.num_feat.size
        cols, lo, hi = np.full(nf, -1), np.zeros(nf), np.zeros(nf)
        for p, j in enumerate(self.spec.num_feat.tolist()):
            cols[p], lo[p], hi[p] = column_range(prob, view, j)
        return cols, lo, hi

    def _rebuild(self, engine: Any, prob: RecourseProblem, view: Any, norm: str,
                 upper: float, cut: np.ndarray,
                 s_best: np.ndarray) -> tuple[RecourseProblem, np.ndarray] | None:
        """The support rows built again over the problem as it was before them, without
        the candidates ``cut`` rules out and, for L1, with every numeric value column
        bounded by the budget (``|x_j - x0_j| <= upper / unit_cost_j`` holds for every
        answer that costs at most ``upper``): smaller big-M values, fewer candidates.
        None when another constraint added columns after the support rows."""
        if self._before is None or (prob.n, prob.A.shape[0]) != self._after:
            return None
        base = self._before
        if norm == "l1":
            lb, ub = base.lb.copy(), base.ub.copy()
            space = engine.space
            for j in view.numeric.tolist():
                u = float(engine.spec.unit_cost[j])
                col = int(view.x[j])
                if u > 0 and col >= 0:
                    x = float(base.x0[int(space.start[j])])
                    room = upper / u * (1 + 1e-9) + 1e-9
                    lb[col], ub[col] = max(lb[col], x - room), min(ub[col], x + room)
            base = base.with_bounds(lb, ub)
        new, sv = add_support(base, view, self.spec, cost_cut=cut)
        xn, xc = _split(self.spec, engine.space, s_best[None, :])
        full = support_values(new, view, self.spec, sv, fill_values(new, view, s_best),
                              xn[0], xc[0])
        if full is None or not satisfies(new, full):
            return None
        self._vars = sv
        reach = int(prob.stats["support_reachable"])  # by the action set alone
        return replace(new, stats=dict(new.stats, support_reachable=reach,
                                       support_cut=reach - int(new.stats["support_kept"]))
                       ), full


def _fix_levels(prob: RecourseProblem, view: Any, sup: SupportSpec,
                i: int) -> RecourseProblem:
    """``prob`` with every categorical feature the model reads fixed at row ``i``'s
    level."""
    ub = prob.ub.copy()
    for q, j in enumerate(sup.cat_feat.tolist()):
        level_cols = view.levels[j]
        if level_cols is not None:
            cols = np.asarray(level_cols)
            keep = cols[int(sup.C[i, q])]
            ub[cols[cols != keep]] = 0.0
    return prob.with_bounds(np.minimum(prob.lb, ub), ub)


def _split(sup: SupportSpec, space: Any, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numeric values and level indices (spec order) of search vectors ``H``."""
    xn = H[:, space.start[sup.num_feat]] if sup.num_feat.size else np.zeros((H.shape[0], 0))
    xc = np.zeros((H.shape[0], sup.cat_feat.size), dtype=np.int64)
    for q, j in enumerate(sup.cat_feat.tolist()):
        s, e = int(space.start[j]), int(space.start[j + 1])
        xc[:, q] = np.argmax(H[:, s:e], axis=1)
    return xn, xc


class SupportReport(Option):
    """What every answer of an engine with support data reports (enforced or not):
    ``support``, ``support_distance``, ``supported`` (numpy on the data) and the option's
    ``support_k``, ``support_radius``, ``support_enforced``."""

    adds_rows = False

    def __init__(self, support: DataSupport, schema: FeatureSchema) -> None:
        self.support, self.schema = support, schema

    def report(self, ctx: Any, cf: dict[str, Any]) -> dict[str, Any]:
        sup = self.support
        on = any(o.name == "support" for o in ctx.options)
        return dict(sup.measure(cf, self.schema), support_k=sup.k, support_radius=sup.radius,
                    support_enforced=on)

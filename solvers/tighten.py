"""Bound tightening for ReLU blocks over one applicant's reachable box.

The encoder (``recourse.encoders.mlp``) bounds every hidden unit by interval arithmetic over the
schema's whole box. One applicant can reach far less: immutable features are fixed,
direction-only features move one way, and a categorical feature keeps its allowed levels.
:func:`tighten_relu` re-bounds the network over that box, in two steps:

1. interval arithmetic over the applicant's box (``recourse.encoders.bounds``; exact for the first
   layer, which is separable over features with one level per one-hot group);
2. with ``method="lp"``, for every layer after the first, two LPs per still-unstable unit
   (minimise and maximise its pre-activation) over the LP relaxation of the layers before
   it: stable units exactly, unstable units by the triangle
   ``h >= 0, h >= z, h <= U (z - L) / (U - L)``, one-hot groups summing to 1. Each LP's
   optimum is a valid bound (the relaxation contains every reachable point); it is widened
   by the LP tolerance before use.

Units proven always active or always inactive lose their binary (``recourse.encoders.mlp``); the
block is rebuilt with the new bounds and ``info`` keeps the binaries before and after.
This is a solver's job (it solves LPs), so it lives here, not in ``encoders``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel
from recourse.encoders.bounds import affine_box, first_layer_bounds
from recourse.encoders.mlp import ReluEncoding, relu_block
from recourse.solvers.deadline import Deadline
from recourse.solvers.spec import ActionSpec

__all__ = ["applicant_box", "tighten_relu", "lp_bounds", "METHODS"]

METHODS = ("lp", "interval")
#: With a budget, also tighten the first layer by LP (the box alone ignores that the
#: budget is shared between features).
LP_FIRST_LAYER = True
#: Widening of every LP bound (absolute + relative), above HiGHS's LP tolerances.
LP_SLACK = 1e-6


def applicant_box(spec: ActionSpec, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of every search variable reachable from ``x0`` under the action set."""
    space = spec.space
    lo, hi = np.zeros(space.n_vars), np.ones(space.n_vars)
    for j in range(space.n_features):
        s = int(space.start[j])
        if space.is_group(j):
            k = len(space.levels[j] or ())
            cur = int(np.argmax(x0[s : s + k]))
            allowed = spec.allowed_levels(j, cur)
            hi[s : s + k] = allowed.astype(float)
            if allowed.sum() == 1:
                lo[s : s + k] = allowed.astype(float)
        else:
            lo[s], hi[s] = spec.numeric_range(j, float(x0[s]))
    return lo, hi


def tighten_relu(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray,
                 method: str = "lp", budget: float = np.inf,
                 deadline: Deadline | None = None) -> EncodedModel:
    """The ReLU block of ``enc`` re-encoded over ``x0``'s reachable box (see module doc).

    With a finite ``budget`` (the L1 cost of a known solution) the box is cut to the points
    that cost at most ``budget``; the bounds are then valid only together with the row
    ``cost <= budget``, which the search adds (``recourse.solvers.search.solve_phase``).
    With a ``deadline``, the LPs stop when it passes; the units not yet re-bounded keep
    their interval bounds (valid, only looser).
    """
    relu: ReluEncoding = enc.network
    net = relu.net
    t0 = time.perf_counter()
    lo, hi = applicant_box(spec, x0)
    unit = _unit_costs(spec, x0)
    cut = None
    if np.isfinite(budget):
        cut = (x0, unit, float(budget))
        reach = np.where(unit > 0, budget / np.where(unit > 0, unit, 1.0), np.inf)
        num = _numeric_mask(spec)
        lo = np.where(num, np.maximum(lo, x0 - reach), lo)
        hi = np.where(num, np.minimum(hi, x0 + reach), hi)
        hi = np.where(~num & (unit > budget * (1 + 1e-9)), 0.0, hi)
    # the schema box is the encoder's; an applicant outside it widens it (bounds must hold)
    bounds = [first_layer_bounds(net.weights[0], net.biases[0], lo, hi, net.groups)]
    if method == "lp" and cut is not None and LP_FIRST_LAYER:
        L, U = bounds[0]
        bounds[0] = lp_bounds(net.weights, net.biases, [], 0, lo, hi, net.groups, L, U, cut,
                              deadline=deadline)
    for k in range(1, len(net.weights)):
        L, U = bounds[-1]
        Lk, Uk = affine_box(net.weights[k], net.biases[k], np.maximum(L, 0.0),
                            np.maximum(U, 0.0))
        if method == "lp" and k < len(net.weights) - 1:
            Lk, Uk = lp_bounds(net.weights, net.biases, bounds, k, lo, hi, net.groups, Lk, Uk,
                               cut, deadline=deadline)
        bounds.append((Lk, Uk))
    info = {"n_binaries_schema_box": int(enc.info.get("n_binaries_schema_box",
                                                     enc.info["n_binaries"])),
            "bound_method": method, "budget": float(budget),
            "tighten_time": time.perf_counter() - t0}
    return relu_block(net, bounds, lo, hi, spec.space, info=info)


def _numeric_mask(spec: ActionSpec) -> np.ndarray:
    space = spec.space
    out = np.zeros(space.n_vars, dtype=bool)
    for j in range(space.n_features):
        if not space.is_group(j):
            out[int(space.start[j])] = True
    return out


def _unit_costs(spec: ActionSpec, x0: np.ndarray) -> np.ndarray:
    """Per search variable: L1 cost per unit (numeric) or of taking the level (groups)."""
    space = spec.space
    out = np.zeros(space.n_vars)
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        if space.is_group(j):
            out[s:e] = spec.level_costs(j, int(np.argmax(x0[s:e])))
        else:
            out[s] = float(spec.unit_cost[j])
    return out


def lp_bounds(weights: Any, biases: Any, bounds: list[tuple[np.ndarray, np.ndarray]], k: int,
              lo: np.ndarray, hi: np.ndarray, groups: Any, L0: np.ndarray,
              U0: np.ndarray, budget: tuple[np.ndarray, np.ndarray, float] | None = None,
              deadline: Deadline | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tighter bounds of layer ``k``'s pre-activations by LP over the relaxation of layers
    ``0 .. k-1`` (their ``bounds`` given); ``L0, U0`` are the bounds to improve on.

    ``budget = (x0, unit_cost, C)`` adds the L1 cost row ``sum_j unit_cost_j |s_j - x0_j|
    <= C`` (one-hot levels: ``unit_cost`` is the cost of each level, linear in ``s``).
    With a ``deadline`` each LP gets what is left of it, and once it has passed the
    remaining units keep ``L0, U0``.
    """
    import highspy

    from recourse.solvers.highs import _new_highs

    cols_lo, cols_hi = list(lo), list(hi)
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    for g in groups:
        rows.append((np.asarray(g), np.ones(len(g)), 1.0, 1.0))
    if budget is not None:
        x0, unit, cap = budget
        in_group = np.zeros(lo.size, dtype=bool)
        for g in groups:
            in_group[g] = True
        cost_cols, cost_vals = [], []
        for j in range(lo.size):
            if unit[j] == 0.0 or lo[j] == hi[j]:
                continue
            if in_group[j]:
                cost_cols.append(j)
                cost_vals.append(float(unit[j]))
                continue
            t = len(cols_lo)
            cols_lo.append(0.0)
            cols_hi.append(max(hi[j] - x0[j], x0[j] - lo[j], 0.0))
            rows.append((np.array([t, j]), np.array([1.0, -1.0]), -float(x0[j]), np.inf))
            rows.append((np.array([t, j]), np.array([1.0, 1.0]), float(x0[j]), np.inf))
            cost_cols.append(t)
            cost_vals.append(float(unit[j]))
        if cost_cols:
            rows.append((np.array(cost_cols), np.array(cost_vals), -np.inf, float(cap)))
    prev = np.arange(lo.size)
    for layer in range(k):
        W, b = weights[layer], biases[layer]
        L, U = bounds[layer]
        cur = np.full(W.shape[0], -1)
        for u in range(W.shape[0]):
            if U[u] <= 0.0:
                continue
            live = prev >= 0
            w = W[u, live]
            c = prev[live]
            h = len(cols_lo)
            cur[u] = h
            cols_lo.append(max(float(L[u]), 0.0))
            cols_hi.append(float(U[u]))
            if L[u] >= 0.0:
                rows.append((np.append(c, h), np.append(-w, 1.0), float(b[u]), float(b[u])))
            else:
                rows.append((np.append(c, h), np.append(-w, 1.0), float(b[u]), np.inf))
                s = float(U[u] / (U[u] - L[u]))
                rows.append((np.append(c, h), np.append(-s * w, 1.0), -np.inf,
                             s * float(b[u] - L[u])))
        prev = cur
    n = len(cols_lo)
    if rows:
        A = sp.csr_matrix(
            (np.concatenate([r[1] for r in rows]),
             (np.concatenate([np.full(r[0].size, i) for i, r in enumerate(rows)]),
              np.concatenate([r[0] for r in rows]))), shape=(len(rows), n))
    else:  # no groups, no budget, every earlier unit inactive on the box: bounds only
        A = sp.csr_matrix((0, n))
    inf = highspy.kHighsInf
    h = _new_highs(highspy)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, A.shape[0]
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.array(cols_lo, dtype=float)
    lp.col_upper_ = np.array(cols_hi, dtype=float)
    lp.row_lower_ = np.array([r[2] if np.isfinite(r[2]) else -inf for r in rows], dtype=float)
    lp.row_upper_ = np.array([r[3] if np.isfinite(r[3]) else inf for r in rows], dtype=float)
    csc = sp.csc_matrix(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    h.passModel(lp)
    W, b = weights[k], biases[k]
    live = prev >= 0
    idx = np.arange(n, dtype=np.int32)
    L_out, U_out = L0.copy(), U0.copy()
    for ui in np.flatnonzero((L0 < 0) & (U0 > 0)):
        u = int(ui)
        cost = np.zeros(n)
        cost[prev[live]] = W[u, live]
        for sense in (1.0, -1.0):
            if deadline is not None:
                if deadline.expired():
                    return L_out, U_out
                h.setOptionValue("time_limit", deadline.remaining())
            h.changeColsCost(n, idx, sense * cost)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                continue  # keep the interval bound
            val = sense * float(h.getInfo().objective_function_value) + float(b[u])
            slack = LP_SLACK * (1.0 + abs(val))
            if sense > 0:
                L_out[u] = max(L_out[u], val - slack)
            else:
                U_out[u] = min(U_out[u], val + slack)
    return L_out, U_out


def relu_incumbent(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray, target: int,
                   margin: float, tie_margin: float, norm: str,
                   reference: np.ndarray | None) -> np.ndarray | None:
    """A cheap search vector the encoding's forward pass puts in the target (or None).

    Candidates: the reference rows moved into the action set, and points along the segment
    from the applicant to each of the cheapest of them (integer features rounded); the
    cheapest approved one is improved by reverting features to the applicant's values.
    Only the network's numpy forward pass is used; every candidate obeys the value rules.
    """
    from recourse.solvers.incumbent import point_cost_matrix

    if reference is None or reference.shape[0] == 0:
        return None
    space = spec.space
    G, g_lo = enc.target_rows(target, margin, tie_margin)

    def approved(H: np.ndarray) -> np.ndarray:
        V = enc.block_values(H)
        return np.all(np.asarray(G @ V.T).T >= g_lo - 1e-12, axis=1)

    H = _project(spec, x0, reference)
    H = H[approved(H)]
    if H.shape[0] == 0:
        return None
    cost = point_cost_matrix(spec, x0, H, "l1" if norm == "l1" else "l0")
    top = H[np.argsort(cost)[:16]]
    ts = np.linspace(0.0, 1.0, 33)[1:]
    seg = (x0[None, None, :] + ts[None, :, None] * (top - x0)[:, None, :]).reshape(-1, x0.size)
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        if space.is_group(j):
            lvl = np.argmax(seg[:, s:e], axis=1)
            seg[:, s:e] = 0.0
            seg[np.arange(seg.shape[0]), s + lvl] = 1.0
        elif space.integer[j]:
            seg[:, s] = np.round(seg[:, s])
    cand = np.vstack([top, seg])
    cand = cand[approved(cand)]
    c = point_cost_matrix(spec, x0, cand, "l1" if norm == "l1" else "l0")
    best = cand[int(np.argmin(c))]
    best_c = float(c.min())
    for _ in range(space.n_features):  # revert features while still approved
        trial = []
        for j in range(space.n_features):
            s, e = int(space.start[j]), int(space.start[j + 1])
            if not np.array_equal(best[s:e], x0[s:e]):
                t = best.copy()
                t[s:e] = x0[s:e]
                trial.append(t)
        if not trial:
            break
        T = np.array(trial)
        T = T[approved(T)]
        if T.shape[0] == 0:
            break
        tc = point_cost_matrix(spec, x0, T, "l1" if norm == "l1" else "l0")
        if tc.min() >= best_c:
            break
        best, best_c = T[int(np.argmin(tc))], float(tc.min())
    if norm == "l1":
        best = _shrink(spec, x0, best, approved)
    return best


def _shrink(spec: ActionSpec, x0: np.ndarray, best: np.ndarray, approved: Any) -> np.ndarray:
    """Move each changed numeric feature back toward the applicant as far as the forward
    pass still approves (a grid of 32 steps, twice over the features): a cheaper first
    solution cuts the box the bounds are tightened over."""
    space = spec.space
    alphas = np.linspace(0.0, 1.0, 33)[:-1]
    for _ in range(2):
        for j in range(space.n_features):
            if space.is_group(j):
                continue
            s = int(space.start[j])
            if best[s] == x0[s]:
                continue
            T = np.repeat(best[None, :], alphas.size, axis=0)
            T[:, s] = x0[s] + alphas * (best[s] - x0[s])
            if space.integer[j]:
                T[:, s] = np.round(T[:, s])
            ok = np.flatnonzero(approved(T))
            if ok.size:
                best = T[ok[0]]  # alphas rise: the first approved is the nearest
    return best


def _project(spec: ActionSpec, x0: np.ndarray, R: np.ndarray) -> np.ndarray:
    space = spec.space
    H = R.copy()
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        if space.is_group(j):
            allowed = spec.allowed_levels(j, int(np.argmax(x0[s:e])))
            bad = ~allowed[np.argmax(H[:, s:e], axis=1)]
            H[bad, s:e] = x0[s:e]
        else:
            lo, hi = spec.numeric_range(j, float(x0[s]))
            H[:, s] = np.clip(H[:, s], lo, hi)
    return H


def complete(prob: Any, s: np.ndarray) -> np.ndarray:
    """Every variable of ``prob`` (a ``RecourseProblem`` over a ReLU block) at search vector
    ``s``: block values, then the L1 / L0 helper columns ``build_problem`` appends per value
    link (``t = |x - x0|``, then ``d = [x != x0]`` for L0 norms), in its order."""
    from recourse.encoders.block import ValueLink

    enc = prob.enc
    full = np.zeros(prob.n)
    full[: enc.n_vars] = enc.block_values(s[None, :])[0]
    nxt = enc.n_vars
    with_d = prob.n - enc.n_vars == 2 * sum(isinstance(k, ValueLink) for k in enc.links)
    for link in enc.links:
        if isinstance(link, ValueLink):
            st = int(prob.spec.space.start[link.feature])
            delta = abs(float(s[st]) - float(prob.x0[st]))
            full[nxt] = delta
            nxt += 1
            if with_d:
                full[nxt] = 1.0 if delta > 0 else 0.0
                nxt += 1
    return full

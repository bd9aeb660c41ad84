"""Starting solutions for the tree search, from the encoding's own forward pass.

An incumbent (a point the encoding assigns to the target) bounds the search before any
solver runs: ``recourse.solvers.prune.prune`` fixes every move and drops every leaf that costs at
least as much on its own. Nothing here calls a solver's MILP or sklearn; every candidate
obeys the value rules (bounds, directions, integers, one level per group) by construction.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from recourse.encoders.block import GroupLink, ThresholdLink
from recourse.encoders.evaluate import link_table
from recourse.solvers.deadline import Deadline
from recourse.solvers.forward import Base, CostTable, ForestPass
from recourse.solvers.leaves import iter_leaf_points
from recourse.solvers.local import (
    ASCENT_SHARE,
    ASCENT_TIME,
    LOCAL_SEARCH_SHARE,
    LOCAL_SEARCH_TIME,
    ascend,
    improve,
)
from recourse.solvers.problem import RecourseProblem, violates_exclusions
from recourse.solvers.prune import prune
from recourse.solvers.reduce import reduce_model

__all__ = ["find_incumbent", "large_start", "ascent_start", "single_moves", "project",
           "point_cost_matrix"]

#: The margin ascent (:func:`ascent_start`) runs on reduced tree problems at least this large:
#: it costs up to ``ASCENT_TIME``, worth it where the solver takes seconds. On credit_data's
#: RF 300x8 every query left with more took 5 s or more; those with fewer took at most
#: 1.8 s, and the ascent made them up to 60 % slower without a cheaper start.
ASCENT_MIN_VARS = 3000



def find_incumbent(prob: RecourseProblem, norm: str, reference: np.ndarray | None = None,
                   l0_cap: float = np.inf,
                   deadline: Deadline | None = None,
                   use_local: bool = True) -> np.ndarray | None:
    """Block values of a cheap point the encoding assigns to the target (or None).

    Candidates, cheapest first: every single move across one split, and ``reference``
    rows (search vectors the encoding assigns to the target) projected into the action
    set; the best is improved by reverting features to
    the applicant's values while it stays approved. Only the encoding's forward pass
    is used (no solver, no sklearn call); the MILP then searches strictly cheaper.
    Candidates that change every feature of an excluded set (``prob.excluded``) are
    skipped, so the bound stays valid for the problem with its exclusion rows.
    With a ``deadline``, the search stops when it passes and returns the best point so
    far (still approved by the encoding: every kept point was checked).
    """
    enc = prob.enc
    if enc.tree is None:
        return None
    spec, space, x0, t_idx = prob.spec, prob.spec.space, prob.x0, prob.target
    obj, obj0 = prob.objective("l1" if norm == "l1" else "l0")
    prices = CostTable(enc, obj[: link_table(enc).n_link], obj0)
    fwd = ForestPass(enc)  # its per-encoding arrays are memoised by the encoding

    best: list[Any] = [None, np.inf]

    def consider(H: np.ndarray, c: np.ndarray | None = None, base: Base | None = None,
                 features: np.ndarray | None = None) -> None:
        """Keep the cheapest row of ``H`` the encoding approves, if cheaper than the best.

        Rows are checked cheapest first, in blocks that double up to 512 rows (the first approved
        row ends the search); ``features`` (one per row) names the one feature in which a
        row differs from ``base``, so that only the trees splitting on it are walked
        (without a ``base``, every tree is walked)."""
        if H.shape[0] == 0:
            return
        c = prices.price(H) if c is None else c
        if prob.excluded:  # answers must avoid the excluded change sets
            c = np.where(violates_exclusions(prob, H), np.inf, c)
        if np.isfinite(l0_cap):
            c = np.where(point_cost_matrix(spec, x0, H, "l0") <= l0_cap, c, np.inf)
        order = np.argsort(c, kind="stable")
        order = order[c[order] < best[1] - 1e-12]
        i, chunk = 0, 64
        while i < order.size:
            if deadline is not None and deadline.expired():
                return
            idx = order[i : i + chunk]
            ok = np.flatnonzero(fwd.approves(base, H[idx], t_idx, prob.margin,
                                             prob.tie_margin,
                                             None if features is None else features[idx]))
            if ok.size:
                best[0], best[1] = H[idx[ok[0]]], float(c[idx[ok[0]]])
                return
            i, chunk = i + idx.size, min(2 * chunk, 512)

    if enc.tree.n_trees == 1:
        # one tree: the cheapest point of every leaf (exact per leaf, ``solvers.leaves``);
        # the cheapest the encoding approves is optimal unless a row it does not know
        # (exclusions, an L0 cap) rules it out, and the other candidates add nothing
        for H, _ in iter_leaf_points(prob, norm, _target_leaves(prob)):  # cheapest first
            consider(H)  # costs recomputed from the points themselves
            if best[0] is not None:
                break
        if best[0] is not None:
            return _full(prob, best[0])
    base0 = fwd.base(x0)
    moves, move_vars = single_moves(prob)
    move_feat = link_table(enc).feature[move_vars]
    cross = prob.crossing if norm == "l1" else prob.crossing_l0
    move_cost = cross[move_vars]
    cheap = move_cost <= np.min(move_cost, initial=np.inf) + 1e-12
    consider(moves[cheap], move_cost[cheap], base0, move_feat[cheap])
    if reference is not None and reference.shape[0]:
        consider(project(prob, reference))  # many features moved: every tree walked
    consider(moves, move_cost, base0, move_feat)
    if best[0] is None:
        return None
    s_best: np.ndarray = best[0]
    # Greedy: revert single features to the applicant's value while still approved.
    # A reverted point differs from the best in one feature: its price is the best's with
    # that feature's share swapped, and only the trees splitting on it are walked again.
    share0 = prices.per_feature(x0)[0]
    for _ in range(space.n_features):
        if deadline is not None and deadline.expired():
            break
        diff = np.add.reduceat((s_best != x0).astype(np.int8), fwd.starts) > 0
        feats = np.flatnonzero(diff)
        if feats.size == 0:
            break
        cand = np.repeat(s_best[None, :], feats.size, axis=0)
        for r, j in enumerate(feats):
            sl = slice(int(space.start[j]), int(space.start[j + 1]))
            cand[r, sl] = x0[sl]
        share = prices.per_feature(s_best)[0]
        before = best[1]
        consider(cand, share.sum() + prices.w0 - share[feats] + share0[feats],
                 base=fwd.base(s_best),
                 features=feats)
        if best[1] >= before:
            break
        s_best = best[0]
    if use_local:  # then a bounded local search over one- and two-feature changes
        now = time.perf_counter()
        end = now + LOCAL_SEARCH_TIME
        if deadline is not None:
            end = min(end, deadline.share(LOCAL_SEARCH_SHARE).end)
        local = Deadline(now, end)
        s_best = improve(prob, s_best, fwd, prices, _admissible(prob, l0_cap), local)
    return _full(prob, s_best)


def _admissible(prob: RecourseProblem, l0_cap: float) -> Any:
    """Rows -> mask of the points that avoid the excluded change sets and the L0 cap."""
    def ok(H: np.ndarray) -> np.ndarray:
        keep = ~violates_exclusions(prob, H)
        if np.isfinite(l0_cap):
            keep &= point_cost_matrix(prob.spec, prob.x0, H, "l0") <= l0_cap
        return np.asarray(keep, dtype=bool)
    return ok


def _target_leaves(prob: RecourseProblem) -> np.ndarray:
    """Leaves (of a one-tree model) whose value meets the target rows without margin: a
    pre-filter only, the forward pass decides."""
    tree = prob.enc.tree
    assert tree is not None
    val, g_lo = prob.enc.target_leaf_rows(prob.target)
    return np.flatnonzero(np.all(val >= g_lo[:, None] - 1e-12, axis=0))


def _full(prob: RecourseProblem, s: np.ndarray) -> np.ndarray:
    """Problem variable values (block values, zeros beyond) at search vector ``s``."""
    full = np.zeros(prob.n)
    full[: prob.enc.n_vars] = prob.enc.block_values(s[None, :])[0]
    return full


def large_start(prob: RecourseProblem, norm: str, incumbent: np.ndarray | None,
                deadline: Deadline | None = None) -> np.ndarray | None:
    """A cheaper incumbent, if the margin ascent finds one (:func:`ascent_start` on the
    problem pruned and reduced below ``incumbent``'s cost)."""
    enc = prob.enc
    if enc.tree is None or prob.n < ASCENT_MIN_VARS:  # reduced <= pruned <= prob.n
        return incumbent
    c, c0 = prob.objective(norm)
    upper = float(c @ incumbent + c0) if incumbent is not None else np.inf
    pruned, blocked = prune(prob, norm, upper)
    if blocked:
        return incumbent
    cp, _ = pruned.objective(norm)
    red = reduce_model(cp, c0, pruned.lb, pruned.ub, pruned.integer, pruned.A,
                       pruned.row_lo, pruned.row_hi)
    return ascent_start(prob, red, norm, incumbent, deadline)


def ascent_start(prob: RecourseProblem, red: Any, norm: str, incumbent: np.ndarray | None,
                 deadline: Deadline | None = None) -> np.ndarray | None:
    """A cheaper incumbent, if the margin ascent points to one, for a reduced tree problem
    ``red`` (``prob`` pruned and reduced by ``recourse.solvers.reduce.reduce_model``) of at
    least :data:`ASCENT_MIN_VARS` variables; else ``incumbent`` as it is.

    The ascent (``recourse.solvers.local.ascend``, then the local search; at most
    :data:`~recourse.solvers.local.ASCENT_TIME`) finds answers that move many features a
    little. With an expired deadline the incumbent is returned as it is.

    Smaller problems go straight to the solver. They used to get the LP relaxation's
    rounding (every threshold indicator rounded at a few levels), which found a cheaper
    start on none of 27 credit_data queries of 1,000-3,000 reduced variables (15 of the
    first 30 of RF 100x6, 10 of 20 of RF 300x8, 2 of 6 of RF 1000x10) and cost 0.04-0.6 s
    each, up to a quarter of the query (an earlier sample had 2 cheaper starts in 42);
    after the ascent it was cheaper on none of 37 larger ones.
    """
    if (prob.enc.tree is None or red.infeasible or red.A.shape[0] == 0
            or red.keep.size < ASCENT_MIN_VARS):
        return incumbent
    if deadline is not None and deadline.expired():
        return incumbent
    c, c0 = prob.objective(norm)
    upper = float(c @ incumbent + c0) if incumbent is not None else np.inf
    return _ascent(prob, norm, deadline, incumbent, upper)[0]


def _ascent(prob: RecourseProblem, norm: str, deadline: Deadline | None,
            incumbent: np.ndarray | None, upper: float) -> tuple[np.ndarray | None, float]:
    """The cheaper of ``incumbent`` (costing ``upper``) and the margin ascent's point
    (``recourse.solvers.local.ascend``) made cheaper by the local search, within
    :data:`~recourse.solvers.local.ASCENT_TIME` and
    :data:`~recourse.solvers.local.ASCENT_SHARE` of what ``deadline`` leaves, for both."""
    now = time.perf_counter()
    end = now + ASCENT_TIME
    if deadline is not None:
        end = min(end, deadline.share(ASCENT_SHARE).end)
    budget = Deadline(now, end)
    obj, obj0 = prob.objective("l1" if norm == "l1" else "l0")
    prices = CostTable(prob.enc, obj[: link_table(prob.enc).n_link], obj0)
    fwd = ForestPass(prob.enc)
    ok = _admissible(prob, np.inf)
    s = ascend(prob, norm, fwd, prices, ok, budget)
    if s is None:
        return incumbent, upper
    s = improve(prob, s, fwd, prices, ok, budget)
    full = _full(prob, s)
    c, c0 = prob.objective(norm)
    cost = float(c @ full + c0)
    return (full, cost) if cost < upper - 1e-12 else (incumbent, upper)


def single_moves(prob: RecourseProblem) -> tuple[np.ndarray, np.ndarray]:
    """Points that change one feature across one split, and the variable each sets.

    The cost of such a move is the problem's crossing cost of that variable.
    """
    x0, space = prob.x0, prob.spec.space
    rows, var = [], []
    for link in prob.enc.links:
        j = link.feature
        s = int(space.start[j])
        if isinstance(link, GroupLink):
            k = len(link.vars)
            for lv in np.flatnonzero((prob.ub[link.vars] > 0.5) & (x0[s : s + k] < 0.5)):
                r = x0.copy()
                r[s : s + k] = 0.0
                r[s + lv] = 1.0
                rows.append(r[None, :])
                var.append(int(link.vars[lv]))
        elif isinstance(link, ThresholdLink):
            t = link.thresholds
            half = 0.5 if space.integer[j] else 0.0
            z0 = link.above(x0[s])
            up = np.flatnonzero(~z0 & (prob.ub[link.vars] > 0.5))
            down = np.flatnonzero(z0 & (prob.lb[link.vars] < 0.5))
            vals = np.concatenate([
                t[up] + half if half else np.nextafter(t[up], np.inf),
                t[down] - half if half else t[down]])
            block = np.repeat(x0[None, :], vals.size, axis=0)
            block[:, s] = vals
            rows.append(block)
            var.extend(link.vars[np.concatenate([up, down])].tolist())
    if not rows:
        return np.zeros((0, x0.size)), np.zeros(0, dtype=np.int64)
    return np.vstack(rows), np.array(var, dtype=np.int64)


def project(prob: RecourseProblem, R: np.ndarray) -> np.ndarray:
    """Reference rows moved into the applicant's action set (immutables, bounds, ...)."""
    x0, spec, space = prob.x0, prob.spec, prob.spec.space
    H = R.copy()
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        if space.is_group(j):
            cur = int(np.argmax(x0[s:e]))
            allowed = spec.allowed_levels(j, cur)
            bad = ~allowed[np.argmax(H[:, s:e], axis=1)]
            H[bad, s:e] = x0[s:e]
        else:
            lo, hi = spec.numeric_range(j, float(x0[s]))
            H[:, s] = np.clip(H[:, s], lo, hi)
    return H


def point_cost_matrix(spec: Any, x0: np.ndarray, H: np.ndarray, norm: str) -> np.ndarray:
    space = spec.space
    total = np.zeros(H.shape[0])
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        if space.is_group(j):
            cur = int(np.argmax(x0[s:e]))
            lvl = np.argmax(H[:, s:e], axis=1)
            changed = lvl != cur
            total += spec.level_costs(j, cur)[lvl] if norm == "l1" else changed * spec.l0_weight[j]
        else:
            d = np.abs(H[:, s] - x0[s])
            total += spec.unit_cost[j] * d if norm == "l1" else (d > 0) * spec.l0_weight[j]
    return total



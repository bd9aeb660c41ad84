"""Certified boxes: axis-aligned boxes of actionable points a model approves throughout.

Tree ensembles and linear models here; ReLU networks in ``recourse.solvers.relu_box`` (the same
contract, each face found by MILP).

Tree ensembles (``EncodedModel.tree`` set)
------------------------------------------
The sorted split thresholds of each numeric feature cut its axis into *cells*; a box of
whole cells (clipped to the action set) is approved throughout iff, for every target row
``G_r v >= lo_r`` of ``EncodedModel.target_rows``, the minimum of ``G_r v`` over the
tree block with the threshold indicators of every feature fixed to the box's cells is at
least ``lo_r``. That minimum is a small 0/1 program (:func:`box_minimum`), so the check is
exact, not sampled. Each check of a slab is, in order: the counterfactual moved into each
of the slab's cells (a point the encoding rejects decides it: that point is the witness);
per tree the least reachable leaf (when their sum meets ``lo_r`` the slab passes); then
the program, with everything the box fixes removed, asked only whether its minimum is
below ``lo_r`` (HiGHS's ``objective_bound``).

:func:`grow_tree_box` starts from the counterfactual's cell and grows one face at a time
(features in schema order, upper face then lower face), each as far as the check allows:
galloping over cells (1, 2, 4, ... at a time) and halving on a failure. Only the new slab
is checked (the box before it is already certified). A face stops either at the action
set's limit or at a cell that holds a rejected point, kept as a *witness*. As the box
only grows, a witness stays adjacent to the final box, so the result is **maximal by
inclusion**: no face can be pushed out by any amount. (It is not the box of largest
volume; that depends on the order in which faces grow.)
Categorical features stay at the counterfactual's level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink
from recourse.encoders.cells import PLACEMENT
from recourse.encoders.evaluate import block_values
from recourse.solvers.highs import solve_highs
from recourse.solvers.reduce import reduce_model
from recourse.solvers.spec import ActionSpec
from recourse.solvers.status import Status

__all__ = ["BoxFace", "SearchBox", "box_minimum", "box_lower_bound", "grow_tree_box",
           "grow_linear_box"]


@dataclass(frozen=True)
class BoxFace:
    """Why one face of a box stops where it does.

    ``reason`` is ``"action_set"`` (beyond it the feature is not actionable),
    ``"model"`` (``witness``, a search vector just beyond the face with the other features
    inside the box, is rejected by the encoding) or ``"undecided"`` (the check hit its
    time limit; the face may be conservative).
    """

    reason: str
    witness: np.ndarray | None = None


@dataclass(frozen=True)
class SearchBox:
    """A certified box in search-space terms.

    ``low``/``high`` (per feature; NaN for categorical features, which are fixed at
    ``level``) are closed bounds in user units; ``faces`` maps ``(feature, +1 | -1)`` to
    a :class:`BoxFace` for every numeric feature that can move at all.
    """

    low: np.ndarray
    high: np.ndarray
    level: dict[int, int]
    faces: dict[tuple[int, int], BoxFace] = field(default_factory=dict)
    checks: int = 0
    time: float = 0.0
    #: Model-specific facts (ReLU networks: the margin levels, see ``recourse.solvers.relu_box``).
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ trees
def _eps(link: ThresholdLink, i: int) -> float:
    if link.spacing is not None:
        return PLACEMENT * float(link.spacing[i])
    return 1e-6 * max(1.0, abs(float(link.thresholds[i])))


def _cell(link: ThresholdLink, x: float) -> int:
    return int(np.count_nonzero(link.above(x)))


class _Axis:
    """One numeric feature's cells and reachable interval."""

    def __init__(self, link: ThresholdLink | None, rng: tuple[float, float],
                 integer: bool) -> None:
        self.link, self.rng, self.integer = link, rng, integer
        if link is None:
            self.c_lo = self.c_hi = 0
        else:
            self.c_lo, self.c_hi = _cell(link, rng[0]), _cell(link, rng[1])

    def low(self, c: int) -> float:
        """Smallest reachable value in cell ``c``."""
        if self.link is None or c == self.c_lo:
            return self.rng[0]
        t = float(self.link.thresholds[c - 1])
        return t + 0.5 if self.integer else t + _eps(self.link, c - 1)

    def high(self, c: int) -> float:
        """Largest reachable value in cell ``c``."""
        if self.link is None or c == self.c_hi:
            return self.rng[1]
        t = float(self.link.thresholds[c])
        return t - 0.5 if self.integer else t - _eps(self.link, c)


def _box_bounds(enc: EncodedModel, cells: dict[int, tuple[int, int]],
                levels: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Block variable bounds with every feature in its cells (and group at its level)."""
    lb, ub = enc.lb.copy(), enc.ub.copy()
    for link in enc.links:
        if isinstance(link, ThresholdLink) and link.feature in cells:
            a, b = cells[link.feature]  # cells a .. b - 1: a to b - 1 thresholds below x
            lb[link.vars[:a]] = 1.0
            ub[link.vars[b - 1:]] = 0.0
        elif isinstance(link, GroupLink) and link.feature in levels:
            ub[link.vars] = 0.0
            lb[link.vars[levels[link.feature]]] = ub[link.vars[levels[link.feature]]] = 1.0
    tree = enc.tree
    if tree is not None:  # leaves a split decided by the cells rules out: fixed at 0
        nb = enc.n_vars
        ub[tree.leaf_var[tree.unreachable(lb[:nb], ub[:nb])]] = 0.0
    return lb, ub


def box_lower_bound(enc: EncodedModel, cells: dict[int, tuple[int, int]],
                    levels: dict[int, int], row: Any) -> float:
    """A lower bound on :func:`box_minimum`, without a solver: per tree the least value
    of ``row`` over the leaves the box can reach (a leaf is out of reach when a split on
    its path is decided against it by the box's cells), summed over trees, plus the least
    the other variables can add within their bounds. Trees are bounded one by one, so
    the bound ignores that they share features: when it meets the target the box passes,
    otherwise the 0/1 program decides."""
    tree = enc.tree
    assert tree is not None
    lb, ub = _box_bounds(enc, cells, levels)
    c = np.asarray(row.todense()).ravel()
    best = np.full(tree.n_trees, np.inf)
    alive = ub[tree.leaf_var] > 0.5
    np.minimum.at(best, tree.leaf_tree[alive], c[tree.leaf_var[alive]])
    other = np.ones(c.size, dtype=bool)
    other[tree.leaf_var] = False
    co = c[other]
    rest = np.where(co > 0, co * lb[other], co * ub[other])
    return float(best.sum() + np.where(co != 0, rest, 0.0).sum())


def box_minimum(enc: EncodedModel, cells: dict[int, tuple[int, int]], levels: dict[int, int],
                row: Any, time_limit: float = 30.0, cutoff: float | None = None
                ) -> tuple[float | None, np.ndarray | None, bool]:
    """Minimum of ``row @ v`` over the tree block with feature ``j`` in cells
    ``a .. b - 1`` for ``cells[j] = (a, b)`` (cell ``c``: ``c`` thresholds below) and
    group ``j`` at level ``levels[j]``.

    Returns ``(value, minimiser, proven)``: ``value`` is the optimum when ``proven``,
    else the solver's lower bound (or None).

    With ``cutoff`` the call only decides whether the minimum is below ``cutoff``: the
    branch and bound prunes every node whose bound reaches ``cutoff``. The answer is then
    a point below it with its value (proven below), or ``cutoff`` itself with no point
    when there is none below it (proven at least ``cutoff``). The grown box only asks
    this question.
    """
    lb, ub = _box_bounds(enc, cells, levels)
    c = np.asarray(row.todense()).ravel()
    options: dict[str, object] | None = (None if cutoff is None
                                         else {"objective_bound": float(cutoff)})
    # the box fixes most threshold indicators and leaves: HiGHS sees only the rest
    red = reduce_model(c, 0.0, lb, ub, enc.integer, enc.rows, enc.row_lo, enc.row_hi)
    if red.infeasible:
        return (np.inf if cutoff is None else float(cutoff)), None, True
    sol = solve_highs(red.c, red.c0, red.lb, red.ub, red.integer, red.A, red.row_lo,
                      red.row_hi, time_limit=time_limit, options=options)
    values = None if sol.values is None else red.expand(sol.values)
    if cutoff is not None and sol.objective is not None and sol.objective < cutoff:
        return float(sol.objective), values, True  # a point below: decided
    if sol.status is Status.OPTIMAL and sol.objective is not None:
        return float(sol.objective), values, True
    if sol.status is Status.INFEASIBLE:
        # without a cutoff an empty slab (cannot happen for valid cells); with one, no
        # point of the slab is below it
        return (np.inf if cutoff is None else float(cutoff)), None, True
    return sol.bound, values, False


#: Most cells of a slab probed before its 0/1 check (each probe is a dense block vector).
PROBES = 8


def grow_tree_box(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray, s_cf: np.ndarray,
                  t_idx: int, margin: float, tie_margin: float = 0.0,
                  time_limit: float = 30.0) -> SearchBox:
    """Grow a certified box around ``s_cf`` for a tree ensemble (see module docstring).

    ``x0`` is the applicant (which fixes the action set), ``s_cf`` the counterfactual as a
    search vector, ``t_idx`` the target class index; ``margin``/``tie_margin`` as in
    ``EncodedModel.target_rows``.
    """
    import time

    t0 = time.perf_counter()
    space = spec.space
    G, lo = enc.target_rows(t_idx, margin, tie_margin)
    n = space.n_features
    axes: dict[int, _Axis] = {}
    levels: dict[int, int] = {}
    cells: dict[int, tuple[int, int]] = {}
    for j in range(n):
        s = int(space.start[j])
        if space.is_group(j):
            k = len(space.levels[j] or ())
            levels[j] = int(np.argmax(s_cf[s:s + k]))
            continue
        link = enc.link_of(j)
        link = link if isinstance(link, ThresholdLink) else None
        rng = spec.numeric_range(j, float(x0[s]))
        rng = (min(rng[0], float(s_cf[s])), max(rng[1], float(s_cf[s])))
        axes[j] = _Axis(link, rng, bool(space.integer[j]))
        c = _cell(link, float(s_cf[s])) if link is not None else 0
        cells[j] = (c, c + 1)  # half-open range of cells
    checks = 0
    faces: dict[tuple[int, int], BoxFace] = {}

    def slab_ok(j: int, a: int, b: int) -> tuple[bool, np.ndarray | None, bool]:
        nonlocal checks
        trial = dict(cells)
        trial[j] = (a, b)
        worst: np.ndarray | None = None
        # the counterfactual moved into cells of the slab (both ends and up to PROBES in
        # all): a point the encoding rejects there decides the slab at once (it is a
        # witness like the program's)
        probe_cells = np.unique(np.linspace(a, b - 1, min(b - a, PROBES)).round()).astype(int)
        probes = np.repeat(s_cf[None, :], probe_cells.size, axis=0)
        probes[:, int(space.start[j])] = [axes[j].low(int(c)) for c in probe_cells]
        V = block_values(enc, probes)
        for r in range(G.shape[0]):
            below = np.flatnonzero(G[r] @ V.T < lo[r])
            if below.size:
                return False, V[below[0]], True
        for r in range(G.shape[0]):
            if box_lower_bound(enc, trial, levels, G[r]) >= lo[r]:
                continue  # every tree's reachable leaves alone keep the slab approved
            checks += 1
            val, v, proven = box_minimum(enc, trial, levels, G[r], time_limit,
                                         cutoff=float(lo[r]))
            if val is not None and val >= lo[r]:
                continue
            return False, (v if proven else None), proven
        return True, worst, True

    for j, ax in axes.items():
        if ax.rng[0] == ax.rng[1]:
            continue
        for side in (+1, -1):
            a, b = cells[j]
            limit = ax.c_hi + 1 if side > 0 else ax.c_lo
            step, reason, witness = 1, "action_set", None
            while (b < limit) if side > 0 else (a > limit):
                room = (limit - b) if side > 0 else (a - limit)
                k = min(step, room)
                slab = (b, b + k) if side > 0 else (a - k, a)
                ok, v, proven = slab_ok(j, *slab)
                if ok:
                    if side > 0:
                        b += k
                    else:
                        a -= k
                    cells[j] = (a, b)
                    step *= 2
                    continue
                if not proven:
                    reason, witness = "undecided", None
                    break
                if k == 1:
                    assert v is not None  # a proven failing slab comes with its point
                    reason, witness = "model", _witness(enc, space, axes, s_cf, v, levels)
                    break
                step = max(1, k // 2)
            faces[(j, side)] = BoxFace(reason, witness)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    for j, ax in axes.items():
        a, b = cells[j]
        low[j], high[j] = ax.low(a), ax.high(b - 1)
    return SearchBox(low=low, high=high, level=levels, faces=faces, checks=checks,
                     time=time.perf_counter() - t0)


def _witness(enc: EncodedModel, space: Any, axes: dict[int, _Axis], s_cf: np.ndarray,
             v: np.ndarray, levels: dict[int, int]) -> np.ndarray:
    """A search vector in the cells of the block solution ``v``, nearest to ``s_cf``."""
    s = s_cf.copy()
    for j, ax in axes.items():
        if ax.link is None:
            continue
        c = int(np.round(v[ax.link.vars]).sum())
        p = int(space.start[j])
        s[p] = float(np.clip(s_cf[p], ax.low(c), ax.high(c)))
    return s


# ------------------------------------------------------------------ linear
def grow_linear_box(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray, s_cf: np.ndarray,
                    t_idx: int, margin: float) -> SearchBox:
    """Certified box for a linear model, in closed form.

    A box lies in the half-space ``g @ v >= lo`` iff its worst corner does (each numeric
    feature at the bound that lowers ``g @ v``). Faces grow in the same order as
    :func:`grow_tree_box`, each as far as every target row allows; integer features stop
    at an integer.
    """
    import time

    t0 = time.perf_counter()
    space = spec.space
    G, lo = enc.target_rows(t_idx, margin, margin)
    G = np.asarray(G.todense())
    n = space.n_features
    low, high = np.full(n, np.nan), np.full(n, np.nan)
    levels: dict[int, int] = {}
    rng: dict[int, tuple[float, float]] = {}
    for j in range(n):
        s = int(space.start[j])
        if space.is_group(j):
            k = len(space.levels[j] or ())
            levels[j] = int(np.argmax(s_cf[s:s + k]))
            continue
        r = spec.numeric_range(j, float(x0[s]))
        rng[j] = (min(r[0], float(s_cf[s])), max(r[1], float(s_cf[s])))
        low[j] = high[j] = float(s_cf[s])
    fixed = np.zeros(space.n_vars)
    for j, lv in levels.items():
        fixed[int(space.start[j]) + lv] = 1.0

    def worst(skip: int) -> np.ndarray:
        """Per row: ``g @ v`` at the worst corner of the box, without feature ``skip``."""
        out = G @ fixed
        for j in rng:
            if j == skip:
                continue
            g = G[:, int(space.start[j])]
            out = out + np.minimum(g * low[j], g * high[j])
        return out

    faces: dict[tuple[int, int], BoxFace] = {}
    for j, (r_lo, r_hi) in rng.items():
        if r_lo == r_hi:
            continue
        p = int(space.start[j])
        g = G[:, p]
        for side in (+1, -1):
            rest = worst(j)
            # every row: rest + min(g*other, g*y) >= lo; only rows moving against us bind
            limit = r_hi if side > 0 else r_lo
            y = limit
            for i in range(G.shape[0]):
                if g[i] * side >= 0:
                    continue
                bound = (lo[i] - rest[i]) / g[i]  # g*y >= lo - rest
                y = min(y, bound) if side > 0 else max(y, bound)
            if space.integer[j]:
                y = float(np.floor(y + 1e-9)) if side > 0 else float(np.ceil(y - 1e-9))
            # never inside the counterfactual (verified by the model; the solver may have
            # left it within its feasibility tolerance of the margin)
            own = float(s_cf[p])
            y = max(y, own) if side > 0 else min(y, own)
            if side > 0:
                high[j] = y
            else:
                low[j] = y
            if y == limit:
                faces[(j, side)] = BoxFace("action_set")
                continue
            # the row that binds, and a point beyond the face at that row's worst corner
            slack = [(lo[i] - rest[i]) / g[i] if g[i] * side < 0 else np.inf * side
                     for i in range(G.shape[0])]
            i = int(np.argmin(slack) if side > 0 else np.argmax(slack))
            if space.integer[j]:
                beyond = y + side
            else:
                beyond = y + side * (1e-9 * max(1.0, abs(y)) + 2.0 * margin / abs(g[i]))
            w = s_cf.copy()
            for q in rng:
                gq = G[i, int(space.start[q])]
                w[int(space.start[q])] = low[q] if gq > 0 else high[q]
            w[p] = beyond
            faces[(j, side)] = BoxFace("model", w)
    return SearchBox(low=low, high=high, level=levels, faces=faces, checks=0,
                     time=time.perf_counter() - t0)

"""The recourse MILP: an encoded model + an action set + one applicant.

Variables are the block's (``encoders.EncodedModel``) plus, for value-linked numeric
features, ``t_j >= |x_j - x0_j|`` (L1) and a binary ``d_j`` (L0). Everything that depends
on the applicant is bounds, objective coefficients and the few rows of value links; the
model's rows are shared.

Costs in each link (``u`` = unit cost, ``w`` = L0 weight of the feature):

* Threshold link, thresholds ``t_1 < ... < t_k``, ``z_i = [x > t_i]``: crossing upward
  lands at ``t_i`` (integer features: ``t_i + 1/2``), downward at ``t_i`` (integer:
  ``t_i - 1/2``). The L1 cost is the telescoping sum of the distances between successive
  landing points, linear in ``z``; thresholds the action set cannot cross are fixed. L0
  is ``w (z_up + 1 - z_down)`` with the nearest thresholds above and below ``x0``.
* Group link (levels ``o_l``, exactly one): ``sum_l cost_l o_l``; forbidden levels fixed
  at 0; L0 is ``w (1 - o_current)``.
* Value link: ``x`` bounded by the reachable range, ``t >= +-(x - x0)``; L0 by
  ``-(x0 - lo) d <= x - x0 <= (hi - x0) d`` (needs finite bounds). ``decode`` clips ``x``.

Change indicators
-----------------
Every feature's "changed" indicator is linear in the variables: ``changed = C @ v + c0``
(``RecourseProblem.changed`` / ``changed0``), 0/1 at integral points:

* threshold link: ``z_up + 1 - z_down`` (nearest thresholds above and below ``x0``;
  the interval changes iff either flips, and ``decode`` keeps ``x0`` inside its own
  interval, so this is exactly whether the value changes);
* group link: ``1 - o_current``;
* value link: the binary ``d_j`` above (only built for L0 objectives or with
  ``indicators=True``; ``d_j = 0`` forces ``x_j = x0_j``, ``d_j = 1`` allows a change);
* a feature the model never reads: 0 (it is never changed).

:func:`exclude_change_sets` uses them to ask for *different* advice: for a set ``S`` of
features (an earlier answer's change set) the row ``sum_{j in S} changed_j <= |S| - 1``
forbids changing all of ``S`` again, i.e. forbids ``S`` and every superset of it (a
superset of an earlier answer is the same advice plus more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink, ValueLink
from recourse.encoders.cells import PLACEMENT
from recourse.encoders.errors import SchemaError
from recourse.solvers.spec import ActionSpec

__all__ = ["RecourseProblem", "build_problem", "decode", "point_costs",
           "exclude_change_sets", "changed_features", "violates_exclusions",
           "forbid_level_pairs"]


@dataclass(frozen=True)
class RecourseProblem:
    """One applicant's MILP in arrays (see module docstring)."""

    enc: EncodedModel
    spec: ActionSpec
    x0: np.ndarray
    target: int
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    l1: np.ndarray
    l1_0: float
    l0: np.ndarray
    l0_0: float
    crossing: np.ndarray  # cost (L1) of moving each variable off its x0 value on its own
    crossing_l0: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    #: Change indicators ``changed = changed @ v[:n0] + changed0`` per feature (see the
    #: module docstring); ``n0`` is the number of variables ``build_problem`` made
    #: (``prune`` may add columns after them). ``has_indicator[j]`` is False for a value
    #: link built without its binary (an L1 problem without ``indicators=True``).
    changed: sp.csr_matrix | None = None
    changed0: np.ndarray | None = None
    has_indicator: np.ndarray | None = None
    #: Feature sets forbidden from changing together (see :func:`exclude_change_sets`).
    excluded: tuple[tuple[int, ...], ...] = ()
    #: The margins of the target rows (``EncodedModel.target_rows``; one per model of a
    #: joint block): the heuristics accept a point only where the encoding's scores meet
    #: them.
    margin: Any = 0.0
    tie_margin: Any = 0.0
    #: Quantities derived from this problem's arrays, computed once (e.g. the per-leaf
    #: costs of ``recourse.solvers.leaves``); ``init=False``: every ``replace`` (new
    #: bounds, new rows) starts empty.
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False,
                                  compare=False)

    @property
    def n(self) -> int:
        return int(self.lb.shape[0])

    def objective(self, norm: str) -> tuple[np.ndarray, float]:
        if norm == "l1":
            return self.l1, self.l1_0
        return self.l0, self.l0_0

    def cached(self, key: Any, make: Any) -> Any:
        """``make()``, computed once per problem under ``key`` (see ``_memo``)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def with_bounds(self, lb: np.ndarray, ub: np.ndarray) -> RecourseProblem:
        return replace(self, lb=lb, ub=ub)

    def with_rows(self, rows: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> RecourseProblem:
        return replace(self, A=sp.vstack([self.A, rows]).tocsr(),
                       row_lo=np.concatenate([self.row_lo, lo]),
                       row_hi=np.concatenate([self.row_hi, hi]))


def build_problem(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray, target: int,
                  *, norm: str, margin: float, tie_margin: float = 0.0,
                  indicators: bool = False) -> RecourseProblem:
    """Assemble the MILP for applicant ``x0`` (a search vector) and class index ``target``.

    ``indicators=True`` builds the change binary of every value-linked feature with
    finite bounds even for the L1 objective (needed by :func:`exclude_change_sets`).
    """
    space = spec.space
    nb = enc.n_vars
    lb, ub = enc.lb.copy(), enc.ub.copy()
    integer = enc.integer.copy()
    l1, l0 = np.zeros(nb), np.zeros(nb)
    cross, cross0 = np.zeros(nb), np.zeros(nb)
    l1_0 = l0_0 = 0.0
    extra_lb: list[float] = []
    extra_ub: list[float] = []
    extra_int: list[bool] = []
    extra_l1: list[float] = []
    extra_l0: list[float] = []
    rows: list[tuple[dict[int, float], float, float]] = []
    need_l0 = norm in ("l0", "l0_l1") or indicators
    n_feat = space.n_features
    chg: list[dict[int, float]] = [{} for _ in range(n_feat)]
    chg0 = np.zeros(n_feat)
    has_ind = np.ones(n_feat, dtype=bool)

    def new_var(lo: float, hi: float, is_int: bool, c1: float, c0_: float) -> int:
        extra_lb.append(lo)
        extra_ub.append(hi)
        extra_int.append(is_int)
        extra_l1.append(c1)
        extra_l0.append(c0_)
        return nb + len(extra_lb) - 1

    for link in enc.links:
        j = link.feature
        s = int(space.start[j])
        u, w = float(spec.unit_cost[j]), float(spec.l0_weight[j])
        if isinstance(link, GroupLink):
            k = len(link.vars)
            cur = int(np.argmax(x0[s : s + k]))
            allowed = spec.allowed_levels(j, cur)
            ub[link.vars] = np.where(allowed, 1.0, 0.0)
            cost = spec.level_costs(j, cur)
            l1[link.vars] = cost
            cross[link.vars] = cost
            l0[link.vars[cur]] -= w
            l0_0 += w
            chg[j] = {int(link.vars[cur]): -1.0}
            chg0[j] = 1.0
            cross0[link.vars] = w
            cross0[link.vars[cur]] = 0.0
            rows.append(({int(v): 1.0 for v in link.vars}, 1.0, 1.0))
        elif isinstance(link, ThresholdLink):
            xv = float(x0[s])
            lo, hi = spec.numeric_range(j, xv)
            t = link.thresholds
            is_int = bool(space.integer[j])
            half = 0.5 if is_int else 0.0
            z0 = link.above(xv)
            above = ~z0  # thresholds at or above the applicant
            # continuous: a move must be placeable a thousandth of a float32 cell beyond
            # the threshold (see decode); a thinner sliver of the bounds is no move at all
            eps = PLACEMENT * link.spacing if link.spacing is not None and not is_int else 0.0
            can1 = (hi >= t + eps if not is_int else hi > t) | z0
            can0 = (lo <= t - half if is_int else lo <= t - eps) | ~z0  # own side: always
            lb[link.vars] = np.where(can0, 0.0, 1.0)
            ub[link.vars] = np.where(can1, 1.0, 0.0)
            up = np.flatnonzero(above)
            if up.size:
                land = t[up] + half
                steps = np.diff(np.concatenate([[xv], land]))
                l1[link.vars[up]] = u * steps
                cross[link.vars[up]] = u * (land - xv)
                l0[link.vars[up[0]]] += w
                cross0[link.vars[up]] = w
                chg[j][int(link.vars[up[0]])] = 1.0
            down = np.flatnonzero(~above)[::-1]
            if down.size:
                land = t[down] - half
                steps = np.diff(np.concatenate([[xv], land])) * -1.0
                l1[link.vars[down]] = -u * steps
                l1_0 += float(u * steps.sum())
                cross[link.vars[down]] = u * (xv - land)
                l0[link.vars[down[0]]] -= w
                l0_0 += w
                cross0[link.vars[down]] = w
                chg[j][int(link.vars[down[0]])] = -1.0
                chg0[j] = 1.0
        elif isinstance(link, ValueLink):
            xv = float(x0[s])
            lo, hi = spec.numeric_range(j, xv)
            v = link.var
            lb[v], ub[v] = lo, hi
            tv = new_var(0.0, np.inf, False, u, 0.0)
            rows.append(({tv: 1.0, v: -1.0}, -xv, np.inf))
            rows.append(({tv: 1.0, v: 1.0}, xv, np.inf))
            finite = bool(np.isfinite(lo) and np.isfinite(hi))
            has_ind[j] = finite and need_l0
            if norm in ("l0", "l0_l1") and not finite:
                raise SchemaError(
                    f"Feature {space.names[j]!r} needs finite bounds for the L0 objective "
                    "on a linear model; declare lower and upper bounds in the schema."
                )
            if has_ind[j]:
                d = new_var(0.0, 1.0 if hi > lo else 0.0, True, 0.0, w)
                rows.append(({v: 1.0, d: -(hi - xv)}, -np.inf, xv))
                rows.append(({v: -1.0, d: -(xv - lo)}, -np.inf, -xv))
                chg[j] = {d: 1.0}
    n = nb + len(extra_lb)
    G, g_lo = enc.target_rows(target, margin, tie_margin)
    pad = lambda M: (M.tocsr() if n == nb else  # noqa: E731
                     sp.hstack([M, sp.csr_matrix((M.shape[0], n - nb))]).tocsr())
    if rows:
        r_i = [i for i, (coefs, _, _) in enumerate(rows) for _ in coefs]
        r_j = [c for coefs, _, _ in rows for c in coefs]
        r_v = [x for coefs, _, _ in rows for x in coefs.values()]
        R = sp.csr_matrix((r_v, (r_i, r_j)), shape=(len(rows), n))
    else:
        R = sp.csr_matrix((0, n))
    A = sp.vstack([pad(enc.rows), pad(G), R], format="csr")
    row_lo = np.concatenate([enc.row_lo, g_lo, [r[1] for r in rows]])
    row_hi = np.concatenate([enc.row_hi, np.full(len(g_lo), np.inf), [r[2] for r in rows]])
    ext = lambda a, b: np.concatenate([a, np.asarray(b, dtype=a.dtype)])  # noqa: E731
    c_i = [j for j, coefs in enumerate(chg) for _ in coefs]
    c_j = [c for coefs in chg for c in coefs]
    c_v = [x for coefs in chg for x in coefs.values()]
    C = sp.csr_matrix((c_v, (c_i, c_j)), shape=(n_feat, n))
    return RecourseProblem(
        enc=enc, spec=spec, x0=np.asarray(x0, dtype=float), target=target,
        lb=ext(lb, extra_lb), ub=ext(ub, extra_ub), integer=ext(integer, extra_int),
        A=A, row_lo=row_lo, row_hi=row_hi,
        l1=ext(l1, extra_l1), l1_0=l1_0, l0=ext(l0, extra_l0), l0_0=l0_0,
        crossing=ext(cross, np.zeros(len(extra_lb))),
        crossing_l0=ext(cross0, np.zeros(len(extra_lb))),
        stats={"n_vars": n, "n_rows": int(A.shape[0]), "n_int": int(ext(integer, extra_int).sum())},
        changed=C, changed0=chg0, has_indicator=has_ind, margin=margin, tie_margin=tie_margin,
    )


def forbid_level_pairs(prob: RecourseProblem,
                       pairs: Sequence[tuple[int, int, int, int]],
                       levels: Sequence[np.ndarray | None] | None = None) -> RecourseProblem:
    """Forbid category combinations: for each ``(i, a, j, b)`` (feature ``i`` at level
    ``a`` together with feature ``j`` at level ``b``; level indices in the schema's
    order) the answer may not hold both.

    Both features with level columns: the row ``o_ia + o_jb <= 1``. A feature without
    them keeps the applicant's level, so the other feature's level is fixed out when that
    level pairs with it. The applicant's own combination is never forbidden (keeping
    one's own values is always allowed). ``levels[f]``: the level columns of feature
    ``f`` (default: the model's group links; ``recourse.solvers.values`` passes its view's, which
    also cover features the model does not read).
    """
    space = prob.spec.space
    if levels is None:
        levels = [None] * space.n_features
        for link in prob.enc.links:
            if isinstance(link, GroupLink):
                levels[link.feature] = np.asarray(link.vars)

    def current(f: int) -> int:
        s = int(space.start[f])
        k = len(space.levels[f] or ())
        return int(np.argmax(prob.x0[s: s + k]))

    ub = prob.ub.copy()
    coefs: list[dict[int, float]] = []
    for i, a, j, b in pairs:
        if (a, b) == (current(i), current(j)):
            continue
        ci, cj = levels[i], levels[j]
        if ci is not None and cj is not None:
            coefs.append({int(ci[a]): 1.0, int(cj[b]): 1.0})
        elif cj is not None and a == current(i):
            ub[int(cj[b])] = 0.0
        elif ci is not None and b == current(j):
            ub[int(ci[a])] = 0.0
    out = prob.with_bounds(np.minimum(prob.lb, ub), ub)
    if not coefs:
        return out
    r_i = [k for k, c in enumerate(coefs) for _ in c]
    r_j = [v for c in coefs for v in c]
    rows = sp.csr_matrix((np.ones(len(r_j)), (r_i, r_j)), shape=(len(coefs), prob.n))
    return out.with_rows(rows, np.full(len(coefs), -np.inf), np.ones(len(coefs)))


def exclude_change_sets(prob: RecourseProblem,
                        sets: Sequence[Sequence[int]]) -> RecourseProblem:
    """Forbid changing every feature of any set in ``sets`` (feature indices) together.

    Adds ``sum_{j in S} changed_j <= |S| - 1`` per set ``S`` (module docstring): the
    answer may share features with ``S`` but must leave at least one of them unchanged,
    so it is neither ``S`` nor a superset of it. A set holding a feature that cannot
    change (immutable, or unread by the model) forbids nothing.

    Raises
    ------
    SchemaError
        A set is empty, names an unknown feature index, or needs the change indicator
        of a value-linked feature the problem was built without (build it with
        ``indicators=True``).
    """
    assert prob.changed is not None and prob.changed0 is not None
    assert prob.has_indicator is not None
    n_feat = prob.changed.shape[0]
    clean: list[tuple[int, ...]] = []
    for S in sets:
        idx = tuple(sorted({int(j) for j in S}))
        if not idx:
            raise SchemaError("An excluded change set is empty; it would forbid every answer.")
        if idx[0] < 0 or idx[-1] >= n_feat:
            raise SchemaError(f"Excluded change set {idx} names a feature index outside "
                              f"0..{n_feat - 1}.")
        missing = [j for j in idx if not prob.has_indicator[j]]
        if missing:
            names = [prob.spec.space.names[j] for j in missing]
            raise SchemaError(
                f"Features {names} have no change indicator in this problem: build it with "
                "indicators=True, and give these features finite lower and upper bounds in "
                "the schema, to exclude change sets that contain them.")
        clean.append(idx)
    if not clean:
        return prob
    n0 = prob.changed.shape[1]
    pick = sp.csr_matrix((np.ones(sum(len(S) for S in clean)),
                          ([i for i, S in enumerate(clean) for _ in S],
                           [j for S in clean for j in S])), shape=(len(clean), n_feat))
    rows = sp.csr_matrix(pick @ prob.changed)
    rows = sp.hstack([rows, sp.csr_matrix((len(clean), prob.n - n0))]).tocsr()
    hi = np.array([len(S) - 1 - float(prob.changed0[list(S)].sum()) for S in clean])
    out = prob.with_rows(rows, np.full(len(clean), -np.inf), hi)
    return replace(out, excluded=prob.excluded + tuple(clean),
                   stats=dict(prob.stats, excluded_sets=len(prob.excluded) + len(clean)))


def changed_features(prob: RecourseProblem, S: np.ndarray) -> np.ndarray:
    """Which features differ from the applicant at search vectors ``S`` (points x
    features), in the problem's own sense: the interval of a threshold-linked feature,
    the level of a group, the value of a value-linked feature."""
    from recourse.encoders.evaluate import link_values

    S = np.atleast_2d(np.asarray(S, dtype=float))
    V = link_values(prob.enc, S)
    V0 = link_values(prob.enc, prob.x0[None, :])[0]
    out = np.zeros((S.shape[0], prob.spec.space.n_features), dtype=bool)
    for link in prob.enc.links:
        cols = [link.var] if isinstance(link, ValueLink) else list(link.vars)
        if cols:
            out[:, link.feature] = np.any(V[:, cols] != V0[cols], axis=1)
    return out


def violates_exclusions(prob: RecourseProblem, S: np.ndarray) -> np.ndarray:
    """True for every search vector in ``S`` that changes all features of an excluded
    set (see :func:`exclude_change_sets`)."""
    S = np.atleast_2d(np.asarray(S, dtype=float))
    if not prob.excluded:
        return np.zeros(S.shape[0], dtype=bool)
    ch = changed_features(prob, S)
    bad = np.zeros(S.shape[0], dtype=bool)
    for idx in prob.excluded:
        bad |= ch[:, list(idx)].all(axis=1)
    return bad


def decode(prob: RecourseProblem, values: np.ndarray, *, deep: bool = False) -> np.ndarray:
    """The counterfactual search vector for solver values ``values``.

    A value-linked feature whose change indicator is 0 keeps the applicant's value (the
    solver may leave it a tolerance away; a moved one is clipped to its bounds, which the
    solver may also overstep by a tolerance). Each numeric feature is placed at the
    point of its chosen interval closest to the applicant (strictly inside for
    continuous features, an integer for integer ones); with ``deep`` it is placed at the
    middle of the interval instead (used when the nearest point fails verification
    through float32 rounding).
    """
    space = prob.spec.space
    s_cf = prob.x0.copy()
    for link in prob.enc.links:
        j = link.feature
        s = int(space.start[j])
        if isinstance(link, GroupLink):
            lvl = int(np.argmax(values[link.vars]))
            s_cf[s : s + len(link.vars)] = 0.0
            s_cf[s + lvl] = 1.0
        elif isinstance(link, ValueLink):
            if _indicator_off(prob, j, values):
                continue  # d_j = 0 means x_j = x0_j; drop the solver's tolerance-sized drift
            x = float(np.clip(values[link.var], prob.lb[link.var], prob.ub[link.var]))
            s_cf[s] = float(np.round(x)) if space.integer[j] else x
        elif isinstance(link, ThresholdLink):
            m = int(np.round(values[link.vars]).sum())
            lo_t = link.thresholds[m - 1] if m > 0 else -np.inf
            hi_t = link.thresholds[m] if m < len(link.thresholds) else np.inf
            xv = float(prob.x0[s])
            side = int(np.sign(m - int(link.above(xv).sum())))  # +1: move up, -1: down
            if side == 0:
                continue  # the applicant's own interval: keep the value
            lo, hi = prob.spec.numeric_range(j, xv)
            gap = _gap(link, m)
            s_cf[s] = _place(xv, lo_t, hi_t, lo, hi, bool(space.integer[j]), deep, gap, side)
    return s_cf


def _indicator_off(prob: RecourseProblem, j: int, values: np.ndarray) -> bool:
    """True when feature ``j`` has a change indicator and the solver set it to 0."""
    if prob.changed is None or prob.has_indicator is None or prob.changed0 is None:
        return False
    if not prob.has_indicator[j]:
        return False
    row = prob.changed[j]
    val = float((row @ values[: row.shape[1]])[0]) + float(prob.changed0[j])
    return val < 0.5


def _gap(link: ThresholdLink, m: int) -> tuple[float, float]:
    """How far beyond the lower / upper threshold of interval ``m`` to place a value:
    ``PLACEMENT`` of the float32 cell the model sees there (``recourse.encoders.cells``
    keeps the boundary's float64 rounding well below it)."""
    if link.spacing is None:
        return (np.nan, np.nan)
    return (link.spacing[m - 1] * PLACEMENT if m > 0 else np.nan,
            link.spacing[m] * PLACEMENT if m < link.thresholds.size else np.nan)


def _place(x0: float, t_lo: float, t_hi: float, lo: float, hi: float, is_int: bool,
           deep: bool, gap: tuple[float, float] = (np.nan, np.nan), side: int = 0) -> float:
    """A value in ``(t_lo, t_hi]`` within ``[lo, hi]``, nearest ``x0`` (or central if deep).

    ``side`` says where the applicant lies (by the model's own rounding, which decides a
    value exactly at a threshold): +1 below the interval, -1 above it, 0 inside.
    """
    a = max(t_lo, lo) if np.isfinite(t_lo) else lo
    b = min(t_hi, hi) if np.isfinite(t_hi) else hi
    if is_int:
        first = np.floor(t_lo) + 1 if np.isfinite(t_lo) else np.ceil(lo)
        first = max(first, np.ceil(lo))
        last = np.floor(t_hi) if np.isfinite(t_hi) else np.floor(hi)
        last = min(last, np.floor(hi))
        if deep:
            return float(np.floor((first + last) / 2))
        return float(min(max(np.round(x0), first), last))
    if side == 0 and not deep:
        return x0
    if deep:
        if np.isfinite(a) and np.isfinite(b):
            return float((a + b) / 2)
        if np.isfinite(a):
            return float(a + max(1.0, abs(a)) * 0.01)
        return float(b - max(1.0, abs(b)) * 0.01)
    width = (b - a) if np.isfinite(a) and np.isfinite(b) else np.inf
    if side > 0:
        eps = gap[0] if np.isfinite(gap[0]) else 1e-6 * max(1.0, abs(t_lo))
        return float(t_lo + min(eps, width / 2))
    eps = gap[1] if np.isfinite(gap[1]) else 1e-6 * max(1.0, abs(t_hi))
    return float(t_hi - min(eps, width / 2))


def point_costs(spec: ActionSpec, x0: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature L1 cost and L0 indicator (weighted) of moving from ``x0`` to ``s``."""
    space = spec.space
    l1 = np.zeros(space.n_features)
    l0 = np.zeros(space.n_features)
    for j in range(space.n_features):
        st = int(space.start[j])
        if space.is_group(j):
            k = len(space.levels[j] or ())
            a, b = int(np.argmax(x0[st : st + k])), int(np.argmax(s[st : st + k]))
            l1[j] = spec.level_costs(j, a)[b]
            changed = a != b
        else:
            delta = abs(float(s[st]) - float(x0[st]))
            l1[j] = spec.unit_cost[j] * delta
            changed = delta > 0
        l0[j] = spec.l0_weight[j] if changed else 0.0
    return l1, l0

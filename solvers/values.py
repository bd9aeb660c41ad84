"""The value view: an explicit variable for every feature's value, whatever the encoding.

A tree model reads a numeric feature only through threshold indicators ``z_i = [x > t_i]``,
and its problem prices a move by the cell it lands in (``recourse.solvers.problem``). Constraints
about feature *values* (distances to observed applicants, the inputs of another model)
need the value itself. :func:`add_values` gives every numeric feature ``j`` a column
``x_j`` in user units:

* value-linked features (linear models, ReLU networks) reuse the model's own variable;
* threshold-linked features get a new variable tied to the indicators,
  ``z_i = 1  =>  x_j >= t_i + e_i`` and ``z_i = 0  =>  x_j <= t_i - e_i``
  (``e_i``: a thousandth of the float32 cell the model sees for continuous features, so
  that the point the solver picks is on the model's side of every split; 1/2 for integer
  features, whose thresholds sit at ``k + 1/2``), shrunk where the applicant's own value
  lies closer to a threshold than ``e_i`` so that "no change" stays feasible;
* features the model does not read get a free variable.

Costs move from the indicators to the values: the problem is built with
:func:`value_spec` (zero cost on threshold-linked numeric features), and
:func:`add_values` adds ``t_j >= |x_j - x0_j|`` at ``unit_cost_j`` (L1) and a binary
``d_j`` at ``l0_weight_j`` with ``-(x0_j - lo_j) d_j <= x_j - x0_j <= (hi_j - x0_j) d_j``
(L0, or whenever ``indicators=True``), ``[lo_j, hi_j]`` the action set's reachable range.
The optimum is then over points, not cells: exact for constraints that care where in a
cell the answer lies. Value-linked features keep the costs ``build_problem`` gave them.

Categorical features keep their level indicators (``GroupLink`` variables); one the model
does not read gets level columns of its own, priced like a group link (a constraint on
values may want it changed); one that cannot change at all stays at the applicant's level
(``ValueView.levels[j] is None``).

:func:`append_block` adds another :class:`~encoders.block.EncodedModel` (a second model,
an isolation forest's trees) to a problem with a value view: its variables and rows, its
links tied to the view, so rows over its score can be added (see ``RecourseProblem``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink, ValueLink
from recourse.encoders.cells import PLACEMENT
from recourse.encoders.errors import SchemaError
from recourse.solvers.problem import RecourseProblem, decode, forbid_level_pairs
from recourse.solvers.spec import ActionSpec

__all__ = ["ValueView", "value_spec", "add_values", "value_point", "fill_values",
           "append_block", "shift", "tie_eps", "forbid_level_pairs_view", "Columns",
           "append_columns"]


@dataclass(frozen=True)
class ValueView:
    """Where each feature's value lives in a problem (aligned with the features).

    ``x[j]``: the column of numeric feature ``j`` (user units), ``-1`` for categorical
    features. ``levels[j]``: the level columns of categorical feature ``j`` (``None`` when
    the model does not read it: it keeps the applicant's level ``level0[j]``).
    ``t[j]`` / ``d[j]``: the L1 distance and L0 change columns the view added (``-1``
    where it added none: value-linked features keep the problem's own).
    """

    x: np.ndarray
    levels: tuple[np.ndarray | None, ...]
    level0: np.ndarray
    t: np.ndarray
    d: np.ndarray

    @property
    def numeric(self) -> np.ndarray:
        """Indices of the numeric features."""
        return np.flatnonzero(self.x >= 0)


def value_spec(enc: EncodedModel, spec: ActionSpec) -> ActionSpec:
    """``spec`` with zero L1/L0 cost on every numeric feature not value-linked in ``enc``
    (:func:`add_values` puts their cost on the value variables)."""
    space = spec.space
    unit, w = spec.unit_cost.copy(), spec.l0_weight.copy()
    for j in range(space.n_features):
        if not space.is_group(j) and not isinstance(enc.link_of(j), ValueLink):
            unit[j] = 0.0
            w[j] = 0.0
    return replace(spec, unit_cost=unit, l0_weight=w)


#: The least gap, relative to ``max(1, |t|)``, between the two sides of a threshold in a
#: tie ``z = 1 => x >= t + e``, ``z = 0 => x <= t - e``: ten times the solvers' feasibility
#: tolerance (``recourse.solvers.highs.FEASIBILITY_TOL``). A thousandth of a float32 cell (~1e-10 at
#: values near 10) is far below it, and HiGHS 1.16's presolve then cut feasible optima
#: off causal tree problems (hypothesis examples in ``tests/test_causal``: "optimal" 7.67
#: claimed where 0.219 exists, "no recourse" where 3.22 exists); with this gap they solve
#: right. Any value past ``t`` is on the model's side, so the gap only moves the answer
#: by ``e`` (its cost by ``e`` times a unit cost).
TIE_GAP = 1e-6


def tie_eps(link: ThresholdLink, is_int: bool) -> np.ndarray:
    """How far beyond each threshold a value must lie to be on its right / left side
    (see :data:`TIE_GAP`; integer features: 1/2, their thresholds sit at ``k + 1/2``)."""
    if is_int:
        return np.full(link.thresholds.size, 0.5)
    e = TIE_GAP * np.maximum(1.0, np.abs(link.thresholds))
    if link.spacing is None:
        return e
    return np.maximum(PLACEMENT * link.spacing, e)


class Columns:
    """New columns and sparse rows for a problem of ``n0`` columns, appended in one go by
    :func:`append_columns` (shared by the value view, ``recourse.solvers.causal`` and
    ``recourse.solvers.support``). Rows are kept as coordinate lists."""

    def __init__(self, n0: int) -> None:
        self.n0 = n0
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[bool] = []
        self.l1: list[float] = []
        self.l0: list[float] = []
        self.i: list[int] = []
        self.j: list[int] = []
        self.v: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    @property
    def n_rows(self) -> int:
        return len(self.lo)

    def var(self, lo: float, hi: float, is_int: bool = False, c1: float = 0.0,
            c0: float = 0.0) -> int:
        """A new column in ``[lo, hi]`` with L1 cost ``c1`` and L0 cost ``c0``."""
        self.lb.append(lo)
        self.ub.append(hi)
        self.integer.append(is_int)
        self.l1.append(c1)
        self.l0.append(c0)
        return self.n0 + len(self.lb) - 1

    def row(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        """The row ``lo <= sum coefs[k] v_k <= hi`` (zero coefficients dropped)."""
        r = len(self.lo)
        for k, v in coefs.items():
            if v != 0.0:
                self.i.append(r)
                self.j.append(int(k))
                self.v.append(float(v))
        self.lo.append(float(lo))
        self.hi.append(float(hi))

    def tie(self, link: ThresholdLink, zvars: np.ndarray, x: int, L: float, H: float,
            x0: float, is_int: bool, name: str) -> None:
        """``z_i = 1 => x >= t_i + e_i``, ``z_i = 0 => x <= t_i - e_i`` for ``x`` in
        ``[L, H]`` (``e_i`` shrunk where the applicant's own value is closer)."""
        if not (np.isfinite(L) and np.isfinite(H)):
            raise SchemaError(
                f"Feature {name!r} needs finite lower and upper bounds to tie its value to "
                "the model's split thresholds; declare them in the schema.")
        t = link.thresholds
        e = tie_eps(link, is_int)
        e_up = np.where(x0 > t, np.minimum(e, x0 - t), e)
        e_dn = np.where(x0 <= t, np.minimum(e, t - x0), e)
        for ti, eu, ed, z in zip(t.tolist(), e_up.tolist(), e_dn.tolist(), zvars.tolist()):
            if ti + eu > L:  # z = 1 => x >= t + e  (vacuous when L is already above it)
                self.row({x: 1.0, int(z): -(ti + eu - L)}, L, np.inf)
            if ti - ed < H:  # z = 0 => x <= t - e
                self.row({x: 1.0, int(z): -(H - ti + ed)}, -np.inf, ti - ed)


def append_columns(prob: RecourseProblem, C: Columns, what: str | None = None,
                   ) -> RecourseProblem:
    """``prob`` with ``C``'s columns (bounds, integrality, costs; no crossing cost) and
    rows appended; ``what`` counts them in ``stats["<what>_vars"]`` / ``"<what>_rows"``."""
    n = prob.n + len(C.lb)
    rows = sp.csr_matrix((C.v, (C.i, C.j)), shape=(C.n_rows, n))
    A = sp.vstack([sp.hstack([prob.A, sp.csr_matrix((prob.A.shape[0], n - prob.n))]),
                   rows]).tocsr()
    zeros = np.zeros(len(C.lb))
    ext = lambda a, b: np.concatenate([a, np.asarray(b, dtype=a.dtype)])  # noqa: E731
    integer = ext(prob.integer, C.integer)
    stats = dict(prob.stats, n_vars=n, n_rows=int(A.shape[0]), n_int=int(integer.sum()))
    if what is not None:
        stats[f"{what}_vars"] = prob.stats.get(f"{what}_vars", 0) + len(C.lb)
        stats[f"{what}_rows"] = prob.stats.get(f"{what}_rows", 0) + C.n_rows
    return replace(
        prob, A=A, row_lo=ext(prob.row_lo, C.lo), row_hi=ext(prob.row_hi, C.hi),
        lb=ext(prob.lb, C.lb), ub=ext(prob.ub, C.ub), integer=integer,
        l1=ext(prob.l1, C.l1), l0=ext(prob.l0, C.l0),
        crossing=ext(prob.crossing, zeros), crossing_l0=ext(prob.crossing_l0, zeros),
        stats=stats)


def add_values(prob: RecourseProblem, spec: ActionSpec, *, norm: str,
               existing: dict[int, int] | None = None,
               indicators: bool = False) -> tuple[RecourseProblem, ValueView]:
    """Add the value view (module docstring) to ``prob``.

    Parameters
    ----------
    prob : RecourseProblem
        Built with ``value_spec(enc, spec)`` (or a spec derived from it, such as
        ``recourse.solvers.causal.neutral_spec``); its objective must not price threshold-linked
        numeric features already.
    spec : ActionSpec
        The real action set: reachable ranges, unit costs, L0 weights.
    existing : dict, optional
        ``{feature: column}`` of features that already have a value column carrying its
        own costs (the node variables of ``recourse.solvers.causal.add_causal``); reused as is.
    norm : {"l1", "l0", "l0_l1"}
        The objective; L0 objectives get the change binaries ``d_j``.
    indicators : bool
        Build ``d_j`` for the L1 objective too.

    ``d_j`` needs finite reachable bounds: without them an L0 objective raises
    ``SchemaError`` naming the feature (as for linear models).
    """
    space = spec.space
    enc = prob.enc
    existing = dict(existing or {})
    nf = space.n_features
    C = Columns(prob.n)
    lb, ub = prob.lb.copy(), prob.ub.copy()
    xcol = np.full(nf, -1, dtype=np.int64)
    tcol = np.full(nf, -1, dtype=np.int64)
    dcol = np.full(nf, -1, dtype=np.int64)
    levels: list[np.ndarray | None] = [None] * nf
    level0 = np.full(nf, -1, dtype=np.int64)
    need_l0 = norm in ("l0", "l0_l1") or indicators
    for j in range(nf):
        s = int(space.start[j])
        link = enc.link_of(j)
        if space.is_group(j):
            k = len(space.levels[j] or ())
            cur = int(np.argmax(prob.x0[s: s + k]))
            level0[j] = cur
            if isinstance(link, GroupLink):
                levels[j] = np.asarray(link.vars, dtype=np.int64)
                continue
            allowed = spec.allowed_levels(j, cur)
            if allowed.sum() <= 1:
                continue  # cannot change: stays at the applicant's level (constant)
            # the model does not read it, but a value constraint may: level columns
            # priced as build_problem prices a group link
            cost = spec.level_costs(j, cur)
            w = float(spec.l0_weight[j])
            cols = [C.var(0.0, 1.0 if allowed[lv] else 0.0, True, float(cost[lv]),
                          0.0 if lv == cur else w) for lv in range(k)]
            C.row({c: 1.0 for c in cols}, 1.0, 1.0)
            levels[j] = np.asarray(cols, dtype=np.int64)
            continue
        if j in existing:
            xcol[j] = int(existing[j])
            continue
        if isinstance(link, ValueLink):
            xcol[j] = int(link.var)
            continue
        xv = float(prob.x0[s])
        lo, hi = spec.numeric_range(j, xv)
        is_int = bool(space.integer[j])
        x = C.var(lo, hi, is_int)
        xcol[j] = x
        if isinstance(link, ThresholdLink):
            C.tie(link, np.asarray(link.vars), x, lo, hi, xv, is_int, space.names[j])
        if hi > lo:
            u, w = float(spec.unit_cost[j]), float(spec.l0_weight[j])
            t = C.var(0.0, np.inf, False, u, 0.0)
            tcol[j] = t
            C.row({t: 1.0, x: -1.0}, -xv, np.inf)
            C.row({t: 1.0, x: 1.0}, xv, np.inf)
            if need_l0:
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    raise SchemaError(
                        f"Feature {space.names[j]!r} needs finite bounds for the L0 "
                        "objective here; declare lower and upper bounds in the schema.")
                d = C.var(0.0, 1.0, True, 0.0, w)
                dcol[j] = d
                C.row({x: 1.0, d: -(hi - xv)}, -np.inf, xv)
                C.row({x: -1.0, d: -(xv - lo)}, -np.inf, -xv)
    out = append_columns(prob.with_bounds(lb, ub), C, "value")
    view = ValueView(x=xcol, levels=tuple(levels), level0=level0, t=tcol, d=dcol)
    return out, view


def value_point(prob: RecourseProblem, view: ValueView, values: np.ndarray, *,
                deep: bool = False) -> np.ndarray:
    """The counterfactual search vector of solver values ``values``: levels and cells as
    :func:`recourse.solvers.problem.decode` reads them, numeric features at their value columns
    (rounded for integer features, kept inside the cell the indicators chose; a value
    within solver tolerance of the applicant's, or with its change binary at 0, is the
    applicant's)."""
    space = prob.spec.space
    s_cf = decode(prob, values, deep=deep)
    for j, cols in enumerate(view.levels):
        if cols is not None and not isinstance(prob.enc.link_of(j), GroupLink):
            st = int(space.start[j])  # level columns of the view (the model reads none)
            s_cf[st: st + len(cols)] = 0.0
            s_cf[st + int(np.argmax(values[np.asarray(cols)]))] = 1.0
    for j in view.numeric:
        s = int(space.start[j])
        xv = float(prob.x0[s])
        if view.d[j] >= 0 and values[view.d[j]] < 0.5:
            s_cf[s] = xv
            continue
        x = float(values[view.x[j]])
        if space.integer[j]:
            x = float(np.round(x))
        link = prob.enc.link_of(j)
        if isinstance(link, ThresholdLink) and link.thresholds.size:
            is_int = bool(space.integer[j])
            e = tie_eps(link, is_int)
            m = int(np.round(values[link.vars]).sum())
            t = link.thresholds
            e_up = np.where(xv > t, np.minimum(e, xv - t), e)
            e_dn = np.where(xv <= t, np.minimum(e, t - xv), e)
            t_lo = t[m - 1] + e_up[m - 1] if m > 0 else -np.inf
            t_hi = t[m] - e_dn[m] if m < t.size else np.inf
            x = min(max(x, t_lo), t_hi)
        if abs(x - xv) <= 1e-9 * max(1.0, abs(xv)):
            x = xv
        s_cf[s] = x
    return s_cf


def fill_values(prob: RecourseProblem, view: ValueView, s: np.ndarray,
                blocks: tuple[tuple[EncodedModel, int], ...] = ()) -> np.ndarray:
    """Every column of ``prob`` at the point ``s`` (a search vector), e.g. to offer the
    solver a starting solution: the model's block by its own forward pass, the value
    columns, their distances and change binaries, and each appended ``(block, offset)``.
    Columns added by others (causal, support rows) are left at 0: check the result with
    the problem's rows before trusting it (``recourse.solvers.search`` does)."""
    space = prob.spec.space
    s = np.asarray(s, dtype=float)
    out = np.zeros(prob.n)
    enc = prob.enc
    out[: enc.n_vars] = enc.block_values(s[None, :])[0]
    for j in view.numeric:
        st = int(space.start[j])
        out[view.x[j]] = s[st]
        if view.t[j] >= 0:
            out[view.t[j]] = abs(s[st] - prob.x0[st])
        if view.d[j] >= 0:
            out[view.d[j]] = float(s[st] != prob.x0[st])
    for j, cols in enumerate(view.levels):
        if cols is not None and not isinstance(enc.link_of(j), GroupLink):
            st = int(space.start[j])
            out[np.asarray(cols)] = s[st: st + len(cols)]
    for other, off in blocks:
        out[off: off + other.n_vars] = other.block_values(s[None, :])[0]
    return out


def forbid_level_pairs_view(prob: RecourseProblem, view: ValueView,
                            pairs: list[tuple[int, int, int, int]]) -> RecourseProblem:
    """``recourse.solvers.problem.forbid_level_pairs`` over the view's level columns (which also
    cover categorical features the model does not read)."""
    return forbid_level_pairs(prob, pairs, levels=view.levels)


def append_block(prob: RecourseProblem, other: EncodedModel,
                 view: ValueView) -> tuple[RecourseProblem, int]:
    """Append ``other``'s variables and rows to ``prob``, its links tied to ``view``.

    Returns the new problem and the column offset of ``other``'s variables: variable
    ``k`` of ``other`` is column ``offset + k``, so rows over ``other``'s score (its
    ``target_rows``, or an isolation forest's path lengths) are added by shifting their
    columns by ``offset`` (:func:`shift`). ``other`` must be encoded over the same search
    space. A feature ``other`` reads through a value link is equal to the view's value;
    its threshold indicators are tied to the view's value (as in :func:`add_values`);
    its level indicators equal the view's (or are fixed at the applicant's level when the
    main problem does not read the feature).
    """
    space = prob.spec.space
    off = prob.n
    C = Columns(off)
    for k in range(other.n_vars):
        C.var(float(other.lb[k]), float(other.ub[k]), bool(other.integer[k]))
    R = other.rows.tocoo()
    rows: list[dict[int, float]] = [{} for _ in range(other.rows.shape[0])]
    for i, k, v in zip(R.row.tolist(), R.col.tolist(), R.data.tolist()):
        rows[i][off + k] = rows[i].get(off + k, 0.0) + v
    for i, coefs in enumerate(rows):
        C.row(coefs, float(other.row_lo[i]), float(other.row_hi[i]))
    for link in other.links:
        j = link.feature
        if isinstance(link, GroupLink):
            mine = view.levels[j]
            for lv, v in enumerate(np.asarray(link.vars).tolist()):
                if mine is not None:
                    C.row({off + v: 1.0, int(mine[lv]): -1.0}, 0.0, 0.0)
                else:
                    fixed = 1.0 if lv == int(view.level0[j]) else 0.0
                    C.lb[v], C.ub[v] = fixed, fixed
            continue
        x = int(view.x[j])
        if x < 0:
            raise SchemaError(f"Feature {space.names[j]!r} has no value column in the view.")
        L, H = float(prob.lb[x]), float(prob.ub[x])
        xv = float(prob.x0[int(space.start[j])])
        if isinstance(link, ValueLink):
            C.row({off + link.var: 1.0, x: -1.0}, 0.0, 0.0)
        elif isinstance(link, ThresholdLink):
            z = off + np.asarray(link.vars, dtype=np.int64)
            is_int = bool(space.integer[j])
            C.tie(link, z, x, L, H, xv, is_int, space.names[j])
            # indicators the value range decides are fixed (keeps the MILP small)
            e = tie_eps(link, is_int)
            for i, ti in enumerate(link.thresholds.tolist()):
                vi = int(link.vars[i])
                if H <= ti:
                    C.ub[vi] = min(C.ub[vi], 0.0)
                elif L > ti + float(e[i]):
                    C.lb[vi] = max(C.lb[vi], 1.0)
    return append_columns(prob, C, "block"), off


def shift(M: sp.spmatrix, offset: int, n: int) -> sp.csr_matrix:
    """Rows over a block's own variables as rows over a problem of ``n`` columns whose
    block starts at column ``offset``."""
    M = sp.csr_matrix(M)
    return sp.hstack([sp.csr_matrix((M.shape[0], offset)), M,
                      sp.csr_matrix((M.shape[0], n - offset - M.shape[1]))]).tocsr()

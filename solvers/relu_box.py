"""Certified boxes for ReLU networks, face by face, by MILP.

The contract is :func:`recourse.solvers.robust.grow_tree_box`'s: an axis-aligned box around the
counterfactual ``s_cf``, inside the action set, categorical features fixed at the
counterfactual's level, grown one face at a time (features in schema order, upper face
then lower face), maximal by inclusion, every face with a reason.

Margins and levels
------------------
For target class ``t`` the rows ``G_r v >= lo_r`` of ``EncodedModel.target_rows(t, 0, 0)``
say "``t`` wins against the ``r``-th other class" (one row for a single-logit network);
``m(s) = min_r (G_r v(s) - lo_r)`` is the *margin* by which ``t`` wins at search vector
``s``. With ``A = min(margin, m(s_cf))`` (the engine's margin, or the counterfactual's own
when the solver left it a hair below) and ``d = min(A, BAND)`` (``BAND = 1e-6``, ten times
the solvers' feasibility tolerance), three kinds of level are used, far enough apart for
the MILPs' tolerances (1e-9 here, see ``TOLERANCES``):

* the box is **certified** at ``A - 3d/4`` (``A / 4`` for the default margin 1e-6): a
  final MILP per row proves that the least margin over the box is at least that, so the
  model approves every point (and, with a larger engine margin, the box keeps all of it
  but ``3d/4``);
* face ``k`` (of ``K``) **grows** until the first point with ``m <= g_k``, where ``g_k``
  falls from ``A - d/5`` to ``A - d/2``: the counterfactual (``m >= A``) never stops a
  face, and a face placed where ``m = g_i`` never stops a later one on a tie;
* a point is **rejected** when ``m <= -d / 2``: the model's predict gives another class.

Face of feature ``j``, upper side (the lower side is the mirror image), with the other
features in the current box (``slab``: ``x_j`` from just above the current face to the
action set's limit ``H_j``), each MILP being the network's big-M encoding with
pre-activation bounds valid over that slab (interval arithmetic, then LPs,
``recourse.solvers.tighten.lp_bounds``), one MILP per row ``r`` (the least answer counts):

1. *growth*: ``y = min x_j`` over the slab's points with ``m <= g_k``. None: the face is
   ``H_j`` (reason ``"action_set"``). Else the face is ``y`` for a continuous feature
   (every point before ``y`` has ``m > g_k``; at ``y`` the least margin is ``g_k``), the
   integer below ``y`` for an integer one. When the forward pass puts the solver's point
   above ``g_k`` (a tolerance artefact) the MILP is asked again below the level;
2. *witness*: ``w = min x_j`` over the points beyond the face with ``m <= -d / 2``; its
   minimiser is the face's witness (reason ``"model"``). Between the face and the witness
   lies only the thin layer where ``-d / 2 < m < g_k`` (for the default margin about
   ``1.3e-6`` divided by the network's slope). A witness farther than ``WITNESS_GAP``
   (integer features: one step), or none at all, makes the face ``"margin"``: the margin
   falls below the box's level just beyond it, but the class does not change there (a
   flat tie ``m = 0``, or a box built for a larger engine margin).

A MILP that hits its time limit leaves the face where it was (``"undecided"``), which is
conservative. Every minimiser is re-evaluated with the network's own forward pass
(``ReluNetwork.forward``), and integer features are rounded before use. When the final
proof fails (a time limit, or a point below ``A - 3d/4``), the box shrinks to the
counterfactual alone with every face ``"undecided"``: never wrong, only unhelpful.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel
from recourse.encoders.bounds import affine_box, first_layer_bounds
from recourse.encoders.mlp import ReluNetwork, relu_block
from recourse.solvers.highs import solve_highs
from recourse.solvers.robust import BoxFace, SearchBox
from recourse.solvers.spec import ActionSpec
from recourse.solvers.status import Status
from recourse.solvers.tighten import lp_bounds

__all__ = ["grow_relu_box", "relu_margins", "slab_block", "CERTIFIED", "REJECTED"]

#: Width of the band of margins below ``A`` that the levels use (the engine's default
#: margin: ten times the solvers' feasibility tolerance); ``d = min(A, BAND)``.
BAND = 1e-6
#: The box is certified at ``A - (1 - CERTIFIED) d`` (see module docstring).
CERTIFIED = 0.25
#: A point is rejected at minus this fraction of ``d``.
REJECTED = 0.5
#: Growth levels run from ``A - (1 - first) d`` to ``A - (1 - second) d`` over the faces.
GROW_LEVELS = (0.8, 0.5)
#: Growth MILPs asked again (lower) when the solver's point lies above the level by
#: more than this fraction of ``d``.
RETRIES = 4
SLACK = 0.05
#: A witness farther than this (relative; integer features: one step) from its face
#: makes the face ``"margin"``: the margin thins below the level there, but the nearest
#: point the network rejects by ``d / 2`` lies farther out (a flat tie, for example).
WITNESS_GAP = 1e-5
#: Continuous features: the growth slab starts this far (relative) beyond the face.
STEP = 1e-9
#: The slab of a face is searched in this many windows of doubling width (fewer for an
#: integer feature with a short range).
WINDOWS = 6
#: HiGHS tolerances for the box MILPs: the levels are fractions of a 1e-6 margin, so the
#: engine's 1e-7 is too coarse (HiGHS 1.16 then took points 2e-7 above a level, and
#: declared a feasible 1-D slab infeasible; both measured on a 4-unit network).
TOLERANCES: dict[str, object] = {"mip_feasibility_tolerance": 1e-9,
                                  "primal_feasibility_tolerance": 1e-9}


def relu_margins(enc: EncodedModel, t_idx: int, S: np.ndarray) -> np.ndarray:
    """Margin ``m`` (see module docstring) of class ``t_idx`` at search vectors ``S``,
    from the network's numpy forward pass."""
    net: ReluNetwork = enc.network.net
    out = net.forward(np.atleast_2d(S))[-1]
    if net.decision == "sign":
        return out[:, 0] if t_idx == 1 else -out[:, 0]
    others = np.delete(out, t_idx, axis=1)
    return out[:, t_idx] - others.max(axis=1)


def slab_block(net: ReluNetwork, space: Any, lo: np.ndarray, hi: np.ndarray,
               lp: bool = True) -> EncodedModel:
    """The network's big-M block with pre-activation bounds valid over ``[lo, hi]``
    (interval arithmetic; with ``lp``, LPs over the relaxation for the later layers)."""
    bounds = [first_layer_bounds(net.weights[0], net.biases[0], lo, hi, net.groups)]
    for k in range(1, len(net.weights)):
        L, U = bounds[-1]
        Lk, Uk = affine_box(net.weights[k], net.biases[k], np.maximum(L, 0.0),
                            np.maximum(U, 0.0))
        if lp and k < len(net.weights) - 1:
            Lk, Uk = lp_bounds(net.weights, net.biases, bounds, k, lo, hi, net.groups, Lk, Uk)
        bounds.append((Lk, Uk))
    return relu_block(net, bounds, lo, hi, space)


class _Grower:
    """State of one box: numeric intervals, fixed levels, the MILPs solved so far."""

    def __init__(self, enc: EncodedModel, spec: ActionSpec, x0: np.ndarray,
                 s_cf: np.ndarray, t_idx: int, level: float, time_limit: float,
                 lp: bool) -> None:
        self.net: ReluNetwork = enc.network.net
        self.enc, self.space, self.t_idx = enc, spec.space, t_idx
        self.s_cf, self.A, self.time_limit, self.lp = s_cf, level, time_limit, lp
        self.d = min(level, BAND)  # the band below A the levels live in
        self.cert = level - (1.0 - CERTIFIED) * self.d
        self.checks = 0
        self.deadline_hit = False
        space = spec.space
        self.lo, self.hi = s_cf.copy(), s_cf.copy()  # the box, as search-variable bounds
        self.rng: dict[int, tuple[float, float]] = {}
        self.levels: dict[int, int] = {}
        for j in range(space.n_features):
            s = int(space.start[j])
            if space.is_group(j):
                k = len(space.levels[j] or ())
                self.levels[j] = int(np.argmax(s_cf[s:s + k]))
                continue
            r = spec.numeric_range(j, float(x0[s]))
            self.rng[j] = (min(r[0], float(s_cf[s])), max(r[1], float(s_cf[s])))

    # ------------------------------------------------------------ MILPs
    def _rows(self, blk: EncodedModel) -> tuple[sp.csr_matrix, np.ndarray]:
        return blk.target_rows(self.t_idx, 0.0, 0.0)

    def nearest(self, p: int, side: int, lo: np.ndarray, hi: np.ndarray,
                level: float) -> tuple[str, float | None, np.ndarray | None]:
        """Nearest ``x_p`` (smallest for ``side = +1``, largest for -1) over the box
        ``[lo, hi]`` among points with margin ``<= level``.

        Returns ``("found", x, point)``, ``("none", None, None)`` (proven: no such point)
        or ``("undecided", None, None)`` (a time limit).
        """
        blk = slab_block(self.net, self.space, lo, hi, self.lp)
        G, lo0 = self._rows(blk)
        c = np.zeros(blk.n_vars)
        c[p] = float(side)
        best: tuple[float, np.ndarray] | None = None
        for r in range(G.shape[0]):
            A = sp.vstack([blk.rows, G[r]]).tocsr()
            row_lo = np.append(blk.row_lo, -np.inf)
            row_hi = np.append(blk.row_hi, lo0[r] + level)
            self.checks += 1
            sol = solve_highs(c, 0.0, blk.lb, blk.ub, blk.integer, A, row_lo, row_hi,
                              time_limit=self.time_limit, options=TOLERANCES)
            if sol.status is Status.INFEASIBLE:
                continue
            if sol.status is not Status.OPTIMAL or sol.values is None:
                return "undecided", None, None
            point = self._clean(sol.values[: self.space.n_vars], lo, hi)
            x = float(point[p])
            if best is None or side * x < side * best[0]:
                best = (x, point)
        if best is None:
            return "none", None, None
        return "found", best[0], best[1]

    def scan(self, p: int, side: int, lo: np.ndarray, hi: np.ndarray,
             level: float) -> tuple[str, float | None, np.ndarray | None]:
        """:meth:`nearest` over windows of doubling width from the slab's near end
        (``WINDOWS`` of them cover it): a narrow slab gives tight big-M bounds and a
        small MILP, and the first window holding a point holds the nearest one."""
        a, b = (lo[p], hi[p]) if side > 0 else (hi[p], lo[p])  # near end, far end
        integer = bool(self.space.integer[self.space.feature_of_var()[p]])
        unit = abs(b - a) / (2 ** WINDOWS - 1)
        if integer:
            unit = max(unit, 1.0)
        start, k = a, 0
        while side * (start - b) <= 0:
            end = start + side * unit * 2 ** k
            if integer:  # whole numbers only, so that no integer falls between windows
                end = float(np.floor(end) if side > 0 else np.ceil(end))
            if side * (end - b) >= 0 or k == WINDOWS - 1:
                end = b
            wlo, whi = lo.copy(), hi.copy()
            wlo[p], whi[p] = (start, end) if side > 0 else (end, start)
            state, y, point = self.nearest(p, side, wlo, whi, level)
            if state != "none" or end == b:
                return state, y, point
            start, k = end + side * (1.0 if integer else 0.0), k + 1
        return "none", None, None

    def minimum(self) -> tuple[float | None, bool]:
        """Least margin over the current box by MILP (one per row): ``(value, proven)``;
        ``value`` is the solver's lower bound when not proven."""
        blk = slab_block(self.net, self.space, self.lo, self.hi, self.lp)
        G, lo0 = self._rows(blk)
        out: float | None = np.inf
        proven = True
        for r in range(G.shape[0]):
            self.checks += 1
            c = np.asarray(G[r].todense()).ravel()
            sol = solve_highs(c, -float(lo0[r]), blk.lb, blk.ub, blk.integer, blk.rows,
                              blk.row_lo, blk.row_hi, time_limit=self.time_limit,
                              options=TOLERANCES)
            val = sol.objective if sol.status is Status.OPTIMAL else sol.bound
            proven &= sol.status is Status.OPTIMAL
            out = None if val is None or out is None else min(out, float(val))
        return out, proven

    def _clean(self, point: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Integer features rounded, groups at their level, clipped to ``[lo, hi]``."""
        s = np.clip(point.copy(), lo, hi)
        for j in self.rng:
            q = int(self.space.start[j])
            if self.space.integer[j]:
                s[q] = float(np.clip(np.round(s[q]), np.ceil(lo[q] - 1e-9),
                                     np.floor(hi[q] + 1e-9)))
        for j, lv in self.levels.items():
            q = int(self.space.start[j])
            k = len(self.space.levels[j] or ())
            s[q:q + k] = 0.0
            s[q + lv] = 1.0
        return s

    # ------------------------------------------------------------ faces
    def grow_face(self, j: int, side: int, g: float) -> BoxFace:
        """Move face ``(j, side)`` out as far as growth level ``g`` allows."""
        p = int(self.space.start[j])
        integer = bool(self.space.integer[j])
        face = float(self.hi[p] if side > 0 else self.lo[p])
        limit = self.rng[j][1] if side > 0 else self.rng[j][0]
        start = face + side * (1.0 if integer else STEP * max(1.0, abs(face)))
        if side * (start - limit) > 0:
            return BoxFace("action_set") if face == limit else self._stuck(j, side, face)
        lo, hi = self.lo.copy(), self.hi.copy()
        lo[p], hi[p] = (start, limit) if side > 0 else (limit, start)
        for _ in range(RETRIES):
            state, y, point = self.scan(p, side, lo, hi, g)
            if state == "undecided":
                return BoxFace("undecided")
            if state == "none":
                self._set(p, side, limit)
                return BoxFace("action_set")
            assert y is not None and point is not None
            m = float(relu_margins(self.enc, self.t_idx, point)[0])
            if m <= g + SLACK * self.d:
                break
            # the solver took a point above the level, within its feasibility
            # tolerances: ask again below the level by twice the excess
            g -= 2.0 * (m - g)
            if g <= self.cert:
                return BoxFace("undecided")
        else:
            return BoxFace("undecided")
        new = y - side if integer else y
        # a continuous face sits on its minimiser, where m = g by continuity, unless the
        # minimiser is the slab's own start (then m may be lower): checked by the
        # forward pass, the face then stays
        if not integer and relu_margins(self.enc, self.t_idx, point)[0] < self.cert:
            new = face
        if side * (new - face) > 0:
            self._set(p, side, new)
            face = new
        return self._stuck(j, side, face)

    def _stuck(self, j: int, side: int, face: float) -> BoxFace:
        """The witness beyond a face that stops inside the action set."""
        p = int(self.space.start[j])
        limit = self.rng[j][1] if side > 0 else self.rng[j][0]
        integer = bool(self.space.integer[j])
        beyond = face + side * (1.0 if integer else 0.0)
        if side * (beyond - limit) > 0:
            return BoxFace("action_set")
        lo, hi = self.lo.copy(), self.hi.copy()
        lo[p], hi[p] = (beyond, limit) if side > 0 else (limit, beyond)
        state, y, point = self.scan(p, side, lo, hi, -REJECTED * self.d)
        if state == "found":
            assert point is not None and y is not None
            m = float(relu_margins(self.enc, self.t_idx, point)[0])
            if m >= 0.0:
                return BoxFace("undecided")
            gap = 1.0 if integer else WITNESS_GAP * max(1.0, abs(face))
            return BoxFace("model" if side * (y - face) <= gap else "margin", point)
        if state == "none":
            return BoxFace("margin")
        return BoxFace("undecided")

    def _set(self, p: int, side: int, v: float) -> None:
        if side > 0:
            self.hi[p] = v
        else:
            self.lo[p] = v


def grow_relu_box(enc: EncodedModel, spec: ActionSpec, x0: np.ndarray, s_cf: np.ndarray,
                  t_idx: int, margin: float, time_limit: float = 30.0,
                  lp: bool = True) -> SearchBox:
    """Grow a certified box around ``s_cf`` for a ReLU network (see module docstring).

    ``enc`` is the engine's encoding (``enc.network`` set), ``x0`` the applicant (which
    fixes the action set), ``s_cf`` the counterfactual as a search vector, ``t_idx`` the
    target class index, ``margin`` the engine's margin; ``time_limit`` is per MILP;
    ``lp`` tightens the big-M bounds of every slab by LP.

    Returns
    -------
    SearchBox
        With ``info``: ``level`` (``A``), ``certified_margin`` (the least margin over
        the final box, proven by MILP; at least ``A - 3d/4``; None when not proven),
        ``margin_bound`` (the final MILP's value or, cut short, its lower bound) and
        ``proven``. When the final
        proof fails (a time limit, or the solver finds a point below ``A - 3d/4``), the box
        shrinks to the counterfactual alone and every face is ``"undecided"``.

    Raises
    ------
    ValueError
        The counterfactual does not win by a positive margin in the encoding.
    """
    t0 = time.perf_counter()
    if enc.network is None:
        raise ValueError("grow_relu_box needs a ReLU network encoding (enc.network).")
    m_cf = float(relu_margins(enc, t_idx, s_cf)[0])
    level = min(float(margin), m_cf)
    if not level > 0.0:
        raise ValueError(
            f"The counterfactual wins by {m_cf:.3g} in the network's forward pass; a box "
            "needs a positive margin (explain with a larger engine margin).")
    gr = _Grower(enc, spec, x0, s_cf, t_idx, level, time_limit, lp)
    faces: dict[tuple[int, int], BoxFace] = {}
    order = [(j, side) for j, (a, b) in gr.rng.items() if a < b for side in (+1, -1)]
    top, bottom = GROW_LEVELS
    for k, (j, side) in enumerate(order):
        g = level - gr.d * (1.0 - top + (top - bottom) * k / max(1, len(order) - 1))
        faces[(j, side)] = gr.grow_face(j, side, g)
    value, proven = gr.minimum()
    space = spec.space
    ok = proven and value is not None and value >= gr.cert
    if not ok:
        gr.lo, gr.hi = s_cf.copy(), s_cf.copy()
        faces = {key: BoxFace("undecided") for key in faces}
    low, high = np.full(space.n_features, np.nan), np.full(space.n_features, np.nan)
    for j in gr.rng:
        p = int(space.start[j])
        low[j], high[j] = gr.lo[p], gr.hi[p]
    info = {"level": level, "certified_margin": value if ok else None,
            "margin_bound": value, "proven": ok}
    return SearchBox(low=low, high=high, level=gr.levels, faces=faces, checks=gr.checks,
                     time=time.perf_counter() - t0, info=info)

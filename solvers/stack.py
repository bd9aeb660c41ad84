"""Several models (and an isolation forest) in one problem, joined by the value view.

A :class:`~encoders.multi.StackEncodedModel` (a ``ModelSet`` of mixed model types, or a
``PlausibleModel`` whose classifier is not a tree model) is built as follows:

1. the engine's main encoding is the stack's *value block*: one variable per numeric
   feature (its value, user units, ``ValueLink``) and the level indicators of every
   categorical feature (``GroupLink``), no rows and no target rows. ``build_problem``
   prices moves on it exactly (``t_j >= |x_j - x0_j|``, L0 binaries), and the value view
   (``recourse.solvers.values.add_values``) reuses these columns;
2. :func:`append_members` (called through the engine's value-constraint hook,
   :class:`StackBlocks`) appends every member's own encoding with
   ``recourse.solvers.values.append_block``: a value link equal to the view's value, threshold
   indicators tied to it (``z_i = 1 => x >= t_i + e_i``, ``z_i = 0 => x <= t_i - e_i``),
   level indicators equal to the view's; then the member's own target rows, shifted to
   its columns (``argmax`` rows for multiclass members, the sign row for binary ones),
   each with its own margin;
3. ReLU members are first re-bounded over the applicant's reachable box
   (``recourse.solvers.tighten.tighten_relu``: interval arithmetic, then LPs with ``"lp"``), as
   the engine does for a single network, so only units that can switch get a binary;
4. an isolation forest's block is appended the same way, with the row
   ``sum of path lengths >= min_path_sum + tol`` (``recourse.encoders.isolation``).

Why a value block rather than the first model as the main encoding: a tree model reads a
categorical feature only if it splits on it, and a level the main encoding does not read
stays at the applicant's (``ValueView.levels[j] is None``); the value block reads every
feature, so another member may change any of them and the optimum stays exact. Every
member keeps its own formulation; nothing here depends on the model type.

Margins: one number per member, in that member's own score units (summed leaf
probabilities for forests, the decision function otherwise); ties that ``argmax``
breaks in the target's favour need ``>= 0`` for tree members (integral leaves) and the
margin for continuous ones.

Starting point (L1 and L0, without a causal model): :func:`stack_start` runs the ReLU
heuristic of ``recourse.solvers.tighten.relu_incumbent`` on all members side by side (reference
rows every member approves, moved into the action set, segments towards them, reverted
features, shrunk moves; only the members' numpy forward passes). Its cost bounds the
search; for L1 it is also the budget over which ReLU members are re-bounded (bounds
valid together with the row ``cost <= budget`` that ``recourse.solvers.search.solve_phase`` adds
with the starting point). A starting point that breaks any row of the final problem is
dropped, and the members are then appended with budget-free bounds.

Reading the answer: the solver may leave a value a feasibility tolerance (1e-7) on the
wrong side of an appended tree member's split, far more than the thousandth of a float32
cell the tie rows ask for. :meth:`StackBlocks.snap` moves every value column into the
cell every appended member's indicators chose (their intersection) before the engine
decodes the point, as ``recourse.solvers.values.value_point`` does for the main encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, ThresholdLink, ValueLink
from recourse.encoders.multi import StackEncodedModel
from recourse.solvers.problem import RecourseProblem, point_costs
from recourse.solvers.search import satisfies
from recourse.solvers.tighten import relu_incumbent, tighten_relu
from recourse.solvers.values import ValueView, append_block, fill_values, shift, tie_eps

__all__ = ["append_members", "stack_start", "StackBlocks"]


def append_members(prob: RecourseProblem, view: ValueView, stack: StackEncodedModel,
                   target: int, margins: np.ndarray, ties: np.ndarray,
                   bounds: str = "lp", budget: float = np.inf,
                   ) -> tuple[RecourseProblem, list[tuple[EncodedModel, int]]]:
    """Append every member of ``stack`` (and its isolation block) to ``prob``.

    Parameters
    ----------
    prob, view
        A problem over ``stack``'s value block and its value view (``add_values``).
    target : int
        Index of the class every member must predict.
    margins, ties : ndarray
        Per member: the margin of strict comparisons and of ties ``argmax`` breaks in
        the target's favour (``EncodedModel.target_rows``).
    bounds : {"lp", "interval"}
        How ReLU members are re-bounded over the applicant's box.
    budget : float
        L1 cost of a known answer: ReLU members are re-bounded over the points of the box
        that cost at most this (valid only with the row ``cost <= budget``).

    Returns
    -------
    problem, blocks
        The problem with every block and row, and ``(block, column offset)`` per appended
        block (ReLU members as re-bounded), e.g. for ``recourse.solvers.values.fill_values``.
    """
    blocks: list[tuple[EncodedModel, int]] = []
    info: dict[str, Any] = {"stack_binaries": 0}
    for i, member in enumerate(stack.members):
        if member.network is not None:
            member = tighten_relu(member, prob.spec, prob.x0, method=bounds, budget=budget)
            info["stack_binaries"] += int(member.info["n_binaries"])
        prob, off = append_block(prob, member, view)
        G, lo = member.target_rows(target, float(margins[i]), float(ties[i]))
        prob = prob.with_rows(shift(G, off, prob.n), lo, np.full(lo.size, np.inf))
        blocks.append((member, off))
    if stack.paths is not None:
        prob, off = append_block(prob, stack.paths, view)
        row = shift(stack.paths.score[:1], off, prob.n)
        prob = prob.with_rows(row, np.array([stack.min_path_sum + stack.path_tol]),
                              np.array([np.inf]))
        blocks.append((stack.paths, off))
    iso = 0 if stack.paths is None else int(stack.paths.info["n_trees"])
    prob = replace(prob, stats=dict(prob.stats, **info, stack_members=len(stack.members),
                                    stack_isolation_trees=iso))
    return prob, blocks


class _Joint:
    """All members (and the isolation block) side by side, with the interface
    ``relu_incumbent`` uses: ``block_values`` and ``target_rows`` (every member's rows with
    its own margins, the path-length row)."""

    def __init__(self, stack: StackEncodedModel, margins: np.ndarray, ties: np.ndarray) -> None:
        self.stack, self.margins, self.ties = stack, margins, ties
        self.parts = list(stack.members) + ([stack.paths] if stack.paths is not None else [])

    def block_values(self, S: np.ndarray) -> np.ndarray:
        return np.hstack([m.block_values(S) for m in self.parts])

    def target_rows(self, target: int, margin: Any = None,
                    tie_margin: Any = None) -> tuple[sp.csr_matrix, np.ndarray]:
        blocks, lo = [], []
        for i, m in enumerate(self.stack.members):
            G, g = m.target_rows(target, float(self.margins[i]), float(self.ties[i]))
            blocks.append(G)
            lo.append(g)
        if self.stack.paths is not None:
            blocks.append(self.stack.paths.score[:1])
            lo.append(np.array([self.stack.min_path_sum + self.stack.path_tol]))
        return sp.block_diag(blocks, format="csr"), np.concatenate(lo)


def stack_start(stack: StackEncodedModel, prob: RecourseProblem, target: int,
                margins: np.ndarray, ties: np.ndarray, norm: str,
                reference: np.ndarray | None) -> np.ndarray | None:
    """A search vector every member's forward pass puts in the target (and plausible),
    cheap under ``norm``, or None (see module docstring)."""
    return relu_incumbent(_Joint(stack, margins, ties), prob.spec, prob.x0,  # type: ignore[arg-type]
                          target, 0.0, 0.0, norm, reference)


def _fill(prob: RecourseProblem, view: ValueView, s: np.ndarray,
          blocks: list[tuple[EncodedModel, int]]) -> np.ndarray:
    """Every column of a stack problem at search vector ``s``: ``fill_values`` plus the
    distance and change columns ``build_problem`` adds per value link (in link order:
    ``t_j``, then ``d_j`` where the feature has a change indicator)."""
    out = fill_values(prob, view, s, tuple(blocks))
    space = prob.spec.space
    nxt = prob.enc.n_vars
    for link in prob.enc.links:
        if isinstance(link, ValueLink):
            st = int(space.start[link.feature])
            delta = abs(float(s[st]) - float(prob.x0[st]))
            out[nxt] = delta
            nxt += 1
            if prob.has_indicator is not None and prob.has_indicator[link.feature]:
                out[nxt] = 1.0 if delta > 0 else 0.0
                nxt += 1
    return out


@dataclass
class StackBlocks:
    """The engine's value constraint (``RecourseEngine._value_constraints``) that appends a
    stack's members to every problem the engine builds.

    The engine sets, before each build: ``margin`` / ``ties`` (its margins for this solve;
    retries scale them), ``extra`` (per-member score margins of ``min_margin`` in each
    member's own units, or None), ``norm`` and ``use_start`` (whether to look for a
    starting point). ``reference`` / ``reference_pred``: known rows as search vectors and
    the class the stack's forward pass gives them. After a build, ``start`` holds the
    starting point's values over every column (or None) and ``blocks`` the
    ``(block, offset)`` pairs.
    """

    stack: StackEncodedModel
    bounds: str = "lp"
    margin: float = 0.0
    ties: float = 0.0
    extra: np.ndarray | None = None
    norm: str = "l1"
    use_start: bool = False
    reference: np.ndarray | None = None
    reference_pred: np.ndarray | None = None
    start: np.ndarray | None = None
    blocks: list[tuple[EncodedModel, int]] = field(default_factory=list)

    def margins(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-member margins and tie margins for the current solve."""
        n = len(self.stack.members)
        m = np.full(n, float(self.margin))
        if self.extra is not None:
            m = np.maximum(m, np.asarray(self.extra, dtype=float))
        exact = self.extra is None and self.ties == 0.0
        t = np.array([0.0 if exact and mem.kind == "trees" else m[i]
                      for i, mem in enumerate(self.stack.members)])
        return m, t

    def add(self, engine: Any, prob: RecourseProblem, view: ValueView, x0: np.ndarray,
            t_idx: int) -> RecourseProblem:
        """Append the members (``recourse.solvers.values`` constraint protocol)."""
        m, t = self.margins()
        self.start = None
        s_inc = None
        if self.use_start:
            ref = None
            if self.reference is not None and self.reference_pred is not None:
                ref = self.reference[self.reference_pred == t_idx]
            s_inc = stack_start(self.stack, prob, t_idx, m, t, self.norm, ref)
        budget = np.inf
        if s_inc is not None and self.norm == "l1":
            budget = float(point_costs(prob.spec, prob.x0, s_inc)[0].sum())
        out, self.blocks = append_members(prob, view, self.stack, t_idx, m, t, self.bounds,
                                          budget)
        if s_inc is not None:
            full = _fill(out, view, s_inc, self.blocks)
            if satisfies(out, full):
                self.start = full
                return out
            if np.isfinite(budget):  # bounds over the budget need the start's cost row
                out, self.blocks = append_members(prob, view, self.stack, t_idx, m, t,
                                                  self.bounds)
        return out

    def snap(self, prob: RecourseProblem, view: ValueView, values: np.ndarray) -> np.ndarray:
        """``values`` with every value column moved into the cells the appended blocks'
        threshold indicators chose (see module docstring); a copy."""
        space = prob.spec.space
        nf = space.n_features
        lo, hi = np.full(nf, -np.inf), np.full(nf, np.inf)
        for block, off in self.blocks:
            for link in block.links:
                if not isinstance(link, ThresholdLink) or not link.thresholds.size:
                    continue
                j = link.feature
                x0 = float(prob.x0[int(space.start[j])])
                t = link.thresholds
                e = tie_eps(link, bool(space.integer[j]))
                e_up = np.where(x0 > t, np.minimum(e, x0 - t), e)
                e_dn = np.where(x0 <= t, np.minimum(e, t - x0), e)
                m = int(np.round(values[off + np.asarray(link.vars)]).sum())
                if m > 0:
                    lo[j] = max(lo[j], float(t[m - 1] + e_up[m - 1]))
                if m < t.size:
                    hi[j] = min(hi[j], float(t[m] - e_dn[m]))
        out = np.array(values, dtype=float)
        for f in np.flatnonzero(np.isfinite(lo) | np.isfinite(hi)).tolist():
            if view.x[f] >= 0 and lo[f] <= hi[f]:
                out[view.x[f]] = min(max(out[view.x[f]], lo[f]), hi[f])
        return out

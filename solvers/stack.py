"""Several models (and an isolation forest) in one problem, joined by the value view.

A :class:`~encoders.multi.StackEncodedModel` (a ``ModelSet`` of mixed model types, or a
``PlausibleModel`` whose classifier is not a tree model) is built as follows:

1. the engine's main encoding is the stack's *value block*: one variable per numeric
   feature (its value, user units, ``ValueLink``) and the level indicators of every
   categorical feature (``GroupLink``), no rows and no target rows. ``build_problem``
   prices moves on it exactly (``t_j >= |x_j - x0_j|``, L0 binaries), and the value view
   (``solvers.values.add_values``) reuses these columns;
2. :func:`append_members` (called through the engine's value-constraint hook,
   :class:`StackBlocks`) appends every member's own encoding with
   ``solvers.values.append_block``: a value link equal to the view's value, threshold
   indicators tied to it (``z_i = 1 => x >= t_i + e_i``, ``z_i = 0 => x <= t_i - e_i``),
   level indicators equal to the view's; then the member's own target rows, shifted to
   its columns (``argmax`` rows for multiclass members, the sign row for binary ones),
   each with its own margin;
3. ReLU members are first re-bounded over the applicant's reachable box
   (``solvers.tighten.tighten_relu``: interval arithmetic, then LPs with ``"lp"``), as
   the engine does for a single network, so only units that can switch get a binary;
4. an isolation forest's block is appended the same way, with the row
   ``sum of path lengths >= min_path_sum + tol`` (``encoders.isolation``).

Why a value block rather than the first model as the main encoding: a tree model reads a
categorical feature only if it splits on it, and a level the main encoding does not read
stays at the applicant's (``ValueView.levels[j] is None``); the value block reads every
feature, so another member may change any of them and the optimum stays exact. Every
member keeps its own formulation; nothing here depends on the model type.

Margins: one number per member, in that member's own score units (summed leaf
probabilities for forests, the decision function otherwise); ties that ``argmax``
breaks in the target's favour need ``>= 0`` for tree members (integral leaves) and the
margin for continuous ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from encoders.block import EncodedModel
from encoders.multi import StackEncodedModel
from solvers.problem import RecourseProblem
from solvers.tighten import tighten_relu
from solvers.values import ValueView, append_block, shift

__all__ = ["append_members", "StackBlocks"]


def append_members(prob: RecourseProblem, view: ValueView, stack: StackEncodedModel,
                   target: int, margins: np.ndarray, ties: np.ndarray,
                   bounds: str = "lp") -> tuple[RecourseProblem, list[tuple[EncodedModel, int]]]:
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

    Returns
    -------
    problem, blocks
        The problem with every block and row, and ``(block, column offset)`` per appended
        block (ReLU members as re-bounded), e.g. for ``solvers.values.fill_values``.
    """
    blocks: list[tuple[EncodedModel, int]] = []
    info: dict[str, Any] = {"stack_binaries": 0}
    for i, member in enumerate(stack.members):
        if member.network is not None:
            member = tighten_relu(member, prob.spec, prob.x0, method=bounds)
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


@dataclass
class StackBlocks:
    """The engine's value constraint (``RecourseEngine._value_constraints``) that appends a
    stack's members to every problem the engine builds.

    ``margin`` / ``ties`` are the engine's margins of the current solve (the engine sets
    them before each build: retries scale them); ``extra`` holds per-member score margins
    (``min_margin`` in each member's own units), or None. ``blocks`` keeps the last
    problem's ``(block, offset)`` pairs, so a starting point can be completed.
    """

    stack: StackEncodedModel
    bounds: str = "lp"
    margin: float = 0.0
    ties: float = 0.0
    extra: np.ndarray | None = None
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
        """Append the members (``solvers.values`` constraint protocol)."""
        m, t = self.margins()
        prob, self.blocks = append_members(prob, view, self.stack, t_idx, m, t, self.bounds)
        return prob

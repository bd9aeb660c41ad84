"""Local search over threshold cells: a cheaper first solution for tree ensembles.

The tree pruning (``recourse.solvers.problem.prune``) fixes every move that costs at
least the incumbent, so a cheaper incumbent shrinks the problem before the MILP starts.
Starting from the incumbent's point, two neighbourhoods are searched until neither
improves:

* **line search per feature**: with the other features fixed, every cell of one feature
  (the cell's value nearest the applicant, as ``single_moves`` places it);
* **swap**: one changed feature back to the applicant's value, one other feature moved to
  any of its cells.

Every candidate obeys the value rules by construction (its cells are the problem's own
single moves, which respect bounds, directions, integers and one level per group) and is
kept only when the encoding's forward pass assigns it to the target; the caller then
checks the final point against every row of the problem (``solvers.search.satisfies``)
before it may bound anything. Only the encoding's forward pass runs (no solver, no
sklearn call).
"""

from __future__ import annotations

import time

import numpy as np

from recourse.encoders.evaluate import link_values
from recourse.solvers.incumbent import single_moves
from recourse.solvers.problem import RecourseProblem, decode, violates_exclusions

__all__ = ["improve", "LOCAL_BUDGET"]

#: Seconds the search may spend per query (at most a tenth of the time left).
LOCAL_BUDGET = 0.5


def _options(prob: RecourseProblem) -> dict[int, np.ndarray]:
    """Per feature, the slices of search vector its single moves set (one row each)."""
    space = prob.spec.space
    moves, _ = single_moves(prob)
    out: dict[int, list[np.ndarray]] = {}
    for j in range(space.n_features):
        s, e = int(space.start[j]), int(space.start[j + 1])
        diff = np.any(moves[:, s:e] != prob.x0[s:e], axis=1)
        if diff.any():
            out[j] = np.vstack([prob.x0[None, s:e], moves[diff, s:e]])
    return {j: v for j, v in out.items()}


def improve(prob: RecourseProblem, norm: str, incumbent: np.ndarray | None,
            time_budget: float = 0.5, chunk: int = 256) -> np.ndarray | None:
    """A cheaper point than ``incumbent`` (full problem vector), or ``incumbent``.

    Parameters
    ----------
    prob : RecourseProblem
        A tree-ensemble problem (other encodings return ``incumbent`` unchanged).
    norm : {"l1", "l0"}
        The objective.
    incumbent : ndarray or None
        The starting point (problem vector); ``None`` returns ``None``.
    time_budget : float
        Seconds after which the search stops with the best point so far.
    chunk : int
        Candidates per forward pass.
    """
    enc = prob.enc
    if incumbent is None or enc.tree is None:
        return incumbent
    t_end = time.perf_counter() + time_budget
    space, t_idx = prob.spec.space, prob.target
    obj, obj0 = prob.objective(norm)
    w = obj[: enc.n_link]

    def cost(H: np.ndarray) -> np.ndarray:
        c = link_values(enc, H) @ w + obj0
        if prob.excluded:
            c = np.where(violates_exclusions(prob, H), np.inf, c)
        return c

    s_best = decode(prob, incumbent)
    best = float(cost(s_best[None, :])[0])
    opts = _options(prob)
    starts = {j: (int(space.start[j]), int(space.start[j + 1])) for j in opts}

    def first_approved(H: np.ndarray) -> bool:
        """Move to the cheapest approved row of ``H`` cheaper than the best."""
        nonlocal s_best, best
        if H.shape[0] == 0:
            return False
        c = cost(H)
        order = np.argsort(c, kind="stable")
        order = order[c[order] < best - 1e-9 * max(1.0, abs(best))]
        for i in range(0, order.size, chunk):
            if time.perf_counter() > t_end:
                return False
            idx = order[i : i + chunk]
            ok = np.flatnonzero(enc.predict_index(H[idx]) == t_idx)
            if ok.size:
                s_best, best = H[idx[ok[0]]].copy(), float(c[idx[ok[0]]])
                return True
        return False

    def line(j: int) -> np.ndarray:
        s, e = starts[j]
        H = np.repeat(s_best[None, :], opts[j].shape[0], axis=0)
        H[:, s:e] = opts[j]
        return H

    improved = True
    while improved and time.perf_counter() < t_end:
        improved = False
        for j in opts:  # line search per feature
            if first_approved(line(j)):
                improved = True
        if improved:
            continue
        changed = [j for j in opts
                   if not np.array_equal(s_best[starts[j][0]:starts[j][1]],
                                         prob.x0[starts[j][0]:starts[j][1]])]
        blocks = []
        for j in changed:  # swap: j back to the applicant's value, k to any cell
            base = s_best.copy()
            s, e = starts[j]
            base[s:e] = prob.x0[s:e]
            for k in opts:
                if k == j:
                    continue
                sk, ek = starts[k]
                H = np.repeat(base[None, :], opts[k].shape[0] - 1, axis=0)
                H[:, sk:ek] = opts[k][1:]
                blocks.append(H)
        if blocks and first_approved(np.vstack(blocks)):
            improved = True
    if np.array_equal(s_best, decode(prob, incumbent)):
        return incumbent
    full = np.zeros(prob.n)
    full[: enc.n_vars] = enc.block_values(s_best[None, :])[0]
    return full

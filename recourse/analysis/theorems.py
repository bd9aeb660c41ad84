"""Theorems 11 and 12 of Fokkema, de Heide and van Erven (JMLR 2023) made computable.

**Theorem 11** (one dimension, nobody already satisfied: ``O = ∅``). Write ``L`` and ``R`` as
unions of maximal intervals ``L_i``, ``R_j`` (:func:`maximal_intervals`). With
``Ĩ`` = the ``L_i`` inside no ``R_j``, ``J̃`` = the ``R_j`` inside no ``L_i`` and ``K̃`` = the
``L_i`` equal to some ``R_j`` (:func:`identical_intervals`), a continuous
recourse-sensitive attribution exists iff for some split ``K̃ = K̃1 ∪ K̃2`` the sets
``L̃ = ∪_Ĩ L_i ∪ ∪_K̃1 L_i`` and ``R̃ = ∪_J̃ R_j ∪ ∪_K̃2 L_i`` are separated
(:func:`separated`: ``cl(A) ∩ B = ∅ = A ∩ cl(B)``). :func:`theorem11` tries every split.

**Theorem 12** (``d`` features, single-feature moves ``||y − x||_0 <= 1``, ``y`` in the box
``X``). :func:`single_feature_sets` computes, *exactly* for tree models (decision trees,
random / extra forests, gradient-boosted trees — piecewise constant on axis-aligned cells)
on a bounded box, the sets ``L_i``, ``R_i`` (recourse by moving feature ``i`` down / up by
at most ``δ``) and ``O`` (already satisfied). Method: along every feature the candidate
values are the split thresholds, the thresholds ``± δ``, the box ends and the box ends
``∓ δ``; they cut the box into *faces* (every coordinate either a candidate value or an
open interval between two consecutive ones). On a face the model is constant and the window
``[x_i − δ, x_i)`` (clipped to the box) crosses the same thresholds, so membership in every
set is constant; it is decided at one point of the face by the exact one-dimensional test
(:func:`recourse.analysis.oned.reaches` on the model restricted to the axis line).

:func:`usable_criterion` applies the criterion derived from Theorem 12: a connected set
inside ``∪_i (L_i ∪ R_i)`` and disjoint from ``O`` must lie inside one of the ``2d`` chosen
pairwise-separated sets. Faces are joined when one lies in the closure of the other (their
union is connected); if a connected component of the covered, unsatisfied faces holds a
face whose only option is ``(i, s)`` and another whose only option is ``(j, s') ≠ (i, s)``,
no continuous recourse-sensitive attribution exists (``possible=False`` with the two
witness points). If one option ``(i, s)`` is available on every face of ``L ∪ R ∪ O``, the
constant ``phi = s·e_i`` is continuous and recourse sensitive (``possible=True``).
Otherwise the criterion does not decide (``possible=None``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recourse.analysis.intervals import Interval, IntervalSet
from recourse.analysis.oned import RecourseSets, reaches
from recourse.analysis.oned_tools import restrict_to_line
from recourse.analysis.scores import as_score, class_score
from recourse.analysis.utility import Utility

__all__ = [
    "maximal_intervals",
    "identical_intervals",
    "separated",
    "Theorem11Result",
    "theorem11",
    "SingleFeatureSets",
    "single_feature_sets",
    "CriterionResult",
    "usable_criterion",
]


# ---------------------------------------------------------------- Theorem 11
def maximal_intervals(s: IntervalSet) -> list[Interval]:
    """The maximal intervals of ``s`` (its connected components), left to right."""
    return list(s.intervals)


def _one(iv: Interval) -> IntervalSet:
    return IntervalSet([iv])


def identical_intervals(L: IntervalSet, R: IntervalSet) -> list[Interval]:
    """``K̃``: the maximal intervals of ``L`` that equal a maximal interval of ``R``
    (the same ends, open or closed alike)."""
    rs = set(R.intervals)
    return [iv for iv in L.intervals if iv in rs]


def separated(A: IntervalSet, B: IntervalSet) -> bool:
    """``cl(A) ∩ B = ∅`` and ``A ∩ cl(B) = ∅`` (Definition 9)."""
    return A.closure().intersection(B).empty and A.intersection(B.closure()).empty


@dataclass(frozen=True)
class Theorem11Result:
    """``possible``, the index sets and, when possible, the split of ``K̃`` that works
    (``k1``: identical intervals given to ``L̃``) and the separated pair ``(L̃, R̃)``."""

    possible: bool
    I_tilde: list[Interval]
    J_tilde: list[Interval]
    K_tilde: list[Interval]
    k1: list[Interval] | None
    L_tilde: IntervalSet | None
    R_tilde: IntervalSet | None


def theorem11(sets: RecourseSets, max_identical: int = 16) -> Theorem11Result:
    """Decide Theorem 11 for exact 1-D sets with ``O = ∅`` (every split of ``K̃`` is tried).

    Raises
    ------
    ValueError
        ``O`` is not empty (Theorem 11 assumes ``u(x, x) < τ`` everywhere; use
        :func:`recourse.analysis.verdict`), or ``K̃`` has more than ``max_identical``
        intervals.
    """
    if not sets.O.empty:
        raise ValueError("Theorem 11 needs O = ∅ (nobody already satisfied); this O is "
                         f"{sets.O}. Use verdict() (Theorem 10) instead.")
    Ls, Rs = maximal_intervals(sets.L), maximal_intervals(sets.R)
    K = identical_intervals(sets.L, sets.R)
    Kset = set(K)
    I_t = [li for li in Ls if li not in Kset and not any(_one(li).issubset(_one(rj))
                                                           for rj in Rs)]
    J_t = [rj for rj in Rs if rj not in Kset and not any(_one(rj).issubset(_one(li))
                                                           for li in Ls)]
    if len(K) > max_identical:
        raise ValueError(f"K̃ has {len(K)} intervals; 2^{len(K)} splits is too many.")
    base_L = IntervalSet(I_t)
    base_R = IntervalSet(J_t)
    for mask in itertools.product((0, 1), repeat=len(K)):
        k1 = [iv for iv, m in zip(K, mask) if m == 0]
        k2 = [iv for iv, m in zip(K, mask) if m == 1]
        Lt = base_L.union(IntervalSet(k1))
        Rt = base_R.union(IntervalSet(k2))
        if separated(Lt, Rt):
            return Theorem11Result(True, I_t, J_t, K, k1, Lt, Rt)
    return Theorem11Result(False, I_t, J_t, K, None, None, None)


# ---------------------------------------------------------------- Theorem 12
@dataclass
class SingleFeatureSets:
    """The faces of the box and, per face, its options.

    Attributes
    ----------
    faces : list of tuple of Interval
        Per face, one interval per feature (a point ``[v, v]`` or an open interval).
    points : ndarray, (n_faces, d)
        The point of each face where membership was decided.
    in_O : ndarray of bool
    options : list of set
        Per face, the options ``(i, −1)`` (in ``L_i``) and ``(i, +1)`` (in ``R_i``).
    """

    lower: np.ndarray
    upper: np.ndarray
    delta: float
    utility: Utility
    faces: list[tuple[Interval, ...]]
    points: np.ndarray
    in_O: np.ndarray
    options: list[set[tuple[int, int]]]
    cuts: list[np.ndarray] = field(default_factory=list)

    def face_of(self, x: Any) -> int:
        """Index of the face holding ``x`` (inside the box)."""
        x = np.asarray(x, dtype=float)
        key = []
        for j, c in enumerate(self.cuts):
            k = int(np.searchsorted(c, x[j], side="left"))
            if k < c.size and c[k] == x[j]:
                key.append(2 * k)
            else:
                key.append(2 * k - 1)
        return self._index[tuple(key)]

    def L(self, i: int, x: Any) -> bool:
        """Is ``x`` in ``L_i``?"""
        return (i, -1) in self.options[self.face_of(x)]

    def R(self, i: int, x: Any) -> bool:
        """Is ``x`` in ``R_i``?"""
        return (i, 1) in self.options[self.face_of(x)]

    def O(self, x: Any) -> bool:  # noqa: N802, E743 - the paper's name
        """Is ``x`` in ``O``?"""
        return bool(self.in_O[self.face_of(x)])

    _index: dict[tuple[int, ...], int] = field(default_factory=dict)


def _thresholds(model: Any, d: int) -> list[np.ndarray]:
    from recourse.analysis.encoding import _encode
    from recourse.encoders.block import ThresholdLink

    enc = _encode(model, d)
    if enc.tree is None or not all(isinstance(lk, ThresholdLink) for lk in enc.links):
        raise ValueError("single_feature_sets is exact for tree models (decision trees, "
                         "forests, gradient-boosted trees) only.")
    out = [np.zeros(0) for _ in range(d)]
    for lk in enc.links:
        out[lk.feature] = np.asarray(lk.thresholds, dtype=float)
    return out


def single_feature_sets(model: Any, lower: Any, upper: Any, delta: float, utility: Utility, *,
                        target: Any = None, max_faces: int = 200_000) -> SingleFeatureSets:
    """``L_i``, ``R_i`` and ``O`` of a tree model on the box ``[lower, upper]`` (module
    docstring). For ``utility.kind == "class"`` on a classifier the score is
    :func:`class_score` (default target: ``classes_[1]``) and ``τ`` the margin.

    Raises
    ------
    ValueError
        Not a tree model, an unbounded box, or more than ``max_faces`` faces.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    d = lo.size
    if hi.shape != lo.shape or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("single_feature_sets needs a bounded box: finite lower and upper.")
    if np.any(lo >= hi):
        raise ValueError("Every lower bound must be below its upper bound.")
    if not delta > 0:
        raise ValueError(f"delta must be positive; got {delta}.")
    if utility.kind == "class" and hasattr(model, "classes_"):
        score = class_score(model, target)
    else:
        score = as_score(model)
    thr = _thresholds(model, d)
    cuts = []
    for j in range(d):
        t = thr[j]
        c = np.concatenate([t, t - delta, t + delta, [lo[j], hi[j], lo[j] + delta,
                                                      hi[j] - delta]])
        cuts.append(np.unique(c[(c >= lo[j]) & (c <= hi[j])]))
    n_faces = math.prod(2 * c.size - 1 for c in cuts)
    if n_faces > max_faces:
        raise ValueError(f"{n_faces} faces exceed max_faces = {max_faces}; shrink the box or "
                         "the model.")
    per_dim = []
    for c in cuts:
        items = []
        for k in range(c.size):
            items.append((2 * k, Interval(c[k], c[k]), float(c[k])))
            if k + 1 < c.size:
                items.append((2 * k + 1, Interval(c[k], c[k + 1], False, False),
                              0.5 * (c[k] + c[k + 1])))
        per_dim.append(items)
    faces, pts, keys = [], [], []
    for combo in itertools.product(*per_dim):
        keys.append(tuple(it[0] for it in combo))
        faces.append(tuple(it[1] for it in combo))
        pts.append([it[2] for it in combo])
    P = np.array(pts, dtype=float)
    fP = score(P)
    in_O = np.asarray(utility.satisfied(fP, fP), dtype=bool)
    options: list[set[tuple[int, int]]] = []
    for p in P:
        opts: set[tuple[int, int]] = set()
        for i in range(d):
            e = np.eye(d)[i]
            g = restrict_to_line(score, p, e, thr[i] - p[i])  # the splits of feature i
            left = min(delta, p[i] - lo[i])
            right = min(delta, hi[i] - p[i])
            if left > 0 and reaches(g, 0.0, -1, left, utility)[0]:
                opts.add((i, -1))
            if right > 0 and reaches(g, 0.0, 1, right, utility)[0]:
                opts.add((i, 1))
        options.append(opts)
    out = SingleFeatureSets(lo, hi, float(delta), utility, faces, P, in_O, options, cuts)
    out._index = {k: n for n, k in enumerate(keys)}
    return out


@dataclass(frozen=True)
class CriterionResult:
    """``possible``: ``False`` (impossible, with ``witnesses``: two points of one connected
    set with different forced options), ``True`` (with ``constant``: the option ``(i, s)``
    whose ``phi = s·e_i`` works) or ``None`` (not decided by the criterion)."""

    possible: bool | None
    witnesses: tuple[tuple[np.ndarray, tuple[int, int]], tuple[np.ndarray, tuple[int, int]]] | None
    constant: tuple[int, int] | None
    n_components: int


def usable_criterion(sfs: SingleFeatureSets) -> CriterionResult:
    """Apply the criterion of Theorem 12 to exact single-feature sets (module docstring)."""
    import networkx as nx

    relevant = [n for n in range(len(sfs.faces)) if sfs.in_O[n] or sfs.options[n]]
    for i in range(sfs.lower.size):
        for s in (-1, 1):
            if all((i, s) in sfs.options[n] for n in relevant):
                return CriterionResult(True, None, (i, s), 0)
    keys = {v: k for k, v in sfs._index.items()}
    active = {n for n in range(len(sfs.faces)) if sfs.options[n] and not sfs.in_O[n]}
    G = nx.Graph()
    G.add_nodes_from(active)
    for n in active:
        key = keys[n]
        for j, kj in enumerate(key):
            if kj % 2 == 1:  # open coordinate: its end points are in the closure
                for nb_k in (kj - 1, kj + 1):
                    m = sfs._index.get(key[:j] + (nb_k,) + key[j + 1:])
                    if m is not None and m in active:
                        G.add_edge(n, m)
    comps = list(nx.connected_components(G))
    for comp in comps:
        forced: dict[tuple[int, int], int] = {}
        for n in comp:
            if len(sfs.options[n]) == 1:
                opt = next(iter(sfs.options[n]))
                forced.setdefault(opt, n)
                if len(forced) >= 2:
                    (o1, n1), (o2, n2) = list(forced.items())[:2]
                    return CriterionResult(False, ((sfs.points[n1], o1), (sfs.points[n2], o2)),
                                           None, len(comps))
    return CriterionResult(None, None, None, len(comps))

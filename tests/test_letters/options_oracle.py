"""Brute-force oracles for *distinct* recourse options (excluded change sets).

An excluded set ``S`` forbids every counterfactual that changes all features of ``S``
(``S`` itself and its supersets). The oracles below return the cheapest admissible
counterfactual predicted ``target`` whose set of changed features contains no excluded
set, or ``None``. They use only the schema's data, the model's own ``predict`` /
``decision_function`` and the enumeration helpers of ``tests/oracles.py``; nothing of
the engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from oracles import (
    OracleOptimum,
    _affine_maps,
    _frame,
    _group_allowed,
    _is_group,
    _model_input,
    _numeric_candidates,
    _same,
    affine_decision,
    feature_cost,
    linear_rows_lp_optimum,
    tree_boundaries,
)


def tree_optimum_excluding(model: Any, schema: Any, x: Mapping[str, Any], target: Any,
                           norm: str, exclude: Sequence[Collection[str]],
                           max_points: int = 200_000) -> OracleOptimum | None:
    """Exact optimum of a tree / forest avoiding ``exclude`` (see module docstring).

    The enumeration is that of ``oracles.brute_force_tree_optimum`` (one candidate per
    feature and split region, which holds the cheapest point of every cell); a cell's
    cheapest point changes a feature iff every point of the cell does, so filtering the
    candidates by their change set keeps the cheapest admissible point of every cell
    whose change set is allowed.
    """
    feats = list(schema.features)
    bnds = tree_boundaries(model, schema, x)
    cand: list[Any] = []
    for f in feats:
        if _is_group(f):
            cand.append(_group_allowed(f, x[f.name]))
        else:
            cand.append(_numeric_candidates(f, float(x[f.name]), bnds[f.name], "hull"))
    sizes = [len(c) for c in cand]
    total = int(np.prod(sizes))
    assert total <= max_points, f"brute force too large: {sizes}"
    idx = [g.ravel() for g in np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")]
    l1 = np.zeros(total)
    l0 = np.zeros(total)
    changed = {}
    for j, f in enumerate(feats):
        costs = [feature_cost(f, x[f.name], v) for v in cand[j]]
        l1 += np.array([a for a, _ in costs])[idx[j]]
        l0 += np.array([b for _, b in costs])[idx[j]]
        changed[f.name] = np.array([not _same(v, x[f.name]) for v in cand[j]])[idx[j]]
    ok = np.ones(total, dtype=bool)
    for S in exclude:
        ok &= ~np.all([changed[n] for n in S], axis=0)
    order = np.argsort(l1, kind="stable") if norm == "l1" else np.lexsort((l1, l0))
    order = order[ok[order]]
    for s in range(0, order.size, 8192):
        sel = order[s: s + 8192]
        cols = {f.name: ([cand[j][i] for i in idx[j][sel]] if _is_group(f)
                         else np.asarray(cand[j])[idx[j][sel]]) for j, f in enumerate(feats)}
        pred = np.asarray(model.predict(_model_input(model, schema, _frame(schema, cols))))
        hit = np.flatnonzero(pred == target)
        if hit.size:
            i = sel[hit[0]]
            point = {f.name: (cand[j][idx[j][i]] if _is_group(f) else float(cand[j][idx[j][i]]))
                     for j, f in enumerate(feats)}
            return OracleOptimum(cost=float(l1[i] if norm == "l1" else l0[i]), l1=float(l1[i]),
                                 l0=float(l0[i]), point=point, norm=norm, n_candidates=total,
                                 info={"affine": _affine_maps(model, schema, x)})
    return None


def linear_optimum_excluding(model: Any, schema: Any, x: Mapping[str, Any], target: Any,
                             exclude: Sequence[Collection[str]]) -> OracleOptimum | None:
    """L1 optimum of a binary linear model on numeric continuous features avoiding
    ``exclude``: the cheapest of the LP optima over every subset ``T`` of mutable
    features that contains no excluded set (features outside ``T`` held at ``x``)."""
    classes = list(model.classes_)
    sign = 1.0 if target == classes[1] else -1.0
    W, b = affine_decision(model, schema, x)
    mutable = [f.name for f in schema.features if not f.immutable]
    best: OracleOptimum | None = None
    for r in range(len(mutable) + 1):
        for T in itertools.combinations(mutable, r):
            if any(set(S) <= set(T) for S in exclude):
                continue
            fixed = {n: float(x[n]) for n in schema.names if n not in T}
            opt = linear_rows_lp_optimum(sign * W, sign * b, schema, x, 0.0, fixed=fixed)
            if opt is not None and (best is None or opt.cost < best.cost):
                best = opt
    return best

"""Decision trees and forests (RandomForest, ExtraTrees) as a pure 0/1 block.

Formulation (docs/formulations.md, "Tree ensembles: shared thresholds and leaf rows")
------------------------------------------------------------------------------------
* For every numeric feature ``j`` the sorted distinct split thresholds of the whole
  ensemble, mapped back to user units, ``t_1 < ... < t_k``; one binary
  ``z_i = [x_j > t_i]`` each, with ``z_i >= z_{i+1}``. Integer features: a split
  ``x <= t`` is ``x <= floor(t)``, so thresholds sit at ``floor(t) + 0.5`` and merge.
* Categorical features: the 0/1 level indicators ``o_{j,l}``. A split on a one-hot (or
  ordinal-coded, or scaled) column sends a fixed set ``R`` of levels right.
* Every internal node has a right-branch literal ``r`` (``z_i``, ``1 - z_i`` for a
  decreasing scaler, or ``sum_{l in R} o_{j,l}``). One binary ``y`` per leaf, exactly one
  per tree, and per node ``sum(y in left subtree) <= 1 - r`` and
  ``sum(y in right subtree) <= r``: two rows per node.
* Score of class ``c``: ``sum_leaves p_{leaf,c} y_leaf`` (the forest's ``predict_proba``
  times the number of trees); the prediction is its argmax.

sklearn casts inputs to float32 and sends ``float32(x) <= t`` left; which side a level of
a categorical feature takes is computed with the same cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ThresholdLink, TreeStructure
from recourse.encoders.cells import continuous_cuts
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError
from recourse.encoders.pipeline import InputMap

__all__ = ["encode_trees", "tree_arrays"]


def tree_arrays(tree: Any) -> dict[str, np.ndarray]:
    """Copy an sklearn ``tree_`` into plain arrays (leaf values as probabilities)."""
    t = tree.tree_
    if t.n_outputs != 1:
        raise EncodingError("Multi-output trees are not supported; fit one model per output.")
    value = np.asarray(t.value[:, 0, :], dtype=float)
    total = value.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return {
        "left": np.asarray(t.children_left),
        "right": np.asarray(t.children_right),
        "feature": np.asarray(t.feature),
        "threshold": np.asarray(t.threshold, dtype=float),
        "proba": value / total,
    }


def _paths(left: np.ndarray, right: np.ndarray) -> list[tuple[int, list[int], list[int]]]:
    """For each leaf: (leaf node, nodes it is right of, nodes it is left of)."""
    out = []
    stack: list[tuple[int, list[int], list[int]]] = [(0, [], [])]
    while stack:
        node, rs, ls = stack.pop()
        if left[node] == -1:
            out.append((node, rs, ls))
            continue
        stack.append((int(right[node]), rs + [node], ls))
        stack.append((int(left[node]), rs, ls + [node]))
    return out


def encode_trees(estimators: list[Any], classes: np.ndarray, imap: InputMap,
                 space: SearchSpace, *, arrays: list[dict[str, np.ndarray]] | None = None,
                 score0: np.ndarray | None = None, decision: str = "argmax",
                 float64: bool = False, kind: str = "trees") -> EncodedModel:
    """Encode a list of fitted sklearn classification trees (one forest).

    Boosted ensembles (``recourse.encoders.boosting``) pass their trees as ``arrays`` (the format of
    :func:`tree_arrays`, with each leaf's score vector under ``"proba"``), the constant
    ``score0`` and ``decision="sign"``; ``float64`` says the model compares its inputs in
    float64 (``x <= t`` goes left) rather than rounding them to float32 first.
    """
    trees = arrays if arrays is not None else [tree_arrays(e) for e in estimators]
    n_classes = len(classes) if arrays is None else trees[0]["proba"].shape[1]
    cast = _f64 if float64 else _f32
    block_kind = kind  # (``kind`` is reused below for node kinds)
    # 1. Right literal of every internal node, in terms of (feature, user threshold) or levels.
    node_lits: list[list[tuple[str, Any]]] = []
    cuts: dict[int, list[float]] = {}
    cut_origin: dict[int, list[tuple[float, bool, int, float, float]]] = {}
    used_groups: set[int] = set()
    int_cut = _integer_cuts(trees, imap, space, cast)
    # every continuous split's boundary at once (float32 models), decided by the
    # preprocessor where float64 cannot tell
    cont = continuous_cuts(trees, imap, space) if cast is _f32 else {}
    for ta in trees:
        lits: list[tuple[str, Any]] = []
        for node in range(len(ta["left"])):
            if ta["left"][node] == -1:
                lits.append(("leaf", None))
                continue
            lits.append(_literal(int(ta["feature"][node]), float(ta["threshold"][node]),
                                 imap, space, cuts, used_groups, int_cut, cut_origin, cast,
                                 cont))
        node_lits.append(lits)
    # 2. Variables: thresholds per numeric feature, levels per used group, leaves.
    links: list[Any] = []
    var_of_cut: dict[tuple[int, float], int] = {}
    nv = 0
    mono_rows: list[tuple[int, int]] = []
    for f in sorted(cuts):
        th, first = np.unique(np.array(cuts[f], dtype=float), return_index=True)
        spacing = tie = split = None
        if f in cut_origin:
            spacing = np.array([o[0] for o in cut_origin[f]])[first]
            tie = np.array([o[1] for o in cut_origin[f]], dtype=bool)[first]
            split = np.array([o[2:] for o in cut_origin[f]], dtype=float)[first]
            if float64:
                split = None  # the applicant-side check in recourse.explain rounds to float32
        vars_ = np.arange(nv, nv + th.size)
        for t, v in zip(th, vars_):
            var_of_cut[(f, float(t))] = int(v)
        mono_rows += [(int(vars_[i]), int(vars_[i + 1])) for i in range(th.size - 1)]
        links.append(ThresholdLink(feature=f, thresholds=th, vars=vars_, spacing=spacing,
                                   tie_right=tie, split=split))
        nv += th.size
    var_of_level: dict[int, np.ndarray] = {}
    for f in sorted(used_groups):
        k = len(space.levels[f] or ())
        var_of_level[f] = np.arange(nv, nv + k)
        links.append(GroupLink(feature=f, vars=var_of_level[f]))
        nv += k
    n_link = nv
    # 3. Leaves and node literals as sparse rows.
    lit_rows: list[int] = []
    lit_cols: list[int] = []
    lit_vals: list[float] = []
    lit0: list[float] = []
    ar_r: list[int] = []
    ar_c: list[int] = []
    al_r: list[int] = []
    al_c: list[int] = []
    leaf_var: list[int] = []
    leaf_tree: list[int] = []
    leaf_prob: list[np.ndarray] = []
    node_base = 0
    for ti, (ta, lits) in enumerate(zip(trees, node_lits)):
        for node, (kind, data) in enumerate(lits):
            row = node_base + node
            c0 = 0.0
            if kind == "cut":
                f, t, sign = data
                lit_rows.append(row)
                lit_cols.append(var_of_cut[(f, t)])
                lit_vals.append(float(sign))
                c0 = 0.0 if sign > 0 else 1.0
            elif kind == "levels":
                f, right = data
                for lvl in right:
                    lit_rows.append(row)
                    lit_cols.append(int(var_of_level[f][lvl]))
                    lit_vals.append(1.0)
            elif kind == "const":
                c0 = float(data)
            lit0.append(c0)
        for node, rs, ls in _paths(ta["left"], ta["right"]):
            li = len(leaf_var)
            leaf_var.append(nv)
            nv += 1
            leaf_tree.append(ti)
            leaf_prob.append(ta["proba"][node])
            ar_r += [li] * len(rs)
            ar_c += [node_base + n for n in rs]
            al_r += [li] * len(ls)
            al_c += [node_base + n for n in ls]
        node_base += len(lits)
    n_nodes, n_leaves = node_base, len(leaf_var)
    nodes = _flat_nodes(trees, node_lits, var_of_cut, sorted(used_groups), space)
    nodes.update(_leaf_conditions(ar_r, ar_c, al_r, al_c, nodes, links, n_leaves))
    literal = sp.csr_matrix((lit_vals, (lit_rows, lit_cols)), shape=(n_nodes, nv))
    literal0 = np.array(lit0)
    anc_right = sp.csr_matrix((np.ones(len(ar_r)), (ar_r, ar_c)), shape=(n_leaves, n_nodes))
    anc_left = sp.csr_matrix((np.ones(len(al_r)), (al_r, al_c)), shape=(n_leaves, n_nodes))
    leaf_var_a = np.array(leaf_var, dtype=np.int64)
    # Leaf indicator in block-variable space: (leaves x nv) with a 1 at each leaf's var.
    L = sp.csr_matrix((np.ones(n_leaves), (np.arange(n_leaves), leaf_var_a)), shape=(n_leaves, nv))
    internal = np.flatnonzero(np.asarray(anc_right.sum(axis=0) + anc_left.sum(axis=0)).ravel() > 0)
    left_rows = (anc_left.T @ L).tocsr()[internal] + literal[internal]
    right_rows = (anc_right.T @ L).tocsr()[internal] - literal[internal]
    one_per_tree = sp.csr_matrix(
        (np.ones(n_leaves), (np.array(leaf_tree), leaf_var_a)), shape=(len(trees), nv))
    mono = sp.csr_matrix(
        (np.tile([1.0, -1.0], len(mono_rows)),
         (np.repeat(np.arange(len(mono_rows)), 2), np.array(mono_rows, dtype=np.int64).ravel())),
        shape=(len(mono_rows), nv))
    rows = sp.vstack([left_rows, right_rows, one_per_tree, mono]).tocsr()
    inf = np.inf
    row_lo = np.concatenate([np.full(len(internal), -inf), np.full(len(internal), -inf),
                             np.ones(len(trees)), np.zeros(len(mono_rows))])
    row_hi = np.concatenate([1.0 - literal0[internal], literal0[internal],
                             np.ones(len(trees)), np.full(len(mono_rows), inf)])
    prob = np.array(leaf_prob).reshape(n_leaves, n_classes)
    score = sp.csr_matrix(prob.T) @ L
    return EncodedModel(
        kind=block_kind,
        classes=np.asarray(classes),
        decision=decision,
        lb=np.zeros(nv),
        ub=np.ones(nv),
        integer=np.ones(nv, dtype=bool),
        rows=rows,
        row_lo=row_lo,
        row_hi=row_hi,
        links=tuple(links),
        score=sp.csr_matrix(score),
        score0=np.zeros(n_classes) if score0 is None else np.asarray(score0, dtype=float),
        space_start=space.start.copy(),
        tree=TreeStructure(literal=literal, literal0=literal0, anc_right=anc_right,
                           anc_left=anc_left, leaf_var=leaf_var_a,
                           leaf_tree=np.array(leaf_tree, dtype=np.int64), n_trees=len(trees),
                           nodes=nodes),
        info={"n_trees": len(trees), "n_leaves": n_leaves, "n_link_vars": n_link,
              "n_thresholds": int(sum(len(lk.thresholds) for lk in links
                                      if isinstance(lk, ThresholdLink)))},
    )


def _f32(x: Any) -> Any:
    """Round to float32 as sklearn's trees do, then compare in float64 as their C code does.

    (NumPy 2 would compare a float32 array with a Python float *in float32*, rounding the
    threshold too: a value 1e-9 above a threshold would compare equal to it.)
    """
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _f64(x: Any) -> Any:
    """The identity in float64 (models that compare their inputs in float64)."""
    return np.asarray(x, dtype=np.float64)


def _integer_cuts(trees: list[dict[str, np.ndarray]], imap: InputMap,
                  space: SearchSpace, cast: Any = _f32) -> dict[tuple[int, float], float]:
    """User-space cut ``k + 1/2`` of every split on an integer feature, decided exactly.

    The split ``float32(model_input) <= t`` is evaluated on the integers around the
    threshold mapped back to user units, with the model input computed by the fitted
    preprocessor itself. Bootstrap forests put thresholds within float32 resolution of a
    scaled integer value (seen here on German credit: 1e-9 below the scaled value of 2),
    where the float64 inverse ``(t - b) / a`` cannot tell the sides apart.
    """
    splits: dict[int, set[tuple[int, float]]] = {}
    for ta in trees:
        inner = ta["left"] != -1
        for inp, t_m in zip(ta["feature"][inner], ta["threshold"][inner]):
            f = int(imap.source[int(inp)])
            if f >= 0 and not space.is_group(f) and space.integer[f]:
                splits.setdefault(f, set()).add((int(inp), float(t_m)))
    guesses: dict[int, dict[tuple[int, float], np.ndarray]] = {}
    values: dict[int, np.ndarray] = {}
    for f, items in splits.items():
        s = int(space.start[f])
        guesses[f] = {}
        for inp, t_m in items:
            a, b = float(imap.A[inp, s]), float(imap.b[inp])
            k = np.floor((t_m - b) / a)
            guesses[f][(inp, t_m)] = np.arange(k - 2, k + 3)
        values[f] = np.unique(np.concatenate(list(guesses[f].values())))
    # every feature's candidates through the preprocessor in one call; a feature passed
    # through unchanged (a = 1, b = 0 to the bit: the model reads float64(value)) needs none
    scaled = {f: v for f, v in values.items()
              if any(imap.A[inp, int(space.start[f])] != 1.0 or imap.b[inp] != 0.0
                     for inp, _ in guesses[f])}
    exact = imap.exact(scaled) if imap.exact is not None and scaled else {}
    out: dict[tuple[int, float], float] = {}
    for f, cands in guesses.items():
        s = int(space.start[f])
        if f in exact:
            Z = cast(exact[f])
        else:
            Z = cast(values[f][:, None] * imap.A[:, s][None, :] + imap.b[None, :])
        pos = {v: i for i, v in enumerate(values[f])}
        for (inp, t_m), cand in cands.items():
            left = np.array([Z[pos[v], inp] <= t_m for v in cand])
            a = float(imap.A[inp, s])
            # increasing map: left is a prefix of the candidates; decreasing: a suffix
            if a > 0:
                k = cand[left].max() if left.any() else cand[0] - 1
                out[(inp, t_m)] = float(k + 0.5)
            else:
                k = cand[left].min() if left.any() else cand[-1] + 1
                out[(inp, t_m)] = float(k - 0.5)
    return out


def _leaf_conditions(ar_r: list[int], ar_c: list[int], al_r: list[int], al_c: list[int],
                     nodes: dict[str, np.ndarray], links: list[Any],
                     n_leaves: int) -> dict[str, np.ndarray]:
    """(leaf, node, side) triples of every leaf's path, grouped by (leaf, feature).

    The problem layer uses them to bound the cost of reaching each leaf from an
    applicant: per feature the farthest condition on the path, summed over features.
    """
    var_feature = np.full(max([int(np.max(lk.vars)) + 1 for lk in links], default=0), -1)
    for lk in links:
        var_feature[lk.vars] = lk.feature
    kind = nodes["kind"]
    node_feature = np.where(kind == 1, var_feature[nodes["var"]] if var_feature.size else -1,
                            np.where(kind == 2, nodes["group_feature"][nodes["group"]]
                                     if nodes["group_feature"].size else -1, -1))
    leaf = np.array(ar_r + al_r, dtype=np.int64)
    node = np.array(ar_c + al_c, dtype=np.int64)
    right = np.concatenate([np.ones(len(ar_r), bool), np.zeros(len(al_r), bool)])
    feat = node_feature[node] if node.size else node
    order = np.lexsort((feat, leaf))
    leaf, node, right, feat = leaf[order], node[order], right[order], feat[order]
    new_seg = np.ones(leaf.size, dtype=bool)
    if leaf.size:
        new_seg[1:] = (leaf[1:] != leaf[:-1]) | (feat[1:] != feat[:-1])
    starts = np.flatnonzero(new_seg)
    return {"node_feature": node_feature, "cond_node": node, "cond_right": right,
            "cond_starts": starts, "cond_seg_leaf": leaf[starts], "cond_seg_feature": feat[starts]}


def _flat_nodes(trees: list[dict[str, np.ndarray]], node_lits: list[list[tuple[str, Any]]],
                var_of_cut: dict[tuple[int, float], int], groups: list[int],
                space: SearchSpace) -> dict[str, np.ndarray]:
    """Flat node arrays over the whole ensemble (see ``TreeStructure.nodes``)."""
    gpos = {f: i for i, f in enumerate(groups)}
    width = max([len(space.levels[f] or ()) for f in groups], default=1)
    left, right, leaf, kind, var, sign, c0, group, table_rows = ([] for _ in range(9))
    roots = []
    base = leaf_count = 0
    for ta, lits in zip(trees, node_lits):
        roots.append(base)
        for node, (k, data) in enumerate(lits):
            is_leaf = ta["left"][node] == -1
            left.append(-1 if is_leaf else base + int(ta["left"][node]))
            right.append(-1 if is_leaf else base + int(ta["right"][node]))
            # leaves are numbered in the same order as encode_trees's _paths (DFS, left first)
            leaf.append(-1)
            kd, v, sg, cc, gr, row = 0, 0, 1.0, 0.0, 0, np.zeros(width, dtype=bool)
            if k == "cut":
                f, t, sgn = data
                kd, v, sg, cc = 1, var_of_cut[(f, t)], float(sgn), 0.0 if sgn > 0 else 1.0
            elif k == "levels":
                f, rset = data
                kd, gr = 2, gpos[f]
                row[rset] = True
            elif k == "const":
                cc = float(data)
            kind.append(kd)
            var.append(v)
            sign.append(sg)
            c0.append(cc)
            group.append(gr)
            table_rows.append(row)
        for node, _, _ in _paths(ta["left"], ta["right"]):
            leaf[base + node] = leaf_count
            leaf_count += 1
        base += len(lits)
    return {
        "left": np.array(left, dtype=np.int64), "right": np.array(right, dtype=np.int64),
        "leaf": np.array(leaf, dtype=np.int64), "roots": np.array(roots, dtype=np.int64),
        "kind": np.array(kind, dtype=np.int8), "var": np.array(var, dtype=np.int64),
        "sign": np.array(sign), "c0": np.array(c0), "group": np.array(group, dtype=np.int64),
        "table": np.array(table_rows, dtype=bool).reshape(len(kind), width),
        "group_feature": np.array(groups, dtype=np.int64),
    }


def _literal(inp: int, t_m: float, imap: InputMap, space: SearchSpace,
             cuts: dict[int, list[float]], used_groups: set[int],
             int_cut: dict[tuple[int, float], float],
             cut_origin: dict[int, list[tuple[float, bool, int, float, float]]],
             cast: Any = _f32,
             cont: dict[tuple[int, float], tuple[float, float, bool]] | None = None,
             ) -> tuple[str, Any]:
    """The right-branch literal of the split ``model_input[inp] <= t_m`` (``cont``:
    the continuous splits' boundaries, :func:`recourse.encoders.cells.continuous_cuts`)."""
    f = int(imap.source[inp])
    if f == -2:
        raise EncodingError(
            f"Model input #{inp} mixes several features; tree models need preprocessing that "
            "maps each model input from one feature (one-hot, ordinal, scalers, passthrough)."
        )
    if f == -1:
        goes_right = cast(imap.b[inp]) > t_m
        return ("const", 1.0 if goes_right else 0.0)
    s = int(space.start[f])
    if space.is_group(f):
        k = len(space.levels[f] or ())
        vals = cast(imap.A[inp, s : s + k] + imap.b[inp])
        right = np.flatnonzero(vals > t_m)
        if right.size == 0:
            return ("const", 0.0)
        if right.size == k:
            return ("const", 1.0)
        used_groups.add(f)
        return ("levels", (f, right.tolist()))
    a, b = float(imap.A[inp, s]), float(imap.b[inp])
    if space.integer[f]:
        t = int_cut[(inp, t_m)]
    else:
        if cast is _f64:
            t = (t_m - b) / a
            step = 1e-6 * max(1.0, abs(t))  # placement a thousandth of this beyond t
            decided = False
        else:
            assert cont is not None
            t, step, decided = cont[(inp, t_m)]
        if decided:  # by the preprocessor: t is on the upper side
            tie = True
        else:
            at_t = cast(a * t + b) > t_m  # where a value exactly at t goes (model side)
            tie = bool(at_t) == (a > 0)
        cut_origin.setdefault(f, []).append((step, tie, inp, t_m, a))
    cuts.setdefault(f, []).append(t)

    return ("cut", (f, t, 1 if a > 0 else -1))

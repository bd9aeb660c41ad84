"""The model's solver-neutral encoding over a numeric box, and the split points of tree
models along a line (shared by the ray tests, nearest points and Theorem 12)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["line_breakpoints"]


def _numeric_space(d: int, names: list[str], lower: np.ndarray | None = None,
                   upper: np.ndarray | None = None) -> Any:
    from recourse.encoders.domain import SearchSpace

    return SearchSpace(names=tuple(names), levels=(None,) * d, integer=np.zeros(d, bool),
                       lower=np.full(d, -np.inf) if lower is None else lower,
                       upper=np.full(d, np.inf) if upper is None else upper)


def _encode(model: Any, d: int, lower: np.ndarray | None = None,
            upper: np.ndarray | None = None) -> Any:
    """The model's encoding over the box ``[lower, upper]`` (default: unbounded; ReLU
    networks need a finite box for their big-M rows: the ray test passes the segment's)."""
    from recourse import encoders

    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(d)]
    return encoders.encode(model, _numeric_space(d, names, lower, upper))


def line_breakpoints(model: Any, x: np.ndarray, v: np.ndarray, s_lo: float = -np.inf,
                     s_hi: float = np.inf) -> np.ndarray:
    """Steps ``s`` at which a tree model's split indicators switch along ``x + s v``."""
    from recourse.encoders.block import ThresholdLink

    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float)
    enc = _encode(model, x.size)
    if enc.tree is None:
        raise ValueError("line_breakpoints needs a tree model (DecisionTree / RandomForest / "
                         "ExtraTrees).")
    out = []
    for link in enc.links:
        if isinstance(link, ThresholdLink) and v[link.feature] != 0:
            s = (link.thresholds - x[link.feature]) / v[link.feature]
            out.append(s[(s >= s_lo) & (s <= s_hi)])
    return np.unique(np.concatenate(out)) if out else np.zeros(0)


def _all_value_links(enc: Any) -> bool:
    from recourse.encoders.block import ValueLink

    return all(isinstance(link, ValueLink) for link in enc.links)

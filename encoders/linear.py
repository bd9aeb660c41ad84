"""Linear classifiers (LogisticRegression, LinearSVC, ...) as score rows.

Formulation: the model's decision function is ``coef @ model_input + intercept`` and the
model input is ``A @ s + b`` (``recourse.encoders.pipeline``), so every class score is a linear
row over the search variables ``s``: ``W = coef @ A``, ``w0 = coef @ b + intercept``. The
block's variables are the search variables themselves (numeric values in user units and
category level indicators); no rows are needed. Binary models predict ``classes[1]`` iff
the score is ``> 0`` (``decision == "sign"``); multiclass models take the argmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ValueLink
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError
from recourse.encoders.pipeline import InputMap

__all__ = ["encode_linear"]


def encode_linear(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(getattr(est, "intercept_", 0.0), dtype=float))
    if coef.shape[1] != imap.n_inputs:
        raise EncodingError(
            f"The linear model has {coef.shape[1]} coefficients but the preprocessing gives "
            f"{imap.n_inputs} inputs."
        )
    classes = np.asarray(est.classes_)
    if coef.shape[0] == 1 and len(classes) != 2:
        raise EncodingError("A single coefficient row needs exactly two classes.")
    W = coef @ imap.A
    w0 = coef @ imap.b + (intercept if intercept.size == coef.shape[0] else intercept[0])
    n = space.n_vars
    links: list[Any] = []
    for j in range(space.n_features):
        vars_ = space.vars_of(j)
        links.append(GroupLink(j, vars_) if space.is_group(j) else ValueLink(j, int(vars_[0])))
    lb = np.where(np.isnan(space.lower), 0.0, 0.0)
    lb = np.zeros(n)
    ub = np.ones(n)
    integer = np.ones(n, dtype=bool)
    for j in range(space.n_features):
        if not space.is_group(j):
            s = int(space.start[j])
            lb[s], ub[s] = space.lower[j], space.upper[j]
            integer[s] = bool(space.integer[j])
    return EncodedModel(
        kind="linear",
        classes=classes,
        decision="sign" if coef.shape[0] == 1 else "argmax",
        lb=lb,
        ub=ub,
        integer=integer,
        rows=sp.csr_matrix((0, n)),
        row_lo=np.zeros(0),
        row_hi=np.zeros(0),
        links=tuple(links),
        score=sp.csr_matrix(W),
        score0=np.asarray(w0, dtype=float),
        space_start=space.start.copy(),
        info={"n_scores": int(W.shape[0])},
    )

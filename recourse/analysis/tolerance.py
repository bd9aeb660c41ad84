"""One zero tolerance for attributions, the same in every function of ``recourse.analysis``.

An attribution ``v = phi(x)`` whose entries are floating-point leftovers of an exact zero
(``1e-16`` where the theory says ``0``) has no direction: the ray test would step
``δ/||v||`` (about ``1e15``) along noise and could report that it *provides* recourse.
So ``v`` counts as zero when

``||v||_∞ <= ZERO_RTOL · scale``,   ``scale = max(||x||_∞, δ, |f(x)|, ref)``

— relative to the inputs (``x`` and the budget ``δ``, in the features' units) and to the
function's scale (``|f(x)|``, and the optional ``ref``, e.g. the largest attribution of a
batch). ``ZERO_RTOL = 1e-10``: far above the rounding of a sum of a few hundred terms
(``~1e-14`` relative) and far below any attribution that carries a direction. When every
quantity is 0 (``x = 0``, ``f(x) = 0``, no budget), ``scale`` is the smallest normal float,
so only an exact zero counts as zero.

Entries of ``v`` are compared with the same tolerance when a constraint asks which features
a direction changes (``||v||_0 <= k``, immutable features): an entry ``|v_j| <= tol`` does
not change feature ``j``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ZERO_RTOL", "zero_tolerance", "is_zero"]

#: Relative zero tolerance of attributions (see the module docstring).
ZERO_RTOL = 1e-10


def zero_tolerance(x: Any, fx: float = 0.0, delta: float = 0.0, *, ref: float = 0.0,
                   rtol: float = ZERO_RTOL) -> float:
    """The absolute tolerance below which an attribution at ``x`` counts as zero.

    Parameters
    ----------
    x : array-like
        The point (features' units).
    fx : float
        The score ``f(x)``.
    delta : float
        The budget (features' units).
    ref : float
        Any further scale of the attribution (e.g. ``max |phi|`` over a batch).
    rtol : float
        Relative tolerance (default :data:`ZERO_RTOL`).

    Returns
    -------
    float
        ``rtol · max(||x||_∞, δ, |f(x)|, ref)`` (at least the smallest normal float).
    """
    xa = np.abs(np.asarray(x, dtype=float))
    vals = [float(xa.max()) if xa.size else 0.0, abs(float(delta)), abs(float(fx)),
            abs(float(ref))]
    scale = max(v for v in vals if np.isfinite(v)) if any(np.isfinite(vals)) else 0.0
    return rtol * max(scale, np.finfo(float).tiny)


def is_zero(v: Any, tol: float) -> bool:
    """``||v||_∞ <= tol``."""
    va = np.abs(np.asarray(v, dtype=float))
    return bool(va.size == 0 or va.max() <= tol)

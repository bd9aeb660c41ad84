"""Utility functions of the outcome form ``u_f(x, y) = ũ(f(x), f(y))`` (docs/theory.md §A3).

All three families are linear in ``(f(x), f(y))`` once ``τ`` is fixed:
``f(y) − κ f(x) ≥ τ'`` with

* ``"class"``  (reach a class):          ``u = f(y)``,          ``κ = 0``, ``τ' = τ``;
* ``"gain"``   (raise the score by τ):   ``u = f(y) − f(x)``,   ``κ = 1``, ``τ' = τ``;
* ``"ratio"``  (raise by ``p·100 %``):   ``u = f(y) / f(x)``,   ``τ = 1 + p``, ``κ = τ``,
  ``τ' = 0``; defined only where ``f(x) > 0`` (an error otherwise);
* ``"lower_ratio"`` (lower by a factor): ``u = f(x) / f(y)`` ≥ ``τ`` with ``f > 0``, i.e.
  ``−f(y) + f(x)/τ ≥ 0``: ``κ = −1/τ`` applied to ``−f``. It is handled by the general
  ``value`` only (used for docs/theory.md §A13.2); the exact 1D machinery supports the three
  linear families.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Utility", "UTILITY_KINDS"]

UTILITY_KINDS = ("class", "gain", "ratio", "lower_ratio")


@dataclass(frozen=True)
class Utility:
    """A utility family and its threshold ``tau``.

    Parameters
    ----------
    kind : {"class", "gain", "ratio", "lower_ratio"}
    tau : float
        The user is satisfied when ``u_f(x, y) >= tau``. For ``"ratio"``, ``tau = 1 + p``
        (use :meth:`raise_by_fraction`).
    tol : float
        Utilities are compared as ``u >= tau - tol`` (floating-point slack; default 0).
    """

    kind: str = "class"
    tau: float = 0.0
    tol: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in UTILITY_KINDS:
            raise ValueError(
                f"The 'kind' parameter of Utility must be one of {UTILITY_KINDS}. "
                f"Got {self.kind!r} instead.")
        if self.kind in ("ratio", "lower_ratio") and not self.tau > 0:
            raise ValueError(f"A {self.kind} utility needs tau > 0 (tau = 1 + p); got {self.tau}.")

    @classmethod
    def reach_class(cls, tau: float = 0.0) -> Utility:
        return cls("class", tau)

    @classmethod
    def raise_by(cls, tau: float) -> Utility:
        return cls("gain", tau)

    @classmethod
    def raise_by_fraction(cls, p: float) -> Utility:
        """Raise the score by ``p·100 %`` (``f(y)/f(x) >= 1 + p``)."""
        return cls("ratio", 1.0 + p)

    @property
    def linear_form(self) -> tuple[float, float]:
        """``(κ, τ')`` such that the condition reads ``f(y) − κ f(x) >= τ'``."""
        if self.kind == "class":
            return 0.0, self.tau
        if self.kind == "gain":
            return 1.0, self.tau
        if self.kind == "ratio":
            return self.tau, 0.0
        raise ValueError("lower_ratio has no form f(y) - kappa f(x) >= tau'; use value().")

    def value(self, fx: np.ndarray | float, fy: np.ndarray | float) -> np.ndarray:
        """``u_f(x, y)`` from the scores ``f(x)`` and ``f(y)``."""
        fx = np.asarray(fx, dtype=float)
        fy = np.asarray(fy, dtype=float)
        if self.kind == "class":
            return fy + 0.0 * fx
        if self.kind == "gain":
            return fy - fx
        if np.any(fx <= 0) or (self.kind == "lower_ratio" and np.any(fy <= 0)):
            raise ValueError(
                f"A {self.kind} utility needs a positive score f; got f <= 0. Use a gain "
                "utility, or shift the score.")
        return fy / fx if self.kind == "ratio" else fx / fy

    def satisfied(self, fx: np.ndarray | float, fy: np.ndarray | float) -> np.ndarray:
        return np.asarray(self.value(fx, fy) >= self.tau - self.tol)

    def describe(self) -> str:
        if self.kind == "class":
            return f"reach the class: f(y) ≥ {self.tau:g}"
        if self.kind == "gain":
            return f"raise the score by {self.tau:g}: f(y) − f(x) ≥ {self.tau:g}"
        if self.kind == "ratio":
            return f"raise the score by {100 * (self.tau - 1):g} %: f(y)/f(x) ≥ {self.tau:g}"
        return f"lower the score by a factor {self.tau:g}: f(x)/f(y) ≥ {self.tau:g}"

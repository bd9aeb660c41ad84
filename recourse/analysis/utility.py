"""Utility functions of the outcome form ``u_f(x, y) = ũ(f(x), f(y))`` (docs/theory.md §A3).

All three families are linear in ``(f(x), f(y))`` once ``τ`` is fixed:
``f(y) − κ f(x) ≥ τ'`` with

* ``"class"``  (reach a class):          ``u = f(y)``,          ``κ = 0``, ``τ' = τ``; for a
  classifier ``f`` is :func:`recourse.analysis.scores.class_score` (the target's lead in the
  engine's units) and ``τ`` is the **margin** by which the target must win — one
  definition for :func:`ray_test` (pass ``class_score(model)`` as the score),
  :func:`ray_test_model`, :func:`nearest` and :func:`recourse_exists` (which hand the same
  margin to the engine). sklearn predicts the target only on a strict win, so a point
  with ``class_score = 0`` satisfies the margin-0 utility but is not predicted as the
  target: use a positive margin (the engine's default is ``1e-6``,
  :data:`ENGINE_MARGIN`) whenever the model's ``predict`` must agree;
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

__all__ = ["Utility", "UTILITY_KINDS", "ENGINE_MARGIN"]

#: The engine's default class margin (``recourse.engine.DEFAULT_MARGIN``).
ENGINE_MARGIN = 1e-6

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
    def reach_class(cls, tau: float = 0.0, *, margin: float | None = None) -> Utility:
        """Reach a class: ``f(y) >= tau``; for a classifier ``f`` is the class score and
        ``tau`` (or the keyword ``margin``, the same number) the margin of the win."""
        return cls("class", tau if margin is None else float(margin))

    @property
    def margin(self) -> float:
        """The class margin (``tau`` of a class utility)."""
        if self.kind != "class":
            raise ValueError(f"A {self.kind} utility has no class margin.")
        return self.tau

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

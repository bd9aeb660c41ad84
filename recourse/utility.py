"""Recourse for regressors and score thresholds: the utility functions of docs/theory.md §A3.

The user is satisfied when ``u_f(x0, y) >= tau``; all three families are linear in
``(f(x0), f(y))`` once ``tau`` is fixed, ``f(y) - kappa f(x0) >= tau'``:

* :meth:`Utility.reach` (``u = f(y)``): the score reaches ``tau``, ``f(y) >= tau``;
* :meth:`Utility.increase` (``u = f(y) - f(x0)``): the score rises by at least ``tau``;
* :meth:`Utility.relative_increase` (``u = f(y) / f(x0)``, ``tau = 1 + p``): the score rises
  by at least ``p * 100 %``, ``f(y) >= (1 + p) f(x0)``. This is defined for ``f(x0) > 0``
  only: for ``f(x0) < 0`` the ratio form would ask to *lower* the score (``f(y) / f(x0) >=
  1 + p`` means ``f(y) <= (1 + p) f(x0)``), and for ``f(x0) = 0`` every relative increase is
  zero; both raise an error that suggests :meth:`Utility.increase` with an absolute amount.

``f`` is the model's score: a regressor's prediction, or a binary classifier's margin
(``decision_function``; for models without one, such as ``MLPClassifier``, the logit of
``predict_proba``). The condition is encoded as a threshold on the encoding's score row
(``EncodedModel.with_threshold``) and every answer is verified with the model's own
``predict`` / ``decision_function`` / ``predict_proba``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.encoders.errors import InputValidationError
from recourse.schema import FeatureSchema
from recourse.verify import model_input


__all__ = ["Utility", "model_score"]

_KINDS = ("reach", "increase", "relative_increase")


@dataclass(frozen=True)
class Utility:
    """A utility ``u_f(x0, y) >= tau`` of docs/theory.md §A3 (see module docstring).

    Build one with :meth:`reach`, :meth:`increase` or :meth:`relative_increase`.

    Examples
    --------
    >>> Utility.increase(5000.0).threshold(20000.0)
    25000.0
    >>> Utility.relative_increase(0.1).threshold(200.0)
    220.00000000000003
    """

    kind: str
    tau: float

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputValidationError(
                f"Utility kind must be one of {_KINDS}. Got {self.kind!r} instead.")
        if not np.isfinite(self.tau):
            raise InputValidationError(f"The utility's amount must be finite, got {self.tau}.")
        if self.kind == "relative_increase" and self.tau <= -1.0:
            raise InputValidationError(
                f"A relative increase must be > -100 %, got p = {self.tau}.")

    @classmethod
    def reach(cls, tau: float) -> Utility:
        """``f(y) >= tau``: the score (prediction or margin) reaches ``tau``."""
        return cls("reach", float(tau))

    @classmethod
    def increase(cls, tau: float) -> Utility:
        """``f(y) - f(x0) >= tau``: the score rises by at least ``tau``."""
        return cls("increase", float(tau))

    @classmethod
    def relative_increase(cls, p: float) -> Utility:
        """``f(y) / f(x0) >= 1 + p`` with ``f(x0) > 0``: the score rises by ``p * 100 %``."""
        return cls("relative_increase", float(p))

    def threshold(self, f0: float) -> float:
        """The score ``f(y)`` must reach at an applicant whose score is ``f0``."""
        if self.kind == "reach":
            return self.tau
        if self.kind == "increase":
            return f0 + self.tau
        if not f0 > 0:
            raise InputValidationError(
                f"A relative increase needs a positive score, but the applicant's score is "
                f"{f0:.6g}: f(y) / f(x0) >= 1 + p would ask to lower it (or is void at 0). "
                "Use Utility.increase(amount) for an absolute rise instead."
            )
        return (1.0 + self.tau) * f0

    def __str__(self) -> str:
        return {"reach": f"score >= {self.tau:g}", "increase": f"score + {self.tau:g}",
                "relative_increase": f"score x {1 + self.tau:g}"}[self.kind]


def model_score(model: Any, schema: FeatureSchema,
                rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The model's own score ``f`` on rows ``{name: value}`` (see module docstring)."""
    X = model_input(model, schema, rows)
    if not hasattr(model, "classes_"):
        return np.asarray(model.predict(X), dtype=float).ravel()
    if len(model.classes_) != 2:
        raise InputValidationError(
            f"A score utility needs a regressor or a binary classifier; this model has "
            f"{len(model.classes_)} classes. Name the class to reach with target=... instead."
        )
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=float).ravel()
    from scipy.special import logit

    return np.asarray(logit(np.asarray(model.predict_proba(X))[:, 1]), dtype=float)

"""The one orchestration point: validate -> encode -> problem -> solve -> decode -> verify."""

from __future__ import annotations

from typing import Any

__all__ = ["RecourseEngine", "find_recourse", "NORMS"]

NORMS = ("l1", "l0", "l0_l1")


class RecourseEngine:
    """Build a model's encoding once; explain many applicants.

    Parameters
    ----------
    model : fitted sklearn estimator or Pipeline
    schema : FeatureSchema
    reference : DataFrame, optional
        Known data (e.g. the training set) used to find a good starting solution quickly.
    backend : str
        "highs" (default).
    """

    def __init__(self, model: Any, schema: Any, *, reference: Any = None,
                 backend: str = "highs") -> None:
        raise NotImplementedError

    def explain(self, applicant: Any, *, target: Any = None, norm: str = "l1",
                time_limit: float = 60.0) -> Any:
        raise NotImplementedError


def find_recourse(model: Any, applicant: Any, schema: Any, *, target: Any = None,
                  norm: str = "l1", backend: str = "highs", time_limit: float = 60.0,
                  reference: Any = None) -> Any:
    raise NotImplementedError

"""Believable and robust recourse from the command line: the flags of ``recourse explain``,
``letter`` and ``audit`` turned into engine options.

The flags (see :class:`RobustFlags`):

``--min-margin M``
    The target class must win by at least ``M`` (``explain(..., min_margin=M)``).
``--box``
    Attach the certified box around the answer (``explain(..., box=True)``).
``--data TRAIN``
    Training rows (CSV/Parquet, or ``german`` / ``credit_data`` for a bundled data set's
    training split, seed 0; :func:`recourse.loading.load_training`) for the data-driven
    options below; also used as reference rows for faster first solutions (same answers),
    and to report every answer's isolation-forest score (``stats.plausibility_score``)
    whether or not ``--plausible`` requires it.
``--seen-together``
    :class:`~recourse.seen.SeenTogether` fitted on ``--data``.
``--plausible [--min-score S]``
    An isolation forest (:func:`recourse.loading.fit_isolation_forest`) fitted on
    ``--data`` through the model's own preprocessing when the model is a Pipeline, wrapped
    with the classifier in a :class:`~recourse.encoders.isolation.PlausibleModel`.
``--also-model FILE`` (repeatable)
    Alternative fitted models; the answer must be approved by all of them
    (:class:`~recourse.encoders.multi.ModelSet`).
``--support R [--support-k K]``
    Data support (:class:`~recourse.support.DataSupport`) on the rows of ``--data`` the
    model puts in the target class.

Nothing here solves anything: :func:`build_robust` returns the model to encode and the
keyword arguments of the engine and of its ``explain``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recourse.encoders.errors import EncodingError, InputValidationError
from recourse.loading import fit_isolation_forest, load_training
from recourse.schema import FeatureSchema

__all__ = ["RobustFlags", "RobustSetup", "audit_options", "build_robust", "flags_from"]


@dataclass(frozen=True)
class RobustFlags:
    """The robust/believable options of one command, as given on the command line."""

    min_margin: float | None = None
    box: bool = False
    data: str | None = None
    seen_together: bool = False
    plausible: bool = False
    min_score: float | None = None
    also_models: tuple[Path, ...] = field(default_factory=tuple)
    support: float | None = None
    support_k: int = 1

    def any(self) -> bool:
        """Whether any option is on (else the command runs exactly as without them)."""
        return (self.min_margin is not None or self.box or self.data is not None
                or self.seen_together or self.plausible or self.min_score is not None
                or bool(self.also_models) or self.support is not None
                or self.support_k != 1)

    def check(self, data_flag: str = "--data") -> None:
        """Flag combinations that cannot work, named with their fix.

        Raises
        ------
        InputValidationError
            ``--min-score`` without ``--plausible``; ``--seen-together``, ``--plausible``
            or ``--support`` without training data; a negative or non-finite margin or
            radius; ``--support-k`` without ``--support`` or below 1.
        """
        if self.min_margin is not None and not (math.isfinite(self.min_margin)
                                                and self.min_margin >= 0):
            raise InputValidationError(
                f"--min-margin must be a finite number >= 0, got {self.min_margin}.")
        if self.min_score is not None and not self.plausible:
            raise InputValidationError(
                "--min-score is the plausibility threshold of --plausible; add --plausible "
                "(with --data TRAIN) or drop --min-score.")
        if self.support is not None and not (math.isfinite(self.support)
                                             and self.support > 0):
            raise InputValidationError(
                f"--support is a distance in MAD-scaled units and must be > 0, got "
                f"{self.support}.")
        if self.support_k != 1 and self.support is None:
            raise InputValidationError(
                "--support-k is the number of supporting rows of --support; add --support "
                "RADIUS or drop --support-k.")
        if self.support_k < 1:
            raise InputValidationError(f"--support-k must be at least 1, got {self.support_k}.")
        need = [f for f, on in (("--seen-together", self.seen_together),
                                ("--plausible", self.plausible),
                                ("--support", self.support is not None)) if on]
        if need and self.data is None:
            raise InputValidationError(
                f"{' and '.join(need)} {'needs' if len(need) == 1 else 'need'} the training "
                f"data: pass {data_flag} TRAIN.csv|parquet, or {data_flag} german / "
                f"{data_flag} credit_data for a bundled data set's training split.")


@dataclass(frozen=True)
class RobustSetup:
    """What :func:`build_robust` makes of the flags.

    Attributes
    ----------
    model : object
        The model to encode: the loaded one, or a ``ModelSet`` / ``PlausibleModel``.
    engine_kwargs : dict
        For the engine (``reference``, ``seen_together``, ``plausibility``, ``support``).
    explain_kwargs : dict
        For ``explain`` / ``options`` (``min_margin``, ``box``).
    iforest : object or None
        The isolation forest fitted on ``--data`` (required by ``--plausible``, else
        reported only).
    data : DataFrame or None
        The training rows of ``--data``.
    """

    model: Any
    engine_kwargs: dict[str, Any]
    explain_kwargs: dict[str, Any]
    iforest: Any = None
    data: pd.DataFrame | None = None


def flags_from(min_margin: float | None, box: bool, data: str | None, seen_together: bool,
               plausible: bool, min_score: float | None,
               also_model: Sequence[Path] | None, support: float | None = None,
               support_k: int = 1) -> RobustFlags:
    """:class:`RobustFlags` from typer's parameters (``also_model`` None when absent)."""
    return RobustFlags(min_margin=min_margin, box=box, data=data,
                       seen_together=seen_together, plausible=plausible,
                       min_score=min_score, also_models=tuple(also_model or ()),
                       support=support, support_k=support_k)


def build_robust(model: Any, schema: FeatureSchema, flags: RobustFlags, *,
                 trust_pickle: bool = False, data_flag: str = "--data",
                 target: Any = None) -> RobustSetup:
    """Turn the flags into the model to encode and the engine's and explain's options.

    Raises
    ------
    InputValidationError
        See :meth:`RobustFlags.check` and :func:`recourse.loading.load_training`; an
        ``--also-model`` or ``--plausible`` combination the encoders do not support
        (message from the encoder, prefixed with the flag); ``--support`` without a target.
    """
    from recourse.io import load_model
    from recourse.seen import SeenTogether

    flags.check(data_flag)
    data = load_training(flags.data, schema, data_flag) if flags.data is not None else None
    wrapped = model
    if flags.also_models:
        from recourse.encoders.multi import ModelSet

        others = [load_model(p, trust_pickle=trust_pickle) for p in flags.also_models]
        try:
            wrapped = ModelSet([model, *others])
        except EncodingError as exc:
            raise InputValidationError(f"--also-model: {exc}") from None
    iforest = None
    if flags.plausible:
        from recourse.encoders.isolation import PlausibleModel

        assert data is not None  # checked above
        iforest = fit_isolation_forest(model, data)
        try:
            wrapped = PlausibleModel(wrapped, iforest, min_score=flags.min_score)
        except EncodingError as exc:
            both = " (with --also-model)" if flags.also_models else ""
            raise InputValidationError(f"--plausible{both}: {exc}") from None
    engine_kwargs: dict[str, Any] = {}
    if data is not None:
        engine_kwargs["reference"] = data
        if iforest is None:  # report every answer's plausibility, required or not
            iforest = fit_isolation_forest(model, data)
            engine_kwargs["plausibility"] = iforest
    if flags.seen_together:
        engine_kwargs["seen_together"] = SeenTogether.fit(data, schema)
    if flags.support is not None:
        from recourse.support import DataSupport

        if target is None:
            raise InputValidationError(
                "--support needs --target: the supporting rows are those of --data the "
                "model puts in the target class.")
        assert data is not None  # checked above
        engine_kwargs["support"] = DataSupport.from_model(
            data, model, schema, target=target, k=flags.support_k, radius=flags.support)
    explain_kwargs: dict[str, Any] = {}
    if flags.min_margin is not None:
        explain_kwargs["min_margin"] = float(flags.min_margin)
    if flags.box:
        explain_kwargs["box"] = True
    return RobustSetup(model=wrapped, engine_kwargs=engine_kwargs,
                       explain_kwargs=explain_kwargs, iforest=iforest, data=data)


def audit_options(schema: Any, reference: str | None, min_margin: float | None,
                  seen_together: bool, support: float | None = None, support_k: int = 1,
                  model: Any = None, target: Any = None) -> dict[str, Any]:
    """Keyword arguments of :func:`recourse.audit.audit` for ``recourse audit``'s
    ``--reference``, ``--min-margin``, ``--seen-together`` and ``--support`` (fitted on
    the reference rows: the audit's ``--data`` is the applicants, not the training data).

    Raises
    ------
    InputValidationError
        ``--seen-together`` without ``--reference``; a bad margin; see
        :func:`recourse.loading.load_training`.
    """
    from recourse.io import load_schema
    from recourse.seen import SeenTogether

    RobustFlags(min_margin=min_margin, support=support, support_k=support_k,
                data=reference).check("--reference")
    out: dict[str, Any] = {"reference": None}
    if seen_together and reference is None:
        raise InputValidationError(
            "--seen-together needs the training rows to learn which category pairs occur: "
            "pass --reference TRAIN.csv|parquet (or --reference german / credit_data for a "
            "bundled training split); the audit's --data holds the applicants.")
    if (reference is not None and not seen_together and support is None
            and Path(reference).is_file()):
        out["reference"] = Path(reference)  # read by the audit itself, as before
    elif reference is not None:
        feature_schema = schema if isinstance(schema, FeatureSchema) else load_schema(schema)
        train = load_training(reference, feature_schema, "--reference")
        out["reference"] = train
        if seen_together:
            out["seen_together"] = SeenTogether.fit(train, feature_schema)
        if support is not None:
            from recourse.support import DataSupport

            out["support"] = DataSupport.from_model(train, model, feature_schema,
                                                    target=target, k=support_k,
                                                    radius=support)
    if min_margin is not None:
        out["min_margin"] = float(min_margin)
    return out

"""Believable and robust recourse from files: what ``recourse explain``, ``letter`` and
``audit`` need to turn their flags into engine options, and to show the results.

The flags (see :class:`RobustFlags`):

``--min-margin M``
    The target class must win by at least ``M`` (``explain(..., min_margin=M)``).
``--box``
    Attach the certified box around the answer (``explain(..., box=True)``).
``--data TRAIN``
    Training rows (CSV/Parquet, or ``german`` / ``credit_data`` for a bundled data set's
    training split, seed 0) for the data-driven options below; also used as reference
    rows for faster first solutions (same answers), and to report every answer's
    isolation-forest score (``stats["plausibility_score"]``) whether or not
    ``--plausible`` requires it.
``--seen-together``
    :class:`~recourse.seen.SeenTogether` fitted on ``--data``.
``--plausible [--min-score S]``
    An ``IsolationForest`` (``ISO_TREES`` trees, seed 0) fitted on ``--data`` through the
    model's own preprocessing when the model is a Pipeline, wrapped with the classifier
    in a :class:`~encoders.isolation.PlausibleModel`.
``--also-model FILE`` (repeatable)
    Alternative fitted models; the answer must be approved by all of them
    (:class:`~encoders.multi.ModelSet`).

Nothing here solves anything: :func:`build_robust` returns the model to encode and the
keyword arguments of :class:`~recourse.explain.RecourseEngine` and of its ``explain``.
:func:`robust_rows` and :func:`box_phrases` word the results for the CLI and the letters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recourse.encoders.errors import EncodingError, InputValidationError, cap_list
from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["ISO_TREES", "RobustFlags", "RobustSetup", "audit_options", "box_phrases",
           "build_robust", "flags_from", "range_sentence",
           "fit_isolation_forest", "load_training", "range_phrase", "robust_rows"]

#: Trees of the isolation forest ``--plausible`` fits (each becomes part of the MILP;
#: 50 trees of at most 256 samples keep the German RF 100x6 answers near 0.1 s).
ISO_TREES = 50
#: Samples per isolation tree (sklearn's default ``"auto"`` is ``min(256, n)``).
ISO_SAMPLES = 256
_FLAG_NAME = {"min_margin": "--min-margin", "seen_together": "--seen-together",
              "plausibility": "--plausible", "models": "--also-model", "support": "--support",
              "all options": "all options"}


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
            ``--min-score`` without ``--plausible``; ``--seen-together`` or
            ``--plausible`` without training data; a negative or non-finite margin.
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
        For :class:`~recourse.explain.RecourseEngine` (``reference``, ``seen_together``).
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


def load_training(source: str | Path, schema: FeatureSchema,
                  flag: str = "--data") -> pd.DataFrame:
    """Training rows from a CSV/Parquet file, or a bundled data set's training split.

    Parameters
    ----------
    source : str or Path
        A file path, or ``"german"`` / ``"credit_data"`` (the stratified 70 % split of
        :func:`recourse.datasets.train_test`, seed 0: the rows the bundled models see).
    schema : FeatureSchema
        Every schema feature must be a column; other columns are ignored.
    flag : str
        The option's name in messages.

    Raises
    ------
    InputValidationError
        The file does not exist and is no bundled name; a feature column is missing;
        a feature has missing values or a category the schema does not know.
    """
    from recourse.datasets import DATASETS, train_test
    from recourse.io import read_table

    path = Path(source)
    if path.is_file():
        frame = read_table(path)
    elif str(source) in DATASETS:
        frame = train_test(str(source), seed=0)[0]
    else:
        raise InputValidationError(
            f"{flag} {str(source)!r} is neither a file nor a bundled data set "
            f"({', '.join(DATASETS)}); give a CSV/Parquet of the training rows.")
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise InputValidationError(
            f"{flag} lacks {len(missing)} of the schema's feature columns: "
            f"{cap_list(missing)}; give the training rows the model was fitted on.")
    frame = frame[schema.names]
    if len(frame) == 0:
        raise InputValidationError(f"{flag} has no rows.")
    bad = frame.columns[frame.isna().any()].tolist()
    if bad:
        raise InputValidationError(
            f"{flag} has missing values in {cap_list(bad)} "
            f"({int(frame[bad].isna().any(axis=1).sum())} rows); drop or impute them first.")
    for f in schema:
        if f.is_group:
            unknown = sorted(set(frame[f.name].astype(object)) - set(f.categories or ()),
                             key=str)
            if unknown:
                raise InputValidationError(
                    f"{flag}: {f.name!r} has levels the schema does not know: "
                    f"{cap_list(unknown)}; use the schema the model was trained with.")
    return frame.reset_index(drop=True)


def fit_isolation_forest(model: Any, X: pd.DataFrame, *, n_estimators: int = ISO_TREES,
                         seed: int = 0) -> Any:
    """An ``IsolationForest`` on ``X``, behind a fresh copy of the model's preprocessing
    when ``model`` is a Pipeline (so it reads the same columns as the model)."""
    from sklearn.base import clone
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import Pipeline

    iso = IsolationForest(n_estimators=n_estimators, max_samples=min(ISO_SAMPLES, len(X)),
                          random_state=seed)
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        steps = [(name, clone(step)) for name, step in model.steps[:-1]]
        return Pipeline([*steps, ("iso", iso)]).fit(X)
    return iso.fit(X)


def build_robust(model: Any, schema: FeatureSchema, flags: RobustFlags, *,
                 trust_pickle: bool = False, data_flag: str = "--data",
                 target: Any = None) -> RobustSetup:
    """Turn the flags into the model to encode and the engine's and explain's options.

    Raises
    ------
    InputValidationError
        See :meth:`RobustFlags.check` and :func:`load_training`; an ``--also-model`` or
        ``--plausible`` combination the encoders do not support (message from the
        encoder, prefixed with the flag).
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


# ------------------------------------------------------------------ wording
def _inward(value: float, side: str, integer: bool) -> float:
    """``value`` rounded to what ``fmt_number`` shows, towards the inside of the range
    (an upper end down, a lower end up), so a printed end is never outside the box."""
    if integer or abs(value - round(value)) < 1e-9:
        return float(round(value))
    scaled = value * 100.0
    return (math.floor(scaled + 1e-9) if side == "upper" else math.ceil(scaled - 1e-9)) / 100.0


def range_phrase(box: Any, name: str, schema: FeatureSchema | None = None,
                 ) -> tuple[str, float | None, float | None] | None:
    """``("7,839 DM or less", None, 7839.0)``: the range of ``name`` in ``box`` in the
    schema's units, with the printed ends (None for a side the action set closes, which
    is left unsaid); None when the feature has no range set by the model.

    The ends are rounded inwards to the shown precision (see :func:`_inward`)."""
    from recourse.letters.text import feature_of, fmt_value

    if name not in box.bounds:
        return None
    lo, hi = box.bounds[name]
    limits = ("model", "margin")  # a side the action set closes is left unsaid
    up = box.faces.get((name, "upper")) in limits
    down = box.faces.get((name, "lower")) in limits
    if lo == hi or not (up or down):
        return None
    f = feature_of(schema, name) if schema is not None else None
    integer = f is not None and f.kind == "integer"
    a = _inward(lo, "lower", integer) if down else None
    b = _inward(hi, "upper", integer) if up else None
    if a is not None and b is not None and a > b:  # a sliver narrower than the precision
        a, b = float(lo), float(hi)

    def show(v: float) -> str:
        return fmt_value(f, v) if f is not None else f"{v:.6g}"

    if a is not None and b is not None:
        return f"between {show(a)} and {show(b)}", a, b
    if b is not None:
        return f"{show(b)} or less", None, b
    assert a is not None
    return f"{show(a)} or more", a, None


def box_phrases(box: Any, schema: FeatureSchema | None = None) -> list[tuple[str, str]]:
    """``[(feature, "Credit amount: 7,839 DM or less"), ...]`` for every feature whose
    range the model sets (as ``CertifiedBox.advice(schema)``, ends rounded inwards)."""
    from recourse.letters.text import feature_of

    out = []
    for name in box.bounds:
        got = range_phrase(box, name, schema)
        if got is None:
            continue
        f = feature_of(schema, name) if schema is not None else None
        label = f.display if f is not None else name
        out.append((name, f"{label[:1].upper()}{label[1:]}: {got[0]}"))
    return out


def _num(x: Any, spec: str = ".4g") -> str:
    return "–" if x is None else format(float(x), spec)  # noqa: RUF001 (a dash for "none")


def robust_rows(result: RecourseResult, schema: FeatureSchema) -> list[tuple[str, str]]:
    """``(label, text)`` rows for the CLI summary: margin reached, plausibility score,
    unseen category pairs, cost without each option, the blocking option, the certified
    ranges (or why there is no box). Empty when no option was on."""
    s = result.stats
    rows: list[tuple[str, str]] = []
    if s.get("min_margin") is not None:
        rows.append(("min margin / reached",
                     f"{_num(s['min_margin'])} / {_num(s.get('margin'))} "
                     f"({s.get('margin_units', '')})"))
    if s.get("plausibility_score") is not None:
        score, need = s["plausibility_score"], s.get("plausibility_min_score")
        verdict = "" if need is None else (
            " (plausible: at least " if score >= need else " (implausible: below ") + \
            f"{need:.4f})"
        rows.append(("plausibility score", f"{score:.4f}{verdict}"))
    if s.get("unseen_pairs") is not None:
        rows.append(("unseen category pairs", str(s["unseen_pairs"])))
    if s.get("support") is not None:
        dist = s.get("support_distance")
        rows.append(("supporting rows (within the radius)",
                     str(s["support"]) + (f"; distance to the k-th nearest {_num(dist)}"
                                          if dist is not None else "")))
    for option, cost in (s.get("cost_without") or {}).items():
        rows.append((f"cost without {_FLAG_NAME.get(option, option)}",
                     "no recourse" if cost is None else _num(cost)))
    blocking = s.get("blocking_options") or ([s["blocking_option"]]
                                             if s.get("blocking_option") else [])
    if blocking:
        rows.append(("blocked by", ", ".join(f"{_FLAG_NAME.get(o, o)} ({o})"
                                             for o in blocking)))
    if result.box is not None:
        phrases = [p for _, p in box_phrases(result.box, schema)]
        rows.append(("certified ranges", "; ".join(phrases) + (
            " (every combination approved; categories as in the answer)" if phrases else
            "none: every face of the box is the action set's limit")))
    elif s.get("box_error"):
        rows.append(("certified ranges", f"not available: {s['box_error']}"))
    return rows


def flags_from(min_margin: float | None, box: bool, data: str | None, seen_together: bool,
               plausible: bool, min_score: float | None,
               also_model: Sequence[Path] | None, support: float | None = None,
               support_k: int = 1) -> RobustFlags:
    """:class:`RobustFlags` from typer's parameters (``also_model`` None when absent)."""
    return RobustFlags(min_margin=min_margin, box=box, data=data,
                       seen_together=seen_together, plausible=plausible,
                       min_score=min_score, also_models=tuple(also_model or ()),
                       support=support, support_k=support_k)


def audit_options(schema: Any, reference: str | None, min_margin: float | None,
                  seen_together: bool, support: float | None = None, support_k: int = 1,
                  model: Any = None, target: Any = None) -> dict[str, Any]:
    """Keyword arguments of :func:`recourse.audit.audit` for ``recourse audit``'s
    ``--reference``, ``--min-margin`` and ``--seen-together`` (fitted on the reference
    rows: the audit's ``--data`` is the applicants, not the training data).

    Raises
    ------
    InputValidationError
        ``--seen-together`` without ``--reference``; a bad margin; see
        :func:`load_training`.
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


def range_sentence(schema: FeatureSchema, name: str, before: Any, after: Any,
                   box: Any) -> str | None:
    """``"Reduce credit amount from 8,318 DM to 7,839 DM or less"``: a change phrased as
    its certified range; None when the box sets no range for it or the range holds the
    applicant's own value (then the point sentence is the honest one)."""
    from recourse.letters.text import feature_of, fmt_value

    got = range_phrase(box, name, schema) if box is not None else None
    if got is None:
        return None
    phrase, a, b = got
    try:
        x, y = float(before), float(after)
    except (TypeError, ValueError):
        return None
    if (a is None or a <= x) and (b is None or x <= b):
        return None  # the applicant's own value is in the range
    f = feature_of(schema, name)
    label = f.display if f is not None else name
    verb = "Increase" if y > x else "Reduce"
    return f"{verb} {label} from {fmt_value(f, before)} to {phrase}"

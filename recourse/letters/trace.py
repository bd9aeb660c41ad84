"""Traceability: enough about a computation to reproduce the letter built on it.

A :class:`Trace` records the model's fingerprint, the schema's hash and a summary of its
action set, the solver, its status and whether optimality was proven, the gap, the
engine and library versions, the time (UTC) and the applicant's id.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from recourse.result import RecourseResult
from recourse.schema import FeatureSchema

__all__ = ["Trace", "model_fingerprint", "schema_hash", "action_set_summary", "make_trace",
           "Clock"]

#: A function returning the current time (tests pass a fixed one).
Clock = Callable[[], _dt.datetime]

_SOLVER_NAMES = {"highs": ("HiGHS", "highspy"), "cpsat": ("OR-Tools CP-SAT", "ortools"),
                 "pyomo": ("Pyomo", "pyomo")}


def _solver_named(backend: str, used: list[str | None]) -> tuple[str, list[str]]:
    """The solver(s) as the trace names them, and their distributions (for versions):
    with ``backend="auto"`` (or ``"race"``), the ones that actually ran; answers proven by
    the engine's own bounds ran none."""
    if backend not in ("auto", "race"):
        name, dist = _SOLVER_NAMES.get(backend, (backend, backend))
        return name, [dist]
    ran = sorted({u for u in used if u}, key=str)
    if not ran:
        return "none needed (the engine's own bounds proved the answer)", []
    names = [_SOLVER_NAMES.get(u, (u, u)) for u in ran]
    return " and ".join(n for n, _ in names) + f" (backend {backend})", [d for _, d in names]


@dataclass(frozen=True)
class Trace:
    """What a letter's appendix states about the computation behind it.

    Attributes
    ----------
    applicant_id : str
    model_fingerprint : str
        ``sha256:<hex>`` of the model file's bytes (reproduce with ``sha256sum``), or
        of the pickle bytes of an in-memory model; see ``model_source``.
    model_source : str
        What was hashed (``"file model.skops"``, ``"in-memory model, pickle protocol 5"``).
    schema_hash : str
        ``sha256:<hex>`` of the schema's canonical JSON (:func:`schema_hash`).
    action_set : str
        One line: how many features are immutable, one-direction, free.
    solver : str
        The solver, e.g. ``HiGHS`` (its package's version is in ``versions``).
    status, proven_optimal, gap, norm, target
        Of the first option (the optimal recourse).
    options : list of dict
        Per option: status, proven optimal, gap, cost, the change sets it excluded.
    engine_version : str
    versions : dict
        scikit-learn, numpy and the solver package versions.
    time_utc : str
        ISO 8601, seconds, with ``Z``.
    """

    applicant_id: str
    model_fingerprint: str
    model_source: str
    schema_hash: str
    action_set: str
    solver: str
    status: str
    proven_optimal: bool
    gap: float | None
    norm: str
    target: str
    options: list[dict[str, Any]] = field(default_factory=list)
    engine_version: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    time_utc: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def model_fingerprint(model: Any) -> tuple[str, str]:
    """``(fingerprint, source)`` of a model file path or an in-memory model.

    A path (``str`` or ``Path``) is hashed byte for byte, so ``sha256sum model.skops``
    gives the same hex digest. An in-memory model is hashed through its pickle bytes
    (protocol 5; the skops format stores zip timestamps, so the same model would hash
    differently each time).

    Raises
    ------
    FileNotFoundError
        A path that does not exist.
    """
    if isinstance(model, (str, Path)):
        p = Path(model)
        if not p.is_file():
            raise FileNotFoundError(f"The model file {str(p)!r} does not exist; check the path.")
        h = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return "sha256:" + h.hexdigest(), f"file {p.name}"
    return _sha256(pickle.dumps(model, protocol=5)), "in-memory model, pickle protocol 5"


def schema_hash(schema: FeatureSchema) -> str:
    """``sha256:<hex>`` of the schema's canonical JSON (sorted keys, no whitespace): the
    same action set hashes the same whether it came from YAML or from code."""
    text = json.dumps(schema.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return _sha256(text.encode("utf-8"))


def action_set_summary(schema: FeatureSchema) -> str:
    """``20 features: 6 immutable, 2 one-direction, 12 free to change``."""
    imm = sum(f.immutable for f in schema)
    one = sum(f.direction != "any" for f in schema)
    return (f"{len(schema)} features: {imm} immutable, {one} one-direction, "
            f"{len(schema) - imm - one} free to change")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def make_trace(results: list[RecourseResult], schema: FeatureSchema, *, applicant_id: str,
               model: Any = None, fingerprint: tuple[str, str] | None = None,
               clock: Clock | None = None, final: RecourseResult | None = None) -> Trace:
    """Build the :class:`Trace` of a letter.

    Parameters
    ----------
    results : list of RecourseResult
        The options shown (may be empty), first = the optimal recourse.
    final : RecourseResult, optional
        The query that ended the option search (shown when there are no options).
    model : path or fitted model, optional
        Hashed with :func:`model_fingerprint` unless ``fingerprint`` is given.
    fingerprint : (str, str), optional
        A precomputed ``(fingerprint, source)``, e.g. from an audit.
    clock : callable, optional
        Returns the time to record (default: now, UTC). Golden tests pass a fixed one.
    """
    from recourse.version import __version__

    if fingerprint is None:
        fingerprint = model_fingerprint(model) if model is not None else (
            "not recorded", "no model given")
    head = results[0] if results else final
    if head is None:
        raise ValueError("make_trace needs at least one result.")
    shown = list(results) + ([final] if final is not None else [])
    name, dists = _solver_named(head.backend, [r.stats.backend_used for r in shown])
    when = (clock or utc_now)()
    if when.tzinfo is None:
        raise ValueError("The clock must return a timezone-aware datetime (UTC).")
    when = when.astimezone(_dt.timezone.utc).replace(microsecond=0)
    return Trace(
        applicant_id=str(applicant_id),
        model_fingerprint=fingerprint[0],
        model_source=fingerprint[1],
        schema_hash=schema_hash(schema),
        action_set=action_set_summary(schema),
        solver=name,
        status=head.status,
        proven_optimal=bool(head.optimal),
        gap=head.gap,
        norm=head.norm,
        target=str(head.target),
        options=[{"status": r.status, "proven_optimal": bool(r.optimal),
                  "verified": bool(r.verified), "gap": r.gap,
                  "cost": r.cost, "excluded": list(r.stats.excluded or [])}
                 for r in shown],
        engine_version=__version__,
        versions={d: _version(d) for d in ("scikit-learn", "numpy", *dists)},
        time_utc=when.isoformat().replace("+00:00", "Z"),
    )


def fixed_clock(when: str | _dt.datetime) -> Clock:
    """A clock that always returns ``when`` (ISO 8601 text or an aware datetime)."""
    t = _dt.datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else when
    return lambda: t


def _query_line(o: dict[str, Any], full: bool) -> str:
    cost = "–" if o["cost"] is None else f"{o['cost']:.4g}"  # noqa: RUF001
    if o["status"] == "no_recourse":
        text = ("no_recourse: proven that no change allowed by the action set reaches the "
                "target class")
    elif o["status"] in ("optimal", "feasible"):
        text = (f"{o['status']}, minimal cost proven: "
                f"{'yes' if o['proven_optimal'] else 'no'}, verified with the model: "
                f"{'yes' if o.get('verified') else 'no'}, cost {cost}")
    else:
        text = f"{o['status']}: no answer"
    if full:
        excl = "; ".join("{" + ", ".join(s) + "}" for s in o["excluded"]) or "none"
        text += f"; excluded change sets: {excl}"
    return text


def trace_lines(trace: Trace, *, full: bool = True) -> list[tuple[str, str]]:
    """The appendix as (label, value) pairs, in display order; ``full=False`` leaves out
    the library versions and the excluded change sets of each query."""
    gap = "–" if trace.gap is None else f"{trace.gap:.2%}"  # noqa: RUF001
    if trace.status == "no_recourse":
        proof = ("Proof", "proven: no change allowed by the action set reaches the target "
                          "class (the solver proved the problem infeasible)")
    elif trace.status in ("optimal", "feasible"):
        proof = ("Minimal cost proven", "yes" if trace.proven_optimal else
                 f"no (gap {gap})")
    else:
        proof = ("Proof", f"none: the search ended with {trace.status}")
    engine = f"recourse-engine {trace.engine_version}"
    if full:
        engine += "; " + ", ".join(f"{k} {v}" for k, v in trace.versions.items())
    rows = [
        ("Applicant", trace.applicant_id),
        ("Model fingerprint", f"{trace.model_fingerprint} ({trace.model_source})"),
        ("Schema (action set)", f"{trace.schema_hash}; {trace.action_set}"),
        ("Solver", trace.solver),
        ("Status of the first query", trace.status),
        proof,
        ("Objective", trace.norm),
        ("Target class", trace.target),
        ("Engine", engine),
        ("Time (UTC)", trace.time_utc),
    ]
    for i, o in enumerate(trace.options, 1):
        rows.append((f"Query {i}", _query_line(o, full)))
    return rows


def trace_json(trace: Trace) -> str:
    """The trace as JSON (embedded in the HTML letter for machines); ``<``, ``>`` and
    ``&`` are written as ``\\u`` escapes so the text is safe inside a ``<script>``."""
    text = json.dumps(trace.to_dict(), sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")



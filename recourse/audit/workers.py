"""Solving chunks of applicants: one engine per worker process, reused for every applicant.

A worker (the calling process, a local process pool, or a Dask worker) receives an
:class:`EngineSpec` once and keeps the :class:`~recourse.engine.RecourseEngine` built from
it in a process-wide cache keyed by the audit's identity, so the model is encoded once per
worker, not once per applicant. Every task returns plain row dicts
(:mod:`recourse.audit.rows`); only the coordinating process writes files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from recourse.audit.rows import error_row, result_row
from recourse.audit.why import empty_why, why_columns, why_limit
from recourse.encoders.errors import InputValidationError
from recourse.engine import RecourseEngine

__all__ = ["Chunk", "EngineSpec", "Record", "run_dask", "run_local", "run_serial",
           "solve_chunk"]

#: One applicant to solve: (position in the data, id, raw row or None, input problem or None).
Record = tuple[int, Any, dict[str, Any] | None, str | None]


@dataclass(frozen=True)
class EngineSpec:
    """Everything a worker needs to build its engine and answer queries (plain, picklable)."""

    key: str
    model: Any
    schema: Any
    reference: Any
    target: Any
    norm: str
    time_limit: float
    reuse: bool = True
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    min_margin: float | None = None
    why: int = 0
    relaxed_range: dict[str, Any] | None = None

    def build(self) -> RecourseEngine:
        """A fresh engine for this audit's model, schema and reference rows."""
        return RecourseEngine(self.model, self.schema, reference=self.reference,
                              **self.engine_kwargs)


@dataclass(frozen=True)
class Chunk:
    """A fixed slice of the audit plan, committed to disk as one part file."""

    index: int
    records: list[Record]


_ENGINES: dict[str, RecourseEngine] = {}


def _engine(spec: EngineSpec) -> RecourseEngine:
    """This process's engine for ``spec`` (built on first use, then reused)."""
    engine = _ENGINES.get(spec.key)
    if engine is None:
        _ENGINES.clear()  # one audit at a time per worker: free the previous model
        engine = _ENGINES[spec.key] = spec.build()
    return engine


def remember_engine(spec: EngineSpec, engine: RecourseEngine) -> None:
    """Register an engine already built for ``spec`` in this process (no second build)."""
    _ENGINES.clear()
    _ENGINES[spec.key] = engine


def solve_chunk(spec: EngineSpec, chunk: Chunk) -> tuple[int, list[dict[str, Any]]]:
    """Answer every applicant of ``chunk``; per-applicant failures become rows.

    With a reused engine the chunk's queries are verified together, by one call of the
    model's own ``predict`` (``RecourseEngine.explain_many``).

    Returns
    -------
    (index, rows)
        The chunk's index and one row dict per record, in the chunk's order.
    """
    kw = dict(target=spec.target, norm=spec.norm, time_limit=spec.time_limit,
              min_margin=spec.min_margin, why=why_limit(spec.why),
              relaxed_range=spec.relaxed_range)
    valid = [r for r in chunk.records if r[3] is None and r[2] is not None]
    answers: dict[int, Any] = {}
    if spec.reuse and valid:
        # the why analysis runs inside each query, on what is left of its time limit
        found = _engine(spec).explain_many([r[2] for r in valid], errors="return", **kw)
        answers = {r[0]: a for r, a in zip(valid, found)}
    rows = []
    for position, ident, raw, problem in chunk.records:
        if problem is not None or raw is None:
            rows.append({**error_row(ident, position, "invalid_input", problem or "no data",
                                     target=spec.target, norm=spec.norm), **empty_why()})
            continue
        elapsed = 0.0  # of a query that raised (a batch does not time those)
        if position not in answers:  # one engine per applicant (reuse off)
            t0 = time.perf_counter()
            try:
                answers[position] = spec.build().explain(raw, **kw)
            except Exception as exc:  # a failure of one applicant must not stop the audit
                answers[position] = exc
            elapsed = time.perf_counter() - t0
        rows.append(_row(spec, position, ident, raw, answers[position], elapsed))
    return chunk.index, rows


def _row(spec: EngineSpec, position: int, ident: Any, raw: dict[str, Any],
         answer: Any, elapsed: float) -> dict[str, Any]:
    """The table row of one applicant's answer (or of the exception its query raised)."""
    if isinstance(answer, InputValidationError):
        return {**error_row(ident, position, "invalid_input", str(answer),
                            target=spec.target, norm=spec.norm, total_time=elapsed),
                **empty_why()}
    if isinstance(answer, Exception):  # a failure of one applicant must not stop the audit
        return {**error_row(ident, position, "error", f"{type(answer).__name__}: {answer}",
                            target=spec.target, norm=spec.norm, total_time=elapsed),
                **empty_why()}
    row = {**result_row(ident, position, answer), **why_columns(answer.preclusion)}
    from recourse.schema import outside_bounds

    try:
        outside = outside_bounds(spec.schema, spec.schema.validate_row(raw))
    except InputValidationError:  # pragma: no cover (explain validated it already)
        outside = []
    if outside:
        row["message"] = (f"{row['message'] or ''} Note: {', '.join(map(repr, outside))} "
                          "outside the action set's bounds in the input; the answer may "
                          "keep that value.").strip()
    return row


# ------------------------------------------------------------------ executors
Done = tuple[int, list[dict[str, Any]]]


def run_serial(spec: EngineSpec, chunks: Sequence[Chunk]) -> Iterator[Done]:
    """Solve the chunks one after the other in this process."""
    for chunk in chunks:
        yield solve_chunk(spec, chunk)


_WORKER_SPEC: EngineSpec | None = None


def _init_worker(spec: EngineSpec) -> None:
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    if spec.reuse:
        _engine(spec)  # build (or, forked, inherit) the engine before the first task


def _solve_in_worker(chunk: Chunk) -> Done:
    assert _WORKER_SPEC is not None, "worker started without an engine spec"
    return solve_chunk(_WORKER_SPEC, chunk)


def _in_flight(n_workers: int) -> int:
    """Chunks submitted ahead of the finished ones: enough to keep every worker busy,
    few enough that neither answers nor applicants of the whole plan pile up."""
    return 2 * max(1, n_workers) + 2


def run_local(spec: EngineSpec, chunks: Sequence[Chunk], n_jobs: int,
              start_method: str) -> Iterator[Done]:
    """Solve the chunks in ``n_jobs`` local processes, each building its engine once.

    At most :func:`_in_flight` chunks are submitted at a time and a finished chunk's
    future is dropped as soon as its rows are handed on, so the answers of the whole
    audit never sit in this process together.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait

    ctx = multiprocessing.get_context(start_method)
    todo = iter(chunks)
    running: set[Future[Done]] = set()
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(spec,)) as pool:
        try:
            for c in islice(todo, _in_flight(n_jobs)):
                running.add(pool.submit(_solve_in_worker, c))
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    for c in islice(todo, 1):
                        running.add(pool.submit(_solve_in_worker, c))
                    yield fut.result()
                del finished
        finally:
            for fut in running:
                fut.cancel()


def run_dask(spec: EngineSpec, chunks: Sequence[Chunk], client: Any) -> Iterator[Done]:
    """Solve the chunks as tasks on a Dask cluster, one task per chunk.

    The spec (model, schema, reference rows) is scattered to every worker once; each
    worker keeps its engine between tasks. At most :func:`_in_flight` chunks per worker
    count are on the cluster at a time, and each finished task is released as soon as its
    rows are fetched, so neither the workers nor this process keep the audit's answers.
    """
    from distributed import as_completed as dask_completed

    spec_future = client.scatter(spec, broadcast=True, hash=False)
    n_workers = len(client.scheduler_info().get("workers", {}))
    todo = iter(chunks)
    queue = dask_completed()
    running = {}
    try:
        for c in islice(todo, _in_flight(n_workers)):
            fut = client.submit(solve_chunk, spec_future, c, pure=False)
            running[fut.key] = fut
            queue.add(fut)
        for fut in queue:
            for c in islice(todo, 1):
                nxt = client.submit(solve_chunk, spec_future, c, pure=False)
                running[nxt.key] = nxt
                queue.add(nxt)
            done = fut.result()
            running.pop(fut.key, None)
            fut.release()
            yield done
    finally:
        for fut in running.values():
            fut.cancel()

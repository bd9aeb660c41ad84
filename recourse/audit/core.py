"""Batch audit: recourse for every applicant a model denies, resumable, local or on Dask.

:func:`audit` is the entry point. It checks the inputs up front (missing columns, an empty
data set, an unknown target), validates every row (a row with NaN or an unknown category
becomes an ``invalid_input`` row, never a crash), asks the model's own ``predict`` which
applicants it denies, splits them into fixed chunks and solves the chunks with one
:class:`~recourse.engine.RecourseEngine` per worker (the model is encoded once per
worker). Each finished chunk is committed to ``OUT/parts/`` at once; a rerun with the
same inputs and output directory skips the committed chunks. At the end every chunk is
assembled into ``OUT/results.parquet`` (exactly one row per applicant, checked), and the
summary and the HTML report are written beside it.

The audit streams: a chunk's answers stay in the coordinating process only until its part
file is committed, ``results.parquet`` is written one row group at a time, and the
figures are computed from it column by column (:mod:`recourse.audit.table`), so the
memory of an audit of a portfolio does not grow with its rows' answers.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recourse.audit.inputs import (
    _check_data,
    _frame_hash,
    _id_values,
    _load_inputs,
    _plan,
    _resolve_target,
)
from recourse.audit.rows import arrow_schema
from recourse.audit.store import FORMAT, AuditStore
from recourse.audit.summary import invalid_rows_text
from recourse.audit.why import check_relaxed_range, check_why, with_why
from recourse.audit.workers import (
    Chunk,
    EngineSpec,
    Record,
    remember_engine,
    run_dask,
    run_local,
    run_serial,
)
from recourse.encoders.errors import InputValidationError
from recourse.engine import NORMS, RecourseEngine

__all__ = ["AuditResult", "audit", "default_n_jobs", "default_start_method",
           "invalid_rows_text"]

SELECT = ("denied", "all")
#: Progress callback: ``progress(done, total)`` in applicants, after each committed chunk.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AuditResult:
    """What an audit produced.

    Attributes
    ----------
    out : Path
        The output directory.
    summary : dict
        The figures of ``summary.json`` (see :func:`recourse.audit.summarize`).
    n_rows : int
        Rows in the input data.
    n_audited : int
        Applicants audited: the denied ones (or all rows with ``select="all"``), plus every
        row with invalid input (whose prediction is unknown).
    n_resumed : int
        Applicants whose answers were already committed by an earlier run.
    n_solved : int
        Applicants answered in this run.
    elapsed : float
        Seconds of this run, from the first check to the written report.
    solve_elapsed : float
        Seconds spent solving this run's chunks (workers' start included).
    files : dict
        Paths of the written files by name.
    """

    out: Path
    summary: dict[str, Any]
    n_rows: int
    n_audited: int
    n_resumed: int
    n_solved: int
    elapsed: float
    solve_elapsed: float
    files: dict[str, Path] = field(default_factory=dict)
    #: ``results.parquet``'s size and modification time when the audit wrote it.
    stamp: tuple[int, int] | None = None
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False,
                                            compare=False)

    @property
    def results(self) -> pd.DataFrame:
        """One row per audited applicant: ``results.parquet``, read on first use (the
        audit itself never holds every row's answer in memory; for a portfolio, read the
        columns you need with ``pyarrow.parquet.read_table(res.files["results"],
        columns=[...])`` instead)."""
        if "results" not in self._cache:
            import pyarrow.parquet as pq

            path = self.files.get("results", self.out / "results.parquet")
            if self.stamp is not None and _stamp(path) != self.stamp:
                raise InputValidationError(
                    f"{path} is no longer this audit's table: the directory was audited "
                    "again since (overwrite=True). Read .results before auditing into the "
                    "same directory again, or audit into another one.")
            self._cache["results"] = pq.read_table(path).to_pandas()
        return self._cache["results"]

    @property
    def rate(self) -> float:
        """Applicants answered per second of solving in this run (0 when none)."""
        return self.n_solved / self.solve_elapsed if self.n_solved and self.solve_elapsed else 0.0


def default_n_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def _engine_kwargs(causal: Any, seen_together: Any = None,
                   support: Any = None) -> dict[str, Any]:
    """Options passed on to every engine: the causal model, the seen-together rule and
    the data support, when given (all plain, picklable data for process and Dask
    workers)."""
    from recourse.seen import SeenTogether
    from recourse.support import DataSupport

    out: dict[str, Any] = {}
    if support is not None:
        if not isinstance(support, DataSupport):
            raise InputValidationError(
                f"support must be a recourse.DataSupport (DataSupport.from_model(X_train, "
                f"model, schema, target=...)), got {type(support).__name__}.")
        out["support"] = support
    if seen_together is not None:
        if not isinstance(seen_together, SeenTogether):
            raise InputValidationError(
                f"seen_together must be a recourse.SeenTogether (SeenTogether.fit(X_train, "
                f"schema)), got {type(seen_together).__name__}.")
        out["seen_together"] = seen_together
    if causal is None:
        return out
    from recourse.causal import CausalModel

    if isinstance(causal, (str, Path)):
        return dict(out, causal=CausalModel.from_yaml(Path(causal)))
    if not isinstance(causal, CausalModel):
        raise InputValidationError(
            f"causal must be a recourse.CausalModel or the path of its YAML file, got "
            f"{type(causal).__name__}.")
    return dict(out, causal=causal)


def _chunks(records: list[Record], size: int) -> list[Chunk]:
    return [Chunk(k, records[s:s + size]) for k, s in enumerate(range(0, len(records), size))]


# -------------------------------------------------------------------- audit
def audit(
    model: Any,
    data: Any,
    schema: Any,
    out: str | Path,
    *,
    target: Any,
    norm: str = "l1",
    time_limit: float = 60.0,
    reference: Any = None,
    causal: Any = None,
    min_margin: float | None = None,
    seen_together: Any = None,
    support: Any = None,
    select: str = "denied",
    id_column: str | None = None,
    protected: str | None = None,
    intersect: str | None = None,
    extra_columns: Any = (),
    n_jobs: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    reuse: bool = True,
    overwrite: bool = False,
    report: bool = True,
    trust_pickle: bool = False,
    start_method: str | None = None,
    progress: Progress | None = None,
    why: bool | int = False,
    relaxed_range: dict[str, tuple[float, float]] | None = None,
) -> AuditResult:
    """Audit a model over a population: recourse for every applicant it denies.

    Parameters
    ----------
    model : fitted estimator or Pipeline, or path of a ``.skops`` (or trusted pickle) file
    data : DataFrame, or path of a CSV/Parquet file
        One row per applicant with every schema feature. Other columns only as
        ``id_column``, ``protected`` or listed in ``extra_columns``; any other column is
        an error naming it (the rule of :func:`recourse.schema.check_columns`, as for
        ``explain`` and ``letter``).
    schema : FeatureSchema, or path of a schema YAML file
    out : str or Path
        Output directory: ``manifest.json``, ``parts/``, ``results.parquet``,
        ``summary.json``, ``summary.md``, ``report.html``, ``no_recourse.csv``.
    target : class label
        The class applicants should reach (e.g. ``"good"``).
    norm : {"l1", "l0", "l0_l1"}
    time_limit : float
        Seconds per applicant; an applicant that runs out is recorded with its status.
    reference : DataFrame or path, optional
        Known rows (e.g. the training data), as for :class:`~recourse.RecourseEngine`.
    causal : CausalModel or path of its YAML, optional
        Recourse as interventions on this causal model (see :mod:`recourse.causal`); the
        changes column then says which changes are actions and which consequences.
    min_margin : float, optional
        Robust recourse: the target class must win by at least this much (see
        :meth:`RecourseEngine.explain`); the table then gives ``min_margin``, the
        ``margin`` reached and ``cost_without`` (the cost without the margin).
    seen_together : SeenTogether, optional
        Category pairs no training row holds are forbidden (``recourse.seen``); the
        ``unseen_pairs`` column counts them in each answer either way when given.
    support : DataSupport, optional
        Answers must lie near enough observed rows (``recourse.support``); the
        ``support`` and ``support_distance`` columns report it for every answer.
    select : {"denied", "all"}
        Audit the applicants the model does not give ``target`` (default), or every row.
    id_column : str, optional
        Column with unique applicant ids; default the data's index.
    protected : str, optional
        Column (a feature or not) whose groups the summary compares; ``summary.json``
        then also has the ``fairness`` figures of :mod:`recourse.audit.fairness` (denial
        rate over every applicant, recourse and precluded rates, costs with bootstrap
        intervals, gaps with their tests).
    intersect : str, optional
        A second protected column (needs ``protected``): the fairness figures also cover
        its groups and every pair of the two attributes' groups.
    extra_columns : list of str, optional
        Non-feature columns that may be in ``data`` (a label, notes): carried along and
        ignored.
    n_jobs : int, optional
        Local worker processes (default: every core this process may use); 1 solves in
        this process.
    client : dask.distributed.Client, optional
        Run the chunks on this Dask cluster instead of local processes.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); a client is opened and closed.
    chunk_size : int, optional
        Applicants per committed chunk (default: about eight chunks per worker, at most
        50). A resumed audit keeps the chunk size it started with.
    reuse : bool
        One engine per worker for every applicant (default). False builds a fresh engine
        per applicant (slower; for measuring what reuse saves).
    overwrite : bool
        Delete the results of a different audit in ``out`` instead of refusing.
    report : bool
        Write ``summary.md`` and ``report.html`` (``summary.json`` is always written).
    trust_pickle : bool
        Allow a pickle model file (it runs code when loaded).
    start_method : str, optional
        Multiprocessing start method of local workers (default: see
        :func:`default_start_method`). With ``"forkserver"`` or ``"spawn"`` a script must
        call :func:`audit` under ``if __name__ == "__main__":``.
    progress : callable, optional
        ``progress(done, total)`` in applicants, called at the start and after each
        committed chunk.
    why : bool or int
        For each applicant without recourse, the minimal sets of rules whose relaxation
        opens recourse, with their cheapest verified counterfactuals, and per rule the
        applicants it alone precludes (:mod:`recourse.audit.why`); an int is the most sets
        per applicant (True: 5). Within ``time_limit``, never more.
    relaxed_range : dict, optional
        With ``why``: ``{feature: (low, high)}`` widening how far a relaxed rule opens a
        numeric feature (as for :meth:`RecourseEngine.explain`).

    Returns
    -------
    AuditResult

    Raises
    ------
    InputValidationError
        Empty data, missing feature columns, unlisted extra columns, bad or duplicated
        ids, an unknown target or norm, an output directory holding a different audit
        (without ``overwrite``).
    """
    params = dict(locals())  # every parameter, passed on unchanged
    if client is not None and scheduler is not None:
        raise InputValidationError("Give either client= or scheduler=, not both.")
    if scheduler is None:
        return _audit(**params)
    own = _dask_client(scheduler)
    try:
        return _audit(**dict(params, client=own, scheduler=None))
    finally:
        own.close()


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise InputValidationError(
            "Running on Dask needs dask.distributed: pip install 'recourse-engine[dask]'."
        ) from None
    try:
        return Client(address, timeout="30s")
    except OSError as exc:
        raise InputValidationError(
            f"Could not connect to the Dask scheduler at {address!r} ({exc}); check the "
            "address (tcp://host:port) and that the scheduler is running.") from exc


def _audit(*, model: Any, data: Any, schema: Any, out: str | Path, target: Any, norm: str,
           time_limit: float, reference: Any, causal: Any, min_margin: float | None,
           seen_together: Any, select: str, support: Any = None,
           id_column: str | None, protected: str | None, n_jobs: int | None, client: Any,
           intersect: str | None = None,
           extra_columns: Any = (),
           scheduler: str | None, chunk_size: int | None, reuse: bool, overwrite: bool,
           report: bool, trust_pickle: bool, start_method: str | None,
           progress: Progress | None, why: bool | int = False,
           relaxed_range: dict[str, tuple[float, float]] | None = None) -> AuditResult:
    t_start = time.perf_counter()
    if norm not in NORMS:
        raise InputValidationError(f"norm must be one of {NORMS}, got {norm!r}.")
    if select not in SELECT:
        raise InputValidationError(f"select must be one of {SELECT}, got {select!r}.")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise InputValidationError(f"time_limit must be a positive number, got {time_limit!r}.")
    n_jobs = default_n_jobs() if n_jobs is None else int(n_jobs)
    if n_jobs < 1:
        raise InputValidationError(f"n_jobs must be at least 1, got {n_jobs}.")
    if chunk_size is not None and int(chunk_size) < 1:
        raise InputValidationError(f"chunk_size must be at least 1, got {chunk_size}.")

    model, model_hash, data, schema, reference = _load_inputs(
        model, data, schema, reference, trust_pickle)
    ids_series = _check_data(data, schema, id_column, protected, extra_columns, intersect)
    why = check_why(why)
    ranges = check_relaxed_range(schema, relaxed_range, why)
    if min_margin is not None and not (isinstance(min_margin, (int, float))
                                       and math.isfinite(min_margin) and min_margin >= 0):
        raise InputValidationError(
            f"min_margin must be a finite number >= 0, got {min_margin!r}.")
    engine_kwargs = _engine_kwargs(causal, seen_together, support)
    engine = RecourseEngine(model, schema, reference=reference, **engine_kwargs)
    target = _resolve_target(engine, target)
    ids, id_type = _id_values(ids_series)
    records = _plan(data, schema, model, target, select, ids)

    import joblib

    from recourse import __version__

    identity = {
        "model": model_hash,
        "schema": hashlib.sha256(schema.to_yaml().encode()).hexdigest(),
        "data": _frame_hash(data[schema.names].set_axis(pd.Index(ids), axis=0)),
        "reference": _frame_hash(reference if isinstance(reference, pd.DataFrame) else None),
        "causal": "none" if causal is None else joblib.hash(causal),
        "min_margin": None if min_margin is None else float(min_margin),
        "seen_together": "none" if seen_together is None else hashlib.sha256(repr(sorted(
            map(repr, seen_together.unseen))).encode()).hexdigest(),
        "support": "none" if support is None else joblib.hash(support),
        "target": str(target), "norm": norm, "time_limit": float(time_limit),
        "select": select, "engine_version": __version__,
        **({"why": why} if why else {}),
        **({"relaxed_range": ranges} if ranges else {}),
    }
    identity_hash = hashlib.sha256(repr(sorted(identity.items())).encode()).hexdigest()
    describe = (f"target {target!r}, norm {norm}, time limit {time_limit:g} s, "
                + (f"min_margin {min_margin:g}, " if min_margin is not None else "")
                + ("seen-together rule, " if seen_together is not None else "")
                + ("data support, " if support is not None else "")
                + (f"why (up to {why} relaxation sets), " if why else "")
                + f"{len(records)} of {len(data)} applicants")
    store = AuditStore(out)
    previous = store.prepare(identity_hash, describe, overwrite, identity=identity)
    workers = n_jobs if client is None else max(
        1, len(client.scheduler_info().get("workers", {})))
    size = int(previous["chunk_size"]) if previous else int(
        chunk_size or max(1, min(50, math.ceil(len(records) / (8 * workers)))))
    schema_arrow = with_why(arrow_schema(id_type))
    chunks = _chunks(records, size)
    manifest = {
        "format": FORMAT, "identity": identity, "identity_hash": identity_hash,
        "description": describe, "chunk_size": size, "n_chunks": len(chunks),
        "n_rows": len(data), "n_audited": len(records), "id_type": str(id_type),
        "complete": False,
        "created": previous["created"] if previous else time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.write_manifest(manifest)

    # Streaming: a chunk's rows live in this process only until its part is committed;
    # resuming reads the parts' position column only.
    committed = {c.index for c in chunks
                 if store.committed(c.index, [r[0] for r in c.records])}
    pending = [c for c in chunks if c.index not in committed]
    n_resumed = sum(len(c.records) for c in chunks if c.index in committed)
    total = len(records)
    done = n_resumed
    if progress is not None:
        progress(done, total)

    spec = EngineSpec(key=identity_hash, model=model, schema=schema, reference=reference,
                      target=target, norm=norm, time_limit=float(time_limit), reuse=reuse,
                      engine_kwargs=engine_kwargs,
                      min_margin=None if min_margin is None else float(min_margin),
                      why=why, relaxed_range=ranges)
    t_solve = time.perf_counter()
    by_index = {c.index: c for c in chunks}
    for index, rows in _execute(spec, engine, pending, n_jobs, client, start_method):
        store.write_part(index, rows, schema_arrow)
        del rows
        done += len(by_index[index].records)
        if progress is not None:
            progress(done, total)
    solve_elapsed = time.perf_counter() - t_solve

    n_written = store.assemble([(c.index, [r[0] for r in c.records]) for c in chunks],
                               schema_arrow)
    if n_written != len(records):  # pragma: no cover (assemble checks every chunk)
        raise RuntimeError(f"The assembled audit has {n_written} rows for {len(records)} "
                           "applicants; this is a bug worth reporting.")
    del chunks, by_index, pending

    from recourse.audit.report import write_outputs

    groups = None
    if protected is not None:
        groups = data[protected].iloc[[r[0] for r in records]].reset_index(drop=True)
    population = None if protected is None else data[
        [protected] + ([intersect] if intersect is not None else [])].reset_index(drop=True)
    summary, files = write_outputs(store.out, store.results_path, schema, groups=groups,
                                   protected=protected, n_rows=len(data), select=select,
                                   report=report, population=population)
    files = {"results": store.results_path, "manifest": store.manifest_path, **files}
    n_solved = total - n_resumed
    manifest.update(complete=True, last_run={
        "solved": n_solved, "resumed": n_resumed, "solve_seconds": round(solve_elapsed, 3),
        "workers": f"dask ({workers})" if client is not None else n_jobs,
        "reuse": reuse})
    store.write_manifest(manifest)
    return AuditResult(out=store.out, summary=summary, n_rows=len(data),
                       n_audited=total, n_resumed=n_resumed, n_solved=n_solved,
                       elapsed=time.perf_counter() - t_start, solve_elapsed=solve_elapsed,
                       files=files, stamp=_stamp(store.results_path))


def _stamp(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_size, path.stat().st_mtime_ns) if path.exists() else None


def _execute(spec: EngineSpec, engine: RecourseEngine, pending: list[Chunk], n_jobs: int,
             client: Any, start_method: str | None) -> Any:
    """The solved chunks, in completion order, from the chosen executor."""
    if not pending:
        return
    if client is not None:
        yield from run_dask(spec, pending, client)
        return
    if n_jobs == 1 or len(pending) == 1:
        if spec.reuse:
            remember_engine(spec, engine)
        yield from run_serial(spec, pending)
        return
    method = start_method or default_start_method()
    if method == "fork" and spec.reuse:
        remember_engine(spec, engine)  # forked workers inherit the engine: no second build
    yield from run_local(spec, pending, min(n_jobs, len(pending)), method)


def default_start_method() -> str:
    """``"fork"`` when this process runs a single thread and the platform forks (workers
    start at once and inherit the built engine); otherwise ``"forkserver"`` or ``"spawn"``
    (each worker imports the package and builds its engine, about a second or more)."""
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"

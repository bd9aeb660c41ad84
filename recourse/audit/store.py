"""The audit's output directory: a manifest, committed chunk files, the assembled table.

Layout::

    OUT/manifest.json          what this audit is (hashes of model, schema, data, options)
    OUT/parts/part-00000.parquet ...   one committed file per finished chunk
    OUT/results.parquet        every chunk, one row per applicant (written at the end)

Every file is written to a temporary name in the same directory and renamed into place
(``os.replace`` is atomic on POSIX), so a process killed at any moment leaves either a
complete file or none; a rerun treats the chunks already on disk as done.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from recourse.audit.identity import identity_differences
from recourse.encoders.errors import InputValidationError, cap_list

__all__ = ["AuditStore", "FORMAT", "atomic_write"]

#: Format tag written into every manifest.
FORMAT = "recourse-audit/1"
_PART = "part-{:05d}.parquet"
_PART_RE = re.compile(r"part-\d{5,}\.parquet")
#: Files and directories this module writes (the only ones ``overwrite`` removes).
OWN_FILES = ("manifest.json", "parts", "results.parquet", "summary.json", "summary.md",
             "report.html", "no_recourse.csv")
#: Temporary names :func:`atomic_write` uses for those files (``.NAME.PID.tmp``).
_TMP_RE = re.compile(r"\.(?:" + "|".join(re.escape(n) for n in OWN_FILES if n != "parts")
                     + r"|part-\d{5,}\.parquet)\.\d+\.tmp")


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file in its directory, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class AuditStore:
    """Reads and writes one audit's output directory.

    Parameters
    ----------
    out : Path
        The output directory (created when missing).
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.parts = self.out / "parts"
        self.manifest_path = self.out / "manifest.json"
        self.results_path = self.out / "results.parquet"

    # ------------------------------------------------------------ manifest
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest on disk, or None when there is none."""
        if not self.manifest_path.exists():
            return None
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputValidationError(
                f"The output directory {str(self.out)!r} has an unreadable manifest.json "
                f"({exc}); it was not deleted. Choose another directory, or move the file "
                "away if you know it is an abandoned audit's."
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputValidationError(
                f"{str(self.manifest_path)!r} is not a recourse audit manifest ({FORMAT}); "
                "it was not deleted. Choose another directory, or move the file away."
            )
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        atomic_write(self.manifest_path, lambda p: p.write_text(text, encoding="utf-8"))

    def prepare(self, identity_hash: str, describe: str, overwrite: bool,
                identity: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Make the directory ready for the audit ``identity_hash``.

        Returns the existing manifest when the directory holds this same audit (resume),
        None when it starts afresh.

        Only what a manifest of this engine proves it wrote is ever deleted: with
        ``overwrite``, the output files of a different audit in ``out`` (those named in
        :data:`OWN_FILES`, the ``part-NNNNN.parquet`` files in ``parts/`` and this
        module's own temporary files). A directory without a valid manifest never loses
        a file: if it holds a file or folder with one of the output names, the audit is
        refused, with or without ``overwrite``.

        Raises
        ------
        InputValidationError
            The directory holds a different audit and ``overwrite`` is False; it is not
            empty and holds no audit and ``overwrite`` is False; its ``manifest.json`` is
            not this engine's; or it holds files with the output names that no manifest
            proves this engine wrote.
        """
        if self.out.exists() and not self.out.is_dir():
            raise InputValidationError(
                f"The output path {str(self.out)!r} is a file; give a directory.")
        self.out.mkdir(parents=True, exist_ok=True)
        manifest = self.read_manifest()  # a foreign or unreadable one: refused, kept
        if manifest is not None and manifest.get("identity_hash") == identity_hash:
            self.parts.mkdir(exist_ok=True)
            self._drop_temporaries()
            return manifest
        if manifest is not None:
            if not overwrite:
                theirs = manifest.get("description", "another audit")
                differs = ("; ".join(identity_differences(manifest.get("identity"), identity))
                           if identity is not None else "")
                raise InputValidationError(
                    f"The output directory {str(self.out)!r} holds a different audit "
                    f"({theirs}); this one is {describe}"
                    + (f" (what differs: {differs})" if differs else "") +
                    ". Choose another directory, or pass "
                    "overwrite=True (CLI: --overwrite) to delete its results and start afresh."
                )
            self.clear()
        else:
            clash = sorted(n for n in OWN_FILES if (self.out / n).exists())
            if clash:
                raise InputValidationError(
                    f"The output directory {str(self.out)!r} holds {cap_list(clash)} but no "
                    "audit manifest (manifest.json) proves this engine wrote them; nothing "
                    "was deleted. Move those files away or choose an empty or new directory"
                    + (" (overwrite never deletes files it did not write)." if overwrite
                       else "."))
            if not overwrite and any(self.out.iterdir()):
                raise InputValidationError(
                    f"The output directory {str(self.out)!r} is not empty and holds no audit; "
                    "choose an empty or new directory, or pass overwrite=True "
                    "(CLI: --overwrite) to write the audit beside its files (none of them "
                    "is deleted or overwritten)."
                )
        self.parts.mkdir(exist_ok=True)
        return None

    def clear(self) -> None:
        """Remove the files of the audit whose manifest is in ``out`` (nothing else).

        Only the names of :data:`OWN_FILES`, the committed ``part-NNNNN.parquet`` files
        and this module's temporary files go; ``parts/`` itself only when that leaves it
        empty. Without a valid manifest nothing is removed.
        """
        if self.read_manifest() is None:
            return
        self._drop_temporaries()
        if self.parts.is_dir():
            for p in self.parts.iterdir():
                if _PART_RE.fullmatch(p.name) and p.is_file():
                    p.unlink()
            if not any(self.parts.iterdir()):
                self.parts.rmdir()
        for name in OWN_FILES:
            p = self.out / name
            if name != "parts" and p.is_file():
                p.unlink()

    def _drop_temporaries(self) -> None:
        """Temporary files of a killed run are never committed: remove them (only names
        :func:`atomic_write` makes for this module's files)."""
        for folder in (self.out, self.parts):
            if folder.is_dir():
                for p in folder.iterdir():
                    if _TMP_RE.fullmatch(p.name) and p.is_file():
                        p.unlink()

    # --------------------------------------------------------------- chunks
    def part_path(self, index: int) -> Path:
        """The committed file of chunk ``index``."""
        return self.parts / _PART.format(index)

    def write_part(self, index: int, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
        """Commit one chunk's rows."""
        table = pa.Table.from_pylist(rows, schema=schema)
        atomic_write(self.part_path(index), lambda p: pq.write_table(table, p))

    def read_part(self, index: int, schema: pa.Schema) -> pa.Table | None:
        """A committed chunk, or None when it is not on disk or cannot be read."""
        path = self.part_path(index)
        if not path.exists():
            return None
        try:
            return pq.read_table(path, schema=schema)
        except Exception:  # unreadable: the caller re-solves the chunk
            return None

    def committed(self, index: int, positions: list[int]) -> bool:
        """Whether chunk ``index`` is on disk with exactly the applicants ``positions``
        (only its ``position`` column is read)."""
        path = self.part_path(index)
        if not path.exists():
            return False
        try:
            on_disk = pq.read_table(path, columns=["position"]).column("position")
        except Exception:  # unreadable: the caller re-solves the chunk
            return False
        return bool(on_disk.to_pylist() == positions)

    def write_results(self, table: pa.Table) -> None:
        """Write the assembled table (one row per applicant)."""
        atomic_write(self.results_path, lambda p: pq.write_table(table, p))

    def assemble(self, parts: list[tuple[int, list[int]]], schema: pa.Schema,
                 row_group: int = 4096) -> int:
        """Write ``results.parquet`` from the committed chunks, at most one row group
        (``row_group`` rows and one chunk) in memory at a time, checking that chunk
        ``index`` holds exactly the applicants ``positions``.

        Parameters
        ----------
        parts : list of (index, positions)
            Every chunk of the plan, in plan order.
        schema : pa.Schema
            The audit table's columns.

        Returns
        -------
        int
            Rows written.

        Raises
        ------
        RuntimeError
            A chunk is missing or holds other applicants (a bug worth reporting).
        """
        n = 0

        def write(path: Path) -> None:
            nonlocal n
            buffer: list[pa.Table] = []
            with pq.ParquetWriter(path, schema) as writer:
                for index, positions in parts:
                    table = self.read_part(index, schema)
                    got = None if table is None else table.column("position").to_pylist()
                    if table is None or got != positions:
                        raise RuntimeError(
                            f"Chunk {index} of the audit is missing or holds other "
                            f"applicants ({0 if got is None else len(got)} rows for "
                            f"{len(positions)}); this is a bug worth reporting.")
                    buffer.append(table)
                    n += table.num_rows
                    if sum(t.num_rows for t in buffer) >= row_group:
                        writer.write_table(pa.concat_tables(buffer))
                        buffer.clear()
                if buffer:
                    writer.write_table(pa.concat_tables(buffer))

        atomic_write(self.results_path, write)
        return n

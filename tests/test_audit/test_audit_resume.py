"""Nothing lost: a real audit process killed with SIGKILL and rerun resumes from its
committed chunks and ends with exactly one row per applicant."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from recourse.audit import audit
from tests.test_audit.conftest import N_DENIED

# The audit process under test: the library's audit() on files, slowed down after every
# committed chunk by its progress callback so that it can be killed half-way.
_SCRIPT = """
import sys, time
from recourse.audit import audit

def slow(done, total):
    time.sleep(float(sys.argv[6]))

if __name__ == "__main__":
    audit(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], target="good",
          reference=sys.argv[5], n_jobs=1, chunk_size=3, progress=slow, report=False)
"""


def _start(files, out, delay: float) -> subprocess.Popen:
    args = [sys.executable, "-c", _SCRIPT, str(files["model"]), str(files["data"]),
            str(files["schema"]), str(out), str(files["reference"]), str(delay)]
    return subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _parts(out) -> list:
    return sorted((out / "parts").glob("part-*.parquet")) if (out / "parts").exists() else []


def test_killed_audit_resumes_without_lost_or_duplicated_rows(tmp_path, files):
    out = tmp_path / "audit"
    proc = _start(files, out, delay=0.4)
    deadline = time.monotonic() + 120
    try:
        while len(_parts(out)) < 3:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the audit committed no chunk in 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    manifest = out / "manifest.json"
    assert manifest.exists() and not (out / "results.parquet").exists()
    committed = {p.name: p.stat().st_mtime_ns for p in _parts(out)}
    n_chunks = -(-N_DENIED // 3)
    assert 3 <= len(committed) < n_chunks  # killed half-way
    (out / "parts" / ".part-00009.parquet.999.tmp").write_bytes(b"half a file")

    res = audit(files["model"], files["data"], files["schema"], out, target="good",
                reference=files["reference"], n_jobs=1, report=False)
    rows_done = sum(pq.read_metadata(out / "parts" / name).num_rows for name in committed)
    assert res.n_resumed == rows_done and res.n_solved == res.n_audited - rows_done
    for name, mtime in committed.items():  # committed chunks were not solved again
        assert (out / "parts" / name).stat().st_mtime_ns == mtime
    assert not list((out / "parts").glob(".*.tmp"))

    table = pd.read_parquet(out / "results.parquet")
    data = pd.read_parquet(files["data"])
    assert table["id"].is_unique and len(table) == res.n_audited == N_DENIED
    fresh = audit(files["model"], files["data"], files["schema"], tmp_path / "fresh",
                  target="good", reference=files["reference"], n_jobs=1, report=False).results
    assert list(table["id"]) == list(fresh["id"])
    assert set(table["id"]) <= set(data.index)
    assert list(table["status"]) == list(fresh["status"])
    assert table["cost"].astype(float).tolist() == pytest.approx(
        fresh["cost"].astype(float).tolist(), rel=1e-6, abs=1e-6)

    again = audit(files["model"], files["data"], files["schema"], out, target="good",
                  reference=files["reference"], n_jobs=1, report=False)
    assert again.n_solved == 0 and again.n_resumed == N_DENIED

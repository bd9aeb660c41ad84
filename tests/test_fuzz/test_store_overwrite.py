"""Issue 15, item 6: ``overwrite`` deletes only what a manifest proves this engine wrote."""

from __future__ import annotations

import json

import pytest

from recourse import InputValidationError
from recourse.audit import audit
from recourse.audit.store import FORMAT, AuditStore


def _user_files(d):
    files = {
        "summary.md": "my notes",
        "results.parquet": "not parquet, mine",
        "parts/mine.txt": "keep me",
        ".draft.tmp": "an editor's temporary file",
        "other.csv": "a,b\n",
    }
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text, encoding="utf-8")
    return files


def _assert_intact(d, files):
    for name, text in files.items():
        assert (d / name).read_text(encoding="utf-8") == text, name


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_directory_without_a_manifest_keeps_every_file(tmp_path, toy, overwrite):
    X, schema, model = toy
    files = _user_files(tmp_path)
    with pytest.raises(InputValidationError, match="no audit manifest.*nothing was deleted"):
        audit(model, X.head(3), schema, tmp_path, target="good", n_jobs=1,
              overwrite=overwrite)
    _assert_intact(tmp_path, files)


def test_a_foreign_manifest_is_never_deleted(tmp_path, toy):
    X, schema, model = toy
    (tmp_path / "manifest.json").write_text('{"mine": true}', encoding="utf-8")
    with pytest.raises(InputValidationError, match="not a recourse audit manifest"):
        audit(model, X.head(3), schema, tmp_path, target="good", n_jobs=1, overwrite=True)
    assert (tmp_path / "manifest.json").read_text() == '{"mine": true}'


def test_overwrite_replaces_an_audit_but_not_the_files_beside_it(tmp_path, toy):
    X, schema, model = toy
    first = audit(model, X.head(5), schema, tmp_path, target="good", n_jobs=1,
                  select="all")
    assert len(first.results) == 5  # read before the directory is audited again
    stale = audit(model, X.head(4), schema, tmp_path, target="good", n_jobs=1,
                  select="all", overwrite=True)  # its table is never read before the end
    mine = {"other.csv": "a,b\n", "parts/mine.txt": "keep me", ".draft.tmp": "x"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "parts" / "part-00042.parquet").write_text("stale part", encoding="utf-8")
    second = audit(model, X.head(3), schema, tmp_path, target="good", n_jobs=1,
                   select="all", overwrite=True)
    _assert_intact(tmp_path, mine)
    assert not (tmp_path / "parts" / "part-00042.parquet").exists()  # ours: removed
    assert len(second.results) == 3 and len(first.results) == 5  # first's was read before
    with pytest.raises(InputValidationError, match="no longer this audit's table"):
        stale.results  # written over by `second`: never silently second's rows
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == FORMAT and manifest["n_audited"] == 3


def test_clear_without_a_manifest_removes_nothing(tmp_path):
    files = _user_files(tmp_path)
    AuditStore(tmp_path).clear()
    _assert_intact(tmp_path, files)

"""The wheel installs one top-level import package, ``recourse``; the repository's
``encoders/`` and ``solvers/`` folders are its subpackages ``recourse.encoders`` and
``recourse.solvers``."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed():
    cfg = _config()
    dirs = {v: k for k, v in cfg["package-dir"].items()}
    found = set()
    for folder, name in dirs.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            parts = [p for p in rel.parts if p]
            dotted = ".".join([name, *parts])
            # a folder nested in another mapped folder belongs to the inner mapping
            if any(dotted.startswith(n + ".") or dotted == n for n in cfg["package-dir"]
                   if n != name and n.startswith(name + ".")):
                continue
            found.add(dotted)
    assert found == set(cfg["packages"]), (
        "pyproject.toml [tool.setuptools] packages must list every package folder: "
        f"missing {sorted(found - set(cfg['packages']))}, "
        f"stale {sorted(set(cfg['packages']) - found)}")


def test_one_top_level_package():
    tops = {p.split(".")[0] for p in _config()["packages"]}
    assert tops == {"recourse"}


def test_subpackages_import_under_recourse():
    import recourse.encoders
    import recourse.solvers

    assert Path(recourse.encoders.__file__).parent.name == "encoders"
    assert Path(recourse.solvers.__file__).parent.name == "solvers"


def test_no_bare_top_level_imports(tmp_path, monkeypatch):
    """A user's own ``solvers.py`` or ``encoders.py`` in the working directory must not
    shadow the engine's modules."""
    (tmp_path / "solvers.py").write_text("raise ImportError('the user\\'s solvers.py')\n")
    (tmp_path / "encoders.py").write_text("raise ImportError('the user\\'s encoders.py')\n")
    import subprocess

    out = subprocess.run([sys.executable, "-c", "import recourse; "
                          "from recourse.solvers.highs import solve_highs; print('ok')"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert importlib.util.find_spec("recourse") is not None

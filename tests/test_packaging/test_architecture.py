"""Architecture rules of the package, checked on the source with ``ast`` and ``networkx``.

1. No import cycle between the project's modules, function-local imports included (imports
   under ``if TYPE_CHECKING:`` are left out: they never run).
2. No module over :data:`MAX_LINES` lines.
3. No module outside the engine touches a private member of the engine: no
   ``from <engine module> import _name``, no private engine module imported from outside,
   and no ``obj._name`` (``obj`` not ``self``/``cls``) where ``_name`` is a private member
   defined in an engine module.

Each rule has an explicit allow-list of today's known offenders (the engine modules under
rewrite, and a few others named below). The tests fail on any offender not listed, and on
any listed entry that no longer offends (remove it from the list then), so the lists can
only shrink.

The module graph follows the installed layout: the folders of ``[tool.setuptools]
package-dir`` in pyproject.toml (``encoders/`` is ``recourse.encoders``, ``solvers/`` is
``recourse.solvers``). An import of ``a.b.c`` is an edge to the deepest project module it
names (``from a.b import c`` reaches the module ``a.b.c`` when there is one, else the
package ``a.b``); importing a submodule is not counted as importing its parent packages.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 500

#: Modules of the engine: the package ``recourse.engine``.
ENGINE_PACKAGE = "recourse.engine"
LEGACY_ENGINE: set[str] = set()

# ----------------------------------------------------------------------- allow-lists
#: Known import cycles (each as its modules, any order). Empty these as they are broken.
KNOWN_CYCLES: set[frozenset[str]] = {
    frozenset(c) for c in [
        # encode() in the package __init__ dispatches to ModelSet / PlausibleModel, whose
        # encoders call encode() back for their members (a registry entry would break it)
        ["recourse.encoders", "recourse.encoders.isolation"],
        ["recourse.encoders", "recourse.encoders.multi"],
        ["recourse.encoders", "recourse.encoders.isolation", "recourse.encoders.multi"],
        # EncodedModel's evaluation helpers live in evaluate.py, which needs block's types
        ["recourse.encoders.block", "recourse.encoders.evaluate"],
    ]
}

#: Known modules over MAX_LINES lines (dotted name).
KNOWN_LONG: set[str] = set()

#: Known (module outside the engine, private engine member it touches): the option
#: modules under rewrite reach into RecourseEngine.
KNOWN_PRIVATE: set[tuple[str, str]] = set()


# --------------------------------------------------------------------- the modules
@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


@cache
def package_dirs() -> dict[str, str]:
    """``{"recourse": "recourse", "recourse.encoders": "encoders", ...}`` from pyproject."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return dict(cfg["package-dir"])


@cache
def modules() -> dict[str, Module]:
    """Every module of the installed package, by dotted name."""
    dirs = package_dirs()
    out: dict[str, Module] = {}
    for name, folder in dirs.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            dotted = ".".join([name, *parts])
            # a folder nested in another mapped folder belongs to the inner mapping
            if any(dotted == n or dotted.startswith(n + ".") for n in dirs
                   if n != name and n.startswith(name + ".")):
                continue
            out[dotted] = Module(dotted, path, is_package)
    return out


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].path.read_text(encoding="utf-8"))


def _type_checking_nodes(root: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip: set[int] = set()
    for node in ast.walk(root):
        if isinstance(node, ast.If):
            test = node.test
            name = (test.id if isinstance(test, ast.Name) else
                    test.attr if isinstance(test, ast.Attribute) else None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return skip


def _canonical(name: str) -> str:
    """A bare ``encoders.x`` / ``solvers.x`` names the installed ``recourse.encoders.x``."""
    for pkg, folder in package_dirs().items():
        if pkg != folder and (name == folder or name.startswith(folder + ".")):
            return pkg + name[len(folder):]
    return name


def _project_module(name: str, mods: set[str] | dict[str, Module] | None = None) -> str | None:
    """The deepest project module that ``name`` names (None: not the project's)."""
    mods = modules() if mods is None else mods
    name = _canonical(name)
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_in(root: ast.Module, name: str, is_package: bool,
               mods: set[str] | dict[str, Module]) -> Iterator[tuple[str, ast.stmt]]:
    """``(imported module of mods, statement)`` for every import in ``root`` (the source of
    module ``name``) that can run: module level, function-local, class-level; not under
    TYPE_CHECKING."""
    skip = _type_checking_nodes(root)
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(root):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _project_module(alias.name, mods)
                if target is not None:
                    yield target, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                target = _project_module(f"{source}.{alias.name}", mods)
                if target is not None:
                    yield target, node


def imports(name: str) -> Iterator[tuple[str, ast.stmt]]:
    """The project imports of module ``name`` (see :func:`imports_in`)."""
    return imports_in(tree(name), name, modules()[name].is_package, modules())


def graph_of(sources: dict[str, tuple[ast.Module, bool]],
             mods: set[str] | dict[str, Module]) -> nx.DiGraph:
    """The import graph of ``{name: (parsed source, is_package)}``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sources)
    for name, (root, is_package) in sources.items():
        for target, _ in imports_in(root, name, is_package, mods):
            if target != name:
                graph.add_edge(name, target)
    return graph


@cache
def import_graph() -> nx.DiGraph:
    return graph_of({n: (tree(n), m.is_package) for n, m in modules().items()}, modules())


def find_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Every elementary cycle, each rotated to start at its smallest module, sorted."""
    cycles = []
    for cycle in nx.simple_cycles(graph):
        k = cycle.index(min(cycle))
        cycles.append(cycle[k:] + cycle[:k])
    return sorted(cycles, key=lambda c: (len(c), c))


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def is_engine(name: str) -> bool:
    return (name == ENGINE_PACKAGE or name.startswith(ENGINE_PACKAGE + ".")
            or name in LEGACY_ENGINE)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def engine_private_members() -> frozenset[str]:
    """Private names the engine modules define: module-level names, class attributes and
    methods, and ``self._x`` attributes set in their classes."""
    names: set[str] = set()
    for name in modules():
        if not is_engine(name):
            continue
        for node in ast.walk(tree(name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                names.add(node.attr)
    return frozenset(n for n in names if _private(n))


def private_engine_uses(name: str) -> set[str]:
    """The private engine members module ``name`` touches (see the module docstring)."""
    members = engine_private_members()
    found: set[str] = set()
    for target, node in imports(name):
        if is_engine(target):
            if any(_private(part) for part in target.split(".")):
                found.add(target)  # a private engine module
            if isinstance(node, ast.ImportFrom):
                found.update(a.name for a in node.names if _private(a.name))
    for node in ast.walk(tree(name)):
        if (isinstance(node, ast.Attribute) and node.attr in members
                and not (isinstance(node.value, ast.Name)
                         and node.value.id in ("self", "cls"))):
            found.add(node.attr)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in members):
            found.add(str(node.args[1].value))
    return found


def private_offenders() -> set[tuple[str, str]]:
    return {(name, member) for name in modules() if not is_engine(name)
            for member in private_engine_uses(name)}


# ---------------------------------------------------------------------------- tests
def test_module_discovery_follows_the_installed_layout():
    mods = modules()
    assert "recourse.encoders.trees" in mods and "recourse.solvers.highs" in mods
    assert "recourse.cli" in mods and mods["recourse.cli"].is_package
    assert not any(n.split(".")[0] in ("encoders", "solvers") for n in mods)
    # the Makefile's lint tree maps the same folders as pyproject.toml's package-dir
    mapped = re.search(r"^MAPPED := (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert mapped is not None, "the Makefile lost its MAPPED list (lint tree)"
    assert set(mapped.group(1).split()) == {
        f for p, f in package_dirs().items() if p != f}


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    found = {frozenset(c) for c in cycles}
    new = [" -> ".join([*c, c[0]]) for c in cycles if frozenset(c) not in KNOWN_CYCLES]
    assert not new, (
        f"{len(new)} import cycle(s) between modules (function-local imports included); "
        "break them (move the shared code to a module both can import):\n  "
        + "\n  ".join(new))
    stale = sorted(sorted(c) for c in KNOWN_CYCLES - found)
    assert not stale, f"cycles gone, remove them from KNOWN_CYCLES: {stale}"


def test_no_long_modules():
    long = {n: line_count(m.path) for n, m in modules().items()
            if line_count(m.path) > MAX_LINES}
    new = {n: k for n, k in long.items() if n not in KNOWN_LONG}
    assert not new, (f"modules over {MAX_LINES} lines (split them): "
                     + ", ".join(f"{modules()[n].rel} ({k})" for n, k in sorted(new.items())))
    stale = sorted(KNOWN_LONG - set(long))
    assert not stale, f"no longer over {MAX_LINES} lines, remove from KNOWN_LONG: {stale}"


def test_no_private_engine_members_outside_the_engine():
    found = private_offenders()
    new = sorted(found - KNOWN_PRIVATE)
    assert not new, (
        "modules outside the engine touch its private members (use or add a public "
        "API): " + ", ".join(f"{m}: {p}" for m, p in new))
    stale = sorted(KNOWN_PRIVATE - found)
    assert not stale, f"no longer touched, remove from KNOWN_PRIVATE: {stale}"


# ------------------------------------------------------- the checkers catch offenders
def test_cycle_finder_sees_function_local_and_relative_imports():
    """On synthetic modules: a function-local import and a relative import close a cycle
    through a package; a TYPE_CHECKING import, a bare ``solvers`` import (mapped to
    recourse.solvers) and a submodule import (not its parent) are told apart."""
    sources = {
        "recourse.pkg": ("", True),
        "recourse.pkg.a": ("def f():\n    from recourse.pkg.b import g\n", False),
        "recourse.pkg.b": ("from typing import TYPE_CHECKING\nfrom . import a\n"
                           "if TYPE_CHECKING:\n    from recourse.c import h\n", False),
        "recourse.c": ("import recourse.pkg.b\nfrom solvers.x import y\n", False),
        "recourse.solvers.x": ("from recourse.pkg import b\n", False),
    }
    graph = graph_of({n: (ast.parse(src), p) for n, (src, p) in sources.items()},
                     set(sources))
    assert set(graph.edges) == {
        ("recourse.pkg.a", "recourse.pkg.b"), ("recourse.pkg.b", "recourse.pkg.a"),
        ("recourse.c", "recourse.pkg.b"), ("recourse.c", "recourse.solvers.x"),
        ("recourse.solvers.x", "recourse.pkg.b")}
    assert find_cycles(graph) == [["recourse.pkg.a", "recourse.pkg.b"]]


@pytest.mark.parametrize("name", sorted(LEGACY_ENGINE))
def test_private_member_list_is_not_empty(name):
    """The engine defines private members, so the third rule has something to guard."""
    if name not in modules():
        pytest.skip(f"{name} is gone")
    assert engine_private_members()

"""The code shows its architecture: rules import-linter cannot state, checked on the source.

The layers themselves are import-linter contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``.ci/run``); what is checked here is finer: no module reaches
into another's private names, optional abilities are Protocols rather than attribute
probes, and renderers are handed data instead of opening databases.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGES = ("daemon", "analyzers")
#: Optional analyzer abilities, declared as Protocols in analyzers/base.py.
ABILITIES = frozenset({"seed", "close", "exclude", "interrupt", "runs_after_others",
                       "runs_after", "release"})


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "learning-set" in path.parts:  # sample code for a scenario, not ours
                continue
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports(tree: ast.Module) -> Iterator[ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module \
                and node.module.split(".")[0] in PACKAGES:
            yield node


def relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def test_no_module_imports_another_modules_private_names() -> None:
    found = [f"{relative(path)}:{node.lineno}: {node.module}.{alias.name}"
             for path, tree in sources() for node in imports(tree) for alias in node.names
             if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert found == []


def test_optional_abilities_are_protocols_not_attribute_probes() -> None:
    found = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in ABILITIES):
                found.append(f"{relative(path)}:{node.lineno}: {node.func.id}(..., "
                             f"{node.args[1].value!r})")
    assert found == []


@pytest.mark.parametrize("forbidden", ["sqlite3", "daemon.log.database", "daemon.read.queries"])
def test_renderers_are_handed_data(forbidden: str) -> None:
    renderers = REPO_ROOT / "daemon" / "read" / "render"
    found = []
    for path, tree in sources():
        if renderers not in path.parents:
            continue
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            found += [f"{relative(path)}:{node.lineno}" for name in names
                      if name == forbidden or name.startswith(forbidden + ".")]
    assert found == []


def test_every_package_says_what_it_is() -> None:
    missing = [relative(init) for package in PACKAGES
               for init in sorted((REPO_ROOT / package).rglob("__init__.py"))
               if "learning-set" not in init.parts
               and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) is None]
    assert missing == []

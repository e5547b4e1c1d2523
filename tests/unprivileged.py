"""Run the code under test as an unprivileged user, for tests about unreadable files.

Root reads mode-000 files anyway, and CI runs the suite as root, so a test of how a
permission error is handled would prove nothing there (or be skipped). With these
helpers the test builds its files itself, then runs the analyzer in a child Python:
as user and group 65534 ("nobody") when the suite runs as root, as the current user
otherwise, so one test body checks the same thing everywhere. The child prints JSON;
the assertions stay in the test.
"""

from __future__ import annotations

import ast
import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, isolated_env

NOBODY = 65534
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Sandbox:
    """``dir`` is where the test builds its tree and the child writes its index or cache."""

    dir: Path
    home: Path  # the child's own XDG dirs: the run's are root's, closed to nobody

    def run(self, script: str, *args: str | os.PathLike[str]) -> Any:
        """``script`` run with ``args`` as its ``sys.argv[1:]``; the JSON it prints."""
        python = sys.executable
        if AS_ROOT:
            found = _python_for_nobody(_imports_of(script))
            if found is None:
                pytest.skip("no Python here can run as user 65534 and import what the "
                            "script needs, so as root unreadable files cannot be tested")
            python = found
        argv = [python, "-c", script, *(os.fspath(arg) for arg in args)]
        proc = subprocess.run(
            argv, capture_output=True, text=True,
            env={**_child_env(), **isolated_env(self.home), "HOME": str(self.home)},
            cwd="/", timeout=120,
            user=NOBODY if AS_ROOT else None, group=NOBODY if AS_ROOT else None)
        if proc.returncode != 0:
            pytest.fail(f"the child exited with {proc.returncode}:\n{proc.stderr}")
        return json.loads(proc.stdout)


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh directory the child can reach and write in, removed with all it holds.

    pytest's tmp_path lies under a root-only directory, so this is a mkdtemp of its own,
    given to nobody when running as root (root still writes anywhere in it).
    """
    top = Path(tempfile.mkdtemp(prefix="unprivileged-"))
    try:
        made = Sandbox(dir=top / "work", home=top / "home")
        for path in (top, made.dir, made.home):
            path.mkdir(exist_ok=True)
            path.chmod(0o755)
            if AS_ROOT:
                os.chown(path, NOBODY, NOBODY)
        yield made
    finally:
        # A test may leave mode-000 directories behind; without search permission on
        # them rmtree cannot empty them (as a non-root user).
        for parent, dirs, _ in os.walk(top):
            for name in dirs:
                inner = os.path.join(parent, name)
                if not os.path.islink(inner):  # never chmod what a link points to
                    os.chmod(inner, 0o700)
        shutil.rmtree(top)


def _child_env() -> dict[str, str]:
    # The project is installed editable through a .pth file, which PYTHONPATH entries
    # do not process, hence the packages themselves. The whole site-packages dir, not one
    # package's, because the script may import any dependency (radon, bandit, orjson...).
    paths = sysconfig.get_paths()
    inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    project = _readable_project() if AS_ROOT else str(REPO_ROOT)
    entries = [project, paths["purelib"], paths["platlib"], *inherited]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(e for e in entries if e))}


@functools.cache
def _readable_project() -> str:
    """A copy of the project's packages that nobody can read, made once per run: the
    checkout may lie in a directory only root can enter (a clone in a mktemp dir)."""
    top = Path(tempfile.mkdtemp(prefix="unprivileged-src-"))
    top.chmod(0o755)
    for package in ("daemon", "analyzers"):
        shutil.copytree(REPO_ROOT / package, top / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for parent, dirs, files in os.walk(top):
        for name in dirs:
            os.chmod(os.path.join(parent, name), 0o755)
        for name in files:
            os.chmod(os.path.join(parent, name), 0o644)
    atexit.register(shutil.rmtree, top, True)
    return str(top)


def _imports_of(script: str) -> str:
    return "\n".join(ast.unparse(node) for node in ast.parse(script).body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


@functools.lru_cache
def _python_for_nobody(imports: str) -> str | None:
    """A Python >= 3.10 that user 65534 may run and that imports what ``imports`` does.

    The test's own interpreter may sit where nobody cannot go (a pyenv build under
    /root), and another one must still load the compiled packages from site-packages.
    """
    probe = "import sys\nassert sys.version_info >= (3, 10)\n" + imports
    candidates = [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    for python in dict.fromkeys(c for c in candidates if c):
        try:
            subprocess.run([python, "-c", probe], user=NOBODY, group=NOBODY,
                           capture_output=True, check=True, cwd="/", env=_child_env(),
                           timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return python
    return None

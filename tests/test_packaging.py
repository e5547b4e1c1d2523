"""The package as users install it: a wheel whose API a user's ``mypy --strict`` can see."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the python of a fresh venv with only that wheel installed)."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(base / "dist"), str(REPO_ROOT)], check=True, capture_output=True)
    [wheel] = (base / "dist").glob("realworld-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    return wheel, python


def test_the_wheel_marks_both_packages_typed(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert {"daemon/py.typed", "analyzers/py.typed"} <= set(names)


def test_a_users_mypy_strict_sees_the_apis_types(installed: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    _, python = installed
    script = tmp_path / "user.py"
    script.write_text("from daemon import RealWorldTester\n\n"
                      "tester = RealWorldTester('x.db')\n"
                      "session_id: str = tester.start_test_session('/tmp', 1)\n"
                      "wrong: int = tester.start_test_session('/tmp', 1)\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "--python-executable", str(python), str(script)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    # Exactly the one wrong line: the types are seen, not Any, and the right line passes.
    assert done.returncode == 1, done.stdout
    [error] = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert "user.py:5:" in error and 'expression has type "str"' in error, done.stdout

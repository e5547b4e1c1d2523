"""A session whose log's filesystem fills up: the true reason on one line, exit 1, no
traceback, and a log that still verifies, there and on the same filesystem made read-only.

The filesystem is a real tmpfs of 3 MB, mounted by the test, so it runs as root (as CI
does); elsewhere it skips and says why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, mount


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """This repository's own code: a few hundred files and thousands of findings, far more
    than 3 MB of log and index."""
    root = tmp_path / "workspace"
    for part in ("daemon", "analyzers", "tests"):
        shutil.copytree(REPO_ROOT / part, root / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def realworld(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_full_disk_ends_the_session_with_its_reason(small_disk: Path,
                                                      workspace: Path) -> None:
    log = small_disk / "log.db"
    run = realworld("run", "--project", str(workspace), "--db", str(log), "--duration", "30s",
                    "--monitor-interval", "1")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output
    final = [line for line in run.stderr.splitlines() if line.startswith("realworld:")]
    assert final == ["realworld: the session ended in error: the event log cannot be "
                     "written: disk full"], run.stderr
    assert "locked" not in run.stderr  # what the writer used to call it

    check = realworld("verify", "--db", str(log))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "chain: ok" in check.stdout
    assert "Traceback" not in check.stderr

    # The same log on a read-only filesystem: verify reads it as it stands.
    remounted = mount(small_disk, "-o", "remount,ro")
    assert remounted.returncode == 0, remounted.stderr
    check = realworld("verify", "--db", str(log))
    assert check.returncode == 0, check.stdout + check.stderr
    refused = realworld("rebuild", "--db", str(log))
    assert refused.returncode == 2
    assert refused.stderr.startswith("realworld: error: cannot rebuild")
    assert len(refused.stderr.splitlines()) == 1

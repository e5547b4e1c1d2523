"""The repository's ``.pre-commit-hooks.yaml``: the hook as pre-commit reads it, and run by
the real ``pre-commit`` in a real git repository on a real commit.

pre-commit installs a ``language: python`` hook by pip-installing this repository into a
virtualenv of its own; here the same hook is declared ``language: system`` in a local
config instead (the ``realworld`` already installed), so the test runs pre-commit's own
file passing, serialisation and failure handling without an install from an index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from daemon.config import hook_db

from conftest import REPO_ROOT

RELAXED = ("[resource_limits]\ncpu_percent_max = 100.0\nmemory_percent_max = 100.0\n"
           "disk_percent_max = 100.0\n")


def hooks() -> list[dict[str, object]]:
    loaded = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(loaded, list)
    return loaded


def test_the_hook_is_declared_as_pre_commit_reads_it() -> None:
    [hook] = hooks()
    assert hook["id"] == "realworld"
    assert hook["entry"] == "realworld hook"
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    assert hook.get("pass_filenames", True) is True  # the staged files, and only them
    assert hook["require_serial"] is True  # one process: one writer of the log
    assert "always_run" not in hook


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with pre-commit's hook installed, and the environment to commit in."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "repo"
    project.mkdir()
    xdg = tmp_path / "xdg"
    (xdg / "realworld").mkdir(parents=True)
    (xdg / "realworld" / "config.toml").write_text(RELAXED)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REALWORLD_", "GIT_", "PRE_COMMIT"))}
    env.update(PYTHONPATH=str(REPO_ROOT), XDG_CONFIG_HOME=str(xdg),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit"), HOME=str(tmp_path),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    [hook] = hooks()
    config = {"repos": [{"repo": "local", "hooks": [{**hook, "language": "system"}]}]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(project, env, "init", "-q")
    git(project, env, "add", ".pre-commit-config.yaml")
    git(project, env, "commit", "-q", "-m", "config", "--no-verify")
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=project,
                               env=env, capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    return project, env


def git(project: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *argv], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_commit_is_checked_on_its_staged_files_only(repo: tuple[Path, dict[str, str]]
                                                      ) -> None:
    project, env = repo
    (project / "app.py").write_text("import subprocess\n\n\ndef run(cmd):\n"
                                    "    return subprocess.call(cmd, shell=True)\n")
    (project / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    # Not staged: a secret in the work tree that this commit does not contain.
    (project / "scratch.env").write_text("AWS_ACCESS_KEY_ID=AKIAQ4RT7ZW2XM5NPK3D\n")
    git(project, env, "add", "app.py", "clean.py")
    refused = git(project, env, "commit", "-m", "shell=True")
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "realworld: FAIL: 1 finding at severity high or above (1 high): B602 app.py:5" \
        in output
    assert "scratch.env" not in output
    # Fixed and staged again: the commit goes through, the unstaged secret is not looked at.
    (project / "app.py").write_text("import subprocess\n\n\ndef run(cmd):\n"
                                    "    return subprocess.call(cmd)\n")
    git(project, env, "add", "app.py")
    done = git(project, env, "commit", "-m", "no shell")
    assert done.returncode == 0, done.stdout + done.stderr
    # The log lives in the state directory, one per repository; the repository holds
    # exactly what was committed and the one file left out.
    log = hook_db(project, {"XDG_STATE_HOME": env["XDG_STATE_HOME"]})
    assert log.is_file()
    status = git(project, env, "status", "--porcelain", "--untracked-files=all").stdout
    assert status.splitlines() == ["?? scratch.env"]
    scanned = subprocess.run(
        [sys.executable, "-m", "daemon", "query", "--db", str(log), "--format", "csv",
         "SELECT json_extract(result_data, '$.files_scanned') AS scanned FROM activities "
         "WHERE capability = 'security_scanner' ORDER BY timestamp"],
        cwd=project, env=env, capture_output=True, text=True, check=False)
    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stdout.split() == ["scanned", "2", "1"]  # app.py and clean.py; then app.py


def test_files_outside_the_project_are_bad_usage(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    env.update(PYTHONPATH=str(REPO_ROOT), XDG_STATE_HOME=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "daemon", "hook", "../elsewhere.py"],
                          cwd=project, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("realworld: error: ../elsewhere.py is not inside the project")
    nothing = subprocess.run([sys.executable, "-m", "daemon", "hook"], cwd=project, env=env,
                             capture_output=True, text=True, check=False)
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "", "")
    assert not (tmp_path / "state").exists()  # no files, no session, no log

"""The repository's ``.pre-commit-hooks.yaml``: the hook pre-commit installs, and its entry run
as pre-commit runs it (from the repository's root, no file names)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

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
    assert hook["entry"] == "realworld run --once --quiet --fail-on high"
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    assert hook["pass_filenames"] is False and hook["always_run"] is True


def test_the_entry_runs_one_pass_and_reports(tmp_path: Path) -> None:
    [hook] = hooks()
    program, *argv = str(hook["entry"]).split()
    assert program == "realworld"  # the console script; `python -m daemon` is the same
    project = tmp_path / "repo"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "app.py").write_text("def add(a, b):\n    return a + b\n")
    xdg = tmp_path / "xdg"
    (xdg / "realworld").mkdir(parents=True)
    (xdg / "realworld" / "config.toml").write_text(RELAXED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    env.update(PYTHONPATH=str(REPO_ROOT), XDG_CONFIG_HOME=str(xdg),
               XDG_CACHE_HOME=str(tmp_path / "cache"),
               REALWORLD_TESTING_DB=str(tmp_path / "log.db"))
    done = subprocess.run([sys.executable, "-m", "daemon", *argv], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"Project: {project}" in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1].strip("= ") == "END OF REPORT"
    assert sorted(p.name for p in project.iterdir()) == ["pkg"]  # nothing written there

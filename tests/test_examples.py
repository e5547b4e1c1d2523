"""The spec's example scripts and its unittest command, run as people run them: real
processes from the repository root, real sessions of a few seconds, real files."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from analyzers.registry import discover

from conftest import REPO_ROOT

BANNER = "REAL-WORLD TESTING - IMPROVEMENT REPORT"
# This shared machine's CPU can sit above the default 90% and end a session for reasons
# no test here is about.
RELAXED = """\
[resource_limits]
cpu_percent_max = 100.0
memory_percent_max = 100.0
disk_percent_max = 100.0
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    (path / "README.md").write_text("# demo\n\nA small workspace.\n")
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The child's default config (XDG) relaxes the limits; no REALWORLD_* of ours leaks."""
    xdg = tmp_path / "xdg-config"
    (xdg / "realworld").mkdir(parents=True)
    (xdg / "realworld" / "config.toml").write_text(RELAXED)
    child = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    child.update(XDG_CONFIG_HOME=str(xdg), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
                 XDG_STATE_HOME=str(tmp_path / "xdg-state"))
    return child


def run(argv: list[str], env: dict[str, str], cwd: Path = REPO_ROOT,
        timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def test_the_runner_writes_the_report_file_the_specs_ci_uploads(
        tmp_path: Path, project: Path, env: dict[str, str]) -> None:
    # The file lands in the current directory, so this one runs in a scratch directory
    # (the runner by its path in the checkout) to keep the repository root clean.
    done = run([str(REPO_ROOT / "examples" / "run_realworld_test.py"), "--project",
                str(project), "--duration", "2s", "--quiet", "--db", str(tmp_path / "log.db")],
               env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [saved] = list(tmp_path.glob("realworld_test_report_*.txt"))  # the spec's upload glob
    session_id = saved.name[len("realworld_test_report_"):-len(".txt")]
    assert re.fullmatch(r"test_\d{8}_\d{6}", session_id)
    report = saved.read_text()
    assert BANNER in report and f"Session ID: {session_id}" in report
    assert done.stdout == f"\n{report}Report saved to {saved.name}\n"  # --quiet: the report


def test_the_runners_no_report_writes_no_file(tmp_path: Path, project: Path,
                                              env: dict[str, str]) -> None:
    done = run([str(REPO_ROOT / "examples" / "run_realworld_test.py"), "--project",
                str(project), "--once", "--quiet", "--no-report",
                "--db", str(tmp_path / "log.db")], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and not list(tmp_path.glob("realworld_test_report_*"))


def test_the_demo_goes_step_by_step_and_saves_its_report(tmp_path: Path, project: Path,
                                                         env: dict[str, str]) -> None:
    output = tmp_path / "demo_report.txt"
    done = run(["examples/demo_realworld_tester.py", "--project", str(project),
                "--duration", "3s", "--interval", "1", "--db", str(tmp_path / "demo.db"),
                "--output", str(output)], env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    steps = re.findall(r"^Step (\d)/5: (.+)$", out, re.MULTILINE)
    assert [number for number, _ in steps] == ["1", "2", "3", "4", "5"]
    [session_id] = re.findall(r"^  Session started: (test_\d{8}_\d{6}) ", out, re.MULTILINE)
    # Live monitoring: three updates (3 s at 1 s), each with the spec's figures.
    updates = re.findall(r"^\[Update (\d)/3\] \d\d:\d\d:\d\d$", out, re.MULTILINE)
    assert updates == ["1", "2", "3"]
    assert len(re.findall(r"^  Activities: \d+$", out, re.MULTILINE)) == 3
    assert len(re.findall(r"^  CPU: \d+\.\d%  Memory: \d+\.\d%$", out, re.MULTILINE)) == 3
    # Live performance figures, per capability, by the last update.
    last = out[out.rindex("[Update 3/3]"):]
    assert re.search(r"^    • workspace_analyzer: \d+ calls, avg \d+\.\dms, p95 \d+\.\dms$",
                     last, re.MULTILINE)
    assert "  Session ended: completed, " in out
    assert re.search(r"^  Overall score: \d+\.\d / 100$", out, re.MULTILINE)
    assert BANNER in out
    report = output.read_text()
    assert f"Session ID: {session_id}" in report and report in out
    assert out.rstrip().endswith(f"Report saved to {output}")


def test_the_demo_refuses_a_missing_project_in_one_line(tmp_path: Path,
                                                        env: dict[str, str]) -> None:
    done = run(["examples/demo_realworld_tester.py", "--project", str(tmp_path / "nope"),
                "--duration", "3s", "--db", str(tmp_path / "demo.db")], env)
    assert done.returncode == 2
    assert done.stderr.startswith("demo: project path does not exist")
    assert done.stderr.count("\n") == 1


def test_verify_passes_every_check_on_a_working_system(tmp_path: Path,
                                                       env: dict[str, str]) -> None:
    done = run(["examples/verify_realworld_system.py"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    checks = [line for line in lines if line.startswith("[")]
    assert [line.split(":")[0] for line in checks] == [
        "[OK]   API methods", "[OK]   configuration", "[OK]   analyzers",
        "[OK]   resource limits", "[OK]   database tables", "[OK]   database indexes",
        "[OK]   a real session"]
    assert "stop_session" in checks[0]
    assert "idx_activities_session" in checks[5] and "idx_issues_severity" in checks[5]
    capabilities = len(discover().names())
    assert re.search(rf"a real session: test_\d{{8}}_\d{{6}}: \d+ activities of "
                     rf"{capabilities} capabilities", checks[6])
    assert lines[-1] == "All 7 checks passed: the system is ready."


def test_verify_fails_on_a_bad_configuration(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("monitor_interval = 0\n")
    done = run(["examples/verify_realworld_system.py", "--config", str(bad)], env)
    assert done.returncode == 1
    assert "[FAIL] configuration: " in done.stdout and "monitor_interval" in done.stdout
    assert done.stdout.splitlines()[-1] == "1 of 7 checks FAILED"


def test_verify_finds_a_log_without_the_specs_indexes(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    db = tmp_path / "old.db"
    made = run(["examples/verify_realworld_system.py", "--db", str(db)], env)
    assert made.returncode == 0, made.stdout  # a log verify itself creates is complete
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP INDEX idx_issues_severity")
    done = run(["examples/verify_realworld_system.py", "--db", str(db)], env)
    assert done.returncode == 1
    assert "[FAIL] database indexes: missing idx_issues_severity" in done.stdout


def test_the_specs_unittest_command_runs_from_the_repository_root(
        env: dict[str, str]) -> None:
    done = run(["-m", "unittest",
                "tests.test_realworld.TestRealWorldTester.test_01_initialization"], env)
    assert done.returncode == 0, done.stderr
    assert "Ran 1 test in " in done.stderr and done.stderr.rstrip().endswith("OK")

"""`realworld run` as people run it: real processes, real workspaces, real signals."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import sqlite3
import string
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.main import main
from daemon.cli.run import RunOptions, RunUsageError, resolve_options

from conftest import REPO_ROOT

ROOT = REPO_ROOT
BANNER = "REAL-WORLD TESTING - IMPROVEMENT REPORT"
RELAXED = """\
[resource_limits]
cpu_percent_max = 100.0
memory_percent_max = 100.0
disk_percent_max = 100.0
"""


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The default config file of the child (XDG) raises the resource limits: this shared
    machine's CPU can sit above the default 90% and end a session for reasons of its own."""
    xdg = tmp_path / "xdg-config"
    (xdg / "realworld").mkdir(parents=True, exist_ok=True)
    (xdg / "realworld" / "config.toml").write_text(RELAXED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    env.update(PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(xdg),
               XDG_CACHE_HOME=str(tmp_path / "xdg-cache"), **extra)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    (path / "README.md").write_text("# demo\n\nA small workspace.\n")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "relaxed.toml"
    path.write_text(RELAXED)
    return path


def realworld(tmp_path: Path, *argv: str, timeout: float = 60,
              **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *argv], capture_output=True,
                          text=True, cwd=tmp_path, env=child_env(tmp_path, **env),
                          timeout=timeout, check=False)


def start(tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    with open(tmp_path / "stderr.txt", "w") as err:  # a file: a pipe nobody reads can fill
        return subprocess.Popen([sys.executable, "-m", "daemon", *argv],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path,
                                env=child_env(tmp_path))


def finish(proc: subprocess.Popen[str], tmp_path: Path, timeout: float = 30) -> tuple[str, str]:
    """The rest of stdout (through the same buffered reader ``read_until`` used) and stderr."""
    assert proc.stdout is not None
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    return out, (tmp_path / "stderr.txt").read_text()


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """Lines of the child's stdout up to and including the first that holds ``marker``."""
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError(f"{marker!r} never came; got {''.join(seen)!r}")


def test_once_prints_the_activity_line_and_the_report(tmp_path: Path, project: Path) -> None:
    done = realworld(tmp_path, "run", "--project", str(project), "--once",
                     "--db", str(tmp_path / "log.db"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    [activity] = [line for line in lines if "] Workspace analysis: " in line]
    assert re.fullmatch(r"\[Test-test_\d{8}_\d{6}\] Workspace analysis: \d+ms, 2 files, .*",
                        activity)
    session_id = activity[len("[Test-"):activity.index("]")]
    assert BANNER in done.stdout
    assert f"Session ID: {session_id}" in lines
    assert "Status: completed" in lines
    assert lines[-1].strip("= ") == "END OF REPORT"
    assert done.stderr == ""


LOADED = """\
import json, sys
from daemon.cli.main import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def test_once_does_not_load_what_only_the_fleet_or_the_service_needs(tmp_path: Path,
                                                                    project: Path) -> None:
    """psycopg and the fleet's modules cost every command 50 ms at start-up, the service's
    Prometheus client 10-25 ms: a run with no fleet configured, the pre-commit hook's case,
    imports none of them."""
    report = tmp_path / "loaded.json"
    done = subprocess.run([sys.executable, "-c", LOADED, str(report), "run", "--project",
                           str(project), "--once", "--quiet", "--no-report",
                           "--db", str(tmp_path / "log.db")],
                          capture_output=True, text=True, cwd=tmp_path,
                          env=child_env(tmp_path), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(report.read_text())
    assert loaded["code"] == 0
    unused = [m for m in loaded["modules"]
              if m.split(".")[0] in ("psycopg", "psycopg_binary", "prometheus_client")
              or m in ("daemon.fleet.connection", "daemon.fleet.shipper", "daemon.app.shipping",
                       "daemon.service.daemon")]
    assert unused == []
    assert "daemon.app.session" in loaded["modules"]  # it did run


def test_once_asks_jedi_and_reports_code_assistance(tmp_path: Path, project: Path) -> None:
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "app.py").write_text(
        "from pkg.core import add\n\n\ndef main(items):\n"
        "    items.append(add(1, 2))\n    return ' '.join(items).upper()\n")
    db = tmp_path / "log.db"
    done = realworld(tmp_path, "run", "--project", str(project), "--once", "--db", str(db))
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "] Code assistance: " in line]
    assert re.fullmatch(r"\[Test-test_\d{8}_\d{6}\] Code assistance: \d+ms, 3 capabilities, "
                        r"\d+ requests, \d+% right", line), line
    conn = sqlite3.connect(db)
    try:
        [(success, data)] = conn.execute("SELECT success, result_data FROM activities "
                                          "WHERE capability = 'code_assistant'").fetchall()
    finally:
        conn.close()
    figures = json.loads(data)
    assert success == 1 and figures["agreement"]["definition"] == 1.0
    assert 0.0 <= figures["accuracy"] <= 1.0
    report = realworld(tmp_path, "report", "--db", str(db), "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)["activities_by_capability"]
    assert [r["calls"] for r in rows if r["capability"] == "code_assistant"] == [1]
    # Nothing was written in the workspace: jedi's caches went beside the index.
    assert sorted(p.name for p in project.rglob("*")) == [
        "README.md", "__init__.py", "app.py", "core.py", "pkg"]


def test_a_timed_run_prints_numbered_update_blocks(tmp_path: Path, project: Path,
                                                   config: Path) -> None:
    # --config names the file explicitly (the XDG one is the same here).
    done = realworld(tmp_path, "run", "--project", str(project), "--duration", "3s",
                     "--monitor-interval", "1", "--db", str(tmp_path / "log.db"),
                     "--config", str(config), "--no-report")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[Update 1/3] " in out
    assert "[Update 2/3] " in out
    lines = out.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith("[Update "):
            end = lines.index("-" * 80, i + 2)  # the closing rule
            blocks.append(lines[i:end + 1])
    for number, block in enumerate(blocks, start=1):
        assert re.fullmatch(rf"\[Update {number}/3\] \d\d:\d\d:\d\d", block[0])
        assert block[1] == block[-1] == "-" * 80
        assert re.fullmatch(r"  Session: test_\d{8}_\d{6}", block[2])
        assert re.fullmatch(r"  Running: 0:00:0\d / Remaining: 0:00:0\d", block[3])
        assert re.fullmatch(r"  Activities: \d+ total, \d+ errors", block[4])
        assert re.fullmatch(r"  System: CPU \d+\.\d%, Memory \d+\.\d%", block[5])
        count = re.fullmatch(r"  Active Capabilities \((\d+)\):", block[6])
        assert count is not None
        bullets = block[7:-1]
        assert len(bullets) == int(count.group(1))
        assert all(re.fullmatch(r"    • \w+: \d+ calls, \d+\.\d% success", b) for b in bullets)
    # The census is the quickest analyzer: by the last update it has been counted.
    assert "    • workspace_analyzer: 1 calls, 100.0% success" in blocks[-1]
    assert BANNER not in out


def test_update_numbers_count_the_updates_that_come(tmp_path: Path, project: Path,
                                                    config: Path) -> None:
    # 2.5 s at 1 s: updates at 1 s and 2 s, then the end; 2 s at 1 s: the second update is
    # due at the very end and still comes.
    for duration, total in (("2.5s", 2), ("2s", 2)):
        done = realworld(tmp_path, "run", "--project", str(project), "--duration", duration,
                         "--monitor-interval", "1", "--db", str(tmp_path / "log.db"),
                         "--config", str(config), "--no-report")
        assert done.returncode == 0, done.stderr
        heads = [line.split("] ")[0] + "]" for line in done.stdout.splitlines()
                 if line.startswith("[Update ")]
        assert heads == [f"[Update {n}/{total}]" for n in range(1, total + 1)], duration


def test_the_config_files_default_duration_applies(tmp_path: Path, project: Path) -> None:
    config = tmp_path / "short.toml"
    config.write_text("default_duration = 0.02\n" + RELAXED)  # 1.2 s
    done = realworld(tmp_path, "run", "--project", str(project), "--monitor-interval", "0.5",
                     "--config", str(config), "--db", str(tmp_path / "log.db"), "--no-report")
    assert done.returncode == 0, done.stderr
    assert "[Update 1/2] " in done.stdout and "[Update 2/2] " in done.stdout


def test_the_environment_sets_duration_and_interval(tmp_path: Path, project: Path) -> None:
    done = realworld(tmp_path, "run", "--project", str(project), "--db",
                     str(tmp_path / "log.db"), "--no-report",
                     REALWORLD_TESTING_DURATION="1.5s", REALWORLD_TESTING_INTERVAL="0.5")
    assert done.returncode == 0, done.stderr
    assert "[Update 1/3] " in done.stdout
    assert "[Test-test_" in done.stdout and BANNER not in done.stdout  # --no-report


def test_flags_then_environment_then_config_then_defaults(project: Path) -> None:
    def resolve(duration: str | None = None, interval: str | None = None,
                env: dict[str, str] | None = None, **more: Any) -> RunOptions:
        options: dict[str, Any] = dict(
            project=str(project), duration=duration, monitor_interval=interval,
            continuous=False, once=False, quiet=False, no_report=False, save_report=None,
            report_format="text", db_path=Path("x.db"), env=env or {})
        options.update(more)
        return resolve_options(**options)

    env = {"REALWORLD_TESTING_DURATION": "10", "REALWORLD_TESTING_INTERVAL": "45"}
    assert (resolve().minutes, resolve().monitor_interval) == (2.0, 30.0)
    assert resolve(config_interval=60.0).monitor_interval == 60.0
    options = resolve(env=env, config_interval=60.0)
    assert (options.minutes, options.monitor_interval) == (10.0, 45.0)
    options = resolve("30s", "5", env=env)
    assert (options.minutes, options.monitor_interval) == (0.5, 5.0)
    # default_duration from the config file sits between the environment and the default.
    assert resolve(config_minutes=7.0).minutes == 7.0
    assert resolve(env=env, config_minutes=7.0).minutes == 10.0
    assert resolve("3", env=env, config_minutes=7.0).minutes == 3.0
    assert resolve(continuous=True).minutes == 0.0
    assert resolve(once=True).mode == "once"
    with pytest.raises(RunUsageError, match="exclude each other"):
        resolve(once=True, continuous=True)


def test_save_report_names_the_file_after_the_session(tmp_path: Path, project: Path) -> None:
    done = realworld(tmp_path, "run", "--project", str(project), "--once", "--quiet",
                     "--save-report", "out/report_{session}.txt", "--db", str(tmp_path / "log.db"))
    assert done.returncode == 0, done.stderr
    [saved] = list((tmp_path / "out").iterdir())
    session_id = saved.name[len("report_"):-len(".txt")]
    assert re.fullmatch(r"test_\d{8}_\d{6}", session_id)
    assert f"Session ID: {session_id}" in saved.read_text()
    assert done.stdout.endswith(f"Report saved to out/{saved.name}\n")


def test_quiet_prints_only_the_report_and_save_report_writes_it(tmp_path: Path,
                                                               project: Path) -> None:
    target = tmp_path / "reports" / "my_report.txt"
    done = realworld(tmp_path, "run", "--project", str(project), "--once", "--quiet",
                     "--save-report", str(target), "--db", str(tmp_path / "log.db"))
    assert done.returncode == 0, done.stderr
    assert "[Test-" not in done.stdout and "[Update" not in done.stdout
    report = target.read_text()
    assert report.startswith("=" * 80 + "\n") and BANNER in report
    assert done.stdout == f"\n{report}Report saved to {target}\n"


def test_json_report_in_process(tmp_path: Path, project: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "--project", str(project), "--once", "--quiet", "--no-report",
                 "--format", "json", "--save-report", str(target),
                 "--db", str(tmp_path / "log.db")], out=out, err=err)
    assert code == 0, err.getvalue()
    assert out.getvalue() == f"Report saved to {target}\n"
    assert json.loads(target.read_text())


BAD_USAGE = [  # as real processes: one of ours, one of argparse's
    (["--duration", "soon"], "invalid duration 'soon'"),
    (["--once", "--continuous"], "not allowed with argument"),
]
MORE_BAD_USAGE = [
    (["--project", "does/not/exist"], "project path does not exist"),
    (["--duration", "0"], "longer than zero"),
    (["--duration", "99999999999999h"], "invalid duration"),
    (["--monitor-interval", "-1"], "invalid interval"),
    (["--format", "pdf"], "invalid choice"),
    (["--bogus"], "unrecognized arguments"),
]


def _usage_args(tmp_path: Path, project: Path, argv: list[str]) -> list[str]:
    args = ["run", "--db", str(tmp_path / "log.db")]
    if "--project" not in argv:
        args += ["--project", str(project)]
    return args + argv


@pytest.mark.parametrize(("argv", "message"), BAD_USAGE)
def test_bad_usage_exits_2_with_one_line(tmp_path: Path, project: Path, argv: list[str],
                                         message: str) -> None:
    done = realworld(tmp_path, *_usage_args(tmp_path, project, argv))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("realworld: error: ")
    assert message in done.stderr
    assert not (tmp_path / "log.db").exists()


@pytest.mark.parametrize(("argv", "message"), BAD_USAGE + MORE_BAD_USAGE)
def test_bad_usage_in_process(tmp_path: Path, project: Path, argv: list[str],
                              message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(_usage_args(tmp_path, project, argv), out=out, err=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and message in err.getvalue()


def test_bad_environment_durations_are_usage_errors(tmp_path: Path, project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALWORLD_TESTING_INTERVAL", "often")
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "--project", str(project), "--db", str(tmp_path / "log.db")],
                out=out, err=err) == 2
    assert err.getvalue() == ("realworld: error: invalid interval 'often': use seconds (30) "
                              "or 30s, 5m, 1h\n")


def test_ctrl_c_stops_a_continuous_run_and_still_reports(tmp_path: Path,
                                                         project: Path) -> None:
    db = tmp_path / "log.db"
    proc = start(tmp_path, "run", "--project", str(project), "--continuous",
                 "--monitor-interval", "0.3", "--db", str(db))
    try:
        head = read_until(proc, "[Update 1]")
        # Meanwhile `realworld status` sees it running, its process alive.
        status = realworld(tmp_path, "status", "--json", "--db", str(db))
        assert status.returncode == 0, status.stderr
        [running] = json.loads(status.stdout)["running"]
        assert running["process"] == "alive" and running["pid"] == proc.pid
        assert running["mode"] == "continuous" and running["status"] == "running"
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc, tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    out = head + out
    assert "Remaining: no end" in out
    assert "Interrupted: stopping the session and writing the report..." in out
    assert BANNER in out and "Status: stopped" in out
    assert "Traceback" not in err
    status = realworld(tmp_path, "status", "--json", "--db", str(db))
    assert json.loads(status.stdout)["running"] == []


def test_a_run_that_ends_in_error_exits_1(tmp_path: Path, project: Path) -> None:
    # Also: the config file's monitor_interval applies when no flag or variable sets one.
    strict = tmp_path / "strict.toml"
    strict.write_text("monitor_interval = 0.2\n[resource_limits]\nmemory_percent_max = 0.001\n")
    started = time.monotonic()
    done = realworld(tmp_path, "run", "--project", str(project), "--duration", "1m",
                     "--quiet", "--db", str(tmp_path / "log.db"), "--config", str(strict))
    assert time.monotonic() - started < 20
    assert done.returncode == 1
    assert "Status: error" in done.stdout


def test_a_file_past_the_per_file_bound_is_named_in_an_issue_and_the_run_finishes(
        tmp_path: Path, project: Path) -> None:
    # Real work the bound cuts short: 15,000 statements (under the 1 MB file limit) for
    # bandit's rules, for radon, and for jedi (asked to complete after its dots).
    huge = "".join(f"value_{i} = subprocess.call('x', shell=True)\n" for i in range(15_000))
    (project / "pkg" / "generated.py").write_text("import subprocess\n" + huge)
    bounded = tmp_path / "bounded.toml"
    bounded.write_text("file_timeout = 0.05\n" + RELAXED)
    db = tmp_path / "log.db"
    done = realworld(tmp_path, "run", "--project", str(project), "--once", "--quiet",
                     "--no-report", "--db", str(db), "--config", str(bounded), timeout=120)
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    try:
        issues = conn.execute("SELECT capability, description FROM issues "
                              "WHERE issue_type = 'file_quarantined'").fetchall()
        findings = {path for (path,) in conn.execute("SELECT path FROM findings")}
    finally:
        conn.close()
    assert {capability for capability, _ in issues} == {"security_scanner", "pattern_probe",
                                                         "code_assistant"}
    assert all(description.startswith("pkg/generated.py: ") and "timed out after 0.05s"
               in description for _, description in issues)
    assert "pkg/generated.py" not in findings  # skipped, not half-scanned


def test_the_report_says_what_configuration_hid(tmp_path: Path, project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_core.py").write_text(
        "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
        "    assert add(0, 0) == 0\n")
    (project / "pkg" / "check.py").write_text("def check(x):\n    assert x\n")
    db = tmp_path / "log.db"
    done = realworld(tmp_path, "run", "--project", str(project), "--once", "--quiet",
                     "--db", str(db), timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("Skipped by configuration: B101 \N{MULTIPLICATION SIGN}2 (**/tests/**, default)"
            in done.stdout.splitlines())
    conn = sqlite3.connect(db)
    try:
        findings = conn.execute("SELECT path, rule FROM findings").fetchall()
        [(data,)] = conn.execute(
            "SELECT result_data FROM activities WHERE capability = 'security_scanner'")
    finally:
        conn.close()
    assert findings == [("pkg/check.py", "B101")]  # outside tests, an assert is reported
    assert json.loads(data)["skipped_by_configuration"] == [
        {"rule": "B101", "source": "default", "detail": "**/tests/**", "findings": 2}]


def test_fail_on_fails_a_run_on_its_findings_and_exit_zero_reports_them_only(
        tmp_path: Path, project: Path, config: Path) -> None:
    # A secret and a shell=True: what bandit, ruff and detect-secrets-hook exit 1 on.
    token = "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                             for _ in range(36))
    (project / "pkg" / "deploy.py").write_text(
        f'import subprocess\nTOKEN = "{token}"\n\n\n'
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    db = tmp_path / "log.db"
    argv = ("run", "--project", str(project), "--once", "--quiet", "--no-report",
            "--db", str(db), "--config", str(config))
    failed = realworld(tmp_path, *argv, "--fail-on", "high", timeout=120)
    assert failed.returncode == 1, failed.stderr
    [line] = [x for x in failed.stderr.splitlines() if "finding" in x]
    assert line.startswith("realworld: FAIL: ") and "B602 pkg/deploy.py:6" in line
    assert token not in failed.stderr + failed.stdout
    reported = realworld(tmp_path, *argv, "--fail-on", "high", "--exit-zero", timeout=120)
    assert reported.returncode == 0, reported.stderr
    assert "B602 pkg/deploy.py:6" in reported.stderr
    passed = realworld(tmp_path, *argv, "--fail-on", "critical", timeout=120)
    assert passed.returncode == 0, passed.stderr
    listed = realworld(tmp_path, "findings", "latest", "--db", str(db), "--fail-on", "high")
    assert listed.returncode == 1 and "B602 pkg/deploy.py:6" in listed.stderr
    assert realworld(tmp_path, "findings", "latest", "--db", str(db), "--fail-on", "high",
                     "--exit-zero").returncode == 0

"""``RealWorldTester``, the spec's Python API, over real directories, SQLite and threads."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from analyzers.base import FULL_PASS, Analyzer
from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon import RealWorldTester
from daemon.app.tester import session_analyzers
from daemon.cli.main import main as cli_main
from daemon.config import Config

from conftest import REPO_ROOT
from testanalyzers import BrokenAnalyzer, SleepingAnalyzer
from waiting import wait_for

ROOT = REPO_ROOT
NO_LIMITS = {"cpu_percent_max": 100.0, "memory_percent_max": 100.0, "disk_percent_max": 100.0}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file or REALWORLD_* variable from the machine running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the code index
    for name in ("REALWORLD_TESTING_DB", "REALWORLD_TESTING_DURATION",
                 "REALWORLD_TESTING_INTERVAL"):
        monkeypatch.delenv(name, raising=False)


def make_project(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {"main.py": "def main():\n    return 1\n",
                                 "README.md": "# demo\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    return path


def relaxed(tester: RealWorldTester, interval: float = 0.5) -> RealWorldTester:
    """This shared 2-core machine can be busy: the default 90% CPU limit would end sessions."""
    tester.resource_limits.update(NO_LIMITS)
    tester.monitor_interval = interval
    return tester


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def tester(tmp_path: Path) -> Iterator[RealWorldTester]:
    """Only the census analyzer, so counts are exact whatever else the registry offers."""
    t = relaxed(RealWorldTester(db_path=tmp_path / "tests.db", settle_seconds=0.05,
                                analyzers=lambda: [WorkspaceAnalyzer()]))
    try:
        yield t
    finally:
        t.close()


def query(db_path: str | Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    finally:
        conn.close()


# --- the API's shape -------------------------------------------------------------------


def test_the_fake_analyzers_are_analyzers() -> None:
    assert isinstance(SleepingAnalyzer(0), Analyzer) and isinstance(BrokenAnalyzer(), Analyzer)


def test_session_analyzers_give_the_scanner_the_configured_per_path_skips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "tool.py").write_text("import os\nassert os\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_a.py").write_text("assert 1\n")
    config = Config(security_per_path_skips=(("scripts/**", ("B101",)),))
    analyzers = session_analyzers(project, tmp_path / "log.db", config)
    [scanner] = [a for a in analyzers if a.name == "security_scanner"]
    try:
        result = scanner.analyze(project, FULL_PASS)
    finally:
        for analyzer in analyzers:
            getattr(analyzer, "close", lambda: None)()
    assert result.data["skipped_by_configuration"] == [
        {"rule": "B101", "source": "per-path skip", "detail": "scripts/**", "findings": 1}]
    assert [(f.path, f.rule) for f in result.findings] == [("tests/test_a.py", "B101")]


def test_session_analyzers_give_code_assistance_its_configured_sample(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    for n in range(3):
        (project / f"mod_{n}.py").write_text(f"VALUE = {n}\nTEXT = str(VALUE).upper()\n")
    config = Config(code_assist_files_per_pass=2, code_assist_positions_per_file=1)
    analyzers = session_analyzers(project, tmp_path / "log.db", config)
    [assistant] = [a for a in analyzers if a.name == "code_assistant"]
    try:
        result = assistant.analyze(project, FULL_PASS)
    finally:
        for analyzer in analyzers:
            getattr(analyzer, "close", lambda: None)()
    assert result.data["files"] == 2
    # One position of each kind per file: VALUE (definition, references) and .upper.
    assert result.data["requests"] == {"definition": 2, "references": 2, "completion": 2}


def test_the_spec_import_and_its_limits() -> None:
    import daemon

    assert daemon.RealWorldTester is RealWorldTester
    with pytest.raises(AttributeError):
        daemon.NoSuchThing  # noqa: B018


def test_start_returns_at_once_and_the_session_runs_in_the_background(
        tmp_path: Path, project: Path) -> None:
    slow = SleepingAnalyzer(1.2)
    tester = relaxed(RealWorldTester(tmp_path / "t.db", analyzers=lambda: [slow],
                                     settle_seconds=0.05))
    try:
        started = time.monotonic()
        session_id = tester.start_test_session(project, duration_minutes=5)
        assert time.monotonic() - started < 1.0
        assert session_id.startswith("test_")
        assert tester.monitor_activities()["active_sessions"] == [session_id]
        # The baseline pass (1.2 s) completes on the session's own thread.
        wait_for(lambda: tester.monitor_activities()["total_activities"] >= 1, timeout=15)
        assert tester.monitor_activities()["active_sessions"] == [session_id]
    finally:
        tester.close()


@pytest.mark.parametrize("bad", ["missing", "a-file.txt"])
def test_a_missing_path_raises_value_error(tester: RealWorldTester, tmp_path: Path,
                                           bad: str) -> None:
    (tmp_path / "a-file.txt").write_text("not a directory")
    with pytest.raises(ValueError, match="does not exist"):
        tester.start_test_session(tmp_path / bad, 5)
    assert tester.monitor_activities()["active_sessions"] == []


@pytest.mark.parametrize("minutes", [-1, float("nan"), 1e12])
def test_impossible_durations_raise_value_error_and_leave_nothing_running(
        tester: RealWorldTester, project: Path, minutes: float) -> None:
    with pytest.raises(ValueError, match="duration_minutes"):
        tester.start_test_session(project, minutes)
    assert tester.monitor_activities()["sessions"] == []


@pytest.mark.parametrize(("files", "mode", "message"), [
    (["main.py"], "timed", "files are for a single pass"),
    (["../outside.py"], "once", "not a path inside the project"),
    (["/etc/passwd"], "once", "not a path inside the project"),
])
def test_files_are_for_a_single_pass_inside_the_project(
        tester: RealWorldTester, project: Path, files: list[str], mode: str,
        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tester.start_test_session(project, 5, mode=mode, files=files)
    assert tester.monitor_activities()["sessions"] == []


def test_bad_resource_limits_raise_value_error(tester: RealWorldTester, project: Path) -> None:
    tester.resource_limits["cpu_percent_max"] = 150.0
    with pytest.raises(ValueError, match="cpu_percent_max"):
        tester.start_test_session(project, 5)
    tester.resource_limits = {"cpu_percent_max": 50.0, "bogus": 1}
    with pytest.raises(ValueError, match="bogus"):
        tester.start_test_session(project, 5)


def test_unknown_sessions_raise_value_error(tester: RealWorldTester) -> None:
    for call in (tester.stop_session, tester.analyze_session_results,
                 tester.generate_improvement_report, tester.session_stats):
        with pytest.raises(ValueError, match="unknown session"):
            call("test_19990101_000000")


# --- sessions end --------------------------------------------------------------------------


def test_stop_session_returns_final_stats(tester: RealWorldTester, project: Path) -> None:
    session_id = tester.start_test_session(project, duration_minutes=5)
    session = tester.session(session_id)
    assert session is not None and session.first_scan.wait(15)
    final = tester.stop_session(session_id)
    assert final["session_id"] == session_id
    assert final["status"] == "stopped"
    assert final["end_time"]
    assert final["total_activities"] >= 1
    assert final["total_errors"] == 0
    assert final["activities_by_capability"]["workspace_analyzer"]["calls"] >= 1
    assert tester.monitor_activities()["active_sessions"] == []
    # Stopping again changes nothing and still answers.
    assert tester.stop_session(session_id)["status"] == "stopped"
    assert query(tester.db_path, "SELECT COUNT(*) FROM events WHERE type = 'session_ended'"
                 " AND session_id = ?", (session_id,)) == [(1,)]


def test_a_session_ends_by_itself_at_its_duration(tester: RealWorldTester,
                                                  project: Path) -> None:
    started = time.monotonic()
    session_id = tester.start_test_session(project, duration_minutes=0.02)  # 1.2 s
    final = tester.wait(session_id, timeout=20)
    assert 1.1 <= time.monotonic() - started < 15
    assert final["status"] == "completed"
    assert final["end_time"]
    assert final["duration_minutes"] == 0.02
    assert query(tester.db_path, "SELECT end_reason FROM session_stats WHERE session_id = ?",
                 (session_id,)) == [("duration reached",)]
    assert tester.monitor_activities()["active_sessions"] == []


def test_consecutive_errors_end_the_session_with_status_error(tmp_path: Path,
                                                              project: Path) -> None:
    tester = RealWorldTester(tmp_path / "t.db", analyzers=lambda: [BrokenAnalyzer()],
                             settle_seconds=0.05)
    try:
        # The spec's "Custom Resource Limits": a whole new dict.
        tester.resource_limits = {
            'cpu_percent_max': 100.0,
            'memory_percent_max': 100.0,
            'disk_percent_max': 100.0,
            'consecutive_errors_max': 1        # Fail faster
        }
        session_id = tester.start_test_session(project, duration_minutes=5)
        final = tester.wait(session_id, timeout=20)
    finally:
        tester.close()
    assert final["status"] == "error"
    assert final["total_errors"] >= 1
    reason = "1 failing activities in a row (limit 1)"
    assert query(tmp_path / "t.db", "SELECT end_reason FROM session_stats "
                 "WHERE session_id = ?", (session_id,)) == [(reason,)]
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["sessions", "--json", "--db", str(tmp_path / "t.db")], out, err) == 0
    [row] = json.loads(out.getvalue())
    assert (row["session_id"], row["status"], row["end_reason"]) == (session_id, "error", reason)


def test_resource_limits_throttle_then_stop(tmp_path: Path, project: Path) -> None:
    tester = relaxed(RealWorldTester(tmp_path / "t.db", settle_seconds=0.05,
                                     analyzers=lambda: [WorkspaceAnalyzer()]), interval=0.2)
    try:
        tester.resource_limits["memory_percent_max"] = 0.001  # always over
        session_id = tester.start_test_session(project, duration_minutes=5)
        final = tester.wait(session_id, timeout=20)
    finally:
        tester.close()
    assert final["status"] == "error"
    [(reason,)] = query(tmp_path / "t.db", "SELECT end_reason FROM session_stats")
    assert reason.startswith("memory ") and reason.endswith("for 3 samples in a row")
    issues = query(tmp_path / "t.db", "SELECT severity, issue_type FROM issues "
                   "WHERE session_id = ? AND capability = 'realworld'", (session_id,))
    assert issues == [("critical", "resource_limit")]


# --- several sessions, several databases -----------------------------------------------


def test_concurrent_sessions_on_different_projects(tester: RealWorldTester,
                                                   tmp_path: Path) -> None:
    # The spec's "Concurrent Session Support", in temporary directories.
    sessions = []
    for i in range(3):
        project = make_project(tmp_path / f"project{i}", {f"mod{i}.py": f"X = {i}\n"})
        session_id = tester.start_test_session(str(project), 5)
        sessions.append(session_id)
    assert len(set(sessions)) == 3
    monitor_data = tester.monitor_activities()
    assert len(monitor_data["active_sessions"]) == 3
    assert sorted(monitor_data["active_sessions"]) == sorted(sessions)
    wait_for(lambda: tester.monitor_activities()["total_activities"] >= 3, timeout=20)
    for session_id in sessions:
        assert tester.stop_session(session_id)["status"] == "stopped"
    monitor_data = tester.monitor_activities()
    assert monitor_data["active_sessions"] == []
    assert {s["session_id"]: s["status"] for s in monitor_data["sessions"]} == {
        sid: "stopped" for sid in sessions}
    paths = query(tester.db_path, "SELECT project_path FROM test_sessions ORDER BY 1")
    assert [Path(p) for (p,) in paths] == [(tmp_path / f"project{i}").resolve()
                                           for i in range(3)]


def test_custom_database_locations_are_independent(tmp_path: Path, project: Path) -> None:
    prod = relaxed(RealWorldTester(db_path=str(tmp_path / "production_tests.db"),
                                   settle_seconds=0.05))
    dev = relaxed(RealWorldTester(db_path=tmp_path / "dev_tests.db", settle_seconds=0.05))
    try:
        session_id = prod.start_test_session(project, 5)
        prod.stop_session(session_id)
        assert Path(prod.db_path) == tmp_path / "production_tests.db"
        assert query(tmp_path / "production_tests.db",
                     "SELECT session_id FROM test_sessions") == [(session_id,)]
        assert query(tmp_path / "dev_tests.db", "SELECT COUNT(*) FROM test_sessions") == [(0,)]
        with pytest.raises(ValueError, match="unknown session"):
            dev.stop_session(session_id)
    finally:
        prod.close()
        dev.close()


def test_default_database_is_in_the_current_directory_unless_the_env_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with RealWorldTester() as tester:
        assert Path(tester.db_path).resolve() == (tmp_path / "realworld_testing.db").resolve()
    monkeypatch.setenv("REALWORLD_TESTING_DB", str(tmp_path / "from-env.db"))
    with RealWorldTester() as tester:
        assert Path(tester.db_path) == tmp_path / "from-env.db"
    assert (tmp_path / "from-env.db").is_file()


# --- what happens in a session -----------------------------------------------------------


def test_a_file_edited_during_a_session_is_recorded_and_analyzed(tester: RealWorldTester,
                                                                 project: Path) -> None:
    session_id = tester.start_test_session(project, 5)
    session = tester.session(session_id)
    assert session is not None and session.first_scan.wait(15)
    before = tester.session_stats(session_id)["total_activities"]
    (project / "main.py").write_text("def main():\n    return 2\n", encoding="utf-8")
    (project / "new.py").write_text("VALUE = 3\n", encoding="utf-8")

    def changes() -> list[tuple[Any, ...]]:
        return query(tester.db_path, "SELECT json_extract(payload, '$.path'), "
                     "json_extract(payload, '$.change') FROM events WHERE type = "
                     "'file_changed' AND session_id = ? AND seq > (SELECT MAX(seq) FROM events "
                     "WHERE type = 'workspace_rescanned')", (session_id,))

    wait_for(lambda: {("main.py", "modified"), ("new.py", "created")} <= set(changes()))
    wait_for(lambda: tester.session_stats(session_id)["total_activities"] > before)
    recent = tester.monitor_activities()["recent_activities"]
    assert recent[0]["capability"] == "workspace_analyzer"
    tester.stop_session(session_id)


def test_the_spec_real_time_monitoring_example(tmp_path: Path, project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Every analyzer the registry discovers, as the spec's users get them.
    tester = RealWorldTester(db_path=tmp_path / "spec.db", settle_seconds=0.05)
    tester.resource_limits.update(NO_LIMITS)
    session_id = tester.start_test_session(str(project), duration_minutes=0.05)

    # Monitor every second (the spec: every 30)
    for i in range(3):
        time.sleep(1)

        # Get current status
        monitor_data = tester.monitor_activities()
        metrics = tester.collect_metrics()

        print(f"Update {i+1}:")
        print(f"  Activities: {monitor_data['total_activities']}")
        print(f"  Errors: {monitor_data['total_errors']}")
        print(f"  CPU: {metrics['system_resources']['cpu_percent']:.1f}%")

    # Get final results
    final_stats = tester.stop_session(session_id)
    report = tester.generate_improvement_report(session_id)
    print(report)
    tester.close()

    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("Update ")] == [
        "Update 1:", "Update 2:", "Update 3:"]
    assert final_stats["total_activities"] >= 1
    assert "workspace_analyzer" in final_stats["activities_by_capability"]
    assert final_stats["status"] in ("completed", "stopped")
    assert "REAL-WORLD TESTING - IMPROVEMENT REPORT" in out
    assert f"Session ID: {session_id}" in out


def test_metrics_and_monitor_keys(tester: RealWorldTester, project: Path) -> None:
    session_id = tester.start_test_session(project, 5)
    wait_for(lambda: tester.monitor_activities()["total_activities"] >= 1, timeout=15)
    monitor = tester.monitor_activities()
    assert set(monitor) >= {"timestamp", "active_sessions", "sessions", "total_activities",
                            "total_errors", "activities_by_capability", "recent_activities"}
    [row] = monitor["sessions"]
    assert row["session_id"] == session_id and row["status"] == "running"
    assert row["throttled"] is False
    assert monitor["activities_by_capability"]["workspace_analyzer"]["success_rate"] == 100.0
    metrics = tester.collect_metrics()
    resources = metrics["system_resources"]
    assert 0.0 <= resources["cpu_percent"] <= 100.0
    assert 0.0 < resources["memory_percent"] <= 100.0
    assert 0.0 < resources["disk_percent"] <= 100.0
    assert metrics["process"]["rss_mb"] > 0
    workspace = metrics["capabilities"]["workspace_analyzer"]
    assert workspace["calls"] >= 1
    assert workspace["avg_response_ms"] <= workspace["p95_response_ms"] <= \
        workspace["max_response_ms"]
    tester.stop_session(session_id)


def test_analysis_and_report_have_the_spec_keys_and_banners(tester: RealWorldTester,
                                                            project: Path) -> None:
    session_id = tester.start_test_session(project, 5)
    wait_for(lambda: tester.monitor_activities()["total_activities"] >= 1, timeout=15)
    tester.stop_session(session_id)
    results = tester.analyze_session_results(session_id)
    assert 0 <= results["session"]["overall_score"] <= 100
    assert results["summary"]["success_rate"] == 100.0
    assert results["summary"]["avg_response_time"] >= 0
    assert isinstance(results["top_issues"], list)
    for cap in results["activities_by_capability"]:
        print(f"{cap['capability']}: {cap['avg_response']:.0f}ms")
        assert cap["capability"] == "workspace_analyzer"
    report = tester.generate_improvement_report(session_id)
    for banner in ("REAL-WORLD TESTING - IMPROVEMENT REPORT", " SUMMARY ", " WHAT WORKED WELL ",
                   " WHAT WORKED POORLY ", " TOP ISSUES DISCOVERED ", " ACTIONABLE IMPROVEMENTS ",
                   " END OF REPORT "):
        assert banner in report
    lines = report.splitlines()
    assert lines[0] == "=" * 80
    assert all(len(line) == 80 for line in lines if line.startswith("====="))
    assert f"Session ID: {session_id}" in lines
    assert "Status: stopped" in lines
    assert json.loads(tester.generate_improvement_report(session_id, "json"))
    assert tester.generate_improvement_report(session_id, "markdown").startswith("#")
    # Judging twice adds nothing to the log.
    count = query(tester.db_path, "SELECT COUNT(*) FROM events")
    tester.analyze_session_results(session_id)
    tester.generate_improvement_report(session_id)
    assert query(tester.db_path, "SELECT COUNT(*) FROM events") == count


def test_activity_listeners_see_every_call_and_may_fail(tester: RealWorldTester,
                                                        project: Path) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def listener(event: Any) -> None:
        with lock:
            seen.append(event.capability)

    def broken(event: Any) -> None:
        raise RuntimeError("a listener bug")

    tester.add_activity_listener(broken)
    tester.add_activity_listener(listener)
    session_id = tester.start_test_session(project, 5)
    wait_for(lambda: seen, timeout=15)
    assert seen[0] == "workspace_analyzer"
    assert tester.stop_session(session_id)["status"] == "stopped"


def test_close_stops_running_sessions(tmp_path: Path, project: Path) -> None:
    tester = relaxed(RealWorldTester(tmp_path / "t.db", settle_seconds=0.05))
    session_id = tester.start_test_session(project, 5)
    tester.close()
    tester.close()
    assert query(tmp_path / "t.db", "SELECT status FROM test_sessions") == [("stopped",)]
    with pytest.raises(RuntimeError, match="closed"):
        tester.start_test_session(project, 5)
    assert session_id


def test_a_killed_session_is_expired_by_the_next_tester(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "t.db"
    child = textwrap.dedent(f"""
        import time
        from daemon import RealWorldTester
        tester = RealWorldTester({str(db)!r}, settle_seconds=0.05)
        tester.resource_limits.update({NO_LIMITS!r})
        session_id = tester.start_test_session({str(project)!r}, 5)
        tester.session(session_id).first_scan.wait(30)
        tester.catch_up()
        print(session_id, flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        session_id = proc.stdout.readline().strip()
        assert session_id.startswith("test_"), proc.stderr.read() if proc.stderr else ""
        # While it runs, another tester on the same log leaves it alone.
        with RealWorldTester(db) as other:
            assert other.session_stats(session_id)["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    with RealWorldTester(db) as tester:
        stats = tester.session_stats(session_id)
        assert stats["status"] == "expired"
        assert stats["end_time"]
    assert query(db, "SELECT end_reason FROM session_stats") == [
        ("its process ended without ending it",)]

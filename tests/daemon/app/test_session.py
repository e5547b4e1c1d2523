"""One session: watcher -> runner -> writer, scheduled samples and expiry, suspend/end, resume."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import psutil
import pytest
import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from analyzers.base import AnalysisResult
from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon.app.session import Session, SessionSpec, known_files
from daemon.config import ResourceLimits
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded
from daemon.log.store import EventStore
from daemon.log.writer import EventWriter
from daemon.logsetup import configure_logging
from daemon.projections.projector import catch_up

from waiting import wait_for

NO_LIMITS = ResourceLimits(cpu_percent_max=100.0, memory_percent_max=100.0,
                           disk_percent_max=100.0)


@dataclass
class Rig:
    db: Database
    writer: EventWriter
    scheduler: BackgroundScheduler
    project: Path
    ended: list[str] = field(default_factory=list)
    activities: list[ActivityRecorded] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    def session(self, session_id: str = "s-1", *, mode: str = "timed",
                minutes: float = 5.0, interval: float = 30.0,
                limits: ResourceLimits = NO_LIMITS, analyzers: Sequence[Any] | None = None,
                **options: Any) -> Session:
        spec = SessionSpec(session_id=session_id, project=self.project,
                           duration_minutes=minutes if mode == "timed" else 0.0, mode=mode,
                           monitor_interval=interval, limits=limits, settle_seconds=0.05,
                           call_timeout=10.0, database_paths=(self.db.path,), **options)
        session = Session(spec, db=self.db, writer=self.writer, scheduler=self.scheduler,
                          analyzers=[WorkspaceAnalyzer()] if analyzers is None else analyzers,
                          on_activity=self.activities.append,
                          on_end=lambda s: self.ended.append(s.session_id))
        self.sessions.append(session)
        return session

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.writer.flush(10.0)
        catch_up(self.db)
        conn = sqlite3.connect(self.db.path)
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        finally:
            conn.close()

    def types(self, session_id: str = "s-1") -> list[str]:
        return [t for (t,) in self.rows("SELECT type FROM events WHERE session_id = ? "
                                        "ORDER BY seq", (session_id,))]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("def main():\n    return 1\n")
    (project / "notes.txt").write_text("hello\n")
    (tmp_path / "state").mkdir()
    db = Database.open(tmp_path / "state" / "log.db", create=True)
    store = EventStore(db)
    writer = EventWriter(store)
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    scheduler.start()
    rig = Rig(db, writer, scheduler, project)
    try:
        yield rig
    finally:
        for session in rig.sessions:
            session.end("stopped", "test over")
        scheduler.shutdown(wait=False)
        writer.close()
        store.close()


def test_a_single_pass_ends_by_itself(rig: Rig) -> None:
    session = rig.session(mode="once")
    session.start()
    assert session.wait(15)
    assert session.first_scan.is_set()
    assert (session.status, session.end_reason) == ("completed", "single pass finished")
    assert rig.ended == ["s-1"]
    assert [a.capability for a in rig.activities] == ["workspace_analyzer"]
    assert rig.rows("SELECT status, duration_minutes FROM test_sessions") == [("completed", 0)]
    assert rig.rows("SELECT mode, end_reason FROM session_stats") == [
        ("once", "single pass finished")]


def test_a_timed_session_expires_on_the_scheduler(rig: Rig) -> None:
    session = rig.session(minutes=0.02)  # 1.2 s
    started = time.monotonic()
    session.start()
    assert session.wait(15)
    assert time.monotonic() - started >= 1.0
    assert (session.status, session.end_reason) == ("completed", "duration reached")
    assert session.ended_at is not None and not session.running
    assert rig.types().count("session_ended") == 1
    assert rig.scheduler.get_jobs() == []  # its sample and expiry jobs are gone


def test_the_first_pass_and_samples_are_recorded(rig: Rig) -> None:
    session = rig.session(interval=0.2)
    session.start()
    assert session.first_scan.wait(15)
    wait_for(lambda: len(rig.rows("SELECT 1 FROM performance_metrics "
                                  "WHERE capability = 'system' AND metric_type = 'cpu_usage'"))
             >= 3)
    assert session.last_sample is not None
    # One event per sample, five rows: the first sample's rows name the same event.
    assert rig.types().count("resources_sampled") * 5 == len(
        rig.rows("SELECT 1 FROM performance_metrics WHERE capability IN ('system', 'realworld')"))
    types = [t for t in rig.types() if t != "resources_sampled"]  # samples start at once
    assert types[:3] == ["session_started", "workspace_rescanned", "file_changed"]
    assert types.count("file_changed") == 2  # the baseline: both files are new to the log
    assert "activity_recorded" in types
    assert {p for (p,) in rig.rows("SELECT path FROM files")} == {"main.py", "notes.txt"}


def test_end_happens_once_whoever_calls_it(rig: Rig) -> None:
    session = rig.session()
    session.start()
    assert session.first_scan.wait(15)
    barrier = threading.Barrier(8)

    def end(i: int) -> None:
        barrier.wait()
        session.end("stopped" if i % 2 else "error", f"caller {i}")

    threads = [threading.Thread(target=end, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert rig.types().count("session_ended") == 1
    assert rig.ended == ["s-1"]
    [(status, reason)] = rig.rows("SELECT s.status, x.end_reason FROM test_sessions AS s "
                                  "JOIN session_stats AS x USING (session_id)")
    assert (status, reason) == (session.status, session.end_reason)


def test_changes_are_recorded_and_analyzed(rig: Rig) -> None:
    session = rig.session()
    session.start()
    assert session.first_scan.wait(15)
    calls = len(rig.activities)
    (rig.project / "main.py").write_text("def main():\n    return 2\n")
    (rig.project / "notes.txt").unlink()
    (rig.project / "pkg").mkdir()
    (rig.project / "pkg" / "mod.py").write_text("X = 1\n")
    expected = {("main.py", "modified"), ("notes.txt", "deleted"), ("pkg/mod.py", "created")}

    def seen() -> set[tuple[str, str]]:
        return set(rig.rows("SELECT json_extract(payload, '$.path'), "
                            "json_extract(payload, '$.change') FROM events "
                            "WHERE type = 'file_changed' AND seq > 3"))

    wait_for(lambda: expected <= seen())
    wait_for(lambda: len(rig.activities) > calls)
    assert all(a.success for a in rig.activities)
    # The files projection follows the log on the projector's schedule, not at once.
    wait_for(lambda: set(known_files(rig.db, str(rig.project))) == {"main.py", "pkg/mod.py"})


def test_its_own_database_inside_the_workspace_is_not_watched(tmp_path: Path) -> None:
    # `realworld run` from a project's root keeps ./realworld_testing.db inside the project.
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("X = 1\n")
    db = Database.open(project / "realworld_testing.db", create=True)
    store = EventStore(db)
    writer = EventWriter(store)
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    scheduler.start()
    rig = Rig(db, writer, scheduler, project)
    try:
        session = rig.session(interval=0.1)  # samples keep writing to the database
        session.start()
        assert session.first_scan.wait(15)
        time.sleep(1.0)
        session.end("stopped")
        paths = [p for (p,) in rig.rows("SELECT json_extract(payload, '$.path') FROM events "
                                        "WHERE type = 'file_changed'")]
        assert paths == ["main.py"]
        assert len(rig.activities) == 1
    finally:
        scheduler.shutdown(wait=False)
        writer.close()
        store.close()


def test_bad_files_become_issues_and_the_session_goes_on(rig: Rig) -> None:
    os.mkfifo(rig.project / "a-fifo")
    (rig.project / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (rig.project / os.fsdecode(b"caf\xe9.py")).write_bytes(b"X = 1\n")
    session = rig.session()
    session.start()
    assert session.first_scan.wait(15)
    (rig.project / "main.py").write_text("X = 2\n")
    wait_for(lambda: rig.rows("SELECT 1 FROM events WHERE type = 'file_changed' AND "
                              "json_extract(payload, '$.path') = 'main.py' AND "
                              "json_extract(payload, '$.change') = 'modified'"))
    assert session.running
    issues = rig.rows("SELECT severity, capability, issue_type, description FROM issues")
    assert [(s, c, t) for s, c, t, _ in issues] == [
        ("low", "workspace_analyzer", "file_not_regular")]
    assert issues[0][3].startswith("a-fifo: ")


class OneFileAtATime:
    """Works to a budget of one file per call, the way the real analyzers work to a time
    budget, and says how many it left."""

    name = "budgeted"
    activity_type = "scan"

    def __init__(self) -> None:
        self.done: list[str] = []

    def applies_to(self, path: str) -> bool:
        return True

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        todo = sorted(p.name for p in root.iterdir() if p.name not in self.done)
        self.done += todo[:1]
        return AnalysisResult(f"{len(todo[1:])} left", remaining=len(todo[1:]))


@pytest.mark.parametrize("mode", ["timed", "once"])
def test_an_analyzer_that_left_work_is_called_again_without_waiting_for_a_change(
        rig: Rig, mode: str) -> None:
    for n in range(6):
        (rig.project / f"extra_{n}.txt").write_text(f"{n}\n")
    analyzer = OneFileAtATime()
    session = rig.session(mode=mode, analyzers=[analyzer])
    session.start()
    wait_for(lambda: len(analyzer.done) == 8)  # main.py, notes.txt and the six extras
    assert sorted(analyzer.done) == sorted(p.name for p in rig.project.iterdir())
    time.sleep(0.3)
    assert len(rig.activities) == 8  # and then it rests until something changes


def test_a_file_above_the_size_cap_is_an_issue_once(rig: Rig) -> None:
    # 50 MB, sparse: the size is what matters, not the disk it takes.
    with open(rig.project / "dump.sql", "wb") as big:
        big.truncate(50 * 1024 * 1024)
    session = rig.session(max_file_bytes=1024 * 1024)
    session.start()
    assert session.first_scan.wait(30)
    with open(rig.project / "dump.sql", "r+b") as big:
        big.write(b"-- grown\n")  # changed again: still one issue, not two
    wait_for(lambda: len(rig.rows("SELECT 1 FROM events WHERE type = 'file_changed' AND "
                                  "json_extract(payload, '$.path') = 'dump.sql'")) == 2)
    assert rig.rows("SELECT severity, issue_type, description FROM issues") == [
        ("info", "file_too_large", "dump.sql: 52,428,800 bytes, above max_file_bytes "
                                   "(1,048,576); analyzers skip it")]
    assert session.running


def test_a_single_pass_reports_a_file_above_the_size_cap_too(rig: Rig) -> None:
    with open(rig.project / "dump.sql", "wb") as big:
        big.truncate(50 * 1024 * 1024)
    (rig.project / ".gitignore").write_text("ignored.bin\n")
    with open(rig.project / "ignored.bin", "wb") as big:
        big.truncate(50 * 1024 * 1024)  # ignored: no issue
    os.symlink(rig.project / "dump.sql", rig.project / "link.sql")  # a link: not a file
    session = rig.session(mode="once", max_file_bytes=1024 * 1024)
    session.start()
    wait_for(lambda: not session.running)
    assert rig.rows("SELECT severity, issue_type, description FROM issues") == [
        ("info", "file_too_large", "dump.sql: 52,428,800 bytes, above max_file_bytes "
                                   "(1,048,576); analyzers skip it")]


def test_suspend_is_not_an_end_and_a_resume_catches_up(rig: Rig) -> None:
    session = rig.session(interval=0.2)
    session.start()
    assert session.first_scan.wait(15)
    session.suspend()
    assert session.suspended and not session.running and session.ended_at is None
    session.end("stopped", "too late")  # a suspended session is not ended behind its back
    assert rig.ended == []
    assert rig.rows("SELECT status FROM test_sessions") == [("running",)]
    assert rig.scheduler.get_jobs() == []
    samples = rig.rows("SELECT COUNT(*) FROM performance_metrics")
    # Meanwhile, with nobody watching:
    (rig.project / "main.py").write_text("def main():\n    return 'changed while down'\n")
    (rig.project / "added.py").write_text("Y = 2\n")
    time.sleep(0.3)
    assert rig.rows("SELECT COUNT(*) FROM performance_metrics") == samples

    resumed = rig.session(interval=0.2)
    resumed.start(resume=True)
    assert resumed.first_scan.wait(15)
    types = rig.types()
    assert types.count("session_started") == 1
    assert types.count("session_resumed") == 1
    after_resume = rig.rows(
        "SELECT json_extract(payload, '$.path'), json_extract(payload, '$.change') "
        "FROM events WHERE type = 'file_changed' AND seq > (SELECT seq FROM events "
        "WHERE type = 'session_resumed')")
    assert set(after_resume) == {("main.py", "modified"), ("added.py", "created")}
    resumed.end("stopped", "done")
    assert rig.rows("SELECT status FROM test_sessions") == [("stopped",)]


# --- changes only: what the log holds is not told again ------------------------------------


def events_after(rig: Rig, seq: int) -> list[str]:
    return [t for (t,) in rig.rows("SELECT type FROM events WHERE seq > ? ORDER BY seq",
                                   (seq,))]


def last_seq(rig: Rig) -> int:
    return int(rig.rows("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])


#: What a quiet periodic pass may add: its calls, the samples, and the findings' per-pass
#: summary (nothing here reports findings, but a pass of a real scanner would).
QUIET = {"activity_recorded", "resources_sampled", "findings_summarized"}


def test_quiet_periodic_passes_add_calls_and_samples_only(rig: Rig) -> None:
    session = rig.session(mode="continuous", interval=0.2, probe_interval=0.3)
    session.start()
    assert session.first_scan.wait(15)
    after_baseline = last_seq(rig)
    wait_for(lambda: events_after(rig, after_baseline).count("activity_recorded") >= 4)
    # Nobody edits: the scheduled rescans find nothing, so say nothing.
    assert set(events_after(rig, after_baseline)) <= QUIET
    session.end("stopped", "done")

    # A new session on the same log and workspace: the files are known, so the startup
    # rescan is its one workspace event, with no file_changed after it.
    restarted_at = last_seq(rig)
    again = rig.session("s-2", mode="continuous", interval=0.2, probe_interval=0.3)
    again.start()
    assert again.first_scan.wait(15)
    wait_for(lambda: events_after(rig, restarted_at).count("activity_recorded") >= 3)
    again.end("stopped", "done")
    types = events_after(rig, restarted_at)
    assert types.count("workspace_rescanned") == 1 and "file_changed" not in types
    assert set(types) <= QUIET | {"session_started", "workspace_rescanned", "session_ended"}


def test_a_resumed_session_does_not_raise_its_issues_again(rig: Rig) -> None:
    os.mkfifo(rig.project / "a-fifo")  # a file_not_regular issue on every rescan
    session = rig.session(interval=0.2)
    session.start()
    assert session.first_scan.wait(15)
    assert rig.types().count("issue_detected") == 1
    session.suspend()
    resumed = rig.session(interval=0.2)
    resumed.start(resume=True)
    assert resumed.first_scan.wait(15)
    (rig.project / "main.py").write_text("X = 3\n")  # a change: the watcher drains again
    wait_for(lambda: "file_changed" in events_after(rig, rig.types().index("session_resumed")))
    resumed.end("stopped", "done")
    types = rig.types()
    assert types.count("issue_detected") == 1 and "issue_updated" not in types
    assert rig.rows("SELECT issue_type FROM issues") == [("file_not_regular",)]


def test_a_limit_passed_the_same_way_again_is_not_an_update(rig: Rig) -> None:
    # Any used disk passes a 0 % limit; the same amount sample after sample (the disk
    # barely moves in a second): throttle, throttle again, then the stop.
    limits = ResourceLimits(cpu_percent_max=100.0, memory_percent_max=100.0,
                            disk_percent_max=0.0)
    session = rig.session(interval=0.2, limits=limits)
    session.start()
    assert session.wait(15)
    assert session.status == "error" and "3 samples in a row" in session.end_reason
    issues = [(t, json.loads(p)) for t, p in rig.rows(
        "SELECT type, payload FROM events WHERE type LIKE 'issue_%' ORDER BY seq")]
    disks = [json.loads(p)["disk"] for (p,) in rig.rows(
        "SELECT payload FROM events WHERE type = 'resources_sampled' ORDER BY seq")][:3]
    # Should the disk have moved by 0.1 % between the first two samples, that is news.
    moved = int(disks[1] != disks[0])
    assert [t for t, _ in issues] == ["issue_detected", *["issue_updated"] * (1 + moved)]
    update = issues[-1][1]
    assert update["severity"] == "critical" and update["description"].endswith(
        "for 3 samples in a row")
    assert rig.rows("SELECT severity, issue_type FROM issues") == [("critical",
                                                                    "resource_limit")]


def test_a_session_whose_thread_fails_ends_in_error(rig: Rig) -> None:
    session = rig.session()
    rig.project.rename(rig.project.with_name("moved-away"))  # before it starts watching
    session.start()
    assert session.wait(15)
    assert session.status == "error"
    assert session.end_reason
    assert rig.ended == ["s-1"]
    assert session.first_scan.is_set()  # nobody waits for a scan that will not come


# --- ending while a call runs ----------------------------------------------------------


class Unstoppable:
    """A call that ignores interrupts for ``seconds`` and records whether it was closed
    under it (what crashed the indexer with SIGSEGV at the end of a first pass)."""

    name = "unstoppable"
    activity_type = "analysis"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = threading.Event()
        self.in_call = False
        self.closed_during_call: bool | None = None

    def applies_to(self, path: str) -> bool:
        return True

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        self.in_call = True
        self.started.set()
        time.sleep(self.seconds)
        self.in_call = False
        return AnalysisResult("done")

    def close(self) -> None:
        self.closed_during_call = self.in_call


def test_waiting_for_a_slow_end_uses_no_cpu(rig: Rig) -> None:
    """The busy-wait class of bug: ``wait`` spun a core while the session wound down."""
    analyzer = Unstoppable(4.0)
    session = rig.session(mode="continuous", analyzers=[analyzer])
    session.start()
    assert analyzer.started.wait(10)
    cpu: list[float] = []

    def waiter() -> None:
        before = time.thread_time()
        assert session.wait(30)
        cpu.append(time.thread_time() - before)

    thread = threading.Thread(target=waiter)
    thread.start()
    started = time.monotonic()
    session.end("stopped", "test")  # waits out the runner's grace: seconds
    thread.join(30)
    assert time.monotonic() - started >= 2.0
    assert cpu and cpu[0] < 0.05, f"the waiting thread used {cpu} s of CPU"


def test_an_end_during_a_call_closes_nothing_under_it(rig: Rig) -> None:
    analyzer = Unstoppable(4.0)
    session = rig.session(mode="continuous", analyzers=[analyzer])
    session.start()
    assert analyzer.started.wait(10)
    started = time.monotonic()
    session.end("stopped", "test")
    assert time.monotonic() - started < 5.0  # bounded: the grace, then the join
    assert analyzer.closed_during_call is None  # left to its own thread
    wait_for(lambda: analyzer.closed_during_call is not None, timeout=10)
    assert analyzer.closed_during_call is False
    assert rig.types().count("session_ended") == 1


def session_thread_cpu(session: Session) -> float:
    """CPU seconds the session's own thread has used (psutil reads it per thread)."""
    native = session._thread.native_id
    for thread in psutil.Process().threads():
        if thread.id == native:
            return float(thread.user_time + thread.system_time)
    raise AssertionError("the session's thread is gone")


def test_a_throttled_session_with_changes_settling_waits_without_spinning(rig: Rig) -> None:
    """Throttled, with a change whose settle deadline had passed, the watch loop waited
    zero seconds again and again: a whole core, while the machine was already over its
    limits. It blocks until the next health check now."""
    limits = ResourceLimits(cpu_percent_max=100.0, memory_percent_max=100.0,
                            disk_percent_max=0.001)  # always over: throttled from the start
    session = rig.session(mode="continuous", limits=limits, interval=3600.0)
    session.start()
    assert session.first_scan.wait(15)
    wait_for(lambda: session.throttled)
    (rig.project / "new.py").write_text("x = 1\n")  # settles in 50 ms, then waits
    time.sleep(0.5)
    before = session_thread_cpu(session)
    time.sleep(2.0)
    used = session_thread_cpu(session) - before
    assert used < 0.1, f"the session's thread used {used:.2f} s of CPU in 2 s while waiting"


def test_an_idle_session_blocks_between_health_checks(rig: Rig) -> None:
    session = rig.session(mode="continuous")
    session.start()
    assert session.first_scan.wait(15)
    time.sleep(0.5)
    before = session_thread_cpu(session)
    time.sleep(3.0)
    assert session_thread_cpu(session) - before < 0.05


class _Chatty:
    """Logs a line from inside its call, as the scanner does about a baseline."""

    name = "chatty"
    activity_type = "analysis"

    def applies_to(self, path: str) -> bool:
        return True

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        structlog.get_logger("realworld.chatty").warning("said_from_a_call")
        return AnalysisResult(summary="said")


def test_every_line_of_a_session_names_it(rig: Rig) -> None:
    root, scheduler = logging.getLogger(), logging.getLogger("apscheduler")
    handlers, levels = root.handlers[:], (root.level, scheduler.level)
    stream = io.StringIO()
    configure_logging(level="info", stream=stream, json_lines=True)
    try:
        session = rig.session("s-logged", mode="once", analyzers=[_Chatty()])
        session.start()
        assert session.wait(15)
        # Another thread logging meanwhile is no session's.
        structlog.get_logger("realworld.other").info("elsewhere")
    finally:
        root.handlers = handlers
        root.setLevel(levels[0])
        scheduler.setLevel(levels[1])
        structlog.reset_defaults()
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    said = {entry["event"]: entry for entry in logged}
    assert said["said_from_a_call"]["session_id"] == "s-logged"  # on the call's thread
    assert said["session_ended"]["session_id"] == "s-logged"
    assert "session_id" not in said["elsewhere"]
    assert all(e.get("session_id") == "s-logged" for e in logged if e["event"] != "elsewhere")

"""Error recovery: backoff, isolation and quarantine, on a real workspace and a real log."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.base import AnalysisResult, FileFailure, TransientFileError, is_transient
from daemon.app.session import quarantined_files
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.run.recovery import (
    ISOLATE_SINGLY_AT_MOST,
    Quarantine,
    RetryPolicy,
    content_digest,
    recovery_activity,
    split_for_isolation,
)
from daemon.run.runner import Runner

SESSION = "test_20261125_220000"
FAST = RetryPolicy(attempts=3, base_delay_s=0.001, factor=2.0, max_delay_s=0.01)


class Picky:
    """Fails on the files the test names, the way the test says; records every call."""

    def __init__(self, name: str = "pattern_probe", *, crash_on: Sequence[str] = (),
                 transient_times: int = 0, report_crash: Sequence[str] = (),
                 report_transient_times: int = 0) -> None:
        self.name = name
        self.activity_type = "probe"
        self.crash_on = set(crash_on)
        self.transient_left = transient_times
        self.report_crash = set(report_crash)
        self.report_transient_left = report_transient_times
        self.calls: list[tuple[str, ...]] = []
        self.excluded: list[frozenset[str]] = []

    def applies_to(self, path: str) -> bool:
        return path.endswith(".py")

    def exclude(self, paths: frozenset[str]) -> None:
        self.excluded.append(paths)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        self.calls.append(tuple(paths))
        if self.transient_left:
            self.transient_left -= 1
            raise BlockingIOError(errno.EAGAIN, "resource temporarily unavailable")
        bad = self.crash_on.intersection(paths)
        if bad:
            raise ValueError(f"cannot handle {sorted(bad)[0]}")
        failures = [FileFailure(p, "crash", "RecursionError: too deep")
                    for p in paths if p in self.report_crash]
        if self.report_transient_left and paths:
            self.report_transient_left -= 1
            failures.append(FileFailure(paths[0], "transient", "TransientFileError: changed"))
        return AnalysisResult(f"{len(paths)} files", failures=tuple(failures))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    for name in ("a.py", "b.py", "c.py", "d.py"):
        (root / name).write_text(f"# {name}\n")
    return root


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "log.db", create=True)


@pytest.fixture
def store(db: Database, workspace: Path) -> Iterator[EventStore]:
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(SESSION, str(workspace), 5))])
        yield store


def runner_for(store: EventStore, workspace: Path, analyzer: Picky,
               quarantine: Quarantine | None = None,
               shown: list[ActivityRecorded] | None = None) -> Runner:
    return Runner([analyzer], store.append, SESSION, workspace, retry=FAST,  # type: ignore[list-item]
                  quarantine=quarantine, on_activity=None if shown is None else shown.append)


def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    catch_up(db)
    conn = db.connect_readonly()
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def recoveries(db: Database) -> list[dict[str, object]]:
    return [json.loads(str(data)) for (data,) in rows(
        db, "SELECT result_data FROM activities WHERE capability = 'error_recovery' "
            "ORDER BY timestamp")]


# --- rules ----------------------------------------------------------------------------


@given(st.integers(1, 30))
def test_backoff_grows_and_is_capped(failed: int) -> None:
    policy = RetryPolicy(attempts=5, base_delay_s=0.05, factor=4.0, max_delay_s=1.0)
    assert 0 < policy.delay(failed) <= 1.0
    assert policy.delay(failed + 1) >= policy.delay(failed)
    assert policy.may_retry(failed) == (failed < 5)


def test_a_policy_that_cannot_try_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(factor=0.5)


@given(st.lists(st.text(min_size=1, max_size=3), min_size=0, max_size=100, unique=True))
def test_isolation_covers_every_path_once_and_always_narrows(paths: list[str]) -> None:
    parts = split_for_isolation(paths)
    if len(paths) <= 1:
        assert parts == []
        return
    assert [p for part in parts for p in part] == paths
    assert all(0 < len(part) < len(paths) for part in parts)
    if len(paths) <= ISOLATE_SINGLY_AT_MOST:
        assert all(len(part) == 1 for part in parts)


@pytest.mark.parametrize("exc, transient", [
    (BlockingIOError(errno.EAGAIN, "again"), True),
    (OSError(errno.EBUSY, "busy"), True),
    (TransientFileError("changed while read"), True),
    (__import__("sqlite3").OperationalError("database is locked"), True),
    (FileNotFoundError(errno.ENOENT, "gone"), False),
    (PermissionError(errno.EACCES, "denied"), False),
    (ValueError("bug"), False),
    (RecursionError("deep"), False),
])
def test_transient_means_a_retry_may_succeed(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_the_second_crash_on_the_same_bytes_quarantines() -> None:
    quarantine = Quarantine()
    assert quarantine.record_crash("probe", "a.py", "h1", "boom") is None
    # Other bytes are another file as far as crashes go.
    assert quarantine.record_crash("probe", "a.py", "h2", "boom") is None
    item = quarantine.record_crash("probe", "a.py", "h1", "boom again")
    assert item is not None and item.crashes == 2 and item.error == "boom again"
    assert quarantine.paths("probe") == {"a.py"} and quarantine.paths("other") == frozenset()
    assert quarantine.release("probe", "a.py") == item
    assert quarantine.crashes("probe", "a.py", "h1") == 0


def test_a_recovery_activity_names_what_happened() -> None:
    activity = recovery_activity(session_id="s", action="retry", analyzer="code_indexer",
                                 paths=("a.py",), recovered=True, time_to_recover_ms=12.5,
                                 attempts=2, errors=("BlockingIOError: again",))
    assert activity.capability == "error_recovery" and activity.success
    assert activity.response_time_ms == 12.5
    assert activity.description == ("Error recovery: code_indexer retried a.py after 2 "
                                    "attempts: recovered")
    assert activity.result_data is not None and activity.result_data["attempts"] == 2


def test_content_digest_is_none_for_what_cannot_be_read(workspace: Path) -> None:
    assert content_digest(workspace, "a.py") is not None
    assert content_digest(workspace, "missing.py") is None
    (workspace / "link.py").symlink_to(workspace / "a.py")
    assert content_digest(workspace, "link.py") is None  # never followed out of the tree


# --- the runner -----------------------------------------------------------------------


def test_a_transient_failure_is_retried_with_backoff_and_recovers(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(transient_times=2)
    [activity] = runner_for(store, workspace, analyzer).run_batch(["a.py"])
    assert activity.success  # the call as the user sees it: it worked, a little later
    assert analyzer.calls == [("a.py",)] * 3
    [retry] = recoveries(db)
    assert retry["action"] == "retry" and retry["recovered"] is True
    assert retry["attempts"] == 3 and len(retry["errors"]) == 2  # type: ignore[arg-type]


def test_retries_stop_at_the_policy_and_say_so(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(transient_times=10)
    [activity] = runner_for(store, workspace, analyzer).run_batch(["a.py"])
    assert not activity.success and activity.error_message is not None
    assert "BlockingIOError" in activity.error_message
    assert len(analyzer.calls) == FAST.attempts
    [retry] = recoveries(db)
    assert retry["recovered"] is False
    assert rows(db, "SELECT COUNT(*) FROM quarantined_files") == [(0,)]  # transient: no blame


def test_one_bad_file_in_a_batch_is_isolated_and_quarantined_the_rest_analyzed(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(crash_on=["c.py"])
    shown: list[ActivityRecorded] = []
    runner = runner_for(store, workspace, analyzer, shown=shown)
    runner.run_batch(["a.py", "b.py", "c.py", "d.py"])
    # The console hears of recovery steps as it hears of every call.
    assert [a.description for a in shown if a.capability == "error_recovery"] == [
        "Error recovery: pattern_probe quarantined c.py after 2 attempts: recovered",
        "Error recovery: pattern_probe isolated a crash in 4 files: recovered (1 quarantined)"]
    assert ("a.py",) in analyzer.calls and ("d.py",) in analyzer.calls
    assert analyzer.calls.count(("c.py",)) == 2  # alone, then once more to be sure
    assert rows(db, "SELECT capability, path, crashes FROM quarantined_files") == [
        ("pattern_probe", "c.py", 2)]
    assert rows(db, "SELECT severity, capability, issue_type FROM issues") == [
        ("medium", "pattern_probe", "file_quarantined")]
    actions = [(r["action"], r["recovered"]) for r in recoveries(db)]
    assert actions == [("quarantine", True), ("isolate", True)]

    # Later batches leave it alone while its bytes are the same...
    analyzer.calls.clear()
    runner.run_batch(["c.py", "a.py"])
    assert analyzer.calls == [("a.py",)]
    # ...and take it back once they are not.
    (workspace / "c.py").write_text("# fixed\n")
    analyzer.crash_on.clear()
    analyzer.calls.clear()
    runner.run_batch(["c.py"])
    assert analyzer.calls == [("c.py",)]
    assert rows(db, "SELECT COUNT(*) FROM quarantined_files") == [(0,)]
    assert rows(db, "SELECT severity FROM issues") == [("info",)]
    assert recoveries(db)[-1]["action"] == "release"


def test_a_crash_that_does_not_repeat_is_an_accident_not_a_quarantine(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(crash_on=["a.py"])
    runner = runner_for(store, workspace, analyzer)
    original = analyzer.analyze

    def once(root: Path, paths: Sequence[str]) -> AnalysisResult:
        result = original(root, paths)  # raises the first time
        return result

    def crash_then_heal(root: Path, paths: Sequence[str]) -> AnalysisResult:
        try:
            return once(root, paths)
        finally:
            analyzer.crash_on.clear()

    analyzer.analyze = crash_then_heal  # type: ignore[method-assign]
    runner.run_batch(["a.py"])
    assert rows(db, "SELECT COUNT(*) FROM quarantined_files") == [(0,)]
    [step] = recoveries(db)
    assert (step["action"], step["recovered"]) == ("retry", True)


def test_files_an_analyzer_reports_failing_are_retried_or_quarantined(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(report_crash=["b.py"], report_transient_times=1)
    runner = runner_for(store, workspace, analyzer)
    activities = runner.run_batch(["a.py", "b.py"])
    assert all(a.success for a in activities)  # the analyzer went on; the files are the news
    # a.py failed transiently once: retried alone; b.py crashed twice: quarantined.
    assert ("a.py",) in analyzer.calls
    assert rows(db, "SELECT path, error FROM quarantined_files") == [
        ("b.py", "RecursionError: too deep")]
    actions = sorted(str(r["action"]) for r in recoveries(db))
    assert actions == ["quarantine", "retry"]


def test_a_full_pass_tells_the_analyzer_what_to_leave_alone_and_releases_changed_files(
        db: Database, store: EventStore, workspace: Path) -> None:
    analyzer = Picky(crash_on=["b.py"])
    runner = runner_for(store, workspace, analyzer)
    runner.run_batch(["b.py"])
    analyzer.crash_on.clear()
    runner.run_full_pass()
    assert analyzer.excluded[-1] == {"b.py"}
    (workspace / "b.py").write_text("# new bytes\n")
    runner.run_full_pass()
    assert analyzer.excluded[-1] == frozenset()


def test_a_new_session_starts_with_the_quarantine_of_the_last(
        db: Database, store: EventStore, workspace: Path) -> None:
    runner_for(store, workspace, Picky(crash_on=["d.py"])).run_batch(["d.py"])
    catch_up(db)
    carried = quarantined_files(db, str(workspace))
    assert carried.paths("pattern_probe") == {"d.py"}
    fresh = Picky(crash_on=["d.py"])
    runner_for(store, workspace, fresh, carried).run_batch(["d.py", "a.py"])
    assert fresh.calls == [("a.py",)]
    assert quarantined_files(db, str(workspace / "elsewhere")).held == {}

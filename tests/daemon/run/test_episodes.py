"""Recovery episodes: retries, isolation and quarantine, decided call by call, then on a
real workspace and a real log through the runner."""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from analyzers.base import AnalysisResult, FileFailure
from daemon.app.session import quarantined_files
from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    FileQuarantined,
    FileReleased,
    IssueDetected,
    IssueUpdated,
    SessionStarted,
)
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.run.episodes import (
    Episode,
    Plan,
    Record,
    Recovery,
    analyze_with_retries,
    content_digest,
)
from daemon.run.records import Failure
from daemon.run.recovery import Quarantine, RetryPolicy
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


def test_content_digest_is_none_for_what_cannot_be_read(workspace: Path) -> None:
    assert content_digest(workspace, "a.py") is not None
    assert content_digest(workspace, "missing.py") is None
    (workspace / "link.py").symlink_to(workspace / "a.py")
    assert content_digest(workspace, "link.py") is None  # never followed out of the tree


# --- the episodes, call by call -------------------------------------------------------


def recovery_for(workspace: Path, quarantine: Quarantine | None = None) -> Recovery:
    return Recovery(session_id=SESSION, workspace=str(workspace), root=workspace, retry=FAST,
                    quarantine=quarantine if quarantine is not None else Quarantine())


def actions(records: Sequence[Record]) -> list[tuple[str, bool]]:
    """The recovery activities among ``records``: (action, recovered)."""
    found = []
    for record in records:
        for event in record:
            if isinstance(event, ActivityRecorded) and event.result_data is not None:
                found.append((str(event.result_data["action"]), event.success))
    return found


def test_a_crashed_batch_is_split_into_one_episode_of_single_files(workspace: Path) -> None:
    recovery = recovery_for(workspace)
    plan = recovery.follow_ups("probe", ("a.py", "b.py", "c.py"), None, ValueError("boom"))
    assert [f.paths for f in plan.calls] == [("a.py",), ("b.py",), ("c.py",)]
    [episode] = {id(f.episode): f.episode for f in plan.calls}.values()
    assert (episode.action, episode.outstanding, episode.errors) == (
        "isolate", 3, ["ValueError: boom"])
    assert plan.records == ()
    # Each file's call that succeeds is one step done; the last one closes the episode.
    for follow_up in plan.calls[:-1]:
        done = recovery.follow_ups("probe", follow_up.paths, episode, AnalysisResult("ok"))
        assert done.calls == () and done.records == ()
    last = recovery.follow_ups("probe", plan.calls[-1].paths, episode, AnalysisResult("ok"))
    assert actions(last.records) == [("isolate", True)]


def test_a_file_that_crashes_twice_is_quarantined_and_its_episode_says_nothing_more(
        workspace: Path) -> None:
    recovery = recovery_for(workspace)
    first = recovery.follow_ups("probe", ("a.py",), None, ValueError("boom"))
    [again] = first.calls
    assert again.paths == ("a.py",) and again.episode.action == "retry"
    assert first.records == ()
    second = recovery.follow_ups("probe", again.paths, again.episode, ValueError("boom"))
    assert second.calls == ()
    [quarantined, step] = second.records
    assert [type(e) for e in quarantined] == [FileQuarantined, IssueDetected]
    assert actions([step]) == [("quarantine", True)]  # the episode's own activity is not added
    assert recovery.quarantine.paths("probe") == {"a.py"}


def test_a_transient_failure_of_a_whole_call_asks_for_nothing_more(workspace: Path) -> None:
    # Its retries already ran inside the call; they are recorded with it.
    plan = recovery_for(workspace).follow_ups(
        "probe", ("a.py", "b.py"), None, BlockingIOError(errno.EAGAIN, "again"))
    assert plan == Plan()


def test_a_failed_full_pass_has_nothing_to_isolate(workspace: Path) -> None:
    plan = recovery_for(workspace).follow_ups("probe", (), None, ValueError("boom"))
    assert plan.calls == () and plan.records == ()


def test_files_that_failed_transiently_are_retried_after_a_backoff_until_the_policy_ends(
        workspace: Path) -> None:
    recovery = recovery_for(workspace)
    busy = AnalysisResult("2 files", failures=(FileFailure("a.py", "transient", "busy"),))
    plan = recovery.follow_ups("probe", ("a.py", "b.py"), None, busy)
    [retry] = plan.calls
    assert retry.paths == ("a.py",) and retry.delay_s == FAST.delay(1)
    episode = retry.episode
    for _ in range(FAST.attempts - 2):
        [retry] = recovery.follow_ups("probe", retry.paths, episode, busy).calls
    last = recovery.follow_ups("probe", retry.paths, episode, busy)
    assert last.calls == ()
    assert actions(last.records) == [("retry", False)]
    assert episode.attempts == FAST.attempts and set(episode.errors) == {"busy"}


def test_a_step_that_cannot_be_taken_ends_its_episode_unrecovered(workspace: Path) -> None:
    recovery = recovery_for(workspace)
    episode = Episode("isolate", "probe", ("a.py", "b.py"), 0.0, ["boom"], outstanding=2)
    assert recovery.give_up(episode) == []
    assert actions(recovery.give_up(episode)) == [("isolate", False)]


def test_a_quarantined_file_is_held_back_until_its_bytes_change(workspace: Path) -> None:
    quarantine = Quarantine()
    digest = content_digest(workspace, "b.py")
    assert digest is not None
    for _ in range(2):
        quarantine.record_crash("probe", "b.py", digest, "boom")
    recovery = recovery_for(workspace, quarantine)
    assert recovery.admit("probe", ("a.py", "b.py")) == (("a.py",), [])
    assert recovery.admit("other", ("b.py",)) == (("b.py",), [])
    (workspace / "b.py").write_text("# other bytes\n")
    kept, [released] = recovery.admit("probe", ("b.py",))
    assert kept == ("b.py",)
    assert [type(e) for e in released] == [ActivityRecorded, FileReleased, IssueUpdated]
    assert actions([released]) == [("release", True)]
    assert recovery.quarantine.paths("probe") == frozenset()


def test_a_file_gone_from_the_workspace_leaves_quarantine(workspace: Path) -> None:
    quarantine = Quarantine()
    digest = content_digest(workspace, "c.py")
    assert digest is not None
    for _ in range(2):
        quarantine.record_crash("probe", "c.py", digest, "boom")
    recovery = recovery_for(workspace, quarantine)
    assert recovery.release_changed() == []  # same bytes: still held
    (workspace / "c.py").unlink()
    [released] = recovery.release_changed()
    file_released = released[1]
    assert isinstance(file_released, FileReleased) and file_released.reason == "it is gone"


# --- retries within a call ------------------------------------------------------------


def test_a_transient_error_is_tried_again_within_the_call(workspace: Path) -> None:
    analyzer = Picky(transient_times=2)
    tried = analyze_with_retries(analyzer, workspace, ("a.py",), FAST,
                                 given_up=lambda: False)
    assert isinstance(tried.outcome, AnalysisResult)
    assert tried.attempts == 3 and len(tried.retry_errors) == 2
    assert tried.retry_errors[0].startswith("BlockingIOError")


def test_a_call_given_up_on_is_not_retried(workspace: Path) -> None:
    analyzer = Picky(transient_times=2)
    tried = analyze_with_retries(analyzer, workspace, ("a.py",), FAST,
                                 given_up=lambda: True)
    assert isinstance(tried.outcome, BlockingIOError)
    assert (tried.attempts, tried.retry_errors) == (1, ())


def test_a_crash_is_not_retried_and_nonsense_is_a_failure(workspace: Path) -> None:
    crashing = Picky(crash_on=["a.py"])
    tried = analyze_with_retries(crashing, workspace, ("a.py",), FAST,
                                 given_up=lambda: False)
    assert isinstance(tried.outcome, ValueError) and tried.attempts == 1

    class Nonsense(Picky):
        def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
            return "fine"  # type: ignore[return-value]

    tried = analyze_with_retries(Nonsense(), workspace, ("a.py",), FAST,
                                 given_up=lambda: False)
    assert tried.outcome == Failure("invalid_result",
                                    "analyze returned str, not an AnalysisResult")


# --- through the runner ---------------------------------------------------------------


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
    described = [a.description for a in shown if a.capability == "error_recovery"]
    assert [re.sub(r"^Error recovery: \d+ms, ", "", d) for d in described] == [
        "pattern_probe quarantined c.py after 2 attempts: recovered",
        "pattern_probe isolated a crash in 4 files: recovered (1 quarantined)"]
    assert all(re.match(r"Error recovery: \d+ms, ", d) for d in described)
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

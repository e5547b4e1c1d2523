"""The runner on a real workspace and a real log: every call recorded, no failure fatal."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from analyzers.base import AnalysisResult, Finding
from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, FindingDetected, SessionStarted
from daemon.log.store import EventStore, read_events
from daemon.projections.projector import catch_up
from daemon.run.runner import Runner

SESSION = "test_20260203_121500"
ACTIVITY_COLUMNS = ("activity_id", "session_id", "timestamp", "capability", "activity_type",
                    "description", "response_time_ms", "cpu_before", "cpu_after",
                    "memory_before_mb", "memory_after_mb", "success", "result_data",
                    "created_at")


class Scripted:
    """An analyzer whose behaviour the test chooses; records what it was called with."""

    def __init__(self, name: str, behave: Callable[[Sequence[str]], AnalysisResult] | None = None,
                 suffix: str = "") -> None:
        self.name = name
        self.activity_type = f"{name}_run"
        self.suffix = suffix
        self.calls: list[tuple[str, ...]] = []
        self._behave = behave or (lambda paths: AnalysisResult(f"{len(paths)} files"))

    def applies_to(self, path: str) -> bool:
        return path.endswith(self.suffix)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        self.calls.append(tuple(paths))
        return self._behave(paths)


def raising(paths: Sequence[str]) -> AnalysisResult:
    raise ValueError("analyzer exploded")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_bytes(b"print('hi')\n")
    (root / "README.md").write_bytes(b"# hi\n\nmore\n")
    return root


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "x.db", create=True)


@pytest.fixture
def store(db: Database, workspace: Path) -> Iterator[EventStore]:
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(session_id=SESSION, project_path=str(workspace),
                                              duration_minutes=5))])
        yield store


def make_runner(store: EventStore, workspace: Path, analyzers: Sequence[object],
                **options: object) -> Runner:
    return Runner(analyzers, store.append, SESSION, workspace, **options)  # type: ignore[arg-type]


def logged_activities(db: Database) -> list[ActivityRecorded]:
    conn = db.connect_readonly()
    try:
        return [r.event for r in read_events(conn, session_id=SESSION)
                if isinstance(r.event, ActivityRecorded)]
    finally:
        conn.close()


def query(db: Database, sql: str) -> list[tuple[object, ...]]:
    catch_up(db)
    conn = db.connect_readonly()
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_full_pass_records_one_activity_per_analyzer_with_every_column(
        db: Database, store: EventStore, workspace: Path) -> None:
    seen: list[ActivityRecorded] = []
    runner = make_runner(store, workspace, [WorkspaceAnalyzer(), Scripted("code_indexer")],
                         on_activity=seen.append)
    activities = runner.run_full_pass()
    assert [a.capability for a in sorted(activities, key=lambda a: a.capability)] == [
        "code_indexer", "workspace_analyzer"]
    assert seen == activities == logged_activities(db)
    census = next(a for a in activities if a.capability == "workspace_analyzer")
    assert census.success and census.result_data is not None
    assert census.result_data["files"] == 2 and census.result_data["lines"] == 4
    assert census.description is not None
    assert census.description.startswith("Workspace analysis: ")
    assert census.description.endswith("ms, 2 files, 4 lines, 2 languages")
    # Marked as passes over the whole workspace, which a change batch is not.
    assert all(a.result_data and a.result_data["full_pass"] is True for a in activities)

    rows = query(db, f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM activities")
    assert len(rows) == 2
    for row in rows:
        assert all(value is not None for value in row), dict(zip(ACTIVITY_COLUMNS, row,
                                                                  strict=True))
    assert query(db, "SELECT total_activities, total_errors FROM test_sessions") == [(2, 0)]
    batch = runner.run_batch(["README.md"])
    assert batch and not any((a.result_data or {}).get("full_pass") for a in batch)


def test_a_raising_analyzer_is_an_error_activity_and_the_session_goes_on(
        db: Database, store: EventStore, workspace: Path) -> None:
    bad = Scripted("security_scanner", raising)
    good = Scripted("code_indexer")
    runner = make_runner(store, workspace, [bad, good])
    first = runner.run_batch(["src/app.py"])
    failed = next(a for a in first if a.capability == "security_scanner")
    assert failed.success is False
    assert failed.error_message == "ValueError: analyzer exploded"
    assert failed.description is not None and "failed: ValueError" in failed.description
    assert failed.response_time_ms is not None and failed.memory_after_mb is not None
    assert [a.success for a in first if a.capability == "code_indexer"] == [True]
    # The next batch runs both again: a crash is an error activity (and a rerun of the file
    # alone, to tell an accident from a file that breaks the analyzer), not the end.
    second = runner.run_batch(["README.md"])
    assert bad.calls == [("src/app.py",), ("src/app.py",), ("README.md",), ("README.md",)]
    assert [a.capability for a in second].count("code_indexer") == 1
    assert query(db, "SELECT COUNT(*), SUM(success) FROM activities "
                     "WHERE capability != 'error_recovery'") == [(6, 2)]
    assert set(query(db, "SELECT error_message FROM activities WHERE success = 0")) == {
        ("ValueError: analyzer exploded",)}


def test_consecutive_errors_count_until_a_success(store: EventStore, workspace: Path) -> None:
    outcomes = iter(["fail", "fail", "ok", "fail"])

    def scripted(paths: Sequence[str]) -> AnalysisResult:
        if next(outcomes) == "fail":
            raise RuntimeError("nope")
        return AnalysisResult("fine")

    runner = make_runner(store, workspace, [Scripted("pattern_probe", scripted)])
    counts = []
    for _ in range(4):
        runner.run_batch(["a.py"])
        counts.append(runner.consecutive_errors)
    assert counts == [1, 2, 0, 1]
    assert runner.consecutive_errors_by_capability == {"pattern_probe": 1}


def test_a_slow_analyzer_times_out_is_skipped_while_stuck_then_returns(
        db: Database, store: EventStore, workspace: Path) -> None:
    release = threading.Event()

    def stuck(paths: Sequence[str]) -> AnalysisResult:
        release.wait(10)
        return AnalysisResult("late")

    slow = Scripted("code_search", stuck)
    quick = Scripted("code_indexer")
    runner = make_runner(store, workspace, [slow, quick], timeout_s=0.2)
    started = time.monotonic()
    first = {a.capability: a for a in runner.run_batch(["a.py"])}
    assert time.monotonic() - started < 2
    timed_out = first["code_search"]
    assert timed_out.success is False
    assert timed_out.error_message == "timed out after 0.2s"
    assert timed_out.response_time_ms is not None and timed_out.response_time_ms >= 200
    assert timed_out.cpu_after is not None and timed_out.memory_after_mb is not None
    assert first["code_indexer"].success
    assert runner.busy == frozenset({"code_search"})

    # While its call still runs, it is not called again: calls never overlap.
    second = {a.capability: a for a in runner.run_batch(["b.py"])}
    assert second["code_search"].error_message == "skipped: its previous call is still running"
    assert len(slow.calls) == 1 and second["code_indexer"].success
    assert runner.consecutive_errors == 0  # the indexer's success came after

    release.set()
    deadline = time.monotonic() + 5
    while runner.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.busy == frozenset()
    third = {a.capability: a for a in runner.run_batch(["c.py"])}
    assert third["code_search"].success and len(slow.calls) == 2
    assert query(db, "SELECT COUNT(*) FROM activities WHERE capability = 'code_search'") == [(3,)]


def test_concurrency_is_bounded_by_max_workers(store: EventStore, workspace: Path) -> None:
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def tracked(paths: Sequence[str]) -> AnalysisResult:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return AnalysisResult("ok")

    analyzers = [Scripted(f"probe_{i}", tracked) for i in range(6)]
    runner = make_runner(store, workspace, analyzers, max_workers=2)
    activities = runner.run_full_pass()
    assert len(activities) == 6 and all(a.success for a in activities)
    assert peak[0] == 2


def test_analyzers_get_only_the_paths_they_apply_to(store: EventStore, workspace: Path) -> None:
    python = Scripted("py_only", suffix=".py")
    markdown = Scripted("md_only", suffix=".md")
    runner = make_runner(store, workspace, [python, markdown])
    activities = runner.run_batch(["src/app.py", "lib/x.py", "src/app.py", "", "setup.cfg"])
    assert [a.capability for a in activities] == ["py_only"]
    assert python.calls == [("src/app.py", "lib/x.py")] and markdown.calls == []
    assert runner.run_batch([]) == []
    runner.run_full_pass()
    assert python.calls[-1] == () and markdown.calls == [()]  # a full pass calls everyone


class BadAppliesTo(Scripted):
    def applies_to(self, path: str) -> bool:
        raise OSError("cannot decide")


class ReturnsNonsense(Scripted):
    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        return {"not": "a result"}  # type: ignore[return-value]


class Exits(Scripted):
    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        sys.exit(2)


def test_misbehaving_analyzers_each_become_an_error(store: EventStore, workspace: Path) -> None:
    runner = make_runner(store, workspace, [BadAppliesTo("chooser"), ReturnsNonsense("nonsense"),
                                            Exits("quitter"), Scripted("fine")])
    activities = {a.capability: a for a in runner.run_batch(["a.py"])}
    assert activities["chooser"].error_message == "OSError: cannot decide"
    assert activities["nonsense"].error_message == "analyze returned dict, not an AnalysisResult"
    assert activities["quitter"].error_message == "SystemExit: 2"
    assert activities["fine"].success
    assert runner.consecutive_errors in (0, 1, 2, 3)  # order depends on completion


def test_findings_are_recorded_beside_the_activity(db: Database, store: EventStore,
                                                   workspace: Path) -> None:
    finding = Finding(fingerprint="abc123", rule="hardcoded-password", path="src/app.py", line=1,
                      severity="high", confidence="medium", message="password in code",
                      preview="password = '****'")
    scanner = Scripted("security_scanner",
                       lambda paths: AnalysisResult("1 vulnerability", findings=(finding,)))
    runner = make_runner(store, workspace, [scanner])
    runner.run_batch(["src/app.py"])
    conn = db.connect_readonly()
    try:
        types = [type(r.event) for r in read_events(conn, session_id=SESSION)]
    finally:
        conn.close()
    assert types[-2:] == [ActivityRecorded, FindingDetected]
    assert query(db, "SELECT capability, rule, path, line, preview FROM findings") == [
        ("security_scanner", "hardcoded-password", "src/app.py", 1, "password = '****'")]


def test_a_failing_console_callback_does_not_stop_the_session(store: EventStore,
                                                              workspace: Path) -> None:
    def broken_console(event: ActivityRecorded) -> None:
        raise BrokenPipeError("stdout closed")

    runner = make_runner(store, workspace, [Scripted("one")], on_activity=broken_console)
    assert len(runner.run_batch(["a.py"])) == 1
    assert len(runner.run_batch(["b.py"])) == 1


def test_a_log_that_cannot_be_written_is_not_hidden(workspace: Path) -> None:
    def emit(envelopes: Sequence[Envelope]) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    runner = Runner([Scripted("one")], emit, SESSION, workspace)
    with pytest.raises(sqlite3.OperationalError):
        runner.run_batch(["a.py"])


def test_configuration_is_checked(store: EventStore, workspace: Path) -> None:
    with pytest.raises(ValueError, match="same name"):
        make_runner(store, workspace, [Scripted("twin"), Scripted("twin")])
    with pytest.raises(ValueError):
        make_runner(store, workspace, [Scripted("one")], timeout_s=0)
    with pytest.raises(ValueError):
        make_runner(store, workspace, [Scripted("one")], max_workers=0)


# --- an orderly stop -------------------------------------------------------------------


class Working:
    """An analyzer that works file by file until told to stop, and knows whether anything
    was closed under it (the use after close that crashed the indexer with SIGSEGV)."""

    name = "working"
    activity_type = "work"

    def __init__(self, *, honours_interrupt: bool = True) -> None:
        self.honours_interrupt = honours_interrupt
        self.started = threading.Event()
        self.release = threading.Event()  # lets a call that ignores interrupts return
        self.interrupted = threading.Event()
        self.in_call = False
        self.closed_during_call = False
        self.closed_by: str | None = None
        self.closed = threading.Event()

    def applies_to(self, path: str) -> bool:
        return True

    def interrupt(self) -> None:
        self.interrupted.set()

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        self.in_call = True
        self.started.set()
        try:
            for done in range(10_000):
                if self.honours_interrupt and self.interrupted.is_set():
                    return AnalysisResult(f"{done} files", remaining=10_000 - done)
                if self.release.wait(0.01):
                    return AnalysisResult("released")
            return AnalysisResult("all files")
        finally:
            self.in_call = False

    def close(self) -> None:
        self.closed_during_call = self.in_call
        self.closed_by = threading.current_thread().name
        self.closed.set()


def run_in_background(runner: Runner) -> threading.Thread:
    thread = threading.Thread(target=runner.run_full_pass, daemon=True)
    thread.start()
    return thread


def test_stop_interrupts_a_running_call_and_waits_for_it(store: EventStore, workspace: Path,
                                                         db: Database) -> None:
    analyzer = Working()
    runner = make_runner(store, workspace, [analyzer])
    batch = run_in_background(runner)
    assert analyzer.started.wait(5)
    started = time.monotonic()
    still_running = runner.stop(grace_s=5.0)
    assert still_running == frozenset()
    assert time.monotonic() - started < 1.0  # it stopped at its next file, not the grace
    batch.join(5)
    assert not batch.is_alive()
    [activity] = logged_activities(db)
    assert activity.success and activity.result_data["remaining"] > 0


def test_nothing_starts_after_stop(store: EventStore, workspace: Path, db: Database) -> None:
    analyzer = Working()
    runner = make_runner(store, workspace, [analyzer])
    runner.stop()
    assert runner.run_full_pass() == []
    assert runner.run_batch(["src/app.py"]) == []
    assert not analyzer.started.is_set()
    assert logged_activities(db) == []


def test_close_never_closes_an_analyzer_under_its_running_call(
        store: EventStore, workspace: Path, db: Database) -> None:
    analyzer = Working(honours_interrupt=False)
    runner = make_runner(store, workspace, [analyzer])
    batch = run_in_background(runner)
    assert analyzer.started.wait(5)
    started = time.monotonic()
    left = runner.close(grace_s=0.3)
    assert left == frozenset({"working"})
    assert 0.3 <= time.monotonic() - started < 2.0  # bounded by the grace
    batch.join(2)
    assert not batch.is_alive()  # the batch gave the call up at the grace
    assert analyzer.closed_by is None  # not closed yet: its call still runs
    analyzer.release.set()
    assert analyzer.closed.wait(5)
    assert analyzer.closed_by == "realworld-working"  # closed by the call's own thread
    assert not analyzer.closed_during_call
    assert logged_activities(db) == []  # a call given up at the end is not recorded


def test_close_releases_idle_analyzers_at_once(store: EventStore, workspace: Path) -> None:
    analyzer = Working()
    runner = make_runner(store, workspace, [analyzer])
    assert runner.close() == frozenset()
    assert analyzer.closed_by == threading.current_thread().name
    assert runner.close() == frozenset()  # twice is fine


class Preparing(Scripted):
    """Runs after the others and gets ready meanwhile; records when it was told to."""

    runs_after_others = True

    def __init__(self, name: str, order: list[str], *, after_others: bool = True) -> None:
        self.runs_after_others = after_others
        super().__init__(name, lambda paths: (order.append(f"{name}:analyze"),
                                              AnalysisResult("done"))[1])
        self.order = order
        self.prepared: list[tuple[Path, tuple[str, ...]]] = []

    def prepare(self, root: Path, paths: Sequence[str]) -> None:
        self.prepared.append((root, tuple(paths)))
        self.order.append(f"{self.name}:prepare")


def test_an_analyzer_that_runs_after_the_others_is_prepared_before_they_start(
        store: EventStore, workspace: Path) -> None:
    order: list[str] = []
    first = Scripted("first", lambda paths: (order.append("first:analyze"),
                                             AnalysisResult("done"))[1])
    later = Preparing("later", order)
    runner = make_runner(store, workspace, [first, later])
    runner.run_batch(["a.py", "b.py"])
    assert order == ["later:prepare", "first:analyze", "later:analyze"]
    assert later.prepared == [(workspace, ("a.py", "b.py"))]
    # A batch with nothing to run before it has nothing to overlap: no prepare.
    runner.run_batch(["c.py"], only={"later"})
    assert len(later.prepared) == 1 and order[-1] == "later:analyze"


def test_calls_that_wait_for_a_slot_are_prepared_before_the_first_starts(
        store: EventStore, workspace: Path) -> None:
    """With one slot the second call waits for the first: its workers start meanwhile."""
    order: list[str] = []
    one, two = (Preparing(name, order, after_others=False) for name in ("one", "two"))
    runner = make_runner(store, workspace, [one, two], max_workers=1)
    runner.run_batch(["a.py"])
    assert order == ["one:prepare", "two:prepare", "one:analyze", "two:analyze"]


class Follower(Scripted):
    """A probe that needs only ``needs`` done before it runs."""

    runs_after_others = True

    def __init__(self, name: str, needs: frozenset[str],
                 behave: Callable[[Sequence[str]], AnalysisResult]) -> None:
        super().__init__(name, behave)
        self.runs_after = needs


def test_a_probe_that_names_what_it_needs_runs_beside_the_calls_it_does_not(
        store: EventStore, workspace: Path) -> None:
    """The follower starts once the index is done, while the slow call still runs: it sets
    the event the slow call waits for, which a follower held to the end never could."""
    order: list[str] = []
    followed = threading.Event()

    def slow(paths: Sequence[str]) -> AnalysisResult:
        order.append("slow:start")
        order.append("slow:saw follower" if followed.wait(10) else "slow:alone")
        return AnalysisResult("slow")

    def follow(paths: Sequence[str]) -> AnalysisResult:
        order.append("follower")
        followed.set()
        return AnalysisResult("followed")

    index = Scripted("index", lambda paths: (order.append("index"), AnalysisResult("i"))[1])
    follower = Follower("follower", frozenset({"index"}), follow)
    after_all = Preparing("after_all", order)  # runs_after_others without runs_after
    runner = make_runner(store, workspace, [follower, after_all, Scripted("slow", slow), index],
                         max_workers=2)
    runner.run_batch(["a.py"])
    assert order.index("index") < order.index("follower")
    assert "slow:saw follower" in order
    # A probe that names nothing still waits for every other call.
    assert order.index("after_all:analyze") > order.index("slow:saw follower")


class Releasing(Scripted):
    """Has workers to let go; records when it was told to."""

    def __init__(self, name: str, order: list[str]) -> None:
        super().__init__(name, lambda paths: (order.append(f"{name}:analyze"),
                                              AnalysisResult("done"))[1])
        self.order = order

    def release(self) -> None:
        self.order.append(f"{self.name}:release")


@pytest.mark.parametrize("single_pass", [True, False], ids=["run-once", "daemon"])
def test_a_single_pass_releases_each_analyzers_workers_when_its_call_ends(
        store: EventStore, workspace: Path, single_pass: bool) -> None:
    order: list[str] = []
    first, later = Releasing("first", order), Preparing("later", order)
    runner = make_runner(store, workspace, [first, later], release_workers=single_pass)
    runner.run_full_pass()
    if single_pass:  # before the later call, not only at the session's end
        assert order == ["later:prepare", "first:analyze", "first:release", "later:analyze"]
    else:  # a daemon keeps its workers warm for the next batch
        assert "first:release" not in order

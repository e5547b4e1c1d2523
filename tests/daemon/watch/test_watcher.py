"""The watcher with real watchdog observers on real temporary directories."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import FileModifiedEvent

from daemon.log.events import WorkspaceRescanned
from daemon.watch.diff import apply_changes
from daemon.watch.handler import EventHandler
from daemon.watch.ignore import IgnoreRules
from daemon.watch.results import Drained, rescanned_event
from daemon.watch.scan import scan
from daemon.watch.snapshot import Change, FileState, ScanError
from daemon.watch.watcher import Watcher

SETTLE = 0.05
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify tests")


@pytest.fixture
def make_watcher(tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []

    def make(root: Path | None = None, *, baseline: bool = True, **options: object) -> Watcher:
        options.setdefault("settle", SETTLE)
        watcher = Watcher(root or tmp_path, **options)  # type: ignore[arg-type]
        if baseline:
            watcher.rescan("startup")
        watcher.start()
        started.append(watcher)
        return watcher

    yield make
    for watcher in started:
        watcher.stop()


def write(root: Path, rel: str, data: bytes | str = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


class Collected:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.errors: list[ScanError] = []
        self.rescans: list[str] = []

    def add(self, drained: Drained) -> None:
        self.changes.extend(drained.changes)
        self.errors.extend(drained.errors)
        if drained.rescan_needed:
            self.rescans.append(drained.rescan_needed)

    def summary(self, skip: str = "") -> list[tuple[str, str, str | None]]:
        return [
            (c.kind, c.path, c.dest_path) for c in self.changes
            if not c.current_path.startswith(skip) or not skip
        ]


def drain_until(
    watcher: Watcher, done: Callable[[Collected], bool], *, timeout: float = 5.0,
    quiet: float = 0.15,
) -> Collected:
    """Drain until ``done`` holds and then stays quiet for ``quiet`` seconds."""
    got = Collected()
    deadline = time.monotonic() + timeout
    satisfied_since: float | None = None
    while time.monotonic() < deadline:
        got.add(watcher.drain())
        now = time.monotonic()
        if done(got) and watcher.pending == 0:
            satisfied_since = satisfied_since or now
            if now - satisfied_since >= quiet:
                return got
        else:
            satisfied_since = None
        time.sleep(0.01)
    raise AssertionError(f"timed out; got {got.summary()} rescans={got.rescans}")


def sync(watcher: Watcher, root: Path) -> Collected:
    """Drain until a fresh marker file shows up: events before it have been seen."""
    marker = f"zz-sync-{uuid.uuid4().hex}"
    write(root, marker, marker)
    got = drain_until(watcher, lambda g: any(c.current_path == marker for c in g.changes))
    got.changes = [c for c in got.changes if not c.current_path.startswith("zz-sync-")]
    return got


def disk(watcher: Watcher) -> dict[str, FileState]:
    return scan(watcher.root, watcher.rules).files


def contents(state: dict[str, FileState]) -> dict[str, tuple[int, str]]:
    return {p: (s.size, s.content_hash) for p, s in state.items()}


# --- real observers -------------------------------------------------------------------


def test_an_atomic_save_is_exactly_one_modification(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, "f.py", "v1\n")
    watcher = make_watcher()
    assert watcher.plan is not None and watcher.plan.backend == "inotify"
    tmp = write(tmp_path, ".f.py.tmp", "v2\n")
    os.replace(tmp, tmp_path / "f.py")
    got = sync(watcher, tmp_path)
    assert got.summary() == [("modified", "f.py", None)]
    assert got.changes[0].state is not None and got.changes[0].state.size == 3
    assert got.errors == [] and got.rescans == []


def test_unchanged_content_and_touch_report_nothing(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, "same.txt", "content")
    watcher = make_watcher()
    write(tmp_path, "same.txt", "content")
    os.utime(tmp_path / "same.txt", ns=(10**18, 10**18))
    got = sync(watcher, tmp_path)
    assert got.changes == []
    assert watcher.known["same.txt"].mtime == (tmp_path / "same.txt").stat().st_mtime


def test_many_changes_end_with_the_state_on_disk(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    for i in range(30):
        write(tmp_path, f"src/m{i}.py", f"module {i}\n")
    write(tmp_path, "pkg/a.txt", "a")
    write(tmp_path, "pkg/sub/b.txt", "b")
    watcher = make_watcher()
    initial = watcher.known

    for i in range(20):
        write(tmp_path, f"new/n{i}.py", f"new {i}\n")
    for i in range(10):
        write(tmp_path, f"src/m{i}.py", f"module {i} edited\n")
    for i in range(10, 15):
        (tmp_path / f"src/m{i}.py").unlink()
    for i in range(15, 20):
        (tmp_path / f"src/m{i}.py").rename(tmp_path / f"src/renamed{i}.py")
    (tmp_path / "pkg").rename(tmp_path / "package")
    write(tmp_path, "blob.bin", bytes(range(256)) * 64)
    (tmp_path / "new/n0.py").unlink()

    got = drain_until(watcher, lambda g: watcher.known == disk(watcher))
    assert got.errors == [] and got.rescans == []
    # The reported changes alone rebuild the disk state from the initial one.
    assert contents(apply_changes(initial, got.changes)) == contents(disk(watcher))
    summary = set(got.summary())
    assert ("moved", "src/m15.py", "src/renamed15.py") in summary
    assert ("moved", "pkg/sub/b.txt", "package/sub/b.txt") in summary
    assert ("deleted", "src/m10.py", None) in summary
    assert ("modified", "src/m0.py", None) in summary
    assert not any(path == "new/n0.py" for _, path, _ in summary)  # created and gone


def test_odd_names_and_binary_content(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    watcher = make_watcher()
    write(tmp_path, "two\nlines.txt", "n")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.bin"), "wb") as stream:
        stream.write(bytes([0, 255, 254, 0]) * 100)
    got = sync(watcher, tmp_path)
    bad = os.fsdecode(b"caf\xe9.bin")
    assert sorted(got.summary()) == sorted(
        [("created", "two\nlines.txt", None), ("created", bad, None)]
    )
    assert watcher.known[bad].size == 400


def test_symlink_loops_fifos_and_vanishing_files_do_not_break_it(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    watcher = make_watcher()
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path, "flash.txt", "here and gone")
    (tmp_path / "flash.txt").unlink()  # deleted between its event and the read
    write(tmp_path, "real.txt", "r")
    got = sync(watcher, tmp_path)
    assert got.summary() == [("created", "real.txt", None)]
    assert [(e.path, e.kind) for e in got.errors] == [("pipe", "not_regular")]
    assert watcher.handler_errors == 0
    write(tmp_path, "real.txt", "still watching")
    assert sync(watcher, tmp_path).summary() == [("modified", "real.txt", None)]


def test_ignored_paths_and_our_database_produce_nothing(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, ".gitignore", "*.log\nbuild/\n")
    (tmp_path / ".git").mkdir()
    rules = IgnoreRules.load(tmp_path, database_paths=[tmp_path / "rw.db"])
    watcher = make_watcher(rules=rules)
    write(tmp_path, "debug.log", "noise")
    write(tmp_path, "build/out.o", "obj")
    write(tmp_path, ".git/index", "git")
    write(tmp_path, "rw.db", "db")
    write(tmp_path, "rw.db-wal", "wal")
    assert sync(watcher, tmp_path).changes == []


def test_a_gitignore_change_asks_for_a_rescan(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, "a.tmp", "tracked for now")
    watcher = make_watcher()
    write(tmp_path, ".gitignore", "*.tmp\n")
    got = drain_until(watcher, lambda g: bool(g.rescans))
    assert got.rescans == ["ignore_rules_changed"]
    assert ("created", ".gitignore", None) in got.summary()
    result = watcher.rescan("ignore_rules_changed")
    assert [(c.kind, c.path) for c in result.changes] == [("deleted", "a.tmp")]
    write(tmp_path, "b.tmp", "ignored")
    assert sync(watcher, tmp_path).changes == []


def test_unignoring_a_directory_reads_its_own_gitignore(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, ".gitignore", "gen/\n")
    write(tmp_path, "gen/.gitignore", "*.c\n")
    write(tmp_path, "gen/a.c", "c")
    write(tmp_path, "gen/a.h", "h")
    watcher = make_watcher()
    write(tmp_path, ".gitignore", "# nothing ignored here any more\n")
    drain_until(watcher, lambda g: "ignore_rules_changed" in g.rescans)
    result = watcher.rescan("ignore_rules_changed")
    assert sorted((c.kind, c.path) for c in result.changes) == [
        ("created", "gen/.gitignore"), ("created", "gen/a.h"),
    ]


def test_forced_overflow_then_rescan_recovers_everything(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, "edit.txt", "before")
    write(tmp_path, "gone.txt", "bye")
    watcher = make_watcher(max_pending=5)
    for i in range(40):
        write(tmp_path, f"storm/f{i}.txt", f"file {i}")
    write(tmp_path, "edit.txt", "after")
    (tmp_path / "gone.txt").unlink()

    got = drain_until(watcher, lambda g: "overflow" in g.rescans)
    assert got.rescans == ["overflow"]
    result = watcher.rescan("overflow")
    kinds = sorted((c.kind, c.path) for c in result.changes)
    assert ("modified", "edit.txt") in kinds and ("deleted", "gone.txt") in kinds
    assert sum(1 for kind, _ in kinds if kind == "created") == 40
    assert watcher.known == disk(watcher)
    assert result.files_seen == 41
    event = rescanned_event("s1", watcher.root, result)
    assert isinstance(event, WorkspaceRescanned)
    assert (event.reason, event.files_seen, event.files_changed) == ("overflow", 41, 42)
    # and it keeps watching afterwards
    write(tmp_path, "edit.txt", "again")
    assert sync(watcher, tmp_path).summary() == [("modified", "edit.txt", None)]


def test_a_kernel_queue_overflow_warning_asks_for_a_rescan(
    make_watcher: Callable[..., Watcher],
) -> None:
    watcher = make_watcher()
    # watchdog reports IN_Q_OVERFLOW only through this log record.
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    assert watcher.drain().rescan_needed == "inotify_overflow"
    assert watcher.drain().rescan_needed is None
    watcher.stop()
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed")
    assert watcher.drain().rescan_needed is None


def test_polling_fallback_when_inotify_watches_would_not_suffice(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, ".gitignore", "node_modules/\n")
    write(tmp_path, "node_modules/dep/index.js", "dep")
    write(tmp_path, "f.py", "v1")
    watcher = make_watcher(watch_limit=4, polling_interval=0.05)
    assert watcher.plan is not None
    assert watcher.plan.backend == "polling"
    assert watcher.plan.reason.startswith("watch_limit")
    tmp = write(tmp_path, "f.py.tmp", "v2")
    os.replace(tmp, tmp_path / "f.py")
    write(tmp_path, "node_modules/dep/other.js", "ignored")
    got = sync(watcher, tmp_path)
    assert got.summary() == [("modified", "f.py", None)]


def test_a_directory_rename_is_reported_as_moves(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path, f"old/{name}.txt", name)
    watcher = make_watcher()
    (tmp_path / "old").rename(tmp_path / "new")
    got = sync(watcher, tmp_path)
    assert sorted(got.summary()) == [
        ("moved", f"old/{n}.txt", f"new/{n}.txt") for n in ("a", "b", "c")
    ]


def test_a_directory_moved_in_from_outside_is_scanned(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    write(tmp_path, "outside/deep/x.txt", "x")
    write(tmp_path, "outside/y.txt", "y")
    watcher = make_watcher(workspace)
    (tmp_path / "outside").rename(workspace / "inside")
    got = sync(watcher, workspace)
    assert sorted(got.summary()) == [
        ("created", "inside/deep/x.txt", None), ("created", "inside/y.txt", None),
    ]
    (workspace / "inside").rename(tmp_path / "away")
    got = sync(watcher, workspace)
    assert sorted(got.summary()) == [
        ("deleted", "inside/deep/x.txt", None), ("deleted", "inside/y.txt", None),
    ]


def test_a_handler_that_fails_is_counted_and_watchdog_keeps_running(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    main = threading.current_thread()

    def clock() -> float:
        if threading.current_thread() is not main:
            raise RuntimeError("clock broken in the handler thread")
        return time.monotonic()

    watcher = make_watcher(clock=clock)
    write(tmp_path, "a.txt", "a")
    deadline = time.monotonic() + 5
    while watcher.handler_errors == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher.handler_errors > 0
    assert watcher.drain().rescan_needed is None  # observer threads are still alive

    def broken(*args: object) -> float:
        raise ZeroDivisionError(args)

    handler = EventHandler(watcher.root, lambda: watcher.rules, broken, broken)
    handler.dispatch(FileModifiedEvent("/x"))
    assert handler.errors == 1 and handler.last_error is not None


def test_the_workspace_itself_disappearing_and_coming_back(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    workspace = tmp_path / "ws"
    write(workspace, "a.txt", "a")
    watcher = make_watcher(workspace)
    shutil.rmtree(workspace)
    got = drain_until(watcher, lambda g: "watcher_failed" in g.rescans)
    assert not watcher.running  # cannot restart on a missing directory
    result = watcher.rescan("watcher_failed")
    # The deletion arrives either as an event before the observer died or from the rescan.
    reported = [(c.kind, c.path) for c in [*got.changes, *result.changes]]
    assert reported == [("deleted", "a.txt")]
    assert watcher.known == {}
    assert [e.kind for e in result.errors] == ["root_missing"]

    write(workspace, "b.txt", "b")
    got = drain_until(watcher, lambda g: "watcher_restarted" in g.rescans)
    assert watcher.running
    assert [(c.kind, c.path) for c in watcher.rescan("watcher_restarted").changes] == [
        ("created", "b.txt"),
    ]
    write(workspace, "b.txt", "b2")
    assert sync(watcher, workspace).summary() == [("modified", "b.txt", None)]


def test_start_stop_are_idempotent_and_it_is_a_context_manager(tmp_path: Path) -> None:
    with Watcher(tmp_path, settle=SETTLE) as watcher:
        plan = watcher.plan
        assert watcher.running and watcher.start() is plan
    assert not watcher.running
    watcher.stop()
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError):
        Watcher(tmp_path / "other", IgnoreRules.load(tmp_path))


def test_touched_files_can_be_reported_when_asked(
    tmp_path: Path, make_watcher: Callable[..., Watcher]
) -> None:
    write(tmp_path, "t.txt", "same")
    watcher = make_watcher(report_touched=True)
    os.utime(tmp_path / "t.txt", ns=(10**18, 10**18))
    assert sync(watcher, tmp_path).summary() == [("touched", "t.txt", None)]

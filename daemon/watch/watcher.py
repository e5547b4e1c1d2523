"""The watchdog adapter: file system events in, settled file changes out.

Data flow::

    watchdog observer thread --(handler: convert, filter, enqueue)--> Coalescer
    caller thread: drain(now) --> settled paths --> read from disk --> diff vs known --> Changes

The handler runs in watchdog's dispatcher thread, under watchdog's lock and without an
exception guard, so it only converts the event, drops ignored paths, and feeds the
:class:`~daemon.watch.coalesce.Coalescer`; it catches every exception (counted in
``handler_errors``). Everything else — reading files, hashing, comparing — happens in
``drain``, in the caller's thread. The watcher keeps the last known state of every
tracked file (seeded from the ``files`` projection) and reports a change only when a
path's size or content hash really differs from it: an event with unchanged content, a
duplicate event, or an editor's temporary file yields nothing.

Which observer (``Watcher.plan`` says which and why):

- ``backend="auto"`` on Linux: inotify, unless the workspace has more directories than
  ``watch_share`` (default half) of ``/proc/sys/fs/inotify/max_user_watches`` — watchdog
  puts one watch on every directory, ignored ones too, and other programs (editors, IDEs)
  share the same per-user limit. Then, or when the inotify observer fails to start
  (``ENOSPC``: watch limit, ``EMFILE``: instance limit), it falls back to watchdog's
  polling observer (``PollingObserverVFS`` with ``lstat``, so links are not followed, and a
  ``scandir`` that skips ignored entries, so ``.git/`` and ``node_modules/`` cost nothing).
- Elsewhere (macOS, Windows, BSD): watchdog's native observer, polling if it fails.
- ``backend="inotify"|"native"|"polling"`` forces one (``inotify`` still falls back
  if it cannot start).

When events were lost, ``drain`` returns ``rescan_needed`` with a reason and the caller
runs ``rescan(reason)`` (scan + diff against the known state, which finds exactly what
changed, including while the daemon was down):

- ``overflow``: more than ``max_pending`` distinct paths piled up (an event storm);
- ``inotify_overflow``: the kernel's inotify queue overflowed (watchdog only logs this,
  so the watcher listens to watchdog's log records for it);
- ``ignore_rules_changed``: a ``.gitignore`` changed, so files may have become tracked or
  ignored;
- ``watcher_failed``: the observer or one of its emitter threads died (the workspace
  directory itself was deleted, say); ``drain`` restarts it, retrying with back-off up to
  a minute apart while it cannot start, and says ``watcher_restarted`` once it runs
  again; each calls for a rescan to cover the gap.

Known gaps: directories created after start beyond the inotify watch limit are silently
not watched (watchdog swallows ``ENOSPC`` below the root), so run a scheduled rescan;
the polling observer notices changes only every ``polling_interval`` seconds.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import watchdog.events
from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from daemon.config import DEFAULT_MAX_PENDING
from daemon.log.events import FileChanged, WorkspaceRescanned
from daemon.watch.coalesce import (
    DEFAULT_MAX_DELAY,
    DEFAULT_SETTLE,
    Coalescer,
    RawEvent,
    Settled,
)
from daemon.watch.ignore import IgnoreRules
from daemon.watch.snapshot import (
    DEFAULT_MAX_HASH_BYTES,
    Change,
    FileState,
    ScanError,
    apply_changes,
    diff,
    keep_unreadable,
    restrict,
    scan,
)

Backend = Literal["inotify", "polling", "native"]
BackendRequest = Literal["auto", "inotify", "polling", "native"]

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
DEFAULT_WATCH_SHARE = 0.5
DEFAULT_POLLING_INTERVAL = 1.0
MAX_RESTART_BACKOFF = 60.0

# watchdog 7 (Python >= 3.11) reports a chmod or touch as an event of its own; watchdog 6,
# which Python 3.10 gets, reports it as a modification. Either may be a change to us.
EVENT_TYPE_ATTRIB: str = getattr(watchdog.events, "EVENT_TYPE_ATTRIB", "attrib")
_ATTRIB_EVENTS: list[type[FileSystemEvent]] = [
    cls for cls in (getattr(watchdog.events, "FileAttribEvent", None),) if cls is not None]

# What the handler is asked for: no open/close-no-write/access events, so our own
# reads while hashing wake nobody up.
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, *_ATTRIB_EVENTS, FileClosedEvent,
    FileDeletedEvent, FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]
_WATCHDOG_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
_OVERFLOW_MESSAGE = "Inotify queue overflowed"

logger = logging.getLogger(__name__)


# --- choosing an observer (pure) ----------------------------------------------------


@dataclass(frozen=True)
class WatchPlan:
    """Which observer watches the workspace and why."""

    backend: Backend
    reason: str
    directories: int | None = None  # counted at start (inotify needs one watch each)
    watch_limit: int | None = None  # max_user_watches


def choose_backend(
    requested: BackendRequest,
    *,
    is_linux: bool,
    watch_limit: int | None,
    directories: int | None,
    watch_share: float = DEFAULT_WATCH_SHARE,
) -> WatchPlan:
    """Pick the observer before starting it; ``directories`` may be a lower bound."""
    if requested == "polling":
        return WatchPlan("polling", "polling requested", directories, watch_limit)
    if requested == "native" or (requested == "auto" and not is_linux):
        return WatchPlan("native", "native observer of this platform", directories, watch_limit)
    if watch_limit is not None and directories is not None:
        budget = int(watch_limit * watch_share)
        if directories > budget:
            return WatchPlan(
                "polling",
                f"watch_limit: {directories}+ directories need inotify watches, more than "
                f"{watch_share:.0%} of max_user_watches={watch_limit}",
                directories, watch_limit,
            )
    return WatchPlan("inotify", "inotify watches suffice", directories, watch_limit)


def read_watch_limit(path: str = MAX_USER_WATCHES) -> int | None:
    try:
        with open(path, encoding="ascii") as stream:
            return int(stream.read().strip())
    except (OSError, ValueError):
        return None


def count_directories(root: str, stop_after: int | None = None) -> int:
    """Directories below ``root`` (itself included, links not followed, ignored ones too).

    Stops counting once past ``stop_after``: only "more than the budget" matters.
    """
    count = 0
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        count += 1
        if stop_after is not None and count > stop_after:
            break
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return count


# --- converting events (pure) -------------------------------------------------------


def relative_to(root: str, path: bytes | str) -> str | None:
    """``path`` relative to ``root``, ``/``-separated; ``None`` if outside or empty."""
    text = os.fsdecode(path)
    if not text:
        return None
    if text == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not text.startswith(prefix):
        return None
    rel = text[len(prefix):]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def convert(
    event_type: str,
    src_path: bytes | str,
    dest_path: bytes | str,
    is_directory: bool,
    *,
    root: str,
    rules: IgnoreRules,
    timestamp: float,
) -> list[RawEvent]:
    """One watchdog event as coalescer input; ignored paths dropped (rules files kept)."""
    src = relative_to(root, src_path)

    def wanted(rel: str | None) -> bool:
        if rel is None:
            return False
        if rel == "":
            return is_directory  # the root itself: deleted or moved away
        return IgnoreRules.is_rules_file(rel) or not rules.is_ignored(rel, is_directory)

    if event_type == EVENT_TYPE_MOVED:
        dest = relative_to(root, dest_path)
        src_ok, dest_ok = wanted(src), wanted(dest)
        if src_ok and dest_ok:
            assert src is not None and dest is not None
            return [RawEvent(src, "moved", timestamp, dest, is_directory)]
        if src_ok:
            assert src is not None
            return [RawEvent(src, "deleted", timestamp, None, is_directory)]
        if dest_ok:
            assert dest is not None
            return [RawEvent(dest, "created", timestamp, None, is_directory)]
        return []
    if not wanted(src):
        return []
    assert src is not None
    if event_type == EVENT_TYPE_CREATED:
        return [RawEvent(src, "created", timestamp, None, is_directory)]
    if event_type == EVENT_TYPE_DELETED:
        return [RawEvent(src, "deleted", timestamp, None, is_directory)]
    if event_type in (EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED, EVENT_TYPE_ATTRIB):
        # A directory's own modified/attrib events only echo changes of its entries.
        return [] if is_directory else [RawEvent(src, "modified", timestamp)]
    return []  # opened, closed_no_write: reads, not changes


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drained:
    """What ``drain`` found: changes to report, unreadable paths, and whether to rescan."""

    changes: tuple[Change, ...] = ()
    errors: tuple[ScanError, ...] = ()
    rescan_needed: str | None = None  # overflow | inotify_overflow | ignore_rules_changed | ...
    pending: int = 0  # paths still settling
    dropped_events: int = 0  # events lost to an overflow (0 when none)


@dataclass(frozen=True)
class Rescanned:
    """A full scan compared with the known state; the facts of ``WorkspaceRescanned``."""

    reason: str
    changes: tuple[Change, ...]
    errors: tuple[ScanError, ...]
    files_seen: int
    duration_ms: float
    hashed_bytes: int


def file_changed_events(
    session_id: str, workspace: str, changes: Sequence[Change]
) -> list[FileChanged]:
    """The log's ``file_changed`` events for these changes."""
    events: list[FileChanged] = []
    for change in changes:
        state = change.state
        events.append(FileChanged(
            session_id=session_id,
            workspace=workspace,
            path=change.path,
            change=change.kind,
            size=state.size if state is not None else None,
            mtime=state.mtime if state is not None else None,
            content_hash=state.content_hash if state is not None else None,
            dest_path=change.dest_path,
        ))
    return events


def rescanned_event(session_id: str, workspace: str, result: Rescanned) -> WorkspaceRescanned:
    return WorkspaceRescanned(
        session_id=session_id,
        workspace=workspace,
        reason=result.reason,
        files_seen=result.files_seen,
        files_changed=len(result.changes),
        duration_ms=result.duration_ms,
    )


# --- the adapter ----------------------------------------------------------------------


class _Handler(FileSystemEventHandler):
    """Runs in watchdog's dispatcher thread: hand over, never raise."""

    def __init__(self, sink: Callable[[FileSystemEvent], None]) -> None:
        super().__init__()
        self._sink = sink
        self.errors = 0
        self.last_error: str | None = None

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._sink(event)
        except Exception as exc:  # a raise here would stall every later event
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"


class _OverflowListener(logging.Filter):
    """Sees watchdog's "Inotify queue overflowed" warnings; lets every record through."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str) and record.msg.startswith(_OVERFLOW_MESSAGE):
                self._on_overflow()
        except Exception:  # never break logging
            pass
        return True


class Watcher:
    """Watches one workspace; ``drain`` gives its settled changes.

    ``start``/``stop`` may be called from any thread; ``drain`` and ``rescan`` from one
    thread at a time (they own the known state).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        rules: IgnoreRules | None = None,
        known: Mapping[str, FileState] | None = None,
        *,
        settle: float = DEFAULT_SETTLE,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_delay: float = DEFAULT_MAX_DELAY,
        backend: BackendRequest = "auto",
        polling_interval: float = DEFAULT_POLLING_INTERVAL,
        watch_limit: int | None = None,
        watch_share: float = DEFAULT_WATCH_SHARE,
        max_hash_bytes: int | None = DEFAULT_MAX_HASH_BYTES,
        report_touched: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rules = rules if rules is not None else IgnoreRules.load(root)
        self.root = self._rules.root  # resolved: event paths are compared with it
        if os.path.realpath(os.fspath(root)) != self.root:
            raise ValueError(f"the rules are for {self.root}, not for {os.fspath(root)}")
        self._known: dict[str, FileState] = dict(known or {})
        self._coalescer = Coalescer(settle=settle, max_pending=max_pending, max_delay=max_delay)
        self._lock = threading.Lock()
        self._backend_request: BackendRequest = backend
        self._polling_interval = polling_interval
        self._watch_limit = watch_limit
        self._watch_share = watch_share
        self._max_hash_bytes = max_hash_bytes
        self._report_touched = report_touched
        self._clock = clock
        self._handler = _Handler(self._on_event)
        self._observer: BaseObserver | None = None
        self._listener = _OverflowListener(self._on_kernel_overflow)
        self._kernel_overflow = False
        self._rules_changed = False
        self._restart_backoff = 1.0
        self._restart_at = 0.0
        self._started = False
        self.plan: WatchPlan | None = None

    # --- state ------------------------------------------------------------------

    @property
    def rules(self) -> IgnoreRules:
        return self._rules

    @property
    def known(self) -> dict[str, FileState]:
        """A copy of the last known state of every tracked file."""
        return dict(self._known)

    @property
    def handler_errors(self) -> int:
        return self._handler.errors

    @property
    def pending(self) -> int:
        with self._lock:
            return self._coalescer.pending

    @property
    def running(self) -> bool:
        return self._observer is not None

    def next_deadline(self) -> float | None:
        """When ``drain`` will next have something to settle (clock time), if anything."""
        with self._lock:
            return self._coalescer.next_deadline()

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> WatchPlan:
        if self._observer is not None:
            assert self.plan is not None
            return self.plan
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).addFilter(self._listener)
        self.plan = self._start_observer(self._make_plan())
        self._started = True
        return self.plan

    def stop(self) -> None:
        self._started = False
        observer, self._observer = self._observer, None
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).removeFilter(self._listener)
        if observer is not None:
            _stop_observer(observer)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_plan(self) -> WatchPlan:
        is_linux = sys.platform.startswith("linux")
        limit = self._watch_limit if self._watch_limit is not None else (
            read_watch_limit() if is_linux else None
        )
        directories = None
        if is_linux and self._backend_request in ("auto", "inotify") and limit is not None:
            directories = count_directories(self.root, int(limit * self._watch_share) + 1)
        request = self._backend_request
        if request == "inotify":
            # Forced: watch even beyond the budget, only report the numbers.
            return WatchPlan("inotify", "inotify requested", directories, limit)
        return choose_backend(request, is_linux=is_linux, watch_limit=limit,
                              directories=directories, watch_share=self._watch_share)

    def _start_observer(self, plan: WatchPlan) -> WatchPlan:
        try:
            self._observer = self._launch(plan.backend)
            return plan
        except Exception as exc:
            if plan.backend == "polling":
                raise
            fallback = WatchPlan(
                "polling", f"{plan.backend} failed to start ({exc}); polling instead",
                plan.directories, plan.watch_limit,
            )
            self._observer = self._launch("polling")
            return fallback

    def _launch(self, backend: Backend) -> BaseObserver:
        observer: BaseObserver
        if backend == "polling":
            observer = PollingObserverVFS(os.lstat, self._listdir,
                                          polling_interval=self._polling_interval)
        elif backend == "inotify":
            from watchdog.observers.inotify import InotifyObserver

            observer = InotifyObserver()
        else:
            from watchdog.observers import Observer

            observer = Observer()
        try:
            observer.schedule(self._handler, self.root, recursive=True,
                              event_filter=_EVENT_FILTER)
            observer.start()
        except BaseException:
            _stop_observer(observer)
            raise
        return observer

    def _listdir(self, path: str | None) -> Iterator[os.DirEntry[str]]:
        """``scandir`` for the polling observer: no ignored entries, no errors."""
        directory = os.fspath(path) if path is not None else self.root
        rel = relative_to(self.root, directory)
        if rel is None:
            return
        rules = self._rules
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if IgnoreRules.is_rules_file(child) or not rules.is_ignored(child, is_dir):
                        yield entry
        except OSError:
            return  # unreadable or vanished: treated as empty, the scanner reports it

    def _check_health(self, now: float) -> str | None:
        """Replace a dead observer; say so once when it dies and once when it is back."""
        if not self._started:
            return None
        observer = self._observer
        reason: str | None = None
        if observer is not None:
            if observer.is_alive() and observer.emitters and all(
                e.is_alive() for e in observer.emitters
            ):
                return None
            self._observer = None
            _stop_observer(observer)
            reason = "watcher_failed"
        if now < self._restart_at:
            return reason
        try:
            self.plan = self._start_observer(self._make_plan())
        except Exception as exc:
            self._restart_at = now + self._restart_backoff
            self._restart_backoff = min(self._restart_backoff * 2, MAX_RESTART_BACKOFF)
            logger.warning("cannot restart the watcher of %s: %s", self.root, exc)
            return reason
        self._restart_backoff = 1.0
        return reason or "watcher_restarted"

    # --- the handler's side (watchdog's thread) ---------------------------------

    def _on_event(self, event: FileSystemEvent) -> None:
        raw = convert(event.event_type, event.src_path, event.dest_path, event.is_directory,
                      root=self.root, rules=self._rules, timestamp=self._clock())
        if not raw:
            return
        with self._lock:
            for item in raw:
                self._coalescer.feed(item)

    def _on_kernel_overflow(self) -> None:
        self._kernel_overflow = True

    # --- the caller's side ---------------------------------------------------------

    def drain(self, now: float | None = None) -> Drained:
        """Settled changes since the last drain, checked against the disk and the known state."""
        moment = self._clock() if now is None else now
        failed = self._check_health(moment)
        with self._lock:
            batch = self._coalescer.ready(moment)
        reason: str | None = failed
        if batch.overflow is not None:
            reason = "overflow"
        if self._kernel_overflow:
            self._kernel_overflow = False
            reason = reason or "inotify_overflow"
        changes, errors = self._reconcile(batch.settled)
        if self._rules_changed:
            self._rules_changed = False
            reason = reason or "ignore_rules_changed"
        return Drained(
            changes=tuple(changes),
            errors=tuple(errors),
            rescan_needed=reason,
            pending=batch.pending,
            dropped_events=batch.overflow.dropped_events if batch.overflow else 0,
        )

    def _reconcile(self, settled: Sequence[Settled]) -> tuple[list[Change], list[ScanError]]:
        if not settled:
            return [], []
        if any(
            IgnoreRules.is_rules_file(item.path)
            or (item.moved_from is not None and IgnoreRules.is_rules_file(item.moved_from))
            for item in settled
        ):
            # Read every rules file again, not just the changed one: a directory that
            # is no longer ignored may hold .gitignore files never read before.
            self._rules = self._rules.reload()
            self._rules_changed = True
        directories = _outermost({s.path for s in settled if s.is_dir})
        files = sorted(
            s.path for s in settled
            if not s.is_dir and not _under_any(s.path, directories)
        )
        old = restrict(self._known, directories) if directories else {}
        new: dict[str, FileState] = {}
        errors: list[ScanError] = []
        # Paths that had their own events are read again even below a directory that is
        # rescanned: equal size and mtime do not prove equal content (one mtime tick).
        evented = {s.path for s in settled if not s.is_dir}
        previous = _Without(self._known, evented)
        for directory in sorted(directories):
            result = scan(self.root, self._rules, under=directory, previous=previous,
                          max_hash_bytes=self._max_hash_bytes)
            new.update(result.files)
            errors.extend(result.errors)
        for path in files:
            if path in self._known:
                old[path] = self._known[path]
            result = scan(self.root, self._rules, under=path, previous=None,
                          max_hash_bytes=self._max_hash_bytes)
            new.update(result.files)
            errors.extend(result.errors)
        new = keep_unreadable(new, old, errors)
        hints = {s.path: s.moved_from for s in settled if s.moved_from is not None}
        everything = diff(old, new, report_touched=True, move_hints=hints)
        self._known = apply_changes(self._known, everything)
        reported = [c for c in everything if c.kind != "touched" or self._report_touched]
        return reported, errors

    def rescan(self, reason: str = "overflow") -> Rescanned:
        """Scan everything, report what differs from the known state, and adopt the scan."""
        started = time.perf_counter()
        result = scan(self.root, self._rules, previous=self._known,
                      max_hash_bytes=self._max_hash_bytes)
        files = keep_unreadable(result.files, self._known, result.errors)
        changes = diff(self._known, files, report_touched=self._report_touched)
        self._known = files
        return Rescanned(
            reason=reason,
            changes=tuple(changes),
            errors=result.errors,
            files_seen=len(files),
            duration_ms=(time.perf_counter() - started) * 1000.0,
            hashed_bytes=result.hashed_bytes,
        )

    def reload_rules(self) -> IgnoreRules:
        """Read every rules file again (the caller should rescan afterwards)."""
        self._rules = self._rules.reload()
        return self._rules


class _Without(Mapping[str, FileState]):
    """``known`` minus some paths, without copying it."""

    def __init__(self, known: Mapping[str, FileState], hidden: set[str]) -> None:
        self._known = known
        self._hidden = hidden

    def __getitem__(self, path: str) -> FileState:
        if path in self._hidden:
            raise KeyError(path)
        return self._known[path]

    def __iter__(self) -> Iterator[str]:
        return (p for p in self._known if p not in self._hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _stop_observer(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except Exception as exc:  # stopping is best effort
        logger.debug("error stopping observer: %s", exc)


def _outermost(directories: set[str]) -> set[str]:
    """Drop directories that lie inside another one of the set."""
    if "" in directories:
        return {""}
    return {d for d in directories if not _under_any(d, directories - {d})}


def _under_any(path: str, directories: set[str]) -> bool:
    if "" in directories:
        return True
    candidate = path
    while True:
        slash = candidate.rfind("/")
        if slash < 0:
            return False
        candidate = candidate[:slash]
        if candidate in directories:
            return True

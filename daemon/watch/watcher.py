"""The watchdog adapter: file system events in, settled file changes out.

Data flow::

    watchdog observer thread --(EventHandler: convert, filter, enqueue)--> Coalescer
    caller thread: drain(now) --> settled paths --> read from disk --> diff vs known --> Changes

The :class:`Watcher` owns the observer (:mod:`~daemon.watch.observer`, on the backend
:mod:`~daemon.watch.backend` plans), the :class:`~daemon.watch.coalesce.Coalescer` the
handler (:mod:`~daemon.watch.handler`) feeds, and the last known state of every tracked
file (seeded from the ``files`` projection). Everything but converting events — reading
files, hashing, comparing — happens in ``drain``, in the caller's thread, and a change is
reported only when a path's size or content hash really differs from the known state:
an event with unchanged content, a duplicate event, or an editor's temporary file yields
nothing.

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

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import structlog
from watchdog.observers.api import BaseObserver

from daemon.config import DEFAULT_MAX_PENDING
from daemon.watch.backend import (
    DEFAULT_WATCH_SHARE,
    Backend,
    BackendRequest,
    WatchPlan,
    plan_backend,
)
from daemon.watch.coalesce import DEFAULT_MAX_DELAY, DEFAULT_SETTLE, Coalescer, RawEvent, Settled
from daemon.watch.diff import apply_changes, diff, keep_unreadable
from daemon.watch.handler import EventHandler, OverflowListener
from daemon.watch.ignore import IgnoreRules
from daemon.watch.observer import (
    is_running,
    launch,
    start_observer,
    stop_observer,
    tracked_entries,
)
from daemon.watch.reread import plan_reread
from daemon.watch.results import Drained, Rescanned
from daemon.watch.scan import DEFAULT_MAX_HASH_BYTES, scan
from daemon.watch.snapshot import Change, FileState, ScanError

DEFAULT_POLLING_INTERVAL = 1.0
MAX_RESTART_BACKOFF = 60.0

log = structlog.get_logger("realworld.watcher")


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
        self._handler = EventHandler(self.root, lambda: self._rules, clock, self._enqueue)
        self._observer: BaseObserver | None = None
        self._listener = OverflowListener(self._on_kernel_overflow)
        self._kernel_overflow = False
        # Set by the handler's thread with each event it hands over (and by wake): what an
        # idle caller blocks on instead of polling the coalescer.
        self._stirred = threading.Event()
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
        self._listener.attach()
        self.plan = self._start_observer()
        self._started = True
        return self.plan

    def stop(self) -> None:
        self._started = False
        observer, self._observer = self._observer, None
        self._listener.detach()
        if observer is not None:
            stop_observer(observer)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_observer(self) -> WatchPlan:
        plan = plan_backend(self.root, self._backend_request, watch_limit=self._watch_limit,
                            watch_share=self._watch_share)
        self._observer, plan = start_observer(plan, self._launch)
        return plan

    def _launch(self, backend: Backend) -> BaseObserver:
        return launch(backend, self._handler, self.root,
                      polling_interval=self._polling_interval, listdir=self._listdir)

    def _listdir(self, path: str | None) -> Iterator[os.DirEntry[str]]:
        # Reads the rules at each poll: they are replaced when a .gitignore changes.
        return tracked_entries(self.root, self._rules, path)

    def _check_health(self, now: float) -> str | None:
        """Replace a dead observer; say so once when it dies and once when it is back."""
        if not self._started:
            return None
        observer = self._observer
        reason: str | None = None
        if observer is not None:
            if is_running(observer):
                return None
            self._observer = None
            stop_observer(observer)
            reason = "watcher_failed"
        if now < self._restart_at:
            return reason
        try:
            self.plan = self._start_observer()
        except Exception as exc:
            self._restart_at = now + self._restart_backoff
            self._restart_backoff = min(self._restart_backoff * 2, MAX_RESTART_BACKOFF)
            log.warning("watcher_restart_failed", root=self.root, error=str(exc),
                        retry_in=self._restart_at - now)
            return reason
        self._restart_backoff = 1.0
        return reason or "watcher_restarted"

    # --- the handler's side (watchdog's thread) ---------------------------------

    def _enqueue(self, events: Sequence[RawEvent]) -> None:
        with self._lock:
            for event in events:
                self._coalescer.feed(event)
        self._stirred.set()

    def _on_kernel_overflow(self) -> None:
        self._kernel_overflow = True
        self._stirred.set()

    # --- waiting ----------------------------------------------------------------------

    def wait(self, timeout: float | None) -> bool:
        """Block until the handler hands over an event (or :meth:`wake`), at most
        ``timeout`` seconds; whether it did. What arrived is in the coalescer: ask
        :meth:`next_deadline` when to drain it."""
        stirred = self._stirred.wait(timeout)
        self._stirred.clear()  # a set racing this clear was fed before it: nothing is lost
        return stirred

    def wake(self) -> None:
        """End a :meth:`wait` now, from any thread (the session is stopping)."""
        self._stirred.set()

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
        reread = plan_reread(settled, self._known)
        if reread.rules_changed:
            # Read every rules file again, not just the changed one: a directory that
            # is no longer ignored may hold .gitignore files never read before.
            self._rules = self._rules.reload()
            self._rules_changed = True
        new: dict[str, FileState] = {}
        errors: list[ScanError] = []
        for directory in reread.directories:
            result = scan(self.root, self._rules, under=directory, previous=reread.previous,
                          max_hash_bytes=self._max_hash_bytes)
            new.update(result.files)
            errors.extend(result.errors)
        for path in reread.files:
            result = scan(self.root, self._rules, under=path, previous=None,
                          max_hash_bytes=self._max_hash_bytes)
            new.update(result.files)
            errors.extend(result.errors)
        new = keep_unreadable(new, reread.old, errors)
        everything = diff(reread.old, new, report_touched=True, move_hints=reread.move_hints)
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

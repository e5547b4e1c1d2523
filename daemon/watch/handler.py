"""What runs in watchdog's threads: its events and its overflow warnings, each converted
and handed over, never raised.

watchdog's dispatcher thread calls the handler under watchdog's lock and without an
exception guard, so one handler that raises or blocks stalls every later event.
:class:`EventHandler` therefore only converts the event (``convert``: workspace-relative
paths, ignored ones dropped), enqueues the result, and catches every exception (counted
in ``errors``). Reading files, hashing and comparing happen later, in the caller's thread.

watchdog reports a kernel queue overflow (``IN_Q_OVERFLOW``) only as a warning on its
own standard-library logger; :class:`OverflowListener` is a filter on those loggers that
turns that warning into a call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

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

from daemon.watch.coalesce import RawEvent
from daemon.watch.ignore import IgnoreRules

# watchdog 7 (Python >= 3.11) reports a chmod or touch as an event of its own; watchdog 6,
# which Python 3.10 gets, reports it as a modification. Either may be a change to us.
EVENT_TYPE_ATTRIB: str = getattr(watchdog.events, "EVENT_TYPE_ATTRIB", "attrib")
_ATTRIB_EVENTS: list[type[FileSystemEvent]] = [
    cls for cls in (getattr(watchdog.events, "FileAttribEvent", None),) if cls is not None]

# What the handler is asked for: no open/close-no-write/access events, so our own
# reads while hashing wake nobody up.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, *_ATTRIB_EVENTS, FileClosedEvent,
    FileDeletedEvent, FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]
WATCHDOG_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
OVERFLOW_MESSAGE = "Inotify queue overflowed"


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


class EventHandler(FileSystemEventHandler):
    """Runs in watchdog's dispatcher thread: convert, enqueue, never raise.

    ``rules`` is asked on every event because the watcher reloads them when a
    ``.gitignore`` changes; ``enqueue`` gets the converted events of one watchdog event.
    """

    def __init__(
        self,
        root: str,
        rules: Callable[[], IgnoreRules],
        clock: Callable[[], float],
        enqueue: Callable[[Sequence[RawEvent]], None],
    ) -> None:
        super().__init__()
        self._root = root
        self._rules = rules
        self._clock = clock
        self._enqueue = enqueue
        self.errors = 0
        self.last_error: str | None = None

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            raw = convert(event.event_type, event.src_path, event.dest_path, event.is_directory,
                          root=self._root, rules=self._rules(), timestamp=self._clock())
            if raw:
                self._enqueue(raw)
        except Exception as exc:  # a raise here would stall every later event
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"


class OverflowListener(logging.Filter):
    """Sees watchdog's "Inotify queue overflowed" warnings; lets every record through."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow

    def attach(self) -> None:
        for name in WATCHDOG_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def detach(self) -> None:
        for name in WATCHDOG_LOGGERS:
            logging.getLogger(name).removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str) and record.msg.startswith(OVERFLOW_MESSAGE):
                self._on_overflow()
        except Exception:  # never break logging
            pass
        return True

"""Coalescing raw file events into settled changes, per path, over a settle window.

Pure logic: no clock, no threads, no disk. Every method takes explicit timestamps, so
tests drive it without sleeping; the watcher feeds it from watchdog's dispatcher thread
(under its own lock) and drains it from the caller's thread.

- Per path, any number of events becomes one :class:`Settled` item once the path has
  been quiet for ``settle`` seconds (default 0.1), or once it has been pending for
  ``max_delay`` seconds (a log file appended to forever still gets reported).
- The item carries the net effect of its events: ``created`` (did not exist before the
  first event, exists now), ``modified`` (existed, or may have: a rename over it),
  ``deleted`` (existed, is gone) or ``transient`` (created and gone again within the
  window, like an editor's temporary file). These are hints: the watcher re-reads the
  path and compares with the last known state before reporting anything.
- Renames: the destination remembers where its content came from (``moved_from``),
  following chains (a -> b -> c gives c ``moved_from`` a), and forgetting it when the
  source was itself created inside the window. So an editor's atomic save (write
  ``f.tmp``, rename it over ``f``) settles as ``f`` ``modified`` without ``moved_from``,
  plus ``f.tmp`` ``transient``.
- Bounded: when a new path would make more than ``max_pending`` paths pending, every
  pending item is dropped and the coalescer is *overflowed*: it counts further events
  without keeping them, and once the storm has been quiet for ``settle`` seconds (or
  has lasted ``max_delay * 2**n`` seconds, n being the number of overflows in a row,
  capped at ``max_overflow_wait``) ``ready`` returns one :class:`Overflow`. The caller
  then rescans the whole workspace instead of replaying lost events. Back-to-back
  overflows thus wait longer each time, so an endless storm costs a rescan now and
  then, not a recrawl loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from daemon.config import DEFAULT_MAX_PENDING

RawKind = Literal["created", "modified", "deleted", "moved"]
SettledKind = Literal["created", "modified", "deleted", "transient"]

DEFAULT_SETTLE = 0.1
DEFAULT_MAX_DELAY = 2.0
DEFAULT_MAX_OVERFLOW_WAIT = 60.0


@dataclass(frozen=True)
class RawEvent:
    """One event as the file system reported it; paths are workspace-relative."""

    path: str
    kind: RawKind
    timestamp: float
    dest_path: str | None = None  # for "moved"
    is_dir: bool = False


@dataclass(frozen=True)
class Settled:
    """All events of one path since it was last reported, reduced to their net effect."""

    path: str
    kind: SettledKind
    is_dir: bool
    moved_from: str | None
    first_seen: float
    last_seen: float
    events: int


@dataclass(frozen=True)
class Overflow:
    """Events were dropped: the caller must rescan instead of trusting the stream."""

    dropped_paths: int  # distinct paths pending when it overflowed
    dropped_events: int  # events counted and discarded, including those after
    since: float
    until: float


@dataclass(frozen=True)
class Batch:
    settled: tuple[Settled, ...] = ()
    overflow: Overflow | None = None
    pending: int = 0  # paths still waiting to settle


@dataclass
class _Entry:
    existed_before: bool | None  # None: unknown (the path was renamed onto)
    exists: bool
    is_dir: bool
    moved_from: str | None
    first: float
    last: float
    events: int = 0

    def kind(self) -> SettledKind:
        if self.exists:
            return "created" if self.existed_before is False else "modified"
        return "transient" if self.existed_before is False else "deleted"


@dataclass
class _OverflowState:
    dropped_paths: int
    dropped_events: int
    since: float
    last: float


@dataclass
class Coalescer:
    settle: float = DEFAULT_SETTLE
    max_pending: int = DEFAULT_MAX_PENDING
    max_delay: float = DEFAULT_MAX_DELAY
    max_overflow_wait: float = DEFAULT_MAX_OVERFLOW_WAIT
    _entries: dict[str, _Entry] = field(default_factory=dict, init=False, repr=False)
    _overflow: _OverflowState | None = field(default=None, init=False, repr=False)
    _overflow_streak: int = field(default=0, init=False, repr=False)
    _last_overflow: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.settle < 0 or self.max_delay < self.settle:
            raise ValueError("need 0 <= settle <= max_delay")
        if self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")

    # --- input -------------------------------------------------------------------

    def feed(self, event: RawEvent) -> None:
        self.add(event.path, event.kind, event.timestamp,
                 dest_path=event.dest_path, is_dir=event.is_dir)

    def add(
        self,
        path: str,
        kind: RawKind,
        timestamp: float,
        *,
        dest_path: str | None = None,
        is_dir: bool = False,
    ) -> None:
        if kind == "moved":
            if dest_path is None:
                raise ValueError("a moved event needs dest_path")
            if dest_path == path:
                return
        if self._overflow is not None:
            self._overflow.dropped_events += 1
            self._overflow.last = max(self._overflow.last, timestamp)
            return
        new_paths = [p for p in (path, dest_path) if p is not None and p not in self._entries]
        if len(self._entries) + len(new_paths) > self.max_pending:
            self._start_overflow(timestamp)
            return
        if kind == "created":
            entry = self._entry(path, timestamp, is_dir, existed_before=False)
            entry.exists = True
            entry.moved_from = None
        elif kind == "modified":
            entry = self._entry(path, timestamp, is_dir, existed_before=True)
            entry.exists = True
        elif kind == "deleted":
            entry = self._entry(path, timestamp, is_dir, existed_before=True)
            entry.exists = False
            entry.moved_from = None
        else:
            assert dest_path is not None
            source = self._entry(path, timestamp, is_dir, existed_before=True)
            if source.moved_from is not None:
                origin: str | None = source.moved_from
            elif source.existed_before is False:
                origin = None  # created inside the window: nothing was moved away
            else:
                origin = path
            source.exists = False
            source.moved_from = None
            target = self._entry(dest_path, timestamp, is_dir, existed_before=None)
            target.exists = True
            target.moved_from = origin if origin != dest_path else None

    def _entry(self, path: str, timestamp: float, is_dir: bool,
               *, existed_before: bool | None) -> _Entry:
        entry = self._entries.get(path)
        if entry is None:
            entry = _Entry(existed_before=existed_before, exists=existed_before is not False,
                           is_dir=is_dir, moved_from=None, first=timestamp, last=timestamp)
            self._entries[path] = entry
        entry.is_dir = entry.is_dir or is_dir
        entry.last = max(entry.last, timestamp)
        entry.events += 1
        return entry

    def _start_overflow(self, timestamp: float) -> None:
        events = sum(e.events for e in self._entries.values()) + 1
        self._overflow = _OverflowState(
            dropped_paths=len(self._entries), dropped_events=events,
            since=timestamp, last=timestamp,
        )
        self._entries.clear()

    # --- output ------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._entries)

    @property
    def overflowed(self) -> bool:
        return self._overflow is not None

    def _overflow_wait(self) -> float:
        return min(self.max_delay * (1 << min(self._overflow_streak, 30)), self.max_overflow_wait)

    def next_deadline(self) -> float | None:
        """The earliest time at which ``ready`` will have something; ``None`` if idle."""
        if self._overflow is not None:
            state = self._overflow
            return min(state.last + self.settle, state.since + self._overflow_wait())
        if not self._entries:
            return None
        return min(min(e.last + self.settle, e.first + self.max_delay)
                   for e in self._entries.values())

    def ready(self, now: float) -> Batch:
        """Take every path that has settled by ``now`` (or the overflow, if there was one)."""
        if self._overflow is not None:
            state = self._overflow
            if now - state.last >= self.settle or now - state.since >= self._overflow_wait():
                self._overflow = None
                self._overflow_streak += 1
                self._last_overflow = now
                return Batch(overflow=Overflow(state.dropped_paths, state.dropped_events,
                                               state.since, state.last))
            return Batch()
        settled: list[Settled] = []
        for path, entry in list(self._entries.items()):
            if now - entry.last >= self.settle or now - entry.first >= self.max_delay:
                del self._entries[path]
                settled.append(Settled(path, entry.kind(), entry.is_dir, entry.moved_from,
                                       entry.first, entry.last, entry.events))
        if (
            self._last_overflow is not None
            and now - self._last_overflow >= self._overflow_wait()
        ):
            # A whole back-off period without overflowing: the storm is over.
            self._overflow_streak = 0
            self._last_overflow = None
        settled.sort(key=lambda s: (s.last_seen, s.path))
        return Batch(settled=tuple(settled), pending=len(self._entries))

"""The one writer: producers hand it envelopes; a thread appends them to the log in batches.

Batching many events per transaction is what keeps a save storm cheap; the
bounded queue pushes back on producers instead of growing without limit.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import structlog

from daemon.log.events import Envelope
from daemon.log.store import EventStore, StoredRow
from daemon.log.write_errors import LogWriteError, describe_write_error, is_contention

log = structlog.get_logger("realworld.writer")

_STOP = object()
_RETRIES = 5


class WriterClosed(RuntimeError):
    """The writer takes no more events: closed, or failed (then ``reason`` says why)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class _Flush:
    """A flush's place in the queue: done once everything before it was written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


class EventWriter:
    def __init__(self, store: EventStore, *, max_batch: int = 1_000, max_queue: int = 50_000,
                 on_written: Callable[[Sequence[StoredRow]], None] | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._on_written = on_written
        self._closed = False
        self._failure: LogWriteError | None = None
        self._owed: list[Envelope] = []  # what had to wait for the log to take writes again
        # Flushes wait on this for their marker or the thread's end, whichever comes first.
        self._written = threading.Condition()
        self._exited = False
        self._thread = threading.Thread(target=self._serve, name="realworld-writer",
                                        daemon=True)
        self._thread.start()

    def put(self, envelopes: Iterable[Envelope]) -> None:
        """Queue envelopes for the log; blocks while the queue is full."""
        if self._closed:
            raise WriterClosed("the event writer is closed")
        if self._failure is not None:
            raise WriterClosed(f"the event log cannot be written: {self._failure}",
                               str(self._failure))
        for envelope in envelopes:
            self._queue.put(envelope)

    def put_eventually(self, envelopes: Iterable[Envelope]) -> None:
        """Queue envelopes, or keep them for :meth:`resume` while the writer is failed:
        a session's end is recorded once the log takes writes again."""
        if self._failure is not None and not self._closed:
            self._owed.extend(envelopes)
            return
        self.put(envelopes)

    def resume(self) -> bool:
        """Take writes again after a failure (someone freed the disk, or will be told
        again by the next write); what was kept for later goes first. True if it had
        failed."""
        if self._failure is None or self._closed or not self._thread.is_alive():
            return False
        log.info("events_writer_resumed", after=self._failure.reason)
        self._failure = None
        owed, self._owed = self._owed, []
        self.put(owed)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is durable in the log."""
        if not self._thread.is_alive():
            return self._queue.empty() and self._failure is None
        marker = _Flush()
        self._queue.put(marker)
        with self._written:
            # The thread's end wakes us too: a close racing this flush never reaches it.
            self._written.wait_for(lambda: marker.done or self._exited, timeout)
        # Waking is not enough: a batch that failed to append is not durable.
        return marker.done and self._failure is None

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def failure(self) -> LogWriteError | None:
        return self._failure

    def _serve(self) -> None:
        try:
            self._run()
        finally:
            with self._written:
                self._exited = True
                self._written.notify_all()

    def _release(self, markers: Iterable[_Flush]) -> None:
        with self._written:
            for marker in markers:
                marker.done = True
            self._written.notify_all()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Envelope] = []
            waiters: list[_Flush] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Flush):
                    waiters.append(item)
                elif isinstance(item, Envelope):
                    batch.append(item)
                if stopping or len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            if waiters:
                self._release(waiters)
        # Whatever was queued behind the stop (a put or flush racing close): write it and
        # wake its waiters rather than leave them to their timeouts.
        rest: list[object] = []
        while True:
            try:
                rest.append(self._queue.get_nowait())
            except queue.Empty:
                break
        late = [item for item in rest if isinstance(item, Envelope)]
        if late:
            self._write(late)
        self._release(item for item in rest if isinstance(item, _Flush))

    def _write(self, batch: list[Envelope]) -> None:
        if self._failure is not None:
            return  # the log could not take an earlier batch: a later one would break order
        rows: Sequence[StoredRow] = ()
        for attempt in range(_RETRIES):
            try:
                rows = self._store.append(batch)
                break
            except sqlite3.OperationalError as exc:
                if not is_contention(exc):  # a full disk does not empty itself: no retries
                    self._fail(exc, len(batch))
                    return
                # Another process held the write lock past the busy timeout: back off, retry.
                log.warning("events_write_retry", attempt=attempt + 1, error=str(exc))
                time.sleep(0.1 * 2**attempt)
            except Exception as exc:
                self._fail(exc, len(batch))
                return
        else:
            self._fail(LogWriteError(f"the log stayed locked by another process through "
                                     f"{_RETRIES} attempts"), len(batch))
            return
        # Invariant 3: an event logged as written here survives kill -9.
        log.debug("events_written", count=len(rows), last_seq=rows[-1][0])
        if self._on_written is not None:
            try:
                self._on_written(rows)
            except Exception as exc:
                log.warning("on_written_failed", error=str(exc))

    def _fail(self, exc: BaseException, count: int) -> None:
        """Stop taking events: everything before this batch is durable, nothing after
        it is written out of order. Whoever puts or flushes next learns why."""
        failure = exc if isinstance(exc, LogWriteError) else LogWriteError(
            describe_write_error(exc))
        failure.__cause__ = None if failure is exc else exc
        self._failure = failure
        log.error("events_not_written", count=count, reason=failure.reason,
                  db=str(self._store.db.path))

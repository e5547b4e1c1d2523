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

from daemon.events import Envelope
from daemon.eventstore import EventStore, StoredRow

log = structlog.get_logger("realworld.writer")

_STOP = object()
_RETRIES = 5


class WriterClosed(RuntimeError):
    pass


class EventWriter:
    def __init__(self, store: EventStore, *, max_batch: int = 1_000, max_queue: int = 50_000,
                 on_written: Callable[[Sequence[StoredRow]], None] | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._on_written = on_written
        self._closed = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="realworld-writer", daemon=True)
        self._thread.start()

    def put(self, envelopes: Iterable[Envelope]) -> None:
        """Queue envelopes for the log; blocks while the queue is full."""
        if self._closed:
            raise WriterClosed("the event writer is closed")
        if self._failure is not None:
            raise WriterClosed(f"the event writer failed: {self._failure}")
        for envelope in envelopes:
            self._queue.put(envelope)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is durable in the log."""
        if not self._thread.is_alive():
            return self._queue.empty() and self._failure is None
        done = threading.Event()
        self._queue.put(done)
        deadline = None if timeout is None else time.monotonic() + timeout
        # In slices: a writer that stops meanwhile (close racing this flush) never sets it.
        while not done.wait(0.1):
            if not self._thread.is_alive() or (deadline is not None
                                               and time.monotonic() >= deadline):
                break
        # Waking is not enough: a batch that failed to append is not durable.
        return done.is_set() and self._failure is None

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Envelope] = []
            waiters: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, threading.Event):
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
            for waiter in waiters:
                waiter.set()
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
        for item in rest:
            if isinstance(item, threading.Event):
                item.set()

    def _write(self, batch: list[Envelope]) -> None:
        rows: Sequence[StoredRow] = ()
        for attempt in range(_RETRIES):
            try:
                rows = self._store.append(batch)
                break
            except sqlite3.OperationalError as exc:
                # Another process held the write lock past the busy timeout: back off, retry.
                log.warning("events_write_retry", attempt=attempt + 1, error=str(exc))
                time.sleep(0.1 * 2**attempt)
            except Exception as exc:
                self._failure = exc
                log.error("events_not_written", count=len(batch), error=str(exc))
                return
        else:
            self._failure = RuntimeError(f"the log stayed locked through {_RETRIES} attempts")
            log.error("events_not_written", count=len(batch), error=str(self._failure))
            return
        # Invariant 3: an event logged as written here survives kill -9.
        log.debug("events_written", count=len(rows), last_seq=rows[-1][0])
        if self._on_written is not None:
            try:
                self._on_written(rows)
            except Exception as exc:
                log.warning("on_written_failed", error=str(exc))

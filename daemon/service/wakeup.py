"""One place the main thread blocks: signals and wake-ups from other threads, through a socket.

A Python signal handler runs on the main thread between two bytecodes, wherever that
thread is, even inside ``Event.wait`` holding the event's own lock; a handler that
sets an event (or raises ``KeyboardInterrupt`` into whatever code was running) can
deadlock or leave a half-done close behind. Here the handlers do nothing:
``signal.set_wakeup_fd`` makes the interpreter write each signal's number to a
socket, other threads write to the same socket, and the main thread blocks in
``select`` on it until one of them, or its timeout, ends the wait.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import threading
from collections.abc import Iterable, Iterator
from types import FrameType

#: What :meth:`Wakeup.wake` writes: not a signal number (they start at 1).
WOKEN = 0


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Installed for the signals we take: the wake-up socket carries them."""


class Wakeup:
    """A socket pair the main thread waits on; close it when done."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._pending: list[int] = []

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    def __enter__(self) -> Wakeup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, number: int = WOKEN) -> None:
        """From any thread: end the current (or next) :meth:`wait`, carrying ``number``
        (a signal number, or :data:`WOKEN`)."""
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending
            self._writer.send(bytes((number,)))

    def wake(self) -> None:
        self.post(WOKEN)

    def wait(self, timeout: float | None) -> list[int]:
        """Block until something is posted or a signal arrives (or ``timeout``); what
        arrived, in order (empty on timeout)."""
        if not self._pending:
            ready, _, _ = select.select([self._reader], [], [], timeout)
            if ready:
                self._drain()
        arrived, self._pending = self._pending, []
        return arrived

    def _drain(self) -> None:
        while True:
            try:
                data = self._reader.recv(4096)
            except BlockingIOError:
                return
            if not data:
                return
            self._pending.extend(data)

    @contextlib.contextmanager
    def signals(self, signums: Iterable[signal.Signals]) -> Iterator[bool]:
        """Deliver ``signums`` through this socket while the block runs; yields False (and
        does nothing) off the main thread, where Python cannot take signals."""
        if threading.current_thread() is not threading.main_thread():
            yield False
            return
        taken = list(signums)
        previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        previous = {signum: signal.signal(signum, _ignore) for signum in taken}
        try:
            yield True
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_fd)

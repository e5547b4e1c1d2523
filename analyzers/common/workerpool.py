"""A pool of worker processes where each task has a deadline and a bad task costs only itself.

Why not ``concurrent.futures.ProcessPoolExecutor``: a running future cannot be
cancelled, so a file that makes a rule super-linear would hold its worker for as
long as it takes; and when a worker dies (killed for its deadline, or crashed in
C code on a pathological input) the executor marks itself broken and fails every
pending future, innocent files included. Here each worker holds one task at a
time over its own pipe, so the parent knows exactly which task a dead or late
worker had: that task gets a ``timeout`` or ``crashed`` outcome, the worker is
replaced, and the other tasks carry on.

Workers are fresh interpreters (``python -c`` with a small bootstrap) talking
over a socket pair, not ``multiprocessing`` processes: ``fork`` is unsafe in a
daemon with threads (a copied lock held by another thread is never released),
and ``spawn``/``forkserver`` re-import the parent's ``__main__``, which runs a
caller's unguarded script a second time. A worker inherits the parent's
``sys.path``, ignores terminal signals (own session), prints nothing (stderr to
/dev/null: it may hold rule warnings about the scanned code) and exits when its
socket closes, so workers end with the parent, even a ``kill -9``-ed one. A
worker reports ready after its initializer ran, so start-up time is not charged
to the first task's deadline. Every message a worker sends carries its process CPU so
far, which the pool charges to the calling thread's account
(:mod:`analyzers.common.cpu_account`): the caller's CPU includes its workers'.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, Literal, TypeVar

from analyzers.common import cpu_account

T = TypeVar("T")
R = TypeVar("R")

Initializer = Callable[[Any], Callable[[Any], Any]]
OutcomeKind = Literal["ok", "error", "timeout", "crashed"]

DEFAULT_START_TIMEOUT_S = 120.0  # importing bandit and its plugins on a loaded machine
# A worker left idle this long exits (the pool starts another when work comes), so the
# workers of a session that ended without close() do not linger for the process's life.
DEFAULT_IDLE_EXIT_S = 300.0
MAX_START_FAILURES = 3

# Runs in the worker: take the parent's import path, then serve. Kept to what needs no
# import of ours, since our package may only be importable once sys.path is set. Once
# served, the worker leaves with os._exit: it holds nothing to flush (answers went over
# the socket, handlers write their own files as they go), and a normal interpreter exit
# tearing down jedi's inference graph took 0.8 s, which the parent's close() waited out
# at the end of every ``run --once``.
_BOOTSTRAP = (
    "import os, sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = conn.recv()\n"
    "from analyzers.common.workerpool import serve\n"
    "serve(conn)\n"
    "os._exit(0)\n"
)


def worker_label(initializer: Initializer) -> str:
    """``module:name`` of a pool's initializer, the last word of its workers' command line:
    unread by the worker, it tells one analyzer's workers from another's in ``ps`` (and to
    a scenario that must kill the scanner's, not the probe's)."""
    module = getattr(initializer, "__module__", None) or "?"
    name = getattr(initializer, "__qualname__", None) or type(initializer).__name__
    return f"{module}:{name}"


def default_processes() -> int:
    """One worker per core, four at most: more would only queue for the same cores."""
    return max(1, min(4, os.cpu_count() or 1))


class PoolError(Exception):
    """No worker could be started; one line for a person."""


@dataclass(frozen=True)
class Outcome(Generic[R]):
    kind: OutcomeKind
    value: R | None = None
    error: str = ""  # for error/timeout/crashed: one line, never the task's content

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def serve(conn: Connection) -> None:
    """A worker's life: build the handler, say ready, then answer tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    warnings.simplefilter("ignore")  # SyntaxWarnings about the scanned code are noise here
    try:
        initializer, argument, idle_exit_s = conn.recv()
        handler = initializer(argument)
    except BaseException as exc:
        conn.send(("init-error", f"{type(exc).__name__}: {exc}", time.process_time()))
        return
    conn.send(("ready", None, time.process_time()))
    while True:
        try:
            if not conn.poll(idle_exit_s):
                return  # idle too long
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if task is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", handler(task))
        except RecursionError:
            reply = ("error", "RecursionError: nested too deeply")
        except MemoryError:
            reply = ("error", "MemoryError")
        except Exception as exc:  # the type only: a message could quote the task's data
            reply = ("error", type(exc).__name__)
        try:
            conn.send((*reply, time.process_time()))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(("error", f"cannot send the result: {type(exc).__name__}",
                       time.process_time()))


class _Worker:
    def __init__(self, initializer: Initializer, argument: Any, idle_exit_s: float) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(theirs.fileno()), worker_label(initializer)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                close_fds=True)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        self.started_at = time.monotonic()
        self.task: int | None = None  # index of the task it holds
        self.deadline = 0.0
        # Its CPU as of its last message; a killed worker's CPU since then goes uncounted.
        self.cpu_reported = 0.0
        # The call it was started for: only that call is charged its start-up, which may
        # end during a later call (started early, so start-up overlaps the caller's work).
        self.started_for = cpu_account.current()
        try:
            self.conn.send(list(sys.path))
            self.conn.send((initializer, argument, idle_exit_s))
        except OSError:
            pass  # it died at once; the pool sees the closed socket and counts a failed start

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        with contextlib.suppress(OSError):
            self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(OSError):
            self.conn.close()


class WorkerPool:
    """Up to ``processes`` workers built by ``initializer(argument)`` (both picklable,
    the initializer importable at module level), kept warm between calls of :meth:`run`."""

    def __init__(self, initializer: Initializer, argument: Any, *, processes: int,
                 timeout_s: float, start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
                 idle_exit_s: float = DEFAULT_IDLE_EXIT_S) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._initializer = initializer
        self._argument = argument
        self._processes = processes
        self.timeout_s = timeout_s
        self._start_timeout_s = start_timeout_s
        self._idle_exit_s = idle_exit_s
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self.restarts = 0  # workers replaced after a task's timeout or crash
        # interrupt() writes to one end, so a run blocked in wait() for its workers wakes.
        self._wake_up, self._waker = socket.socketpair()
        self._interrupted = False

    @property
    def size(self) -> int:
        return len(self._workers)

    def pids(self) -> tuple[int, ...]:
        """The worker processes still running (an exited one is reaped here)."""
        return tuple(w.process.pid for w in self._workers if w.process.poll() is None)

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def interrupt(self) -> None:
        """Stop at once, from any thread: a running :meth:`run` kills the workers that
        hold a task (their tasks are not yielded) and returns; no task starts again."""
        self._interrupted = True
        with contextlib.suppress(OSError):
            self._waker.send(b"!")

    def start(self, count: int) -> None:
        """Start workers now (up to ``count``), so their start-up overlaps the caller's
        own work; :meth:`run` waits for them to be ready."""
        if self._interrupted:
            return
        for worker in [w for w in self._workers if w.process.poll() is not None]:
            self._workers.remove(worker)  # exited while idle
            worker.kill()
        while len(self._workers) < min(self._processes, count):
            self._workers.append(self._spawn())

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()
        self._wake_up.close()
        self._waker.close()

    def run(self, tasks: Sequence[T], *, stop_at: float | None = None
            ) -> Iterator[tuple[int, Outcome[Any]]]:
        """Yield ``(index, outcome)`` for each task as it finishes, in any order.

        With ``stop_at`` (a ``time.monotonic()`` value) no task is started after it;
        tasks not started are simply not yielded. Closing the iterator early leaves
        the workers that still hold a task killed, so no stale answer is read later;
        so does :meth:`interrupt`.
        """
        waiting = deque(range(len(tasks)))
        self.start(len(tasks))
        busy: list[_Worker] = []
        finished = False
        sent = 0
        try:
            while not self._interrupted:
                now = time.monotonic()
                # One task at least, however late: a caller whose preparation alone outlasts
                # its budget must still move forward, call after call.
                may_start = stop_at is None or now < stop_at or sent == 0
                for worker in self._workers:
                    if may_start and waiting and worker.ready and worker.task is None:
                        index = waiting.popleft()
                        try:
                            worker.conn.send(tasks[index])
                        except OSError:  # the worker died while idle: not this task's fault
                            waiting.appendleft(index)
                            self._replace(worker, restart=False)
                            continue
                        except Exception as exc:  # a task that cannot be pickled
                            yield index, Outcome("error",
                                                 error=f"cannot send: {type(exc).__name__}")
                            continue
                        worker.task = index
                        worker.deadline = time.monotonic() + self.timeout_s
                        busy.append(worker)
                        sent += 1
                if not busy and (not waiting or not may_start):
                    finished = True
                    return
                if not busy and not any(w.ready for w in self._workers):
                    self._check_start_up()
                yield from self._collect(busy)
        finally:
            if not finished:
                for worker in busy:
                    if self._interrupted:
                        self._retire(worker)  # ending: no replacement to start
                    else:
                        self._replace(worker)

    def _collect(self, busy: list[_Worker]) -> Iterator[tuple[int, Outcome[Any]]]:
        now = time.monotonic()
        starting = [w for w in self._workers if not w.ready]
        deadlines = [w.deadline for w in busy]
        if starting:
            deadlines.append(now + 0.5)
        timeout = max(0.0, min(deadlines) - now) if deadlines else 0.5
        watched = {id(w.conn): w for w in busy + starting}
        ready = wait([self._wake_up, *(w.conn for w in watched.values())], timeout=timeout)
        if self._interrupted:
            return  # the run ends; the wake-up byte stays, so later waits end at once too
        for item in ready:
            if item is self._wake_up:
                continue
            worker = watched[id(item)]
            try:
                kind, value, cpu = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                kind, value = None, None
            else:
                if kind != "ready" or worker.started_for is cpu_account.current():
                    cpu_account.charge(cpu - worker.cpu_reported)
                worker.cpu_reported = cpu
            if kind is None:  # the process is gone without answering
                if worker.task is not None:
                    index = worker.task
                    busy.remove(worker)
                    self._replace(worker)
                    yield index, Outcome("crashed", error=self._death(worker))
                else:  # died while starting: try again, a few times
                    self._start_failures += 1
                    if self._start_failures > MAX_START_FAILURES:
                        self._workers.remove(worker)
                        worker.kill()
                        raise PoolError("scan workers keep dying while they start")
                    self._replace(worker, restart=False)
                continue
            if kind == "ready":
                worker.ready = True
                self._start_failures = 0
            elif kind == "init-error":
                self._workers.remove(worker)
                worker.kill()
                raise PoolError(f"a scan worker could not start: {value}")
            elif worker.task is not None:
                index = worker.task
                worker.task = None
                busy.remove(worker)
                yield index, Outcome("ok", value) if kind == "ok" else Outcome(
                    "error", error=str(value))
        now = time.monotonic()
        for worker in list(busy):
            if worker.task is not None and now >= worker.deadline:
                index = worker.task
                busy.remove(worker)
                self._replace(worker)
                yield index, Outcome("timeout", error=f"timed out after {self.timeout_s:g}s")

    def _check_start_up(self) -> None:
        oldest = min(w.started_at for w in self._workers)
        if time.monotonic() - oldest > self._start_timeout_s:
            raise PoolError(f"no scan worker started within {self._start_timeout_s:g}s")

    def _spawn(self) -> _Worker:
        return _Worker(self._initializer, self._argument, self._idle_exit_s)

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)

    def _replace(self, worker: _Worker, *, restart: bool = True) -> None:
        worker.kill()
        if worker in self._workers:
            self._workers[self._workers.index(worker)] = self._spawn()
            self.restarts += restart

    @staticmethod
    def _death(worker: _Worker) -> str:
        code = worker.process.returncode
        if code is not None and code < 0:
            return f"the worker died of signal {-code}"
        return f"the worker exited (status {code})"

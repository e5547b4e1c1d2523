"""Measuring one analyzer call: wall time, its CPU, system CPU and process memory.

The meter is the IO edge; what it reads is a plain :class:`~daemon.run.records.Measurement`,
which :func:`daemon.run.records.activity_event` turns into the activity it records.

A call's own CPU is the CPU clock of the thread it runs on (the runner gives each call a
thread) plus what the worker processes it used report (:mod:`analyzers.common.cpu_account`),
so two calls running at once are not charged each other's work.

System CPU is computed here from ``psutil.cpu_times()`` deltas rather than read
from ``psutil.cpu_percent(interval=None)``: psutil keeps that function's baseline
per thread, so a call measured on a fresh worker thread would read 0.0 (or 100.0 when
a tick fell between its two back-to-back readings) and concurrent calls would reset
each other's baselines. The arithmetic is psutil's own (busy = total - idle - iowait;
guest time is already inside user time).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psutil

from analyzers.common.cpu_account import CpuAccount, close_account, open_account
from daemon.run.records import Measurement

T = TypeVar("T")

MB = 1024 * 1024
MIN_CPU_INTERVAL_S = 0.1  # the kernel accounts CPU in 10 ms ticks; shorter spans are noise

CpuTimes = tuple[float, float]  # (busy, total) seconds since boot


def cpu_ceiling() -> float:
    """The most CPU percent of one core a process can use: 100 per core."""
    return 100.0 * (psutil.cpu_count() or 1)


def _cpu_times() -> CpuTimes | None:
    try:
        t = psutil.cpu_times()
    except (psutil.Error, OSError):
        return None
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    busy = total - t.idle - getattr(t, "iowait", 0.0)
    return busy, total


def cpu_percent_between(earlier: CpuTimes, later: CpuTimes) -> float | None:
    """System-wide CPU percent between two readings; ``None`` when no tick passed."""
    busy = later[0] - earlier[0]
    total = later[1] - earlier[1]
    if total <= 0:
        return None
    return round(min(100.0, max(0.0, busy / total * 100.0)), 1)


class SystemCpu:
    """A thread-safe gauge of system CPU percent over the latest span of at least
    ``min_interval_s`` that ends at the reading.

    It keeps the few raw readings of that last span, so a reading taken soon after
    another still covers a whole span (rather than repeating the last value, or
    reporting the 0 or 100 of a span without a tick). The very first reading waits out
    what is left of the gauge's first span instead of guessing.
    """

    def __init__(self, min_interval_s: float = MIN_CPU_INTERVAL_S, *,
                 times: Callable[[], CpuTimes | None] = _cpu_times,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        # ``times``, ``clock`` and ``sleep`` are psutil's and the system's; a test may pass
        # a scripted machine to check the spans the gauge chooses.
        self._min_interval_s = min_interval_s
        self._times, self._clock, self._sleep = times, clock, sleep
        self._lock = threading.Lock()
        self._readings: deque[tuple[float, CpuTimes]] = deque()
        self._value = 0.0  # repeated only while psutil cannot read the times
        self._note(clock(), times())

    def _note(self, at: float, times: CpuTimes | None) -> None:
        # One reading per tenth of a span is plenty (ticks are 10 ms): the deque stays short.
        if times is not None and (not self._readings
                                  or at - self._readings[-1][0] >= self._min_interval_s / 10):
            self._readings.append((at, times))

    def read(self) -> float:
        with self._lock:
            now, times = self._clock(), self._times()
            if times is None or not self._readings:
                self._note(now, times)
                return self._value
            if now - self._readings[0][0] < self._min_interval_s:
                # Only the first span can be this short: a blocking wait, once per gauge.
                self._sleep(self._min_interval_s - (now - self._readings[0][0]))
                now, times = self._clock(), self._times()
                if times is None:
                    return self._value
            while len(self._readings) > 1 and now - self._readings[1][0] >= self._min_interval_s:
                self._readings.popleft()  # the next one is old enough to start the span
            value = cpu_percent_between(self._readings[0][1], times)
            if value is not None:
                self._value = value
            self._note(now, times)
            return self._value


_shared_lock = threading.Lock()
_shared: SystemCpu | None = None


def system_cpu() -> SystemCpu:
    """The process's one gauge of system CPU at :data:`MIN_CPU_INTERVAL_S`, shared by the
    samplers and the analyzers' meter. One gauge, so its first span starts when the first
    user is built (a tester, at start-up) rather than once per user: with a gauge of its own
    a session's first call waited out 80 of its first 100 ms in every ``run --once``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SystemCpu()
        return _shared


class ProcessCpu:
    """CPU percent of one core used by this process and its children since the previous
    reading, thread-safe; at most 100 per core.

    Children are counted while they run (psutil reads each one), not only once reaped:
    the kernel adds a child to its parent's ``children_*`` times when it is waited for,
    so long-lived workers would otherwise show their whole life's CPU in the one sample
    after they end. ``psutil.Process.cpu_percent`` divides by whatever wall time passed,
    so a reading a few milliseconds after the last reports ten-millisecond ticks as
    500 %; here a reading too soon after the last repeats it; the first covers the span
    since the process started.
    """

    def __init__(self, min_interval_s: float = MIN_CPU_INTERVAL_S) -> None:
        self._min_interval_s = min_interval_s
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._ceiling = cpu_ceiling()
        self._used = self._cpu_seconds()
        self._at = time.monotonic()
        self._value = 0.0
        with contextlib.suppress(psutil.Error, OSError):
            alive = time.time() - self._process.create_time()
            if self._used is not None and alive >= self._min_interval_s:
                self._value = self._percent(self._used, alive)

    def _cpu_seconds(self) -> float | None:
        try:
            t = self._process.cpu_times()
            children = self._process.children(recursive=True)
        except (psutil.Error, OSError):
            return None
        used = t.user + t.system + t.children_user + t.children_system
        for child in children:
            with contextlib.suppress(psutil.Error, OSError):  # it may end meanwhile
                c = child.cpu_times()
                # A child's own reaped children are in its children_* times.
                used += c.user + c.system + c.children_user + c.children_system
        return float(used)

    def _percent(self, used: float, wall: float) -> float:
        return round(min(self._ceiling, max(0.0, used / wall * 100.0)), 1)

    def read(self) -> float:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self._min_interval_s:
                used = self._cpu_seconds()
                if used is not None and self._used is not None:
                    self._value = self._percent(used - self._used, now - self._at)
                self._used = used
                self._at = now
            return self._value


class ProcessMemory:
    """Resident memory of this process (and, optionally, its live children) in MB."""

    def __init__(self, include_children: bool = False) -> None:
        self._process = psutil.Process()
        self._include_children = include_children

    def rss_mb(self) -> float | None:
        try:
            rss = self._process.memory_info().rss
        except (psutil.Error, OSError):
            return None
        if self._include_children:
            try:
                children = self._process.children(recursive=True)
            except (psutil.Error, OSError):
                children = []
            for child in children:
                # A child may end between the listing and the reading.
                with contextlib.suppress(psutil.Error, OSError):
                    rss += child.memory_info().rss
        return round(rss / MB, 2)


def bounded_cpu_ms(cpu_s: float, wall_ms: float, ceiling: float) -> float:
    """CPU seconds as ms, within what ``ceiling`` percent of one core gives in ``wall_ms``
    (the call's recorded time, so the percent made of the two stays within the ceiling).

    Worker CPU reported late (a worker's start-up, answered during the call) can exceed
    what the cores could give in the call's time; the bound keeps the percent possible.
    """
    if not (math.isfinite(cpu_s) and math.isfinite(wall_ms)) or cpu_s <= 0 or wall_ms <= 0:
        return 0.0
    most = math.floor(wall_ms * max(ceiling, 0.0) / 100.0 * 1000.0) / 1000.0  # rounded down
    return min(round(cpu_s * 1000.0, 3), most)


def _thread_clock() -> int | None:
    """The CPU clock of the calling thread, readable from other threads while it runs."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):  # not on this platform
        return None


@dataclass(frozen=True)
class Started:
    """Readings taken just before a call; hand it back to :meth:`Meter.stop`."""

    perf: float
    cpu_times: CpuTimes | None
    cpu_before: float
    memory_before_mb: float | None
    thread: int = 0  # threading.get_ident() of the call's thread
    thread_clock: int | None = None
    thread_cpu_s: float | None = None  # that thread's CPU clock at the start
    account: CpuAccount | None = None  # its worker processes' CPU


@dataclass(frozen=True)
class Measured(Generic[T]):
    measurement: Measurement
    value: T | None = None
    error: BaseException | None = None


class Meter:
    """Wall time (``perf_counter``), the call's CPU, system CPU and process RSS around one
    call.

    ``cpu_before`` is the system load over the span leading up to the call; ``cpu_after``
    the load during it, or for a call shorter than a span the span ending with it.
    ``cpu_time_ms`` is the CPU the call's thread and its worker processes used, at most
    its wall time times the cores. ``start`` and ``stop`` may run on different threads,
    which is how a call that timed out is still measured by whoever gave up on it.
    """

    def __init__(self, *, include_children: bool = False,
                 min_cpu_interval_s: float = MIN_CPU_INTERVAL_S) -> None:
        self._cpu = (system_cpu() if min_cpu_interval_s == MIN_CPU_INTERVAL_S
                     else SystemCpu(min_cpu_interval_s))
        self._memory = ProcessMemory(include_children)
        self._min_cpu_interval_s = min_cpu_interval_s
        self._ceiling = cpu_ceiling()

    def start(self) -> Started:
        cpu_before = self._cpu.read()
        memory = self._memory.rss_mb()
        times = _cpu_times()
        account = open_account()
        # The clocks start last and stop first: the readings are not the call's time.
        thread_cpu = time.thread_time()
        return Started(time.perf_counter(), times, cpu_before, memory,
                       threading.get_ident(), _thread_clock(), thread_cpu, account)

    def _call_cpu_s(self, started: Started) -> float | None:
        if started.thread_cpu_s is None:
            return None
        if started.thread == threading.get_ident():
            now = time.thread_time()
        elif started.thread_clock is not None:
            try:  # the call's thread still runs (it was given up on, not ended)
                now = time.clock_gettime(started.thread_clock)
            except OSError:
                return None
        else:
            return None
        workers = started.account.seconds if started.account is not None else 0.0
        return max(0.0, now - started.thread_cpu_s) + workers

    def stop(self, started: Started) -> Measurement:
        call_cpu_s = self._call_cpu_s(started)
        elapsed = time.perf_counter() - started.perf
        if started.account is not None:
            close_account(started.account)
        cpu_after: float | None = None
        if elapsed >= self._min_cpu_interval_s and started.cpu_times is not None:
            times = _cpu_times()
            if times is not None:
                cpu_after = cpu_percent_between(started.cpu_times, times)
        if cpu_after is None:
            cpu_after = self._cpu.read()
        response_time_ms = round(elapsed * 1000.0, 3)
        cpu_time_ms = (None if call_cpu_s is None
                       else bounded_cpu_ms(call_cpu_s, response_time_ms, self._ceiling))
        return Measurement(
            response_time_ms=response_time_ms,
            cpu_before=started.cpu_before,
            cpu_after=cpu_after,
            memory_before_mb=started.memory_before_mb,
            memory_after_mb=self._memory.rss_mb(),
            cpu_time_ms=cpu_time_ms,
        )

    def measure(self, call: Callable[[], T]) -> Measured[T]:
        """Run ``call`` once, measured; an exception is returned, not raised."""
        started = self.start()
        try:
            value = call()
        except Exception as exc:
            return Measured(self.stop(started), error=exc)
        return Measured(self.stop(started), value=value)

"""Measuring one analyzer call: wall time, system CPU and process memory (psutil, clocks).

The meter is the IO edge; what it reads is a plain :class:`~daemon.run.records.Measurement`,
which :func:`daemon.run.records.activity_event` turns into the activity it records.

System CPU is computed here from ``psutil.cpu_times()`` deltas rather than read
from ``psutil.cpu_percent(interval=None)``: psutil keeps that function's baseline
per thread, so a call measured on a fresh worker thread would read 0.0 and
concurrent calls would reset each other's baselines. The arithmetic is psutil's
own (busy = total - idle - iowait; guest time is already inside user time).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psutil

from daemon.run.records import Measurement

T = TypeVar("T")

MB = 1024 * 1024
MIN_CPU_INTERVAL_S = 0.1  # the kernel accounts CPU in 10 ms ticks; shorter spans are noise

CpuTimes = tuple[float, float]  # (busy, total) seconds since boot


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
    """A thread-safe gauge of system CPU percent since its previous reading.

    A reading taken less than ``min_interval_s`` after the last one repeats it, so
    calls that start close together all see the same load instead of 0 or 100.
    """

    def __init__(self, min_interval_s: float = MIN_CPU_INTERVAL_S) -> None:
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._times = _cpu_times()
        self._at = time.monotonic()
        # Primed: psutil's own reading covers the span since psutil was imported, so the
        # first call does not report 0.0 for want of a baseline.
        self._value = float(psutil.cpu_percent(interval=None))

    def read(self) -> float:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self._min_interval_s:
                times = _cpu_times()
                if times is not None and self._times is not None:
                    value = cpu_percent_between(self._times, times)
                    if value is not None:
                        self._value = value
                self._times = times
                self._at = now
            return self._value


class ProcessCpu:
    """CPU percent of one core used by this process (and its waited-for children) since
    the previous reading, thread-safe.

    ``psutil.Process.cpu_percent`` divides by whatever wall time passed, so a reading a
    few milliseconds after the last reports ten-millisecond ticks as 500 %. Like
    :class:`SystemCpu`, a reading too soon after the last repeats it; the first covers
    the span since the process started.
    """

    def __init__(self, min_interval_s: float = MIN_CPU_INTERVAL_S) -> None:
        self._min_interval_s = min_interval_s
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._ceiling = 100.0 * (psutil.cpu_count() or 1)
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
        except (psutil.Error, OSError):
            return None
        return float(t.user + t.system + t.children_user + t.children_system)

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


@dataclass(frozen=True)
class Started:
    """Readings taken just before a call; hand it back to :meth:`Meter.stop`."""

    perf: float
    cpu_times: CpuTimes | None
    cpu_before: float
    memory_before_mb: float | None


@dataclass(frozen=True)
class Measured(Generic[T]):
    measurement: Measurement
    value: T | None = None
    error: BaseException | None = None


class Meter:
    """Wall time (``perf_counter``), system CPU and process RSS around one call.

    ``cpu_before`` is the system load leading up to the call; ``cpu_after`` is the load
    during it (the gauge's latest reading when the call was too short to measure).
    ``start`` and ``stop`` may run on different threads, which is how a call that
    timed out is still measured by whoever gave up on it.
    """

    def __init__(self, *, include_children: bool = False,
                 min_cpu_interval_s: float = MIN_CPU_INTERVAL_S) -> None:
        self._cpu = SystemCpu(min_cpu_interval_s)
        self._memory = ProcessMemory(include_children)
        self._min_cpu_interval_s = min_cpu_interval_s

    def start(self) -> Started:
        cpu_before = self._cpu.read()
        memory = self._memory.rss_mb()
        times = _cpu_times()
        # The clock starts last and stops first: the readings are not the call's time.
        return Started(time.perf_counter(), times, cpu_before, memory)

    def stop(self, started: Started) -> Measurement:
        elapsed = time.perf_counter() - started.perf
        cpu_after: float | None = None
        if elapsed >= self._min_cpu_interval_s and started.cpu_times is not None:
            times = _cpu_times()
            if times is not None:
                cpu_after = cpu_percent_between(started.cpu_times, times)
        if cpu_after is None:
            cpu_after = self._cpu.read()
        return Measurement(
            response_time_ms=round(elapsed * 1000.0, 3),
            cpu_before=started.cpu_before,
            cpu_after=cpu_after,
            memory_before_mb=started.memory_before_mb,
            memory_after_mb=self._memory.rss_mb(),
        )

    def measure(self, call: Callable[[], T]) -> Measured[T]:
        """Run ``call`` once, measured; an exception is returned, not raised."""
        started = self.start()
        try:
            value = call()
        except Exception as exc:
            return Measured(self.stop(started), error=exc)
        return Measured(self.stop(started), value=value)


"""Measuring a call with psutil: wall time, system CPU and process memory."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil
from hypothesis import given
from hypothesis import strategies as st

from analyzers.common.workerpool import WorkerPool
from daemon.projections.metrics import call_cpu_percent
from daemon.run.measure import (
    Meter,
    ProcessCpu,
    ProcessMemory,
    SystemCpu,
    bounded_cpu_ms,
    cpu_ceiling,
    cpu_percent_between,
)
from daemon.run.records import Measurement


def busy(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_cpu_percent_between_is_psutils_arithmetic() -> None:
    assert cpu_percent_between((10.0, 100.0), (15.0, 110.0)) == 50.0
    assert cpu_percent_between((10.0, 100.0), (10.0, 100.0)) is None  # no tick passed
    assert cpu_percent_between((10.0, 100.0), (30.0, 110.0)) == 100.0  # clamped


def test_the_gauges_first_reading_covers_a_whole_span_not_psutils_first_call() -> None:
    gauge = SystemCpu(min_interval_s=0.2)
    begun = time.monotonic()
    first = gauge.read()
    # psutil.cpu_percent(None) on a fresh thread compares two readings microseconds apart
    # (0.0, or 100.0 when a tick fell between); the gauge waits out its first span instead.
    assert time.monotonic() - begun >= 0.19
    assert 0.0 <= first <= 100.0


def test_readings_close_together_each_cover_the_span_ending_with_them() -> None:
    gauge = SystemCpu(min_interval_s=0.2)
    gauge.read()
    busy(0.25)  # this process keeps a core busy: at least 1/cores of the machine
    cores = psutil.cpu_count() or 1
    readings = [gauge.read(), gauge.read()]
    assert all(100.0 / cores * 0.6 <= r <= 100.0 for r in readings), readings
    time.sleep(0.3)
    quiet = gauge.read()  # the span that ends now saw this process asleep
    assert quiet < readings[0] or quiet < 100.0 / cores


def test_process_cpu_read_at_once_is_not_noise_and_sees_a_busy_core() -> None:
    ceiling = 100.0 * (psutil.cpu_count() or 1)
    gauge = ProcessCpu(min_interval_s=0.1)
    # Read a millisecond after the baseline: psutil's own cpu_percent reports the 10 ms
    # ticks of that span as hundreds of percent; the gauge repeats its first reading.
    assert 0.0 <= gauge.read() <= ceiling
    busy(0.3)
    assert 50.0 <= gauge.read() <= ceiling  # one thread kept a core busy for the span
    time.sleep(0.3)
    assert gauge.read() < 50.0  # and then slept


def test_measure_a_busy_call() -> None:
    meter = Meter(min_cpu_interval_s=0.05)
    measured = meter.measure(lambda: busy(0.15))
    m = measured.measurement
    assert measured.error is None and isinstance(measured.value, int)
    assert 140 <= m.response_time_ms < 2000
    for value in (m.cpu_before, m.cpu_after):
        assert value is not None and 0.0 <= value <= 100.0
    assert m.cpu_after is not None and m.cpu_after > 0.0  # this process kept a core busy
    assert m.memory_before_mb is not None and m.memory_before_mb > 1
    assert m.memory_after_mb is not None and m.memory_after_mb > 1


def test_measure_sees_memory_grow() -> None:
    meter = Meter()
    measured = meter.measure(lambda: b"x" * (64 * 1024 * 1024))
    m = measured.measurement
    assert m.memory_after_mb is not None and m.memory_before_mb is not None
    assert m.memory_after_mb - m.memory_before_mb > 40
    del measured


def test_measure_returns_the_exception() -> None:
    def fail() -> None:
        raise ValueError("boom")

    measured = Meter().measure(fail)
    assert isinstance(measured.error, ValueError) and measured.value is None
    assert measured.measurement.response_time_ms >= 0


def test_start_and_stop_on_different_threads() -> None:
    meter = Meter()
    started = meter.start()
    result: list[Measurement] = []
    thread = threading.Thread(target=lambda: result.append(meter.stop(started)))
    time.sleep(0.02)
    thread.start()
    thread.join()
    assert result[0].response_time_ms >= 15


def test_children_count_towards_memory_when_asked() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 5
        alone = ProcessMemory().rss_mb()
        assert alone is not None
        with_children = alone
        while with_children - alone < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
            with_children = ProcessMemory(include_children=True).rss_mb() or 0.0
        assert with_children - alone >= 1  # a Python interpreter is several MB
    finally:
        child.kill()
        child.wait()


def spin(task: float) -> float:
    """Keep a core busy for ``task`` seconds; a negative task sleeps that long instead."""
    if task < 0:
        time.sleep(-task)
    else:
        busy(task)
    return task


def make_spinner(argument: None) -> Callable[[float], float]:
    return spin


def test_a_calls_cpu_is_its_threads_not_the_processes() -> None:
    meter = Meter()
    other = threading.Thread(target=busy, args=(0.6,))  # another call, on another thread
    other.start()
    idle = meter.measure(lambda: time.sleep(0.3)).measurement
    working = meter.measure(lambda: busy(0.3)).measurement
    other.join()
    assert idle.cpu_time_ms is not None and idle.cpu_time_ms < 30  # asleep: no CPU of its own
    assert working.cpu_time_ms is not None
    # A busy thread gets at most one core; on a loaded machine it gets less of it.
    assert 0.2 * working.response_time_ms <= working.cpu_time_ms <= working.response_time_ms * 1.05


def test_a_call_is_charged_the_cpu_of_the_workers_it_used() -> None:
    pool = WorkerPool(make_spinner, None, processes=2, timeout_s=30.0)
    meter = Meter()
    try:
        list(pool.run([0.0, 0.0]))  # the workers' start-up is charged to this first call
        measured = meter.measure(lambda: list(pool.run([0.4, 0.4])))
        m = measured.measurement
        assert m.cpu_time_ms is not None
        # Two workers spinning 0.4 s of wall time each (800 ms of CPU on an idle machine,
        # less on a shared one), while this thread mostly waited for them.
        assert m.cpu_time_ms >= 250
        assert m.cpu_time_ms <= m.response_time_ms * cpu_ceiling() / 100.0 + 0.01
        unrelated = meter.measure(lambda: time.sleep(0.2)).measurement  # no pool in it
        assert unrelated.cpu_time_ms is not None and unrelated.cpu_time_ms < 30
    finally:
        pool.close()


def test_process_cpu_counts_children_while_they_run() -> None:
    spinning = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spinning])
    try:
        gauge = ProcessCpu(min_interval_s=0.1)
        gauge.read()
        time.sleep(0.6)
        # The child is not reaped yet: its CPU shows now, not all at once when it ends.
        assert gauge.read() >= 30.0
    finally:
        child.kill()
        child.wait()
    assert gauge.read() <= cpu_ceiling()


cores = st.integers(min_value=1, max_value=256)
seconds = st.floats(allow_nan=True, allow_infinity=True)


@given(seconds, seconds, cores)
def test_a_calls_cpu_percent_is_bounded_for_any_readings(cpu_s: float, wall_s: float,
                                                        count: int) -> None:
    ms = bounded_cpu_ms(cpu_s, wall_s, 100.0 * count)
    assert ms >= 0.0 and not math.isnan(ms)
    wall_ms = wall_s * 1000.0  # as the meter records it beside the CPU
    wall_ms = round(wall_ms, 3) if math.isfinite(wall_ms) else wall_ms
    percent = call_cpu_percent(ms, wall_ms)
    if percent is not None:
        assert 0.0 <= percent <= 100.0 * count


@given(st.tuples(st.floats(0, 1e9), st.floats(0, 1e9)), st.tuples(st.floats(0, 1e9),
                                                                  st.floats(0, 1e9)))
def test_system_cpu_between_any_two_readings_is_a_percent(a: tuple[float, float],
                                                           b: tuple[float, float]) -> None:
    value = cpu_percent_between(a, b)
    assert value is None or 0.0 <= value <= 100.0


def test_a_workers_start_up_is_charged_only_to_the_call_that_started_it() -> None:
    pool = WorkerPool(make_spinner, None, processes=1, timeout_s=30.0)
    meter = Meter()
    try:
        starter = meter.measure(lambda: pool.start(1)).measurement  # returns at once
        time.sleep(0.5)  # the worker imports and starts meanwhile, outside any call
        later = meter.measure(lambda: list(pool.run([-0.3]))).measurement  # a sleeping task
        assert starter.cpu_time_ms is not None and later.cpu_time_ms is not None
        # The later call reads the worker's "ready" (its start-up CPU) but is not charged.
        assert later.cpu_time_ms <= later.response_time_ms * cpu_ceiling() / 100.0 + 0.01
        assert later.cpu_time_ms < 40
    finally:
        pool.close()

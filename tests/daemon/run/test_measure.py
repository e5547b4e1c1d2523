"""Measuring a call with psutil: wall time, system CPU and process memory."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil

from daemon.run.measure import Meter, ProcessCpu, ProcessMemory, SystemCpu, cpu_percent_between
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


def test_the_gauge_is_primed_and_steady_within_its_interval() -> None:
    gauge = SystemCpu(min_interval_s=10.0)
    first = gauge.read()
    assert 0.0 <= first <= 100.0
    assert gauge.read() == first  # too soon to read again: the same value, not noise


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

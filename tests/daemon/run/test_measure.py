"""Measuring a call with psutil: wall time, system CPU and process memory."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.common.workerpool import WorkerPool
from daemon.projections.metrics import call_cpu_percent
from daemon.run import measure
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
from daemon.run.sampler import ResourceSampler


def busy(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def busy_thread_cpu(seconds: float) -> float:
    """Spin for ``seconds`` of wall time; the CPU seconds this thread got meanwhile (on a
    loaded machine, much less than the wall time)."""
    before = time.thread_time()
    busy(seconds)
    return time.thread_time() - before


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


class Machine:
    """A scripted machine for the gauge: a clock, and busy/total CPU seconds that grow
    at ``load`` (0-1) of two cores while the clock moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.busy = 0.0
        self.total = 0.0
        self.load = 0.0
        self.slept: list[float] = []

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.total += 2 * seconds
        self.busy += 2 * seconds * self.load

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def gauge(self) -> SystemCpu:
        return SystemCpu(0.1, times=lambda: (self.busy, self.total), clock=lambda: self.now,
                         sleep=self.sleep)


def test_readings_close_together_each_cover_the_span_ending_with_them() -> None:
    machine = Machine()
    gauge = machine.gauge()
    machine.load = 0.5
    machine.advance(0.03)
    assert gauge.read() == 50.0 and machine.slept == [pytest.approx(0.07)]  # waited once
    machine.load = 1.0
    machine.advance(0.5)
    first = gauge.read()
    machine.advance(0.005)  # a 5 ms call: its end still reads a whole span, not a repeat
    machine.load = 0.0
    machine.advance(0.05)
    second = gauge.read()
    assert first == 100.0 and 0.0 < second < 100.0
    machine.advance(0.2)
    assert gauge.read() == 0.0  # the span ending now saw an idle machine
    assert machine.slept == [pytest.approx(0.07)]  # only the first reading ever waits
    assert len(gauge._readings) <= 12  # the few readings of the last span only


def test_samplers_and_meters_share_one_gauge_whose_first_span_waits_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A session's sampler and its meter built after the tester's: their first readings
    cover the span the tester's gauge began, not a wait of their own each."""
    machine = Machine()
    monkeypatch.setattr(measure, "_shared", machine.gauge())
    tester_sampler = ResourceSampler()
    machine.advance(0.03)
    meter, session_sampler = Meter(), ResourceSampler()
    tester_sampler.sample()
    assert machine.slept == [pytest.approx(0.07)]
    machine.advance(0.05)
    meter.measure(lambda: None)
    session_sampler.sample()
    assert machine.slept == [pytest.approx(0.07)]  # the one wait, however many users


def test_process_cpu_read_at_once_is_not_noise_and_sees_a_busy_core() -> None:
    ceiling = 100.0 * (psutil.cpu_count() or 1)
    gauge = ProcessCpu(min_interval_s=0.1)
    # Read a millisecond after the baseline: psutil's own cpu_percent reports the 10 ms
    # ticks of that span as hundreds of percent; the gauge repeats its first reading.
    assert 0.0 <= gauge.read() <= ceiling
    started = time.monotonic()
    got = busy_thread_cpu(0.3)
    share = got / (time.monotonic() - started) * 100.0  # of a core, on a machine shared
    assert share * 0.8 <= gauge.read() <= ceiling  # one thread kept a core busy for the span
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
    working = meter.measure(lambda: busy_thread_cpu(0.3))
    other.join()
    assert idle.cpu_time_ms is not None and idle.cpu_time_ms < 30  # asleep: no CPU of its own
    got_ms = (working.value or 0.0) * 1000.0
    m = working.measurement
    assert m.cpu_time_ms is not None
    # Its own thread's CPU, readings aside; not the other thread's, which spun meanwhile.
    assert got_ms - 1 <= m.cpu_time_ms <= got_ms + 30


def process_cpu_spent(task: float) -> float:
    """A worker's task: spin ``task`` seconds, or sleep ``-task``; the CPU seconds it took."""
    before = time.process_time()
    spin(task)
    return time.process_time() - before


def make_measured_spinner(argument: None) -> Callable[[float], float]:
    return process_cpu_spent


def test_a_call_is_charged_the_cpu_of_the_workers_it_used() -> None:
    pool = WorkerPool(make_measured_spinner, None, processes=2, timeout_s=60.0)
    meter = Meter()
    try:
        list(pool.run([0.0, 0.0]))  # the workers' start-up is charged to this first call
        measured = meter.measure(lambda: [o.value for _, o in pool.run([0.4, 0.4])])
        spent_ms = sum(measured.value or ()) * 1000.0
        m = measured.measurement
        assert m.cpu_time_ms is not None and spent_ms > 0
        # What the two tasks spent in their workers, plus this thread's waiting for them.
        assert spent_ms - 1 <= m.cpu_time_ms <= spent_ms + 60
        assert m.cpu_time_ms <= m.response_time_ms * cpu_ceiling() / 100.0
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
        child_before = psutil.Process(child.pid).cpu_times()
        time.sleep(0.6)
        child_after = psutil.Process(child.pid).cpu_times()
        child_percent = ((child_after.user + child_after.system)
                         - (child_before.user + child_before.system)) / 0.6 * 100.0
        # The child is not reaped yet: its CPU shows now, not all at once when it ends.
        assert gauge.read() >= child_percent * 0.8 - 5
    finally:
        child.kill()
        child.wait()
    assert gauge.read() <= cpu_ceiling()


cores = st.integers(min_value=1, max_value=256)
seconds = st.floats(allow_nan=True, allow_infinity=True)


@given(seconds, seconds, cores)
def test_a_calls_cpu_percent_is_bounded_for_any_readings(cpu_s: float, wall_s: float,
                                                        count: int) -> None:
    wall_ms = wall_s * 1000.0  # as the meter records it beside the CPU
    wall_ms = round(wall_ms, 3) if math.isfinite(wall_ms) else wall_ms
    ms = bounded_cpu_ms(cpu_s, wall_ms, 100.0 * count)
    assert ms >= 0.0 and not math.isnan(ms)
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

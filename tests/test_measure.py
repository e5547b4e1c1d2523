"""Measuring a call with psutil, and the activity event that records it."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from pathlib import Path

from analyzers.base import AnalysisResult
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, SessionStarted
from daemon.log.store import EventStore, read_events
from daemon.projections.projector import catch_up
from daemon.run.measure import (
    Failure,
    Measurement,
    Meter,
    ProcessMemory,
    SystemCpu,
    activity_event,
    cpu_percent_between,
    describe,
    error_message,
)

ACTIVITY_COLUMNS = ("activity_id", "session_id", "timestamp", "capability", "activity_type",
                    "description", "response_time_ms", "cpu_before", "cpu_after",
                    "memory_before_mb", "memory_after_mb", "success", "error_message",
                    "result_data", "created_at")

SAMPLE = Measurement(response_time_ms=245.4, cpu_before=12.5, cpu_after=40.0,
                     memory_before_mb=50.0, memory_after_mb=52.25)


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


def test_success_event_has_every_column() -> None:
    event = activity_event(session_id="s1", capability="workspace_analyzer",
                           activity_type="workspace_analysis", measurement=SAMPLE,
                           outcome=AnalysisResult("7 insights", {"files": 3, "bad": math.nan}))
    assert event.description == "Workspace analysis: 245ms, 7 insights"
    assert event.success is True and event.error_message is None
    assert event.response_time_ms == 245.4
    assert (event.cpu_before, event.cpu_after) == (12.5, 40.0)
    assert (event.memory_before_mb, event.memory_after_mb) == (50.0, 52.25)
    assert event.result_data == {"files": 3, "bad": None}
    assert len(event.activity_id) == 32


def test_exception_event_carries_message_and_traceback() -> None:
    try:
        raise KeyError("missing thing")
    except KeyError as exc:
        event = activity_event(session_id="s1", capability="security_scanner",
                               activity_type="security_scan", measurement=SAMPLE, outcome=exc)
    assert event.success is False
    assert event.error_message == "KeyError: 'missing thing'"
    assert event.description == "Security scan: 245ms, failed: KeyError: 'missing thing'"
    assert event.result_data is not None and event.result_data["error_type"] == "KeyError"
    assert any("test_measure.py" in frame for frame in event.result_data["traceback"])


def test_failure_without_a_measurement() -> None:
    event = activity_event(session_id="s1", capability="code_search", activity_type="search",
                           measurement=None, outcome=Failure("skipped", "skipped: still running"))
    assert event.description == "Code search: failed: skipped: still running"
    assert event.response_time_ms is None and event.cpu_before is None
    assert event.result_data == {"error_type": "skipped"}


def test_messages_are_clipped_and_made_safe() -> None:
    odd = b"\xff".decode("utf-8", "surrogateescape")
    exc = RuntimeError("line one\nline two " + "x" * 5000 + odd)
    message = error_message(exc)
    assert len(message) == 2000 and message.endswith("…")
    description = describe("pattern_probe", SAMPLE, exc)
    assert description.startswith("Pattern probe: 245ms, failed: RuntimeError: line one")
    assert "\n" not in description and len(description) < 200
    assert error_message(RuntimeError()) == "RuntimeError"


def test_activities_land_in_the_log_and_the_table(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", create=True)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(session_id="s1", project_path=str(tmp_path),
                                              duration_minutes=1))])
        measured = Meter().measure(lambda: AnalysisResult("15 files", {"files": 15}))
        assert isinstance(measured.value, AnalysisResult)
        ok = activity_event(session_id="s1", capability="code_indexer",
                            activity_type="indexing", measurement=measured.measurement,
                            outcome=measured.value)
        failed = activity_event(session_id="s1", capability="code_indexer",
                                activity_type="indexing", measurement=SAMPLE,
                                outcome=OSError("disk gone"))
        store.append([Envelope(ok), Envelope(failed)])
    catch_up(db)
    conn = db.connect_readonly()
    try:
        logged = [r.event for r in read_events(conn, session_id="s1")]
        assert logged[1:] == [ok, failed]  # the log gives back exactly what was appended
        rows = conn.execute(
            f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM activities ORDER BY response_time_ms"
        ).fetchall()
        session = conn.execute(
            "SELECT total_activities, total_errors FROM test_sessions WHERE session_id = 's1'"
        ).fetchone()
    finally:
        conn.close()
    first = dict(zip(ACTIVITY_COLUMNS, rows[0], strict=True))
    assert all(first[c] is not None for c in ACTIVITY_COLUMNS if c != "error_message")
    assert first["success"] == 1 and first["result_data"] == '{"files":15}'
    assert first["description"].startswith("Code indexing: ")
    second = dict(zip(ACTIVITY_COLUMNS, rows[1], strict=True))
    assert second["success"] == 0 and second["error_message"] == "OSError: disk gone"
    assert session == (2, 1)


def test_the_event_covers_every_column_of_the_spec_row() -> None:
    # timestamp and created_at come from the envelope, when the log takes the event.
    fields = set(ActivityRecorded.__dataclass_fields__) | {"timestamp", "created_at"}
    assert set(ACTIVITY_COLUMNS) <= fields


def test_an_empty_summary_ends_the_line_at_the_time() -> None:
    quick = Measurement(89.2, 1.0, 2.0, 10.0, 10.0)
    assert describe("error_recovery", quick, AnalysisResult("")) == "Error recovery: 89ms"


def test_files_left_for_the_next_call_are_recorded_under_one_name() -> None:
    def data(result: AnalysisResult) -> object:
        return activity_event(session_id="s1", capability="code_indexer", activity_type="index",
                              measurement=None, outcome=result).result_data

    assert data(AnalysisResult("busy", {"pending": 7}, remaining=7)) == {"pending": 7,
                                                                         "remaining": 7}
    assert data(AnalysisResult("done", {"pending": 0})) == {"pending": 0}
    # An analyzer's own "remaining" is its own business: it is not overwritten.
    assert data(AnalysisResult("x", {"remaining": "few"}, remaining=2)) == {"remaining": "few"}

"""Time series for the charts: rows in time order, per capability, bad values left out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from daemon.read.analysis.rows import epoch
from daemon.read.analysis.series import response_series, session_series
from daemon.read.reporting import UnknownSession, load_series

from logbuilders import SPEC_SESSION, spec_session_log


def _row(ts: str, capability: str, ms: object, success: object = True,
         **extra: object) -> dict[str, object]:
    return {"timestamp": ts, "capability": capability, "response_time_ms": ms,
            "success": success, **extra}


def test_one_series_per_capability_in_order_of_first_call_points_in_time_order() -> None:
    rows = [
        _row("2026-02-03T12:00:03Z", "b", 30.0),
        _row("2026-02-03T12:00:01Z", "a", 10.0),
        _row("2026-02-03T12:00:02Z", "b", 20.0, success=False),
        _row("2026-02-03T12:00:00Z", "b", 5.0),
    ]
    series = response_series(rows)
    assert [s.key for s in series] == ["b", "a"]
    b = series[0]
    assert [p.value for p in b.points] == [5.0, 20.0, 30.0]
    assert [p.ok for p in b.points] == [True, False, True]
    assert b.unit == "ms"


def test_rows_without_time_or_finite_value_are_left_out() -> None:
    rows = [_row("2026-02-03T12:00:00Z", "a", None), _row("bad", "a", 1.0),
            _row("2026-02-03T12:00:01Z", "a", math.nan), _row("2026-02-03T12:00:02Z", "a", "inf"),
            _row("2026-02-03T12:00:03Z", "a", "7.5")]
    [series] = response_series(rows)
    assert [p.value for p in series.points] == [7.5]


def test_failure_without_a_verdict_is_read_from_the_error_message() -> None:
    rows = [_row("2026-02-03T12:00:00Z", "a", 1.0, success=None, error_message="boom"),
            _row("2026-02-03T12:00:01Z", "a", 2.0, success=None, error_message=None)]
    [series] = response_series(rows)
    assert [p.ok for p in series.points] == [False, True]


def test_resource_series_and_session_span() -> None:
    session = {"start_time": "2026-02-03T12:00:00+00:00", "end_time": "2026-02-03T12:05:00+00:00"}
    activities = [_row("2026-02-03T12:01:00Z", "a", 1.0, cpu_after=30.0, memory_after_mb=50.0)]
    metrics = [
        {"timestamp": "2026-02-03T12:00:30Z", "capability": "system", "metric_type": "cpu_usage",
         "value": 12.0, "unit": "percent"},
        {"timestamp": "2026-02-03T12:00:30Z", "capability": "system",
         "metric_type": "memory_usage", "value": 40.0, "unit": "percent"},
        {"timestamp": "2026-02-03T12:00:30Z", "capability": "realworld",
         "metric_type": "memory_usage", "value": 80.0, "unit": "MB"},
        # Outside the recorded span: the span widens to keep it on the chart.
        {"timestamp": "2026-02-03T12:06:00Z", "capability": "realworld",
         "metric_type": "cpu_usage", "value": 150.0, "unit": "percent"},
    ]
    data = session_series(session, activities, metrics)
    assert [s.key for s in data.percent] == ["system_cpu", "daemon_cpu", "cpu_after",
                                             "system_memory"]
    assert [s.key for s in data.memory_mb] == ["daemon_rss", "memory_after"]
    assert data.start == epoch(session["start_time"])
    assert data.end == epoch("2026-02-03T12:06:00Z")
    assert not data.is_empty()


def test_empty_session_has_empty_series_and_a_span() -> None:
    data = session_series({"start_time": "2026-02-03T12:00:00+00:00"}, [], [])
    assert data.is_empty()
    assert data.start == data.end == epoch("2026-02-03T12:00:00+00:00")
    assert session_series({}, [], []).start is None


def test_load_series_reads_a_real_log(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "log.db")
    data = load_series(db, SPEC_SESSION)
    assert sum(len(s.points) for s in data.response_ms) == 7
    assert {s.key for s in data.response_ms} == {"workspace_analyzer", "code_search",
                                                  "security_scanner"}
    with pytest.raises(UnknownSession):
        load_series(db, "nope")

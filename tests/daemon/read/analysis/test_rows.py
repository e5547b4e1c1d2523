"""What a projection row's values count as (daemon.read.analysis.rows)."""

from __future__ import annotations

import math

import pytest

from daemon.read.analysis.rows import (
    epoch,
    finite,
    in_session,
    in_time_order,
    metric_values,
    number,
    short_message,
    stored_bool,
    succeeded,
)


def test_epoch_reads_iso_with_zone_z_or_naive_utc() -> None:
    assert epoch("2026-02-03T12:00:00+00:00") == epoch("2026-02-03T12:00:00Z")
    assert epoch("2026-02-03T12:00:00") == epoch("2026-02-03T12:00:00+00:00")
    assert epoch("2026-02-03T13:00:00+01:00") == epoch("2026-02-03T12:00:00Z")
    assert epoch("yesterday") is None and epoch(None) is None and epoch("") is None


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3.0), ("2.5", 2.5), (None, None), (True, None), ("fast", None), ([1], None),
])
def test_number(value: object, expected: float | None) -> None:
    assert number(value) == expected


def test_number_keeps_nan_and_finite_does_not() -> None:
    assert math.isnan(number("nan") or 0.0)
    assert finite("nan") is None and finite(math.inf) is None and finite("-inf") is None
    assert finite("7.5") == 7.5 and finite(False) is None


@pytest.mark.parametrize(("row", "ok"), [
    ({"success": 1}, True), ({"success": 0, "error_message": None}, False),
    ({"success": None, "error_message": None}, True),
    ({"success": None, "error_message": "boom"}, False), ({}, True),
])
def test_succeeded_reads_the_error_message_without_a_verdict(row: dict[str, object],
                                                             ok: bool) -> None:
    assert succeeded(row) is ok


def test_stored_bool_keeps_null() -> None:
    assert (stored_bool(1), stored_bool(0), stored_bool(None)) == (True, False, None)


def test_in_session_keeps_rows_without_a_session_and_all_for_no_session() -> None:
    rows = [{"session_id": "s1"}, {"session_id": "s2"}, {"session_id": None}, {}]
    assert in_session(rows, "s1") == [rows[0], rows[2], rows[3]]
    assert in_session(rows, "") == rows


def test_in_time_order_is_stable_and_puts_bad_times_last() -> None:
    rows = [{"timestamp": "bad", "n": 0}, {"timestamp": "2026-02-03T12:00:02Z", "n": 1},
            {"timestamp": "2026-02-03T12:00:01Z", "n": 2}, {"timestamp": None, "n": 3},
            {"timestamp": "2026-02-03T12:00:01+00:00", "n": 4}]
    assert [r["n"] for r in in_time_order(rows)] == [2, 4, 1, 0, 3]


def test_metric_values_of_one_kind_in_row_order() -> None:
    rows = [{"capability": "system", "metric_type": "cpu_usage", "unit": "percent",
             "value": 10, "timestamp": "2026-02-03T12:00:00Z"},
            {"capability": "system", "metric_type": "cpu_usage", "unit": "MB", "value": 11},
            {"capability": "realworld", "metric_type": "cpu_usage", "unit": "percent",
             "value": 12},
            {"capability": "system", "metric_type": "cpu_usage", "unit": "percent",
             "value": None},
            {"capability": "system", "metric_type": "cpu_usage", "unit": "percent",
             "value": "13", "timestamp": "bad"}]
    assert metric_values(rows, "system", "cpu_usage", "percent") == [
        (epoch("2026-02-03T12:00:00Z"), 10.0), (None, 13.0)]


def test_short_message_is_one_line_and_bounded() -> None:
    assert short_message("KeyError:\n  'path'") == "KeyError: 'path'"
    long = short_message("x" * 200)
    assert len(long) == 80 and long.endswith("...")

"""Durations as people type them on the command line and in the environment."""

from __future__ import annotations

import pytest

from daemon.durations import format_clock, parse_minutes, parse_seconds


@pytest.mark.parametrize(("text", "minutes"), [
    ("30s", 0.5), ("3s", 0.05), ("90s", 1.5), ("5m", 5.0), ("1h", 60.0), ("2h", 120.0),
    ("10", 10.0), ("1.5", 1.5), (" 5 ", 5.0), ("5M", 5.0), ("1H", 60.0), ("45 s", 0.75),
])
def test_parse_minutes(text: str, minutes: float) -> None:
    assert parse_minutes(text) == pytest.approx(minutes)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30.0), ("1", 1.0), ("0.5", 0.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
])
def test_parse_seconds_bare_numbers_are_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5", "5x", "5 minutes", "1e3", "s", "1..5",
                                  "nan", "inf", "5m30s"])
def test_bad_durations_raise_one_clear_line(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_minutes(text)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="invalid interval"):
        parse_seconds(text)


@pytest.mark.parametrize("text", ["0", "0s", "0.0", "0h"])
def test_zero_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        parse_minutes(text)
    with pytest.raises(ValueError, match="longer than zero"):
        parse_seconds(text)


def test_absurdly_long_durations_are_refused_not_crashing_later() -> None:
    # A duration past what datetime can schedule must be a usage error, not a traceback.
    with pytest.raises(ValueError, match="invalid duration"):
        parse_minutes("99999999999999h")
    with pytest.raises(ValueError, match="invalid interval"):
        parse_seconds("99999999999999h")


@pytest.mark.parametrize(("seconds", "clock"), [
    (0, "0:00:00"), (30, "0:00:30"), (270, "0:04:30"), (3725, "1:02:05"),
    (59.6, "0:01:00"), (-3, "0:00:00"), (36000, "10:00:00"),
])
def test_format_clock(seconds: float, clock: str) -> None:
    assert format_clock(seconds) == clock

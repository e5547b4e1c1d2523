"""A session's measurements as time series, for charts: projection rows in, points out.

Pure functions over the rows of ``activities`` and ``performance_metrics`` (dicts keyed
by their column names); :func:`daemon.read.reporting.load_series` is the IO edge that
reads them. The analysis (:mod:`daemon.read.analysis.aggregate`) reduces these rows to
numbers; charts need the rows themselves in time order, so they get their own small
projection here rather than widening the analysis. Row values are read as the analysis
reads them (:mod:`daemon.read.analysis.rows`).

What each chart series holds, and why:

* **Response time** - one series per capability (in order of its first call), one point
  per activity with a numeric ``response_time_ms``; failed calls stay in the series (a
  failure's time is still a time the user waited) and carry ``ok=False`` so a chart can
  mark them.
* **Percent** - system CPU and system memory from the periodic samples (capability
  ``system``), the daemon's own CPU with its worker processes (capability ``realworld``;
  percent of one core, so up to 100 per core), and ``cpu_after`` of each call. Both kinds
  of system CPU are kept because the periodic samples describe the whole session while
  ``cpu_after`` is taken during work and runs hot; showing both lets a reader see the
  difference.
* **Memory (MB)** - the daemon's RSS from the periodic samples and ``memory_after_mb`` of
  each call.

Rows without a parseable timestamp or a finite value are left out: a chart cannot place
them, and NaN or infinity would break its scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from daemon.read.analysis.rows import (
    PROCESS_CAPABILITY,
    SYSTEM_CAPABILITY,
    Row,
    epoch,
    finite,
    succeeded,
)
from daemon.types import CPU_USAGE, MEMORY_USAGE


@dataclass(frozen=True)
class Point:
    t: float  # seconds since the epoch
    value: float
    ok: bool = True  # False for a failed call


@dataclass(frozen=True)
class Series:
    key: str  # a capability, or a measure such as "system_cpu"; used in data attributes
    label: str  # for the legend
    unit: str  # "ms", "percent", "MB"
    points: tuple[Point, ...]  # in time order


@dataclass(frozen=True)
class SessionSeries:
    start: float | None  # the session's start (or its first point), seconds since the epoch
    end: float | None  # its end (or its last point)
    response_ms: tuple[Series, ...]
    percent: tuple[Series, ...]
    memory_mb: tuple[Series, ...]

    def is_empty(self) -> bool:
        return not any(s.points for s in (*self.response_ms, *self.percent, *self.memory_mb))


def _sorted(points: Iterable[Point]) -> tuple[Point, ...]:
    # sorted() is stable, so points at the same instant keep their row order.
    return tuple(sorted(points, key=lambda p: p.t))


def response_series(activities: Sequence[Row]) -> tuple[Series, ...]:
    """One series per capability, in order of each capability's first call."""
    by_capability: dict[str, list[Point]] = {}
    first_seen: dict[str, float] = {}
    for row in activities:
        t = epoch(row.get("timestamp"))
        ms = finite(row.get("response_time_ms"))
        if t is None or ms is None:
            continue
        name = str(row.get("capability") or "unknown")
        by_capability.setdefault(name, []).append(Point(t, ms, succeeded(row)))
        first_seen[name] = min(first_seen.get(name, t), t)
    order = sorted(by_capability, key=lambda name: (first_seen[name], name))
    return tuple(Series(name, name, "ms", _sorted(by_capability[name])) for name in order)


def _activity_series(activities: Sequence[Row], column: str, key: str, label: str,
                     unit: str) -> Series:
    points = []
    for row in activities:
        t = epoch(row.get("timestamp"))
        value = finite(row.get(column))
        if t is not None and value is not None:
            points.append(Point(t, value, succeeded(row)))
    return Series(key, label, unit, _sorted(points))


def _metric_series(metrics: Sequence[Row], capability: str, metric_type: str, unit: str,
                   key: str, label: str) -> Series:
    points = []
    for row in metrics:
        if (row.get("capability") != capability or row.get("metric_type") != metric_type
                or row.get("unit") != unit):
            continue
        t = epoch(row.get("timestamp"))
        value = finite(row.get("value"))
        if t is not None and value is not None:
            points.append(Point(t, value))
    return Series(key, label, "percent" if unit == "percent" else unit, _sorted(points))


def _nonempty(series: Iterable[Series]) -> tuple[Series, ...]:
    return tuple(s for s in series if s.points)


def session_series(session: Row, activities: Sequence[Row],
                   metrics: Sequence[Row]) -> SessionSeries:
    """Every chart series of one session (the caller passes that session's rows only)."""
    response = response_series(activities)
    percent = _nonempty((
        _metric_series(metrics, SYSTEM_CAPABILITY, CPU_USAGE, "percent",
                       "system_cpu", "system CPU (samples)"),
        _metric_series(metrics, PROCESS_CAPABILITY, CPU_USAGE, "percent",
                       "daemon_cpu", "daemon CPU with its workers, % of one core: 100 a "
                                     "busy core (samples)"),
        _activity_series(activities, "cpu_after", "cpu_after", "system CPU during each call",
                         "percent"),
        _metric_series(metrics, SYSTEM_CAPABILITY, MEMORY_USAGE, "percent",
                       "system_memory", "system memory (samples)"),
    ))
    memory = _nonempty((
        _metric_series(metrics, PROCESS_CAPABILITY, MEMORY_USAGE, "MB",
                       "daemon_rss", "daemon RSS (samples)"),
        _activity_series(activities, "memory_after_mb", "memory_after", "RSS after each call",
                         "MB"),
    ))
    times = [p.t for s in (*response, *percent, *memory) for p in s.points]
    start = epoch(session.get("start_time"))
    end = epoch(session.get("end_time"))
    if times:
        # A point outside the session's recorded span (clock skew, a late sample) must
        # still land inside the chart.
        start = min(times) if start is None else min(start, min(times))
        end = max(times) if end is None else max(end, max(times))
    elif start is not None and end is None:
        end = start
    return SessionSeries(start, end, response, percent, memory)

"""performance_metrics: one row per measured value (calls, resource samples, scenario figures).

A resource sample is one ``ResourcesSampled`` event and five rows, one per measure, as
the spec's table has them; logs written before that event hold one ``MetricSampled``
per measure, and both give the same capability, metric type, value, unit and context.

A measured call (``ActivityRecorded``) gives the spec's per-call figures under the call's
capability, derived here from what the event already holds rather than logged again:
``response_time`` (ms), ``ux_quality`` (the spec's 0-1 score), ``cpu_usage`` (the call's
CPU, percent of one core), ``ms_per_file`` (indexing and scanning), ``accuracy`` (what
the analyzer measured of itself in its result data) and, for the first successful call
of a capability in a session, ``time_to_first_result`` (ms from the session's start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.log.events import (
    ActivityRecorded,
    MetricSampled,
    Recorded,
    ResourcesSampled,
)
from daemon.projections.model import (
    Append,
    Change,
    Projection,
    Put,
    Row,
    State,
    sql_timestamp,
)
from daemon.types import (
    ACCURACY,
    CPU_USAGE,
    DISK_USAGE,
    MEMORY_USAGE,
    MS_PER_FILE,
    RESPONSE_TIME,
    TIME_TO_FIRST_RESULT,
    UX_QUALITY,
    stable_id,
    ux_quality_score,
)


@dataclass(frozen=True)
class Measure:
    """How one field of a resource sample reads in ``performance_metrics``."""

    field: str  # the ResourcesSampled attribute
    capability: str
    metric_type: str
    unit: str
    context: str


#: The measures of a resource sample, in the order their rows are written. A measure's
#: place here is part of its rows' ``metric_id``: append new ones, never reorder.
RESOURCE_MEASURES: tuple[Measure, ...] = (
    Measure("cpu", "system", CPU_USAGE, "percent", "system-wide CPU"),
    Measure("mem", "system", MEMORY_USAGE, "percent", "system-wide memory"),
    Measure("disk", "system", DISK_USAGE, "percent", "workspace filesystem"),
    Measure("proc_cpu", "realworld", CPU_USAGE, "percent", "daemon process"),
    Measure("rss_mb", "realworld", MEMORY_USAGE, "MB", "daemon process RSS"),
)


def resource_metric_id(event_id: str, index: int) -> str:
    """The row id of measure ``index`` (from 1) of a sample: a function of the event alone,
    so a replay writes the very ids the live catch-up wrote. Old rows' ids are dashless
    UUIDs, so the two never meet."""
    return f"{event_id}-{index}"


def _metric_row(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, MetricSampled)
    return (Append("performance_metrics", {
        "metric_id": event.metric_id,
        "session_id": event.session_id,
        "timestamp": rec.ts,
        "capability": event.capability,
        "metric_type": event.metric_type,
        "value": event.value,
        "unit": event.unit,
        "context": event.context,
        "created_at": sql_timestamp(rec.ts),
    }),)


def _resource_rows(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, ResourcesSampled)
    created_at = sql_timestamp(rec.ts)
    return tuple(Append("performance_metrics", {
        "metric_id": resource_metric_id(rec.event_id, index),
        "session_id": event.session_id,
        "timestamp": rec.ts,
        "capability": measure.capability,
        "metric_type": measure.metric_type,
        "value": float(getattr(event, measure.field)),
        "unit": measure.unit,
        "context": measure.context,
        "created_at": created_at,
    }) for index, measure in enumerate(RESOURCE_MEASURES, 1))


#: ``result_data`` keys counting the files a call worked through, and what its
#: ``ms_per_file`` row's context calls them (the indexer's and the scanner's).
FILES_KEYS: tuple[tuple[str, str], ...] = (
    ("files_indexed", "per file indexed"),
    ("files_scanned", "per file scanned"),
)
#: ``result_data`` keys holding an accuracy an analyzer measured of itself (0-1), with
#: the context of its ``accuracy`` row: code search's probes, then the code assistant's
#: agreement with the index (only that capability's ``accuracy`` key means this).
ACCURACY_KEYS: tuple[tuple[str | None, str, str], ...] = (
    (None, "hit_at_1", "search probes: sampled definition ranked first"),
    (None, "mean_reciprocal_rank", "search probes: mean reciprocal rank"),
    ("code_assistant", "accuracy", "answers that agree with the code index"),
)
#: Scenario figures that are the accuracy of a capability (on the scenarios' labelled or
#: planted code): also an ``accuracy`` row under that capability. Rates where lower is
#: better (false positives) stay scenario figures only.
SCENARIO_ACCURACY: Mapping[tuple[str, str], tuple[str, str]] = {
    ("scenario:integration", "planted_found_and_searchable"):
        ("security_scanner", "planted shell=True calls reported (and found by search)"),
    ("scenario:learning", "learning_precision"):
        ("pattern_probe", "mistake learner: learned fixes that were marked (labelled set)"),
    ("scenario:learning", "precision"):
        ("pattern_probe", "mistake learner: warnings that were expected (labelled set)"),
    ("scenario:learning", "recall"):
        ("pattern_probe", "mistake learner: expected warnings given (labelled set)"),
}
#: The index in a call's ``metric_id`` (``resource_metric_id``) of each of its rows:
#: part of the ids, so append new ones, never renumber. (A first result's id is one per
#: session and capability: :func:`first_result_metric_id`.)
_RESPONSE, _UX, _CPU, _PER_FILE = 1, 2, 3, 4
_ACCURACY_FROM = 10  # + the key's place in ACCURACY_KEYS


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def call_cpu_percent(cpu_time_ms: float | None, response_time_ms: float | None) -> float | None:
    """A call's CPU as percent of one core of its wall time (the meter bounds
    ``cpu_time_ms`` by the cores, so this stays within 100 per core); None if unknown."""
    cpu, wall = _finite(cpu_time_ms), _finite(response_time_ms)
    if cpu is None or wall is None or wall <= 0:
        return None
    return round(max(0.0, cpu) / wall * 100.0, 1)


def _elapsed_ms(start: str, end: str) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1e3
    except (TypeError, ValueError):
        return None


def first_result_metric_id(session_id: str, capability: str) -> str:
    return stable_id(session_id, TIME_TO_FIRST_RESULT, capability)


def _activity_rows(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, ActivityRecorded)
    rows: list[Change] = []

    def add(index: int, metric_type: str, value: float, unit: str, context: str) -> None:
        rows.append(Append("performance_metrics", _row(
            resource_metric_id(rec.event_id, index), event.session_id, rec.ts,
            event.capability, metric_type, value, unit, context)))

    ms = _finite(event.response_time_ms)
    if ms is not None and ms >= 0:
        add(_RESPONSE, RESPONSE_TIME, ms, "ms", event.activity_type)
        add(_UX, UX_QUALITY, ux_quality_score(ms), "score", event.activity_type)
        cpu = call_cpu_percent(event.cpu_time_ms, ms)
        if cpu is not None:
            add(_CPU, CPU_USAGE, cpu, "percent", "the call's CPU, % of one core")
    data = event.result_data or {}
    if event.success and ms is not None:
        for key, context in FILES_KEYS:
            files = _finite(data.get(key))
            if files is not None and files >= 1:
                add(_PER_FILE, MS_PER_FILE, round(ms / files, 3), "ms/file", context)
                break
    if event.success:
        for place, (capability, key, context) in enumerate(ACCURACY_KEYS):
            value = _finite(data.get(key))
            if value is not None and capability in (None, event.capability):
                add(_ACCURACY_FROM + place, ACCURACY, value, "ratio", context)
        rows += _first_result(rec, event, state)
    return rows


def _first_result(rec: Recorded, event: ActivityRecorded, state: State) -> Sequence[Change]:
    """The session's first successful call of its capability: how long the user waited
    from the session's start for that capability's first answer."""
    metric_id = first_result_metric_id(event.session_id, event.capability)
    if state.get("performance_metrics", (metric_id,)) is not None:
        return ()
    session = state.get("test_sessions", (event.session_id,))
    waited = _elapsed_ms(str(session.get("start_time")), rec.ts) if session else None
    if waited is None:
        return ()
    return (Put("performance_metrics", (metric_id,), _row(
        metric_id, event.session_id, rec.ts, event.capability, TIME_TO_FIRST_RESULT,
        round(max(0.0, waited), 3), "ms", "from the session's start")),)


def _row(metric_id: str, session_id: str, ts: str, capability: str, metric_type: str,
         value: float, unit: str, context: str) -> Row:
    return {"metric_id": metric_id, "session_id": session_id, "timestamp": ts,
            "capability": capability, "metric_type": metric_type, "value": value,
            "unit": unit, "context": context, "created_at": sql_timestamp(ts)}


def _scenario_accuracy(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, MetricSampled)
    rows = list(_metric_row(rec, state))
    target = SCENARIO_ACCURACY.get((event.capability, event.metric_type))
    if target is not None:
        capability, context = target
        rows.append(Append("performance_metrics", _row(
            f"{event.metric_id}-{ACCURACY}", event.session_id, rec.ts, capability, ACCURACY,
            event.value, "ratio", context)))
    return rows


METRICS = Projection("performance_metrics", ("performance_metrics",), {
    MetricSampled: _scenario_accuracy,
    ResourcesSampled: _resource_rows,
    ActivityRecorded: _activity_rows,
})

"""performance_metrics: one row per measured value (resource samples, scenario figures).

A resource sample is one ``ResourcesSampled`` event and five rows, one per measure, as
the spec's table has them; logs written before that event hold one ``MetricSampled``
per measure, and both give the same capability, metric type, value, unit and context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.log.events import (
    MetricSampled,
    Recorded,
    ResourcesSampled,
)
from daemon.projections.model import (
    Append,
    Change,
    Projection,
    State,
    sql_timestamp,
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
    Measure("cpu", "system", "cpu_usage", "percent", "system-wide CPU"),
    Measure("mem", "system", "memory_usage", "percent", "system-wide memory"),
    Measure("disk", "system", "disk_usage", "percent", "workspace filesystem"),
    Measure("proc_cpu", "realworld", "cpu_usage", "percent", "daemon process"),
    Measure("rss_mb", "realworld", "memory_usage", "MB", "daemon process RSS"),
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


METRICS = Projection("performance_metrics", ("performance_metrics",), {
    MetricSampled: _metric_row,
    ResourcesSampled: _resource_rows,
})

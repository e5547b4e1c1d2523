"""performance_metrics: one row per measured value (resource samples, scenario figures)."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    MetricSampled,
    Recorded,
)
from daemon.projections.model import (
    Append,
    Change,
    Projection,
    State,
    sql_timestamp,
)


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


METRICS = Projection("performance_metrics", ("performance_metrics",), {MetricSampled: _metric_row})

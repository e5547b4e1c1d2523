"""activities: one row per measured analyzer call, with its result data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from daemon.log.events import (
    ActivityRecorded,
    Recorded,
)
from daemon.log.hashchain import canonical_json
from daemon.projections.model import (
    Append,
    Change,
    Projection,
    State,
    sql_timestamp,
)


def _activity_row(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, ActivityRecorded)
    return (Append("activities", {
        "activity_id": event.activity_id,
        "session_id": event.session_id,
        "timestamp": rec.ts,
        "capability": event.capability,
        "activity_type": event.activity_type,
        "description": event.description,
        "response_time_ms": event.response_time_ms,
        "cpu_before": event.cpu_before,
        "cpu_after": event.cpu_after,
        "memory_before_mb": event.memory_before_mb,
        "memory_after_mb": event.memory_after_mb,
        "success": 1 if event.success else 0,
        "error_message": event.error_message,
        "result_data": result_data_text(rec.payload, event),
        "created_at": sql_timestamp(rec.ts),
    }),)


_RESULT_DATA_KEY = '"result_data":'
# The cut below relies on the payload's key order; a new field sorting between these two
# (or after ``success``) turns it off rather than cutting wrong.
_RESULT_DATA_CUTTABLE = sorted(
    f.name for f in dataclasses.fields(ActivityRecorded) if f.name != "session_id"
)[-2:] == ["result_data", "success"]
_SUCCESS_TAILS = {True: ',"success":true}', False: ',"success":false}'}


def result_data_text(payload: str, event: ActivityRecorded) -> str | None:
    """``result_data`` as canonical JSON, cut from the stored payload when there is one.

    Replay would otherwise encode every activity's data again (the largest cost of a
    replay after SQLite's own). The payload is canonical JSON of the event's fields in
    sorted order, so ``result_data`` is the next-to-last value, followed only by
    ``success``; every value before it is a scalar whose quotes are escaped, so the
    first ``"result_data":`` is the key. Anything else is encoded afresh.
    """
    data = event.result_data
    if data is None:
        return None
    tail = _SUCCESS_TAILS[bool(event.success)]
    if _RESULT_DATA_CUTTABLE and payload.endswith(tail):
        start = payload.find(_RESULT_DATA_KEY)
        if start >= 0:
            text = payload[start + len(_RESULT_DATA_KEY):len(payload) - len(tail)]
            if text[:1] == "{" and text[-1:] == "}":
                return text
    return canonical_json(data)


ACTIVITIES = Projection("activities", ("activities",), {ActivityRecorded: _activity_row})

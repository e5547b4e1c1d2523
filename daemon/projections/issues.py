"""issues: detected and updated by the rules of a judgement or by the session itself."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    IssueDetected,
    IssueUpdated,
    Recorded,
)
from daemon.projections.model import (
    Change,
    Projection,
    Put,
    Row,
    State,
    sql_timestamp,
)


def _bool_or_none(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _issue_detected(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, IssueDetected)
    key = (event.issue_id,)
    existing = state.get("issues", key)
    return (Put("issues", key, {
        "issue_id": event.issue_id,
        "session_id": event.session_id,
        "timestamp": existing["timestamp"] if existing else rec.ts,
        "severity": event.severity,
        "capability": event.capability,
        "issue_type": event.issue_type,
        "description": event.description,
        "suggested_fix": event.suggested_fix,
        "reproducible": _bool_or_none(event.reproducible),
        "created_at": existing["created_at"] if existing else sql_timestamp(rec.ts),
    }),)


def _issue_updated(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, IssueUpdated)
    key = (event.issue_id,)
    existing = state.get("issues", key)
    if existing is None:
        return ()
    changes: Row = {
        name: value
        for name, value in (("severity", event.severity), ("description", event.description),
                            ("suggested_fix", event.suggested_fix),
                            ("reproducible", _bool_or_none(event.reproducible)))
        if value is not None
    }
    return (Put("issues", key, {**existing, **changes}),)


ISSUES = Projection("issues", ("issues",), {
    IssueDetected: _issue_detected,
    IssueUpdated: _issue_updated,
})

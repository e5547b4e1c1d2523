"""test_sessions: one row per session, its end and its running totals."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    ActivityRecorded,
    Recorded,
    SessionEnded,
    SessionResumed,
    SessionScored,
    SessionStarted,
)
from daemon.projections.model import (
    Change,
    Projection,
    Put,
    State,
    sql_timestamp,
)


def _mean(total: float, count: int) -> float:
    return total / count if count else 0.0


def _session_started(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, SessionStarted)
    key = (event.session_id,)
    if state.get("test_sessions", key) is not None:
        return ()  # a repeated start carries nothing new
    return (
        Put("test_sessions", key, {
            "session_id": event.session_id,
            "project_path": event.project_path,
            "start_time": rec.ts,
            "end_time": None,
            "duration_minutes": event.duration_minutes,
            "status": "running",
            "total_activities": 0,
            "total_errors": 0,
            "avg_response_time": 0.0,
            "avg_cpu_usage": 0.0,
            "avg_memory_usage": 0.0,
            "overall_score": 0.0,
            "created_at": sql_timestamp(rec.ts),
        }),
        Put("session_stats", key, {
            "session_id": event.session_id,
            "mode": event.mode,
            "end_reason": None,
            "pid": event.pid,
            "host": event.host,
            "pid_since": rec.ts,
            "response_count": 0,
            "response_sum": 0.0,
            "cpu_count": 0,
            "cpu_sum": 0.0,
            "memory_count": 0,
            "memory_sum": 0.0,
        }),
    )


def _session_ended(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, SessionEnded)
    key = (event.session_id,)
    session = state.get("test_sessions", key)
    stats = state.get("session_stats", key)
    if session is None or stats is None or session["status"] != "running":
        return ()  # the first end is the one that counts
    return (
        Put("test_sessions", key, {**session, "status": event.status, "end_time": rec.ts}),
        Put("session_stats", key, {**stats, "end_reason": event.reason}),
    )


def _session_resumed(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, SessionResumed)
    key = (event.session_id,)
    session = state.get("test_sessions", key)
    stats = state.get("session_stats", key)
    if session is None or stats is None or session["status"] != "running":
        return ()
    return (Put("session_stats", key, {**stats, "pid": event.pid, "host": event.host,
                                       "pid_since": rec.ts}),)


def _session_scored(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, SessionScored)
    key = (event.session_id,)
    session = state.get("test_sessions", key)
    if session is None:
        return ()
    return (Put("test_sessions", key, {**session, "overall_score": event.overall_score}),)


def _activity_totals(rec: Recorded, state: State) -> Sequence[Change]:
    return _activities_totals((rec,), state)


def _activities_totals(records: Sequence[Recorded], state: State) -> Sequence[Change]:
    """Counts, sums and averages after a run of activities: one update per session."""
    by_session: dict[str, list[ActivityRecorded]] = {}
    for rec in records:
        event = rec.event
        assert isinstance(event, ActivityRecorded)
        by_session.setdefault(event.session_id, []).append(event)
    changes: list[Change] = []
    for session_id, events in by_session.items():
        key = (session_id,)
        session = state.get("test_sessions", key)
        stats = state.get("session_stats", key)
        if session is None or stats is None:
            continue
        # Sums in log order, as one event at a time would add them: the same floats.
        response_count, response_sum = stats["response_count"], stats["response_sum"]
        cpu_count, cpu_sum = stats["cpu_count"], stats["cpu_sum"]
        memory_count, memory_sum = stats["memory_count"], stats["memory_sum"]
        errors = 0
        for event in events:
            if event.response_time_ms is not None:
                response_count += 1
                response_sum += event.response_time_ms
            if event.cpu_after is not None:
                cpu_count += 1
                cpu_sum += event.cpu_after
            if event.memory_after_mb is not None:
                memory_count += 1
                memory_sum += event.memory_after_mb
            if not event.success:
                errors += 1
        changes.append(Put("test_sessions", key, {
            **session,
            "total_activities": session["total_activities"] + len(events),
            "total_errors": session["total_errors"] + errors,
            "avg_response_time": _mean(response_sum, response_count),
            "avg_cpu_usage": _mean(cpu_sum, cpu_count),
            "avg_memory_usage": _mean(memory_sum, memory_count),
        }))
        changes.append(Put("session_stats", key, {
            **stats,
            "response_count": response_count, "response_sum": response_sum,
            "cpu_count": cpu_count, "cpu_sum": cpu_sum,
            "memory_count": memory_count, "memory_sum": memory_sum,
        }))
    return changes


SESSIONS = Projection(
    name="sessions",
    tables=("test_sessions", "session_stats"),
    handlers={
        SessionStarted: _session_started,
        SessionEnded: _session_ended,
        SessionResumed: _session_resumed,
        SessionScored: _session_scored,
        ActivityRecorded: _activity_totals,
    },
    folds={ActivityRecorded: _activities_totals},
)

"""Read models as pure functions: (state, recorded event) -> row changes.

A projection never touches SQLite. It reads the rows it depends on through a
:class:`State` and returns :class:`Put`, :class:`Delete` and :class:`Append`
changes; the projector applies them, so the same rules serve a live catch-up,
a full replay and a unit test with a dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.log.events import (
    ActivityRecorded,
    Event,
    FileChanged,
    FileQuarantined,
    FileReleased,
    FindingDetected,
    FindingResolved,
    IssueDetected,
    IssueUpdated,
    MetricSampled,
    PatternLearned,
    Recorded,
    SessionEnded,
    SessionResumed,
    SessionScored,
    SessionStarted,
    SuggestionMade,
)
from daemon.log.hashchain import canonical_json
from daemon.types import path_to_sql

Row = dict[str, Any]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Put:
    """Make the row with this key exactly ``row`` (insert or overwrite)."""

    table: str
    key: Key
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    table: str
    key: Key


@dataclass(frozen=True)
class Append:
    """Insert a row that no later event changes (an activity, a metric sample)."""

    table: str
    row: Mapping[str, Any]


Change = Put | Delete | Append


class State(Protocol):
    def get(self, table: str, key: Key) -> Mapping[str, Any] | None: ...


Handler = Callable[[Recorded, State], Sequence[Change]]
#: The changes of handling each event of a run in turn, given the state before the first.
Fold = Callable[[Sequence[Recorded], State], Sequence[Change]]


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[str, ...]
    handlers: Mapping[type[Event], Handler]
    #: For event types whose consecutive events (among those this projection handles)
    #: can be handled at once: replay meets runs of thousands of activities per session,
    #: and a fold makes each run one row update instead of one per event. A fold must
    #: read only this projection's own tables: it runs when the run is settled, after
    #: events of other projections that came later in the log.
    folds: Mapping[type[Event], Fold] = field(default_factory=dict)

    def apply(self, recorded: Recorded, state: State) -> Sequence[Change]:
        handler = self.handlers.get(type(recorded.event))
        return handler(recorded, state) if handler is not None else ()


def sql_timestamp(ts: str) -> str:
    """``created_at`` in SQLite's own CURRENT_TIMESTAMP shape, so ``datetime('now')`` compares."""
    return ts[:10] + " " + ts[11:19]


def _mean(total: float, count: int) -> float:
    return total / count if count else 0.0


# --- sessions ---------------------------------------------------------------


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


# --- measurements -----------------------------------------------------------


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
        "result_data": _result_data_text(rec.payload, event),
        "created_at": sql_timestamp(rec.ts),
    }),)


_RESULT_DATA_KEY = '"result_data":'
# The cut below relies on the payload's key order; a new field sorting between these two
# (or after ``success``) turns it off rather than cutting wrong.
_RESULT_DATA_CUTTABLE = sorted(
    f.name for f in dataclasses.fields(ActivityRecorded) if f.name != "session_id"
)[-2:] == ["result_data", "success"]
_SUCCESS_TAILS = {True: ',"success":true}', False: ',"success":false}'}


def _result_data_text(payload: str, event: ActivityRecorded) -> str | None:
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


# --- judgements -------------------------------------------------------------


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


def _suggestion_row(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, SuggestionMade)
    return (Append("improvement_suggestions", {
        "session_id": event.session_id,
        "timestamp": rec.ts,
        "category": event.category,
        "priority": event.priority,
        "suggestion": event.suggestion,
        "rationale": event.rationale,
        "estimated_impact": event.estimated_impact,
        "created_at": sql_timestamp(rec.ts),
    }),)


SUGGESTIONS = Projection("improvement_suggestions", ("improvement_suggestions",),
                         {SuggestionMade: _suggestion_row})


def _workspace_of(session_id: str, state: State) -> str:
    """The workspace a session watches: findings are per workspace, because the same file
    (the same fingerprint) in two workspaces is two findings, each resolved on its own.
    A session's ``project_path`` never changes after its start, so reading it here keeps
    replay equal to incremental catch-up."""
    session = state.get("test_sessions", (session_id,))
    return str(session["project_path"]) if session is not None else ""


def _finding_detected(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FindingDetected)
    workspace = _workspace_of(event.session_id, state)
    key = (workspace, event.fingerprint)
    existing = state.get("findings", key)
    return (Put("findings", key, {
        "workspace": workspace,
        "fingerprint": event.fingerprint,
        "session_id": event.session_id,
        "capability": event.capability,
        "rule": event.rule,
        "path": path_to_sql(event.path),
        "line": event.line,
        "severity": event.severity,
        "confidence": event.confidence,
        "message": event.message,
        "preview": event.preview,
        "first_seen": existing["first_seen"] if existing else rec.ts,
        "last_seen": rec.ts,
        "resolved_at": None,
        "created_at": existing["created_at"] if existing else sql_timestamp(rec.ts),
    }),)


def _finding_resolved(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FindingResolved)
    key = (_workspace_of(event.session_id, state), event.fingerprint)
    existing = state.get("findings", key)
    if existing is None or existing["resolved_at"] is not None:
        return ()
    return (Put("findings", key, {**existing, "resolved_at": rec.ts}),)


# Reads test_sessions (a session's workspace), so it comes after SESSIONS in PROJECTIONS.
FINDINGS = Projection("findings", ("findings",), {
    FindingDetected: _finding_detected,
    FindingResolved: _finding_resolved,
})


# --- workspace --------------------------------------------------------------


def _file_changed(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FileChanged)
    # A name that is not valid UTF-8 cannot be SQLite TEXT; it is kept as its bytes.
    workspace = path_to_sql(event.workspace)
    key = (workspace, path_to_sql(event.path))
    if event.change == "deleted":
        return (Delete("files", key),)
    path = event.path
    changes: list[Change] = []
    if event.change == "moved" and event.dest_path is not None:
        changes.append(Delete("files", key))
        path = event.dest_path
    changes.append(Put("files", (workspace, path_to_sql(path)), {
        "workspace": workspace,
        "path": path_to_sql(path),
        "size": event.size,
        "mtime": event.mtime,
        "content_hash": event.content_hash,
        "last_change": event.change,
        "changed_at": rec.ts,
        "session_id": event.session_id,
    }))
    return changes


FILES = Projection("files", ("files",), {FileChanged: _file_changed})


# --- learning ---------------------------------------------------------------


def _pattern_learned(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, PatternLearned)
    path = path_to_sql(event.path)
    key = (event.session_id, event.shape, path, event.line)
    existing = state.get("learned_patterns", key)
    return (Put("learned_patterns", key, {
        "session_id": event.session_id,
        "shape": event.shape,
        "path": path,
        "line": event.line,
        "fix": event.fix,
        "before_excerpt": event.before_excerpt,
        "after_excerpt": event.after_excerpt,
        "times_learned": existing["times_learned"] + 1 if existing else 1,
        "first_learned": existing["first_learned"] if existing else rec.ts,
        "last_learned": rec.ts,
    }),)


LEARNED_PATTERNS = Projection("learned_patterns", ("learned_patterns",),
                              {PatternLearned: _pattern_learned})


# --- recovery ---------------------------------------------------------------


def _file_quarantined(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FileQuarantined)
    workspace, path = path_to_sql(event.workspace), path_to_sql(event.path)
    key = (workspace, event.capability, path)
    return (Put("quarantined_files", key, {
        "workspace": workspace,
        "capability": event.capability,
        "path": path,
        "content_hash": event.content_hash,
        "error": event.error,
        "crashes": event.crashes,
        "quarantined_at": rec.ts,
        "session_id": event.session_id,
    }),)


def _file_released(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FileReleased)
    return (Delete("quarantined_files", (path_to_sql(event.workspace), event.capability,
                                         path_to_sql(event.path))),)


QUARANTINE = Projection("quarantined_files", ("quarantined_files",), {
    FileQuarantined: _file_quarantined,
    FileReleased: _file_released,
})


PROJECTIONS: tuple[Projection, ...] = (
    SESSIONS, ACTIVITIES, METRICS, ISSUES, SUGGESTIONS, FINDINGS, FILES, LEARNED_PATTERNS,
    QUARANTINE,
)

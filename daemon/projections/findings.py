"""findings: security and pattern findings per workspace and fingerprint, open or resolved."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    FindingDetected,
    FindingResolved,
    Recorded,
)
from daemon.projections.model import (
    Change,
    Projection,
    Put,
    State,
    sql_timestamp,
)
from daemon.types import path_to_sql


def workspace_of(session_id: str, state: State) -> str:
    """The workspace a session watches: findings are per workspace, because the same file
    (the same fingerprint) in two workspaces is two findings, each resolved on its own.
    A session's ``project_path`` never changes after its start, so reading it here keeps
    replay equal to incremental catch-up."""
    session = state.get("test_sessions", (session_id,))
    return str(session["project_path"]) if session is not None else ""


def _finding_detected(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FindingDetected)
    workspace = workspace_of(event.session_id, state)
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
    key = (workspace_of(event.session_id, state), event.fingerprint)
    existing = state.get("findings", key)
    if existing is None or existing["resolved_at"] is not None:
        return ()
    return (Put("findings", key, {**existing, "resolved_at": rec.ts}),)


# Reads test_sessions (a session's workspace), so it comes after SESSIONS in PROJECTIONS.
FINDINGS = Projection("findings", ("findings",), {
    FindingDetected: _finding_detected,
    FindingResolved: _finding_resolved,
})

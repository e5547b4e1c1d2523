"""finding_summaries: one row per full pass of a capability that reports findings."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import FindingsSummarized, Recorded
from daemon.projections.findings import workspace_of
from daemon.projections.model import Append, Change, Projection, State
from daemon.types import SEVERITIES


def _summarized(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, FindingsSummarized)
    return (Append("finding_summaries", {
        "summary_id": rec.event_id,
        "session_id": event.session_id,
        "workspace": workspace_of(event.session_id, state),
        "capability": event.capability,
        "timestamp": rec.ts,
        "open_findings": event.open_findings,
        **{severity: int(event.by_severity.get(severity, 0)) for severity in SEVERITIES},
        "digest": event.digest,
    }),)


# Reads test_sessions (a session's workspace), so it comes after SESSIONS in PROJECTIONS.
FINDING_SUMMARIES = Projection("finding_summaries", ("finding_summaries",),
                               {FindingsSummarized: _summarized})

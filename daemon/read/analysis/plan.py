"""The events a session's judgement adds to the log: only what the log does not hold yet.

Events are returned bare: the caller wraps them in envelopes with its own clock and
appends them, which keeps these functions pure and planning again after the events are
projected a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import IssueDetected, IssueUpdated, SuggestionMade
from daemon.read.analysis.issues import issue_id
from daemon.read.analysis.model import IssueSpec, SuggestionSpec
from daemon.read.analysis.rows import Row, stored_bool
from daemon.read.analysis.suggestions import new_suggestions


def plan_issue_events(existing_issue_rows: Sequence[Row], specs: Sequence[IssueSpec],
                      session_id: str) -> list[IssueDetected | IssueUpdated]:
    """Events that bring the ``issues`` table in line with ``specs``, and nothing more.

    A key not yet in the table becomes :class:`IssueDetected`; a key already there
    becomes :class:`IssueUpdated` carrying only the fields that changed, or nothing
    when none did. Issues that no longer hold are left as they are (the log has no
    "resolved" event for issues).
    """
    existing = {str(r.get("issue_id")): r for r in existing_issue_rows}
    planned: list[IssueDetected | IssueUpdated] = []
    seen: set[str] = set()
    for spec in specs:
        ident = issue_id(session_id, spec.issue_key)
        if ident in seen:
            continue
        seen.add(ident)
        row = existing.get(ident)
        if row is None:
            planned.append(IssueDetected(
                session_id, ident, spec.severity, spec.capability, spec.issue_type,
                description=spec.description, suggested_fix=spec.suggested_fix,
                reproducible=spec.reproducible))
            continue
        severity = spec.severity if row.get("severity") != spec.severity else None
        description = spec.description if row.get("description") != spec.description else None
        fix = spec.suggested_fix if row.get("suggested_fix") != spec.suggested_fix else None
        reproducible = (spec.reproducible
                        if stored_bool(row.get("reproducible")) != spec.reproducible else None)
        if any(v is not None for v in (severity, description, fix, reproducible)):
            planned.append(IssueUpdated(session_id, ident, severity=severity,
                                        description=description, suggested_fix=fix,
                                        reproducible=reproducible))
    return planned


def plan_suggestion_events(existing_suggestion_rows: Sequence[Row],
                           specs: Sequence[SuggestionSpec],
                           session_id: str) -> list[SuggestionMade]:
    """A :class:`SuggestionMade` per suggestion text not yet made in this session."""
    return [SuggestionMade(session_id, spec.category, spec.priority, spec.suggestion,
                           rationale=spec.rationale, estimated_impact=spec.estimated_impact)
            for spec in new_suggestions(existing_suggestion_rows, specs, session_id)]

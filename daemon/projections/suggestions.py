"""improvement_suggestions: what a judgement suggests."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    Recorded,
    SuggestionMade,
)
from daemon.projections.model import (
    Append,
    Change,
    Projection,
    State,
    sql_timestamp,
)


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

"""learned_patterns: the fixes the mistake learner saw, per workspace."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    PatternLearned,
    Recorded,
)
from daemon.projections.model import (
    Change,
    Projection,
    Put,
    State,
)
from daemon.types import path_to_sql


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

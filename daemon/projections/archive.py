"""archived_segments, archived_sessions, archived_capability_stats: what retention sealed.

A ``log_archived`` event adds its segment to ``archived_segments``. The other two tables
are only ever filled from the archive base (``daemon.log.anchor``), where ``realworld
archive`` writes the sessions whose events it moved and the aggregates of their calls: no
event of the retained log changes them, so they have no handler here.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import LogArchived, Recorded
from daemon.projections.model import Change, Projection, Put, State


def _log_archived(rec: Recorded, state: State) -> Sequence[Change]:
    event = rec.event
    assert isinstance(event, LogArchived)
    return (Put("archived_segments", (event.segment,), {
        "segment": event.segment,
        "sha256": event.sha256,
        "bytes": event.size,
        "first_seq": event.first_seq,
        "last_seq": event.last_seq,
        "events": event.events,
        "sessions": event.sessions,
        "first_prev_hash": event.first_prev_hash,
        "anchor": event.anchor,
        "cutoff": event.cutoff,
        "archived_at": rec.ts,
    }),)


ARCHIVE = Projection(
    "archive", ("archived_segments", "archived_sessions", "archived_capability_stats"),
    {LogArchived: _log_archived})

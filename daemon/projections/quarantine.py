"""quarantined_files: files an analyzer is kept away from until their content changes."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    FileQuarantined,
    FileReleased,
    Recorded,
)
from daemon.projections.model import (
    Change,
    Delete,
    Projection,
    Put,
    State,
)
from daemon.types import path_to_sql


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

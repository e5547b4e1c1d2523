"""files: what the daemon last saw on disk, per workspace and path."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.log.events import (
    FileChanged,
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

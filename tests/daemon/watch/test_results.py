"""The watcher's results as the log's events."""

from __future__ import annotations

from daemon.log.events import FileChanged, WorkspaceRescanned
from daemon.watch.results import Rescanned, file_changed_events, rescanned_event
from daemon.watch.snapshot import Change, FileState, ScanError


def test_file_changed_events() -> None:
    state = FileState("b.py", 3, 1.5, "h")
    events = file_changed_events("s", "/ws", [
        Change("moved", "a.py", state, "b.py"), Change("deleted", "c.py"),
    ])
    assert events == [
        FileChanged(session_id="s", workspace="/ws", path="a.py", change="moved", size=3,
                    mtime=1.5, content_hash="h", dest_path="b.py"),
        FileChanged(session_id="s", workspace="/ws", path="c.py", change="deleted"),
    ]


def test_rescanned_event() -> None:
    result = Rescanned(
        reason="overflow",
        changes=(Change("deleted", "a.py"), Change("created", "b.py", FileState("b.py", 1, 2.0,
                                                                                 "h"))),
        errors=(ScanError("c", "unreadable", "Permission denied"),),
        files_seen=10,
        duration_ms=12.5,
        hashed_bytes=99,
    )
    assert rescanned_event("s", "/ws", result) == WorkspaceRescanned(
        session_id="s", workspace="/ws", reason="overflow", files_seen=10, files_changed=2,
        duration_ms=12.5,
    )

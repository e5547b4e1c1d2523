"""What the watcher hands its caller, pure: the :class:`Drained` changes of a ``drain``,
the :class:`Rescanned` result of a ``rescan``, and both as the log's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.log.events import FileChanged, WorkspaceRescanned
from daemon.watch.snapshot import Change, ScanError


@dataclass(frozen=True)
class Drained:
    """What ``drain`` found: changes to report, unreadable paths, and whether to rescan."""

    changes: tuple[Change, ...] = ()
    errors: tuple[ScanError, ...] = ()
    rescan_needed: str | None = None  # overflow | inotify_overflow | ignore_rules_changed | ...
    pending: int = 0  # paths still settling
    dropped_events: int = 0  # events lost to an overflow (0 when none)


@dataclass(frozen=True)
class Rescanned:
    """A full scan compared with the known state; the facts of ``WorkspaceRescanned``."""

    reason: str
    changes: tuple[Change, ...]
    errors: tuple[ScanError, ...]
    files_seen: int
    duration_ms: float
    hashed_bytes: int


def file_changed_events(
    session_id: str, workspace: str, changes: Sequence[Change]
) -> list[FileChanged]:
    """The log's ``file_changed`` events for these changes."""
    events: list[FileChanged] = []
    for change in changes:
        state = change.state
        events.append(FileChanged(
            session_id=session_id,
            workspace=workspace,
            path=change.path,
            change=change.kind,
            size=state.size if state is not None else None,
            mtime=state.mtime if state is not None else None,
            content_hash=state.content_hash if state is not None else None,
            dest_path=change.dest_path,
        ))
    return events


def rescanned_event(session_id: str, workspace: str, result: Rescanned) -> WorkspaceRescanned:
    """The log's ``workspace_rescanned`` event for this rescan."""
    return WorkspaceRescanned(
        session_id=session_id,
        workspace=workspace,
        reason=result.reason,
        files_seen=result.files_seen,
        files_changed=len(result.changes),
        duration_ms=result.duration_ms,
    )

"""What a snapshot of the workspace holds: one :class:`FileState` per tracked file, a
:class:`ScanError` per path that could not be read, and the :class:`Change` that turns
one snapshot into another.

Reading a snapshot from disk is :mod:`daemon.watch.scan`; comparing two is
:mod:`daemon.watch.diff`. The types live apart from both because everyone downstream
(the watcher, the session, recovery) speaks them without needing either.

What is tracked: regular files that the :class:`~daemon.watch.ignore.IgnoreRules` do not
ignore, keyed by their workspace-relative ``/``-separated path, decoded with
:func:`os.fsdecode` (undecodable bytes become lone surrogates; newlines are kept).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from daemon.types import path_from_sql

ChangeKind = Literal["created", "modified", "deleted", "moved", "touched"]
ErrorKind = Literal["unreadable", "vanished", "not_regular", "io_error", "loop", "root_missing"]


@dataclass(frozen=True)
class FileState:
    """One tracked file as last seen; the columns of the ``files`` projection."""

    path: str
    size: int
    mtime: float
    content_hash: str


@dataclass(frozen=True)
class ScanError:
    """A path that could not be read; the scan went on without it."""

    path: str
    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class Change:
    """One change of a file; ``state`` is the new state (``None`` for ``deleted``).

    For ``moved``, ``path`` is where the content was and ``dest_path`` where it is now.
    ``touched`` (only from ``diff(..., report_touched=True)``) means same content, new mtime.
    """

    kind: ChangeKind
    path: str
    state: FileState | None = None
    dest_path: str | None = None

    @property
    def current_path(self) -> str:
        """Where the file is after the change."""
        return self.dest_path if self.dest_path is not None else self.path


def printable_path(path: str) -> str:
    """For reports and logs: undecodable bytes shown as ``\\xNN``, never a lone surrogate."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def state_from_row(
    path: str | bytes, size: int | None, mtime: float | None, content_hash: str | None
) -> FileState | None:
    """A row of the ``files`` projection as a known state (``None`` if incomplete)."""
    if size is None or mtime is None or content_hash is None:
        return None
    return FileState(path_from_sql(path), int(size), float(mtime), content_hash)

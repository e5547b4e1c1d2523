"""Why a write failed, in the words a person needs: disk full, read-only, permission, I/O.

SQLite reports a full disk as ``OperationalError('database or disk is full')`` and a
lock held by another process as ``OperationalError('database is locked')``: the same
exception class for a condition worth waiting out and one that never clears by
itself. Everything that writes (the log's writer, the projector, backup and restore)
names a failure through :func:`describe_write_error`, so the line a user reads says
what happened, and only contention is retried.
"""

from __future__ import annotations

import errno
import sqlite3

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14

_SQLITE_CAUSES = {
    _SQLITE_FULL: "disk full",
    _SQLITE_IOERR: "I/O error",
    _SQLITE_READONLY: "read-only database",
    _SQLITE_PERM: "permission denied",
    _SQLITE_CANTOPEN: "cannot open the database file",
}
# Python 3.10 has no ``sqlite_errorcode``: the messages SQLite gives for those codes.
_SQLITE_MESSAGES = (
    ("database or disk is full", "disk full"),
    ("disk i/o error", "I/O error"),
    ("readonly database", "read-only database"),
    ("access permission denied", "permission denied"),
    ("unable to open database file", "cannot open the database file"),
)
_ERRNO_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "I/O error",
}


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_contention(exc: BaseException) -> bool:
    """Another connection holds the lock: waiting and trying again may succeed."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _primary_code(exc)
    if code is not None:
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def cause(exc: BaseException) -> str | None:
    """The short name of a storage failure (``"disk full"``), or None when it is not one."""
    if isinstance(exc, sqlite3.Error):
        code = _primary_code(exc)
        if code is not None and code in _SQLITE_CAUSES:
            return _SQLITE_CAUSES[code]
        text = str(exc).lower()
        for fragment, meaning in _SQLITE_MESSAGES:
            if fragment in text:
                return meaning
        return None
    if isinstance(exc, OSError) and exc.errno in _ERRNO_CAUSES:
        return _ERRNO_CAUSES[exc.errno]
    return None


def describe_write_error(exc: BaseException) -> str:
    """One line: the cause when it is a storage failure (``disk full``), else the
    system's words for an OS error, else the exception's type and first line."""
    named = cause(exc)
    if named is not None:
        return named
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class LogWriteError(RuntimeError):
    """The event log could not be written; ``reason`` is :func:`describe_write_error`'s line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

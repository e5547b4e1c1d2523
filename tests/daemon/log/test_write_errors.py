"""Naming storage failures: the cause a person can act on, and which ones are worth a retry."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from daemon.log.write_errors import cause, describe_write_error, is_contention


@pytest.mark.parametrize(("exc", "named"), [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
    (PermissionError(errno.EPERM, "Operation not permitted"), "permission denied"),
    (OSError(errno.EIO, "Input/output error"), "I/O error"),
    (sqlite3.OperationalError("database or disk is full"), "disk full"),
    (sqlite3.OperationalError("disk I/O error"), "I/O error"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only database"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory"), "no such file or directory"),
    (ValueError("first line\nsecond line"), "ValueError: first line"),
    (RuntimeError(), "RuntimeError"),
])
def test_describe_write_error_names_the_cause(exc: BaseException, named: str) -> None:
    assert describe_write_error(exc) == named


def test_real_failures_are_named() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 100)
    conn.close()
    assert describe_write_error(full.value) == "disk full"
    assert not is_contention(full.value)  # waiting does not empty a disk
    if Path("/dev/full").exists():
        with pytest.raises(OSError) as enospc, open("/dev/full", "wb", buffering=0) as device:
            device.write(b"x")
        assert describe_write_error(enospc.value) == "disk full"


def test_only_a_lock_is_contention(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        holder.close()
    assert is_contention(locked.value)
    assert cause(locked.value) is None
    assert not is_contention(OSError(errno.ENOSPC, "No space left on device"))

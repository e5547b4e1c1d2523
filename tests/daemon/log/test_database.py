"""The log file is its user's alone: created 0600 with its WAL whatever the umask, and a
log others can read is named once, with the command that fixes it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from structlog.testing import capture_logs

from daemon.log.database import Database


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_log_and_its_wal_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    previous = os.umask(0o022)
    try:
        db = Database.open(path, create=True)
        conn = db.connect()
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        # SQLite made these itself, with the mode of the file we made first.
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        assert [mode(f"{path}{s}") for s in ("", "-wal", "-shm")] == [0o600] * 3
        conn.close()
    finally:
        os.umask(previous)


def test_a_log_others_can_read_is_named_once_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "shared log.db"
    Database.open(path, create=True)
    os.chmod(path, 0o644)
    with capture_logs() as first:
        Database.open(path)
    with capture_logs() as again:
        Database.open(path)
    assert [e["event"] for e in first] == ["log_not_private"]
    assert first[0]["mode"] == "0644"
    assert first[0]["fix"] == f"chmod 600 '{path}'"
    assert again == []
    assert mode(path) == 0o644  # the user's file: we say so, we do not change it


def test_a_private_log_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    Database.open(path, create=True)
    with capture_logs() as logged:
        Database.open(path)
    assert logged == []

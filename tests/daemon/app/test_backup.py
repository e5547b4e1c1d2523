"""The backup module on real SQLite files: the copy, its checks, the refusals, a restore.

What needs other processes (a writer appending during the backup, a live session, a full
or read-only disk) is in ``test_backup_command.py``, through the command line.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from daemon.app.backup import (
    BackupRefused,
    backup,
    before_restore_path,
    exclusive,
    restore,
    side_files,
)
from daemon.log.database import Database
from daemon.log.events import Envelope, Event, SessionStarted
from daemon.log.store import EventStore

from conftest import activity_events, activity_log, envelopes, event_rows, plain_connect

NOW = datetime(2026, 2, 3, 12, 15, 0, tzinfo=timezone.utc)


def make_log(path: Path, n: int = 30) -> Database:
    return activity_log(path, n)


def append_more(db: Database, events: list[Event], start: int) -> None:
    with EventStore(db) as store:
        store.append(envelopes(events, start=start))


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def tamper(path: Path, seq: int = 2) -> None:
    """Edit one payload the way only a hand with a plain SQLite shell could."""
    conn = plain_connect(path)
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = replace(payload, '\"i\":', '\"j\":') "
                     "WHERE seq = ?", (seq,))
    finally:
        conn.close()


# --- backup -------------------------------------------------------------------------------


def test_backup_is_the_log_private_self_contained_and_checked(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db")
    dest = tmp_path / "out" / "backup.db"
    dest.parent.mkdir()
    old_umask = os.umask(0)
    try:
        report = backup(db, dest)
    finally:
        os.umask(old_umask)
    assert report.ok and report.path == dest
    assert (report.summary.events, report.summary.first_seq, report.summary.last_seq) == (
        31, 1, 31)
    assert event_rows(Database(dest)) == event_rows(db)
    assert dest.stat().st_mode & 0o777 == 0o600
    assert files_in(dest.parent) == {"backup.db"}  # no -wal, -shm, journal or temporary
    # Bytes 18 and 19 of the header: 1 is a rollback journal, 2 would be WAL.
    assert dest.read_bytes()[18:20] == b"\x01\x01"


def test_backup_of_a_broken_log_is_kept_and_names_the_break(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db")
    tamper(db.path, seq=5)
    report = backup(db, tmp_path / "backup.db")
    assert not report.ok
    assert report.summary.chain_break is not None and report.summary.chain_break.seq == 5
    assert event_rows(Database(report.path)) == event_rows(db)


@pytest.mark.parametrize("case", ["exists", "the log", "its wal", "missing dir", "a directory",
                                  "leftover wal"])
def test_backup_refuses(tmp_path: Path, case: str) -> None:
    db = make_log(tmp_path / "log.db")
    dest = {
        "exists": tmp_path / "backup.db",
        "the log": db.path,
        "its wal": side_files(db.path)[0],
        "missing dir": tmp_path / "nowhere" / "backup.db",
        "a directory": tmp_path,
        "leftover wal": tmp_path / "backup.db",
    }[case]
    if case == "exists":
        dest.write_text("keep me")
    if case == "leftover wal":
        side_files(dest)[0].write_bytes(b"pages of another database")
    before = files_in(tmp_path)
    with pytest.raises(BackupRefused) as refused:
        backup(db, dest, force=case not in ("exists", "leftover wal"))
    assert "\n" not in str(refused.value)
    assert files_in(tmp_path) - {"log.db-wal", "log.db-shm"} == before - {
        "log.db-wal", "log.db-shm"}
    if case == "exists":
        assert dest.read_text() == "keep me"


def test_force_replaces_the_file_and_what_sqlite_left_beside_it(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db")
    dest = tmp_path / "backup.db"
    dest.write_text("an old backup")
    side_files(dest)[0].write_bytes(b"pages of another database")
    report = backup(db, dest, force=True)
    assert report.ok
    assert event_rows(Database(dest)) == event_rows(db)
    assert not any(side.exists() for side in side_files(dest))


# --- restore ------------------------------------------------------------------------------


def test_restore_keeps_the_previous_log_under_a_timestamped_name(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db", n=5)
    saved = backup(db, tmp_path / "backup.db").path
    append_more(db, activity_events(3, "s-two"), start=100)
    before = event_rows(db)

    report = restore(saved, db.path, now=NOW)

    assert report.kept == tmp_path / "log.before-restore-20260203T121500Z.db"
    assert report.kept == before_restore_path(db.path, "20260203T121500Z")
    assert report.kept_summary is not None and report.kept_summary.events == len(before)
    assert report.restored.events == 6 and report.moved_aside == ()
    assert event_rows(Database(report.kept)) == before
    assert event_rows(db) == event_rows(Database(saved))
    assert report.kept.stat().st_mode & 0o777 == 0o600
    # The same second again: a second name, never the first one overwritten.
    again = restore(saved, db.path, now=NOW)
    assert again.kept == tmp_path / "log.before-restore-20260203T121500Z-2.db"
    assert event_rows(Database(report.kept)) == before


def test_restore_refuses_a_log_whose_session_runs_in_a_live_process(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db", n=2)
    saved = backup(db, tmp_path / "backup.db").path
    # This test's own process is a live one, recorded the way a session records itself
    # (now: a pid recorded before the process was born would be another one's).
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("s-live", "/work/project", 5, pid=os.getpid(),
                                              host=socket.gethostname()))])
    before = event_rows(db)
    with pytest.raises(BackupRefused, match=r"in use: session s-live is running in process"):
        restore(saved, db.path, now=NOW)
    assert event_rows(db) == before
    assert not before_restore_path(db.path, "20260203T121500Z").exists()
    assert {p.suffix for p in tmp_path.iterdir()} <= {".db", ".db-wal", ".db-shm"}


def test_exclusive_waits_for_every_other_connection_then_shuts_others_out(
        tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db", n=2)
    other = db.connect()
    other.execute("SELECT COUNT(*) FROM events").fetchone()
    with pytest.raises(BackupRefused, match="cannot be locked exclusively"), exclusive(db.path):
        pass
    other.close()
    with exclusive(db.path) as lock:
        assert lock.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
        late = sqlite3.connect(db.path, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            late.execute("SELECT COUNT(*) FROM events").fetchone()
        late.close()
    assert not any(side.exists() for side in side_files(db.path))


def test_restore_does_not_change_the_backup(tmp_path: Path) -> None:
    db = make_log(tmp_path / "log.db", n=4)
    saved = backup(db, tmp_path / "backup.db").path
    content = saved.read_bytes()
    restore(saved, tmp_path / "elsewhere.db")
    assert saved.read_bytes() == content
    assert not any(side.exists() for side in side_files(saved))

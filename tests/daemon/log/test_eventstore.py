"""The append-only log and the file it lives in: appends, reads, triggers, opening rules."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.log import events as ev
from daemon.log.database import Database, DatabaseError, transaction
from daemon.log.hashchain import GENESIS_HASH, first_break
from daemon.log.schema import APPLICATION_ID, PROJECTION_TABLES, SCHEMA_VERSION
from daemon.log.store import EventStore, chain_rows, load_payload, read_events
from daemon.projections.projector import catch_up
from daemon.projections.verify import verify

from conftest import append_all, envelopes, event_rows, plain_connect, snapshot


def _some_events(session: str = "s-1", n: int = 5) -> list[ev.Event]:
    return [ev.SessionStarted(session, "/project", 5)] + [
        ev.ActivityRecorded(session, f"{session}-a{i}", "code_search", "search",
                            response_time_ms=float(i), success=i % 2 == 0)
        for i in range(n)
    ]


# --- appending and reading ---------------------------------------------------------


def test_append_chains_consecutive_rows_from_genesis(db: Database) -> None:
    with EventStore(db) as store:
        first = store.append(envelopes(_some_events(n=2)))
        second = store.append(envelopes([ev.SessionScored("s-1", 80.0)], start=10))
        assert store.append([]) == []
        assert store.last_seq() == 4
    assert [r[0] for r in first + second] == [1, 2, 3, 4]
    assert first[0][7] == GENESIS_HASH
    assert second[0][7] == first[-1][8]
    conn = db.connect_readonly()
    assert first_break(chain_rows(conn, page=2)) is None
    assert [tuple(r) for r in conn.execute("SELECT * FROM events ORDER BY seq")] == first + second
    conn.close()


def test_read_events_returns_what_was_appended(db: Database) -> None:
    events = _some_events("s-1", 3) + _some_events("s-2", 2)
    append_all(db, events)
    conn = db.connect_readonly()
    try:
        recorded = list(read_events(conn))
        assert [r.event for r in recorded] == events
        assert [r.seq for r in recorded] == list(range(1, len(events) + 1))
        assert [r.event for r in read_events(conn, after_seq=2)] == events[2:]
        assert [r.event for r in read_events(conn, session_id="s-2")] == events[4:]
        assert [r.event for r in read_events(conn, after_seq=5, session_id="s-2")] == events[5:]
    finally:
        conn.close()


def test_a_failed_append_writes_nothing_and_the_store_stays_usable(db: Database) -> None:
    with EventStore(db) as store:
        store.append(envelopes(_some_events(n=1)))
        before = event_rows(db)
        with pytest.raises(ValueError):  # NaN has no canonical JSON
            store.append([ev.Envelope(ev.SessionScored("s-1", 1.0)),
                          ev.Envelope(ev.SessionScored("s-1", float("nan")))])
        duplicate = envelopes([ev.SessionScored("s-1", 2.0)])  # reuses event id evt-000000
        with pytest.raises(sqlite3.IntegrityError):
            store.append(duplicate)
        assert event_rows(db) == before
        store.append([ev.Envelope(ev.SessionScored("s-1", 3.0))])
        assert store.last_seq() == len(before) + 1
    assert verify(db).ok


def test_appends_from_several_stores_and_threads_never_fork_the_chain(db: Database) -> None:
    stores = [EventStore(db), EventStore(db)]
    barrier = threading.Barrier(4)

    def writer(store: EventStore, name: str) -> None:
        barrier.wait()
        for i in range(25):
            store.append([ev.Envelope(ev.SessionScored(name, float(i)))
                          for _ in range(1 + i % 3)])

    threads = [threading.Thread(target=writer, args=(stores[i % 2], f"w{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    conn = db.connect_readonly()
    rows = list(chain_rows(conn))
    conn.close()
    assert len(rows) == 4 * sum(1 + i % 3 for i in range(25))
    assert first_break(rows) is None


# --- append-only, enforced by SQLite itself (invariant 1) -----------------------------


def test_update_and_delete_fail_through_python_sqlite3(db: Database) -> None:
    append_all(db, _some_events())
    before = event_rows(db)
    conn = plain_connect(db.path)
    try:
        for statement in ("UPDATE events SET payload = '{}' WHERE seq = 2",
                          "UPDATE events SET seq = seq + 100",
                          "DELETE FROM events WHERE seq = 3",
                          "DELETE FROM events",
                          # REPLACE deletes the old row without firing DELETE triggers.
                          "REPLACE INTO events SELECT * FROM events WHERE seq = 1",
                          "INSERT OR REPLACE INTO events SELECT seq, event_id || 'x', session_id,"
                          " type, version, ts, '{}', prev_hash, hash FROM events WHERE seq = 2",
                          "INSERT OR REPLACE INTO events SELECT seq + 100, event_id, session_id,"
                          " type, version, ts, '{}', prev_hash, hash FROM events WHERE seq = 2",
                          "INSERT INTO events SELECT * FROM events WHERE seq = 1 "
                          "ON CONFLICT (seq) DO UPDATE SET payload = '{}'"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()
    assert event_rows(db) == before


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 command-line shell")
def test_update_and_delete_fail_through_the_sqlite3_shell(db: Database) -> None:
    append_all(db, _some_events())
    before = event_rows(db)
    shell = shutil.which("sqlite3")
    assert shell is not None
    for statement in ("UPDATE events SET ts = 'x' WHERE seq = 1;", "DELETE FROM events;",
                      "REPLACE INTO events SELECT * FROM events WHERE seq = 2;"):
        done = subprocess.run([shell, str(db.path), statement], capture_output=True, text=True,
                              timeout=30, check=False)
        assert done.returncode != 0
        assert "append-only" in done.stderr
    assert event_rows(db) == before


def test_readonly_connections_cannot_write_anything(db: Database) -> None:
    append_all(db, _some_events())
    catch_up(db)
    before = (event_rows(db), snapshot(db))
    conn = db.connect_readonly()
    try:
        for statement in ("INSERT INTO events SELECT * FROM events",
                          "DELETE FROM activities",
                          "UPDATE test_sessions SET status = 'x'",
                          "DROP TRIGGER events_no_update",
                          "CREATE TABLE sneaky (x)"):
            with pytest.raises(sqlite3.OperationalError):
                conn.execute(statement)
    finally:
        conn.close()
    assert (event_rows(db), snapshot(db)) == before


def test_transaction_commits_or_rolls_back_everything(db: Database) -> None:
    conn = db.connect()
    try:
        with transaction(conn):
            conn.execute("INSERT INTO projection_checkpoints (projection) VALUES ('kept')")
        with pytest.raises(RuntimeError), transaction(conn):
            conn.execute("INSERT INTO projection_checkpoints (projection) VALUES ('lost')")
            raise RuntimeError("midway")
        assert not conn.in_transaction
        names = [r[0] for r in conn.execute("SELECT projection FROM projection_checkpoints")]
        assert names == ["kept"]
    finally:
        conn.close()


# --- opening files (ours, not ours, newer, older) --------------------------------------


def _assert_refused(path: Path, match: str) -> None:
    before = path.read_bytes()
    siblings = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(DatabaseError, match=match) as caught:
        Database.open(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == siblings


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    _assert_refused(path, "not a SQLite database")


def test_somebody_elses_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    _assert_refused(path, "not a realworld one")


def test_a_database_from_a_newer_realworld_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    append_all(Database.open(path, create=True), _some_events())
    conn = plain_connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    _assert_refused(path, "newer than this realworld knows")


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database at"):
        Database.open(tmp_path / "absent.db")
    with pytest.raises(DatabaseError, match="not a directory"):
        Database.open(tmp_path / "no" / "such" / "dir.db", create=True)
    with pytest.raises(DatabaseError, match="is a directory"):
        Database.open(tmp_path, create=True)
    assert not (tmp_path / "absent.db").exists()


def test_a_new_file_gets_our_layout_and_marks(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "new.db", create=True)
    conn = db.connect_readonly()
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert {"events", "projection_checkpoints", *PROJECTION_TABLES} <= names
    # Opening again is a no-op.
    assert Database.open(db.path).path == db.path


def _layout(path: Path) -> list[tuple[str, str, str]]:
    conn = plain_connect(path)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master "
                            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("old_version", [0, SCHEMA_VERSION - 1])
def test_an_older_database_is_brought_forward_by_replay(tmp_path: Path, old_version: int) -> None:
    path = tmp_path / "old.db"
    db = Database.open(path, create=True)
    events = [*_some_events("s-1"), ev.SessionEnded("s-1", "completed"),
              *_some_events("s-2", 3),
              ev.FindingDetected("s-2", "fp", "security_scanner", "B105", "a.py", 3, "high",
                                 "high")]
    append_all(db, events)
    catch_up(db)
    expected = snapshot(db)
    fresh_layout = _layout(path)
    log = event_rows(db)
    # An older release: a projection table of another shape, one missing, stale rows.
    conn = plain_connect(path)
    conn.execute("DROP TABLE findings")
    conn.execute("DROP TABLE activities")
    conn.execute("CREATE TABLE activities (activity_id TEXT PRIMARY KEY, legacy TEXT)")
    conn.execute("INSERT INTO activities VALUES ('stale', 'x')")
    conn.execute("UPDATE test_sessions SET total_activities = 999")
    conn.execute(f"PRAGMA user_version = {old_version}")
    conn.close()

    migrated = Database.open(path)
    assert _layout(path) == fresh_layout
    assert event_rows(migrated) == log
    catch_up(migrated)
    assert snapshot(migrated) == expected
    assert event_rows(migrated) == log
    assert verify(migrated).ok


# --- parsing payloads ---------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(_json_values, st.booleans())
def test_payload_parsing_gives_what_json_loads_gives(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)  # NaN, huge ints, lone surrogates too
    assert repr(load_payload(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", [
    "NaN", "[Infinity, -Infinity]", str(2**70), str(-(2**64)), str(2**63), str(2**64 - 1),
    str(-(2**63) - 1), "0.12345678901234567890123", '"\\udcff"', "1e400",
    '{"a": 1, "a": 2}', " {} ", "-0", "-0.0", "1E-400",
])
def test_payload_parsing_edge_cases_match_json(text: str) -> None:
    assert repr(load_payload(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{} x", "'a'", "nul"])
def test_malformed_payloads_raise_what_json_raises(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        load_payload(text)

"""``archive`` on real SQLite files and real segment files: what it moves, what it keeps,
what verify proves afterwards, the way back, and every refusal leaving the log unchanged.

The log is two months of two daemon workspaces (``logbuilders.history_log``): sessions
rotate daily twelve hours apart, so an archive's prefix can stop inside a session.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import stat
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.app.archive import (
    CARRIED,
    ArchiveRefused,
    archive,
    plan_prefix,
    restore_history,
)
from daemon.log.anchor import read_anchor
from daemon.log.database import Database
from daemon.log.events import (
    Envelope,
    Event,
    LogArchived,
    SessionEnded,
    SessionStarted,
    format_ts,
)
from daemon.log.segments import MARKER, archive_dir, read_segment
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.projections.replay import rebuild
from daemon.projections.verify import verify

from conftest import (
    SESSION_IDS,
    append_all,
    event_rows,
    plain_connect,
    session_event_lists,
    snapshot,
)
from logbuilders import history_log

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAYS = 40


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once (a few seconds); each test archives a copy."""
    path = tmp_path_factory.mktemp("history") / "log.db"
    db = history_log(path, days=DAYS, events=15_000, now=NOW)
    conn = db.connect()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture
def log(history: Path, tmp_path: Path) -> Database:
    path = tmp_path / "log.db"
    shutil.copy(history, path)
    return Database.open(path)


def rows_of(db: Database, sql: str) -> list[tuple[object, ...]]:
    conn = db.connect_readonly()
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def archived_rows(db: Database) -> list[tuple[object, ...]]:
    """Every event in the segments the log's archive events name, in seq order."""
    where = archive_dir(db.path)
    names = [r[0] for r in rows_of(db, "SELECT segment FROM archived_segments ORDER BY first_seq")]
    return [row for name in names for row in read_segment(where / name)]


def cutoff(days: float) -> datetime:
    return NOW - timedelta(days=days)


# --- what an archive moves and keeps --------------------------------------------------------


def test_an_archive_moves_a_prefix_to_a_sealed_segment_and_verify_proves_it_all(
        log: Database) -> None:
    before = event_rows(log)
    result = archive(log, cutoff(20), now=NOW)

    segment = result.segment
    assert segment is not None and segment.first_seq == 1
    assert 0 < segment.events < len(before)
    after = event_rows(log)
    # A prefix moved, byte for byte, and the log goes on from the anchor.
    assert archived_rows(log) == [tuple(r) for r in before[:segment.events]]
    assert after[:-1] == before[segment.events:]
    assert after[0][7] == before[segment.events - 1][8] == result.anchor
    # The archive event comes last, chained on the tail, naming all of it.
    archived = after[-1]
    assert archived[3] == LogArchived.TYPE and archived[7] == before[-1][8]
    assert rows_of(log, "SELECT segment, first_seq, last_seq, events, anchor "
                        "FROM archived_segments") == [
        (segment.name, 1, segment.last_seq, segment.events, result.anchor)]
    anchor = read_anchor(log.connect_readonly())
    assert anchor is not None and (anchor.seq, anchor.hash) == (segment.last_seq, result.anchor)
    # Every session in the prefix ended before the cutoff; the one after it did not.
    ended = dict(rows_of(log, "SELECT session_id, end_time FROM test_sessions"))
    in_prefix = {r[2] for r in before[:segment.events]}
    assert all(ended[s] is not None and ended[s] < result.cutoff for s in in_prefix)
    first_kept = before[segment.events][2]
    assert ended[first_kept] is None or ended[first_kept] >= result.cutoff

    report = verify(log)
    assert report.ok, report
    assert report.archive is not None
    assert [(s.segment, s.status) for s in report.archive.segments] == [(segment.name, "ok")]


def test_the_segment_is_private_and_its_directory_ours(log: Database) -> None:
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    where = archive_dir(log.path)
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    for name in (MARKER, result.segment.name):
        assert stat.S_IMODE((where / name).stat().st_mode) == 0o600
    assert sorted(os.listdir(where)) == sorted([MARKER, result.segment.name])


def test_what_the_prefix_implied_survives_a_rebuild_from_the_retained_log(
        log: Database) -> None:
    before = snapshot(log)
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    rebuild(log)
    after = snapshot(log)
    # Current state the archived events left: every session, every finding (open or
    # resolved, with when it was first seen), every file, quarantine and learned pattern.
    for table in ("test_sessions", "session_stats", "findings", "files", "quarantined_files",
                  "learned_patterns"):
        assert after[table] == before[table], table
    assert any(r[13] is None for r in after["findings"])  # open ones among them
    # Detail of archived events is gone from the projections, and says where it went.
    archived_sessions = dict(rows_of(log, "SELECT session_id, archived_events "
                                          "FROM archived_sessions"))
    assert archived_sessions and sum(archived_sessions.values()) <= result.segment.events
    assert len(after["activities"]) < len(before["activities"])


def test_per_capability_aggregates_of_archived_calls_add_up_to_what_was_there(
        log: Database) -> None:
    totals = "SELECT session_id, capability, COUNT(*), SUM(1 - success) FROM activities " \
             "GROUP BY session_id, capability ORDER BY 1, 2"
    before = rows_of(log, totals)
    archive(log, cutoff(25), now=NOW)
    archive(log, cutoff(15), now=NOW)  # a second archive adds to the first's aggregates
    history = rows_of(log, "SELECT session_id, capability, calls, errors FROM "
                           "capability_history ORDER BY 1, 2")
    assert history == before
    archived = rows_of(log, "SELECT session_id, capability, calls, response_count, "
                            "response_sum, avg_response_ms FROM archived_capability_stats")
    assert archived
    for _, _, calls, count, total, average in archived:
        assert calls >= count > 0 and average == pytest.approx(total / count)


def test_archives_in_turn_chain_their_segments(log: Database) -> None:
    before = event_rows(log)
    results = [archive(log, cutoff(days), now=NOW) for days in (35, 28, 21, 14)]
    segments = [r.segment for r in results]
    for earlier, later in itertools.pairwise(segments):
        assert earlier is not None and later is not None
        assert later.first_seq == earlier.last_seq + 1
        assert later.first_prev_hash == earlier.last_hash
    report = verify(log)
    assert report.ok, report
    assert report.archive is not None and len(report.archive.segments) == 4
    # Nothing acknowledged is lost: the log and its segments hold every event there was.
    everything = [*archived_rows(log), *event_rows(log)]
    assert [r for r in everything if r[3] != LogArchived.TYPE] == before


def test_an_archive_later_seals_the_events_of_the_archives_before_it(log: Database) -> None:
    first = archive(log, cutoff(20), now=NOW)
    assert first.segment is not None
    # Time passes: the sessions that ran end, and a month later everything may go, the
    # first archive's own event too. Its segment is then listed from the archive base.
    running = [r[0] for r in rows_of(log, "SELECT session_id FROM test_sessions "
                                          "WHERE status = 'running'")]
    with EventStore(log) as store:
        store.append([Envelope(SessionEnded(sid, "stopped", "daemon removed"),
                               ts=format_ts(NOW + timedelta(seconds=1))) for sid in running])
    later = NOW + timedelta(days=40)
    second = archive(log, later - timedelta(days=30), now=later)
    assert second.segment is not None and second.segment.first_seq == first.segment.last_seq + 1
    assert [r[3] for r in event_rows(log)] == [LogArchived.TYPE]
    assert LogArchived.TYPE in {r[3] for r in archived_rows(log)}
    assert rows_of(log, "SELECT segment FROM archived_segments ORDER BY first_seq") == [
        (first.segment.name,), (second.segment.name,)]
    report = verify(log)
    assert report.ok, report
    assert report.archive is not None
    assert [s.status for s in report.archive.segments] == ["ok", "ok"]
    rebuild(log)
    assert verify(log).ok


def test_nothing_to_archive_changes_nothing(log: Database) -> None:
    before = event_rows(log), snapshot(log)
    result = archive(log, cutoff(DAYS + 5), now=NOW)
    assert result.segment is None
    assert (event_rows(log), snapshot(log)) == before
    assert not archive_dir(log.path).exists()


def test_a_running_session_stops_the_prefix_at_its_first_event(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "log.db", create=True)
    old = NOW - timedelta(days=90)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("running", "/w", 0, "continuous"),
                               ts=(old + timedelta(seconds=1)).isoformat())])
    result = archive(db, cutoff(30), now=NOW)
    assert result.segment is None


def test_plan_prefix_stops_before_the_first_stream_that_may_not_go() -> None:
    starts = {"a": 1, "b": 5, "c": 9}
    assert plan_prefix(1, 12, starts, {"a": True, "b": True, "c": True}) == 12
    assert plan_prefix(1, 12, starts, {"a": True, "b": False, "c": True}) == 4
    assert plan_prefix(1, 12, starts, {"a": False, "b": True, "c": True}) is None
    assert plan_prefix(3, 12, {"a": 3, "b": 3}, {"a": True, "b": False}) is None


def test_the_carried_tables_are_projection_tables() -> None:
    from daemon.log.schema import PROJECTION_TABLES

    assert set(CARRIED) <= set(PROJECTION_TABLES)


# --- verify over segments --------------------------------------------------------------------


def test_a_changed_segment_fails_verify_naming_it(log: Database) -> None:
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    path = archive_dir(log.path) / result.segment.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify(log)
    assert not report.ok and report.chain_break is None
    assert report.archive is not None
    (bad,) = report.archive.bad
    assert bad.segment == result.segment.name and "SHA-256" in bad.reason


def test_a_missing_segment_is_a_note_and_the_retained_part_still_proves(log: Database) -> None:
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    (archive_dir(log.path) / result.segment.name).unlink()
    report = verify(log)
    assert report.ok
    assert report.archive is not None
    assert [s.segment for s in report.archive.missing] == [result.segment.name]


def test_an_edited_archive_base_breaks_the_chain_at_the_archive_event(log: Database) -> None:
    archive(log, cutoff(20), now=NOW)
    conn = plain_connect(log.path)
    conn.execute("INSERT INTO archive_in_progress VALUES (0)")  # the guard, on purpose
    conn.execute("UPDATE archive_base SET row = replace(row, 'completed', 'error') "
                 "WHERE tbl = 'test_sessions'")
    conn.execute("DELETE FROM archive_in_progress")
    conn.close()
    report = verify(log)
    assert report.chain_break is not None and "archive base" in report.chain_break.reason


def test_deleting_the_start_of_an_archived_log_is_reported(log: Database) -> None:
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    first = event_rows(log)[0][0]
    conn = plain_connect(log.path)
    conn.execute("INSERT INTO archive_in_progress VALUES (?)", (first,))
    conn.execute("DELETE FROM events WHERE seq = ?", (first,))
    conn.execute("DELETE FROM archive_in_progress")
    conn.close()
    report = verify(log)
    assert report.chain_break is not None and report.chain_break.seq == first + 1


# --- crashes and leftovers -------------------------------------------------------------------


def test_a_segment_left_by_a_crash_is_reused_when_identical(history: Path,
                                                             tmp_path: Path) -> None:
    # Two copies of one log: the first archives; the second stands for the same log had
    # the archive been killed between its segment's rename and its transaction.
    done, crashed = (Database.open(shutil.copy(history, tmp_path / name))
                     for name in ("done.db", "crashed.db"))
    first = archive(done, cutoff(20), now=NOW)
    assert first.segment is not None
    shutil.copytree(archive_dir(done.path), archive_dir(crashed.path))
    assert verify(crashed).ok  # the log was never archived: the segment is not its yet
    again = archive(crashed, cutoff(20), now=NOW)
    assert again.segment is not None and again.segment.reused
    assert again.segment.sha256 == first.segment.sha256
    assert verify(crashed).ok


def test_a_segment_no_event_refers_to_is_removed_by_the_next_archive(log: Database) -> None:
    where = archive_dir(log.path)
    first = archive(log, cutoff(30), now=NOW)
    assert first.segment is not None
    stray = where / "seg-000000999990-000000999999.jsonl.zst"
    stray.write_bytes(b"left by a crash")
    leftover = where / ".seg-123-abcd.tmp"
    leftover.write_bytes(b"half written")
    report = verify(log)
    assert report.ok and report.archive is not None
    assert report.archive.orphans == (stray.name,)
    second = archive(log, cutoff(20), now=NOW)
    assert second.removed == (stray.name,)
    assert not stray.exists() and not leftover.exists()
    assert verify(log).ok


# --- bad input ---------------------------------------------------------------------------


def test_a_cutoff_in_the_future_is_refused(log: Database) -> None:
    before = event_rows(log)
    with pytest.raises(ArchiveRefused, match="future"):
        archive(log, NOW + timedelta(days=1), now=NOW)
    assert event_rows(log) == before


@pytest.mark.parametrize("case", ["files without a marker", "a foreign marker",
                                  "another log's archive", "a file"])
def test_an_archive_directory_that_is_not_ours_is_refused(log: Database, case: str) -> None:
    where = archive_dir(log.path)
    if case == "a file":
        where.write_text("not a directory")
    else:
        where.mkdir()
        if case == "files without a marker":
            (where / "photo.jpg").write_bytes(b"\xff\xd8")
        elif case == "a foreign marker":
            (where / MARKER).write_text("hello")
        else:
            (where / MARKER).write_text('{"format": "realworld-archive", "version": 1, '
                                        '"origin": "' + "ab" * 32 + '"}')
    before = event_rows(log), snapshot(log)
    with pytest.raises(ArchiveRefused):
        archive(log, cutoff(20), now=NOW)
    assert (event_rows(log), snapshot(log)) == before
    assert verify(log).ok


def test_an_empty_directory_is_adopted(log: Database) -> None:
    archive_dir(log.path).mkdir()
    assert archive(log, cutoff(20), now=NOW).segment is not None
    assert (archive_dir(log.path) / MARKER).is_file()


# --- the spec's maintenance advice, refused ----------------------------------------------------


@pytest.mark.parametrize("table", ["test_sessions", "activities", "performance_metrics",
                                   "issues", "improvement_suggestions"])
def test_the_specs_delete_is_refused_naming_the_archive(log: Database, table: str) -> None:
    before = snapshot(log), event_rows(log)
    conn = plain_connect(log.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="realworld archive --older-than"):
            conn.execute(f"DELETE FROM {table} WHERE created_at < datetime('now', '-30 days')")
    finally:
        conn.close()
    assert (snapshot(log), event_rows(log)) == before
    assert verify(log).ok


def test_events_stay_append_only_outside_an_archive(log: Database) -> None:
    conn = plain_connect(log.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 1")
        for statement in ("INSERT INTO archive_base VALUES ('files', '[]', '{}')",
                          "INSERT INTO archive_anchor VALUES (1, 'x')"):
            with pytest.raises(sqlite3.IntegrityError, match="realworld archive only"):
                conn.execute(statement)
    finally:
        conn.close()


# --- the way back ------------------------------------------------------------------------------


def test_restore_writes_the_whole_history_with_every_detail(log: Database,
                                                            tmp_path: Path) -> None:
    before_events, before_tables = event_rows(log), snapshot(log)
    archive(log, cutoff(30), now=NOW)
    archive(log, cutoff(20), now=NOW)
    result = restore_history(log, tmp_path / "history.db")
    history = Database.open(result.path)
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert not result.path.with_name("history.db-wal").exists()
    events = event_rows(history)
    assert [r for r in events if r[3] != LogArchived.TYPE] == before_events
    tables = snapshot(history)
    for table, rows in before_tables.items():
        if table != "archived_segments":
            assert tables[table] == rows, table
    assert len(tables["archived_segments"]) == 2
    assert verify(history).ok
    first_kept = event_rows(log)[0][0]
    assert result.from_segments == sum(1 for r in events if r[0] < first_kept)


def test_restore_refuses_without_a_segment_and_leaves_nothing(log: Database,
                                                              tmp_path: Path) -> None:
    result = archive(log, cutoff(20), now=NOW)
    assert result.segment is not None
    (archive_dir(log.path) / result.segment.name).unlink()
    with pytest.raises(ArchiveRefused, match="missing"):
        restore_history(log, tmp_path / "history.db")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".history", "history"))]


# --- for any log -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(events=session_event_lists(min_size=1, max_size=40), ended=st.booleans())
def test_any_log_archives_to_a_verified_log_that_keeps_its_state(events: list[Event],
                                                                ended: bool) -> None:
    """Whatever the events (sessions that never started or never end, findings that come
    back, files moved onto each other): the archive verifies, the state tables it carries
    are what they were, and the history restored is the log as it was."""
    if ended:  # end every session, so the whole log may go
        events = [*events, *(SessionEnded(s, "completed") for s in SESSION_IDS)]
    with tempfile.TemporaryDirectory(prefix="rw-archive-") as tmp:
        db = Database.open(Path(tmp) / "log.db", create=True)
        append_all(db, events)
        catch_up(db)
        before_events, before = event_rows(db), snapshot(db)
        result = archive(db, NOW, now=NOW)
        report = verify(db)
        assert report.ok, report
        after = snapshot(db)
        for table in CARRIED:
            if table != "archived_segments":
                assert after[table] == before[table], table
        rebuild(db)
        assert snapshot(db) == after
        if result.segment is None:
            assert event_rows(db) == before_events
            return
        history = restore_history(db, Path(tmp) / "history.db")
        restored = Database.open(history.path)
        assert [r for r in event_rows(restored) if r[3] != LogArchived.TYPE] == before_events
        assert verify(restored).ok

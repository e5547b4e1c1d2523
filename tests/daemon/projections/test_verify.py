"""`verify`: an intact log passes; every edit of the log or of a projection is reported."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from daemon.log import events as ev
from daemon.log.database import Database
from daemon.projections.projector import catch_up
from daemon.projections.verify import verify

from conftest import append_all, event_lists, event_rows, plain_connect

EDITABLE_COLUMNS = ("event_id", "session_id", "type", "version", "ts", "payload", "prev_hash",
                    "hash")


def _story() -> list[ev.Event]:
    return [
        ev.SessionStarted("s", "/p", 5),
        ev.ActivityRecorded("s", "a1", "code_search", "search", response_time_ms=12.0),
        ev.IssueDetected("s", "i1", "high", "code_search", "slow", "takes 12 ms"),
        ev.FindingDetected("s", "fp", "security_scanner", "secret", "a.py", 3, "high", "high"),
        ev.FileChanged("s", "/w", "a.py", "created", size=10),
        ev.SessionEnded("s", "completed"),
    ]


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the log as an attacker with file access would: drop the guards, then write."""
    conn = plain_connect(path)
    try:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS events_no_replace")
        for sql, params in statements:
            conn.execute(sql, params)
    finally:
        conn.close()


def test_an_intact_log_verifies(db: Database) -> None:
    append_all(db, _story())
    report = verify(db)  # verify catches up first, so nothing was projected before
    assert report.ok
    assert (report.events, report.position, report.chain_break, report.mismatches) == (
        6, 6, None, ())


def test_an_empty_log_verifies(db: Database) -> None:
    report = verify(db)
    assert report.ok and report.events == 0


def test_one_changed_payload_byte_is_reported_with_its_seq(db: Database) -> None:
    append_all(db, _story())
    catch_up(db)
    seq, payload = event_rows(db)[2][0], event_rows(db)[2][6]
    assert isinstance(seq, int) and isinstance(payload, str)
    forged = payload.replace("takes 12 ms", "takes 13 ms")
    assert len(forged) == len(payload) and forged != payload
    tamper(db.path, ("UPDATE events SET payload = ? WHERE seq = ?", (forged, seq)))

    report = verify(db)
    assert not report.ok
    assert report.chain_break is not None and report.chain_break.seq == seq
    assert "hash" in report.chain_break.reason


def test_a_payload_that_no_longer_parses_is_reported_not_raised(db: Database) -> None:
    append_all(db, _story())
    # Not projected yet: verify must not try to project what it cannot trust.
    tamper(db.path, ("UPDATE events SET payload = substr(payload, 2) WHERE seq = 4", ()))
    report = verify(db)
    assert report.chain_break is not None and report.chain_break.seq == 4


def test_a_cut_off_tail_is_reported(db: Database) -> None:
    append_all(db, _story())
    catch_up(db)
    tamper(db.path, ("DELETE FROM events WHERE seq >= 5", ()))
    report = verify(db)
    assert not report.ok
    assert report.chain_break is not None and report.chain_break.seq == 5


def test_a_seq_moved_elsewhere_is_reported_where_the_gap_opens(db: Database) -> None:
    append_all(db, _story())
    tamper(db.path, ("UPDATE events SET seq = 100 WHERE seq = 3", ()))
    report = verify(db)
    assert report.chain_break is not None and report.chain_break.seq == 4


def test_an_edited_projection_is_a_mismatch(db: Database) -> None:
    append_all(db, _story())
    catch_up(db)
    conn = plain_connect(db.path)
    conn.execute("UPDATE test_sessions SET total_activities = 7")
    conn.execute("DELETE FROM files")
    conn.close()
    report = verify(db)
    assert not report.ok and report.chain_break is None
    assert {m.table for m in report.mismatches} == {"test_sessions", "files"}
    files = next(m for m in report.mismatches if m.table == "files")
    assert (files.live_rows, files.replayed_rows) == (0, 1)


def _byte_edit(value: object, data: st.DataObject) -> object:
    if isinstance(value, int):
        return data.draw(st.integers(-(2**63), 2**63 - 1).filter(lambda v: v != value))
    assert isinstance(value, str)
    raw = bytearray(value.encode("utf-8"))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(raw)  # stored as a BLOB, as a byte editor would leave it


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(events=event_lists(min_size=2, max_size=10), data=st.data())
def test_verify_reports_the_first_edited_row(events: list[ev.Event], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(prefix="rw-verify-") as tmp:
        db = Database.open(Path(tmp) / "log.db", create=True)
        append_all(db, events)
        if data.draw(st.booleans(), label="projected first"):
            catch_up(db)
        rows = event_rows(db)
        count = len(rows)
        edit = data.draw(st.sampled_from(("column", "delete", "swap")), label="edit")
        statements: list[tuple[str, tuple[object, ...]]]
        if edit == "column":
            seq = data.draw(st.integers(1, count), label="seq")
            column = data.draw(st.sampled_from(EDITABLE_COLUMNS), label="column")
            value = _byte_edit(rows[seq - 1][_index(column)], data)
            assume(column != "event_id" or value not in {r[1] for r in rows})
            statements = [(f"UPDATE events SET {column} = ? WHERE seq = ?", (value, seq))]
            expected = seq
        elif edit == "delete":
            seq = data.draw(st.integers(1, count - 1), label="seq")
            statements = [("DELETE FROM events WHERE seq = ?", (seq,))]
            expected = seq + 1
        else:
            first = data.draw(st.integers(1, count - 1), label="first")
            second = data.draw(st.integers(first + 1, count), label="second")
            a, b = rows[first - 1], rows[second - 1]
            statements = [("DELETE FROM events WHERE seq IN (?, ?)", (first, second)),
                          ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (first, *b[1:])),
                          ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (second, *a[1:]))]
            expected = first
        tamper(db.path, *statements)

        report = verify(db)
        assert not report.ok
        assert report.chain_break is not None
        assert report.chain_break.seq == expected, report.chain_break


def _index(column: str) -> int:
    return ("seq", *EDITABLE_COLUMNS).index(column)

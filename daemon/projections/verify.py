"""`realworld verify`: the hash chain holds and the projections equal a fresh replay.

An archived log is proven in two parts. The events it keeps chain from the anchor, which
the newest ``log_archived`` event names, and its archive base matches the digest that
event holds. The sealed segments, when present, are walked too: each file's SHA-256 is the
one its ``log_archived`` event recorded, its events chain from genesis (or the segment
before) to the anchor, so the whole history is proven. A missing segment is a note, not a
failure (the retained part stands on the anchor); a segment that does not match fails.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from daemon.log.anchor import (
    base_digest,
    chain_start,
    latest_archive,
    read_anchor,
    read_base,
    segment_records,
)
from daemon.log.database import Database
from daemon.log.hashchain import GENESIS_HASH, ChainBreak, first_break
from daemon.log.schema import PRIMARY_KEYS, PROJECTION_TABLES
from daemon.log.segments import (
    ArchiveDir,
    ArchiveDirError,
    SegmentError,
    SegmentRecord,
    archive_dir,
    verified_rows,
)
from daemon.log.store import chain_rows
from daemon.log.write_errors import cause, describe_write_error
from daemon.projections.projector import catch_up
from daemon.projections.replay import scratch_replay


@dataclass(frozen=True)
class TableMismatch:
    table: str
    live_rows: int
    replayed_rows: int
    first_difference: str


@dataclass(frozen=True)
class SegmentCheck:
    """One sealed segment: ``ok`` (its events verified), ``missing`` (no file: the retained
    part stands on the anchor) or ``bad`` (``reason`` says how it differs)."""

    segment: str
    first_seq: int
    last_seq: int
    events: int
    status: str
    reason: str = ""


@dataclass(frozen=True)
class ArchiveCheck:
    """What verify found of the archive, for an archived log."""

    first_seq: int  # the first event the log keeps
    anchor: str
    segments: tuple[SegmentCheck, ...]
    directory_note: str = ""  # an archive directory that is not ours, or none at all
    orphans: tuple[str, ...] = ()  # segment files no archive event refers to

    @property
    def bad(self) -> tuple[SegmentCheck, ...]:
        return tuple(s for s in self.segments if s.status == "bad")

    @property
    def missing(self) -> tuple[SegmentCheck, ...]:
        return tuple(s for s in self.segments if s.status == "missing")


@dataclass(frozen=True)
class VerifyReport:
    events: int
    position: int  # the log position the projections were compared at
    chain_break: ChainBreak | None
    mismatches: tuple[TableMismatch, ...] = field(default=())
    note: str = ""  # why the projections were compared short of the log's end, if they were
    archive: ArchiveCheck | None = None  # for a log that was archived

    @property
    def ok(self) -> bool:
        return (self.chain_break is None and not self.mismatches
                and (self.archive is None or not self.archive.bad))


def _projected_position(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MIN(position) FROM projection_checkpoints").fetchone()
    return int(row[0] or 0)


def _ordered_rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[object, ...]]:
    order = ", ".join(PRIMARY_KEYS[table])
    yield from conn.execute(f"SELECT * FROM {table} ORDER BY {order}")


def _compare_table(live: sqlite3.Connection, replay: sqlite3.Connection,
                   table: str) -> TableMismatch | None:
    live_count = live.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    replay_count = replay.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    pairs = itertools.zip_longest(_ordered_rows(live, table), _ordered_rows(replay, table))
    for live_row, replay_row in pairs:
        if live_row != replay_row:
            return TableMismatch(table, live_count, replay_count,
                                 f"live {live_row!r} != replayed {replay_row!r}")
    return None


def _truncation(conn: sqlite3.Connection) -> ChainBreak | None:
    """A chain cut off at its end still links; projections that got further show the cut."""
    last = int(conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)
    reached = int(conn.execute("SELECT MAX(position) FROM projection_checkpoints").fetchone()[0]
                  or 0)
    if reached > last:
        return ChainBreak(last + 1, f"the log ends at seq {last} but projections reached "
                                    f"{reached}: events were removed")
    return None


def _base_break(conn: sqlite3.Connection) -> ChainBreak | None:
    """An archived log: its anchor table and base agree with the newest log_archived event
    (the chain check has shown that event, and the anchor it names, to be the log's)."""
    first = conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
    anchor = read_anchor(conn)
    if first is None or (int(first) == 1 and anchor is None):
        return None
    found = latest_archive(conn)
    if int(first) == 1:
        return None if anchor is None or found is not None else ChainBreak(
            1, "the log holds an archive anchor but no log_archived event")
    assert found is not None  # else the chain check reported the missing start
    seq, event = found
    if anchor is None or (anchor.seq, anchor.hash) != (event.last_seq, event.anchor):
        return ChainBreak(seq, "the archive anchor differs from the one this log_archived "
                               "event recorded")
    if base_digest(read_base(conn)) != event.base_digest:
        return ChainBreak(seq, "the archive base (the summary of archived sessions) differs "
                               "from the digest this log_archived event recorded")
    return None


def _segment_links(records: list[SegmentRecord], first: int,
                   anchor: str) -> str:
    """Whether the recorded segments cover seq 1 to the anchor, each chaining on the one
    before: '' if they do, else what is wrong."""
    expected_seq, expected_prev = 1, GENESIS_HASH
    for record in records:
        if record.first_seq != expected_seq or record.first_prev_hash != expected_prev:
            return (f"the archive records no segment for seq {expected_seq}-"
                    f"{record.first_seq - 1}" if record.first_seq > expected_seq else
                    f"segment {record.name} does not follow on from the one before it")
        expected_seq, expected_prev = record.last_seq + 1, record.anchor
    if expected_seq != first or expected_prev != anchor:
        return (f"the archive's segments end at seq {expected_seq - 1}, not on the anchor "
                f"before seq {first}")
    return ""


def check_archive(db: Database, conn: sqlite3.Connection) -> ArchiveCheck | None:
    """Walk every segment the log records; None for a log that keeps its whole history."""
    first = conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
    if first is None or int(first) == 1:
        return None
    start = chain_start(conn)
    assert start is not None
    records = [r for r in segment_records(conn) if r.last_seq < int(first)]
    where = archive_dir(db.path)
    note = ""
    directory: ArchiveDir | None = None
    try:
        directory = ArchiveDir.check(where, None)
    except ArchiveDirError as exc:
        note = str(exc)
    if directory is None and not note:
        note = f"no archive directory at {where}"
    checks: list[SegmentCheck] = []
    for record in records:
        path = where / record.name
        if directory is None or not path.is_file():
            checks.append(SegmentCheck(record.name, record.first_seq, record.last_seq,
                                       record.events, "missing"))
            continue
        try:
            for _ in verified_rows(path, record):
                pass
        except (SegmentError, OSError) as exc:
            checks.append(SegmentCheck(record.name, record.first_seq, record.last_seq,
                                       record.events, "bad", str(exc)))
            continue
        checks.append(SegmentCheck(record.name, record.first_seq, record.last_seq,
                                   record.events, "ok"))
    links = _segment_links(records, int(first), start.hash)
    if links:
        checks.append(SegmentCheck("(segments)", 1, int(first) - 1, 0, "bad", links))
    referenced = {record.name for record in segment_records(conn)}
    orphans = tuple(name for name in (directory.segments() if directory else ())
                    if name not in referenced)
    return ArchiveCheck(int(first), start.hash, tuple(checks), note, orphans)


def verify(db: Database) -> VerifyReport:
    """Walk the chain (and the archive's segments), then replay the log into a scratch
    database and compare every table."""
    live = db.connect_readonly()
    try:
        broken = (first_break(chain_rows(live), chain_start(live)) or _truncation(live)
                  or _base_break(live))
        if broken is not None:
            # An edited log cannot be trusted to replay (an edited payload may not even
            # parse), so the chain break is the whole verdict.
            events = live.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            return VerifyReport(events, _projected_position(live), broken)
        archive = check_archive(db, live)
        note = ""
        if db.is_writable():
            try:
                catch_up(db)
            except sqlite3.OperationalError as exc:
                if cause(exc) is None:
                    raise
                # A full disk (or a file we may not write): the projections are compared
                # where they stand, which proves as much about them.
                note = f"projections not caught up first: {describe_write_error(exc)}"
        events = live.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        position = _projected_position(live)
        with scratch_replay(live, position) as (scratch, _):
            replayed = scratch.connect_readonly()
            try:
                mismatches = tuple(
                    m for m in (_compare_table(live, replayed, t) for t in PROJECTION_TABLES)
                    if m is not None)
            finally:
                replayed.close()
    finally:
        live.close()
    return VerifyReport(events, position, None, mismatches, note, archive)

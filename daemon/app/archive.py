"""``realworld archive``: retention with a verifiable anchor, and bringing the detail back.

An archive moves a **prefix** of the log, the longest run of events from its first one
whose sessions all ended before the cutoff, to one sealed segment file beside the log
(``daemon.log.segments``), then, in one transaction: appends a ``log_archived`` event
naming the segment, its SHA-256, its seqs and the anchor (the hash of its last event, the
``prev_hash`` of the first event the log keeps), deletes the prefix (the only DELETE the
``events`` trigger lets through, under the authorization row of that transaction), writes
the archive base (the projection rows the prefix left: sessions and their per-capability
aggregates, findings, files, quarantine, learned patterns, the list of segments),
and swaps in projections replayed from that base and the retained log. Space is then
reclaimed by SQLite's own transactions (``VACUUM`` once, ``incremental_vacuum`` after).

Crash safety, step by step: the segment is written under a temporary name, fsync'ed,
renamed and its directory fsync'ed before the transaction, so the transaction only ever
refers to a whole file; a crash before the commit leaves the log as it was and at most a
segment no event refers to, which the next archive reuses (identical) or removes. The
commit is SQLite's, so the log is either before or after, never between.

``restore_history`` is the way back: a separate, complete realworld log (segments and
retained events from seq 1, projections replayed from genesis with all their detail) that
every command reads with ``--db``. The live log stays as retention left it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from analyzers.common.private_files import touch_private
from daemon.log.anchor import (
    BaseRow,
    archive_authorized,
    base_digest,
    copy_base,
    encode_rows,
    latest_archive,
    read_anchor,
    segment_records,
    write_base,
)
from daemon.log.database import (
    Database,
    DatabaseError,
    replace_projections,
    transaction,
)
from daemon.log.events import ARCHIVE_STREAM, Envelope, LogArchived, format_ts, utc_now
from daemon.log.hashchain import GENESIS_HASH, ChainRow, ChainStart, first_break
from daemon.log.segments import (
    ArchiveDir,
    ArchiveDirError,
    SegmentError,
    SegmentFile,
    SegmentRecord,
    archive_dir,
    parse_segment_name,
    segment_name,
    verified_rows,
    write_segment,
)
from daemon.log.store import StoredRow, append_in, read_rows
from daemon.log.write_errors import cause, describe_write_error
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.projector import Projector, catch_up

log = structlog.get_logger("realworld.archive")

_PAGE = 10_000
#: A scratch replay is ours alone and thrown away: long transactions, few commits.
_SCRATCH_COMMIT_S = 30.0

#: The projection tables whose rows an archived prefix leaves in the archive base, with the
#: rows kept (None: all): the state later events build on, one row per thing (session,
#: finding, file, ...) however many events made it. Resolved findings are kept with the
#: open ones: their row says when the finding was first seen, which a finding that comes
#: back must not lose. Everything else the prefix projected is detail, one row per event:
#: activities, performance_metrics, issues, improvement_suggestions, finding_summaries of
#: archived events are in the segments only (``restore_history`` brings them back).
#: archived_sessions and archived_capability_stats are merged, see _summaries.
CARRIED: Mapping[str, str | None] = {
    "test_sessions": None,
    "session_stats": None,
    "findings": None,
    "files": None,
    "quarantined_files": None,
    "learned_patterns": None,
    "archived_segments": None,
}


class ArchiveRefused(ValueError):
    """Bad usage or input (a cutoff in the future, an archive directory that is not ours,
    another archive running, a missing segment): one line, nothing changed."""


class ArchiveFailed(Exception):
    """The archive could not be written (disk full, I/O error, ...): one line; the log is
    as it was before."""


class ChainBroken(Exception):
    """The events to seal do not chain: nothing is archived; ``realworld verify`` tells
    more. One line, exit 1."""


@dataclass(frozen=True)
class Plan:
    first_seq: int  # the log's first event
    last_seq: int  # the last event to archive
    tail_seq: int  # the log's last event when planned
    anchor: str  # the hash of event last_seq


@dataclass(frozen=True)
class Reclaimed:
    before: int  # bytes of the log file and its -wal before the archive
    after: int
    error: str = ""  # why space could not be reclaimed, if it could not


@dataclass(frozen=True)
class ArchiveResult:
    cutoff: str
    segment: SegmentFile | None  # None: nothing to archive
    sessions: int = 0
    retained_first: int | None = None
    retained_last: int | None = None
    retained_events: int = 0
    anchor: str = ""
    reclaimed: Reclaimed | None = None
    removed: tuple[str, ...] = ()  # segment files no archive event referred to, removed
    seconds: float = 0.0


# --- the plan ------------------------------------------------------------------------


def plan_prefix(first_seq: int, tail_seq: int, session_starts: Mapping[str, int],
                archivable: Mapping[str, bool]) -> int | None:
    """The last seq of the prefix to archive, or None when there is none; pure.

    ``session_starts`` maps each stream of the log to its first seq, ``archivable`` says
    whether it may go (a session that ended before the cutoff). The prefix ends just before
    the first event of a stream that may not."""
    blocked = [start for sid, start in session_starts.items() if not archivable.get(sid)]
    last = tail_seq if not blocked else min(blocked) - 1
    return last if last >= first_seq else None


def _plan(conn: sqlite3.Connection, cutoff: str) -> Plan | None:
    """Read in one snapshot: the log's extent, each stream's first seq (the session index
    covers it), and whether it may be archived."""
    conn.execute("BEGIN")
    try:
        first, tail = conn.execute("SELECT MIN(seq), MAX(seq) FROM events").fetchone()
        if first is None:
            return None
        ended = {str(sid): (str(status), end_time) for sid, status, end_time in conn.execute(
            "SELECT session_id, status, end_time FROM test_sessions")}
        starts = {str(sid): int(start) for sid, start in conn.execute(
            "SELECT session_id, MIN(seq) FROM events GROUP BY session_id")}
        archivable: dict[str, bool] = {}
        for sid in starts:
            known = ended.get(sid)
            if known is not None:
                status, end_time = known
                archivable[sid] = (status != "running" and end_time is not None
                                   and str(end_time) < cutoff)
            else:
                # Not a session (the archive's own events, another tool's): by its age.
                newest = conn.execute("SELECT MAX(ts) FROM events WHERE session_id = ?",
                                      (sid,)).fetchone()[0]
                archivable[sid] = newest is not None and str(newest) < cutoff
        last = plan_prefix(int(first), int(tail), starts, archivable)
        if last is None:
            return None
        anchor = conn.execute("SELECT hash FROM events WHERE seq = ?", (last,)).fetchone()[0]
        return Plan(int(first), last, int(tail), str(anchor))
    finally:
        conn.execute("COMMIT")


def _origin(conn: sqlite3.Connection) -> str | None:
    """The hash of event 1, which names this log's segment directory; None when empty."""
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq LIMIT 1").fetchone()
    if row is None:
        return None
    if int(row[0]) == 1:
        return str(row[1])
    found = latest_archive(conn)
    if found is None:
        raise ChainBroken(f"the log starts at seq {row[0]} and no archive accounts for the "
                          f"events before it: run realworld verify")
    return found[1].origin


# --- sealing the prefix ------------------------------------------------------------------


@dataclass(frozen=True)
class _Sealed:
    segment: SegmentFile
    base: list[BaseRow]
    digest: str
    sessions: int


def _prefix_rows(live: sqlite3.Connection, plan: Plan, start: ChainStart,
                 scratch: sqlite3.Connection, counts: dict[str, list[int]]) -> Iterator[StoredRow]:
    """The rows to seal, in order, each checked against the chain; also copied into the
    scratch log that computes the base, and counted per stream."""
    expected = start
    after = plan.first_seq - 1
    while after < plan.last_seq:
        rows = read_rows(live, after, min(_PAGE, plan.last_seq - after))
        if not rows:
            raise ChainBroken(f"the log ends at seq {after}, before the planned {plan.last_seq}")
        for row in rows:
            broken = first_break((ChainRow(*row),), expected)
            if broken is not None:
                raise ChainBroken(f"the log's chain is broken at seq {broken.seq} "
                                  f"({broken.reason}): nothing was archived; run "
                                  f"realworld verify")
            expected = ChainStart(row[0], row[8])
            count = counts.get(row[2])
            if count is None:
                counts[row[2]] = [1, row[0], row[0]]
            else:
                count[0] += 1
                count[2] = row[0]
        with transaction(scratch):
            scratch.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        yield from rows
        after = rows[-1][0]


def _dicts(conn: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _summaries(conn: sqlite3.Connection, counts: Mapping[str, list[int]],
               segment: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """archived_sessions and archived_capability_stats after this archive: the rows the
    base had, plus this prefix's events (per session) and calls (per session and
    capability), added as sums so that archive after archive gives exact figures."""
    sessions = {row["session_id"]: row for row in _dicts(conn, "SELECT * FROM archived_sessions")}
    known = {str(r[0]) for r in conn.execute("SELECT session_id FROM test_sessions")}
    for sid, (events, first, last) in counts.items():
        if sid not in known:
            continue  # not a session: the archive's own events, another tool's
        old = sessions.get(sid)
        sessions[sid] = {
            "session_id": sid,
            "archived_events": events + (old["archived_events"] if old else 0),
            "first_seq": old["first_seq"] if old else first,
            "last_seq": last,
            "segment": segment,
        }
    stats = {(row["session_id"], row["capability"]): row
             for row in _dicts(conn, "SELECT * FROM archived_capability_stats")}
    # The scratch log's activities are exactly this prefix's: the base holds none.
    for row in _dicts(conn, """
            SELECT session_id, capability, COUNT(*) AS calls,
                   SUM(CASE WHEN success THEN 0 ELSE 1 END) AS errors,
                   COUNT(response_time_ms) AS response_count,
                   TOTAL(response_time_ms) AS response_sum,
                   MIN(response_time_ms) AS min_response_ms,
                   MAX(response_time_ms) AS max_response_ms,
                   MIN(timestamp) AS first_call, MAX(timestamp) AS last_call
            FROM activities GROUP BY session_id, capability"""):
        key = (row["session_id"], row["capability"])
        old = stats.get(key)
        if old is not None:
            row = {
                **row,
                "calls": old["calls"] + row["calls"],
                "errors": old["errors"] + row["errors"],
                "response_count": old["response_count"] + row["response_count"],
                "response_sum": old["response_sum"] + row["response_sum"],
                "min_response_ms": _extreme(min, old["min_response_ms"], row["min_response_ms"]),
                "max_response_ms": _extreme(max, old["max_response_ms"], row["max_response_ms"]),
                "first_call": min(old["first_call"], row["first_call"]),
                "last_call": max(old["last_call"], row["last_call"]),
            }
        count, total = row["response_count"], row["response_sum"]
        stats[key] = {
            "session_id": row["session_id"], "capability": row["capability"],
            "calls": row["calls"], "errors": row["errors"],
            "avg_response_ms": total / count if count else None,
            "min_response_ms": row["min_response_ms"], "max_response_ms": row["max_response_ms"],
            "response_count": count, "response_sum": float(total),
            "first_call": row["first_call"], "last_call": row["last_call"],
        }
    return list(sessions.values()), list(stats.values())


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return pick(values) if values else None


def _seal(live: sqlite3.Connection, directory: ArchiveDir, plan: Plan,
          workdir: Path) -> _Sealed:
    """Write the segment, and compute the base the prefix leaves, by replaying the previous
    base and the prefix in a scratch log."""
    previous = read_anchor(live)
    if plan.first_seq == 1:
        start = ChainStart(0, GENESIS_HASH)
    elif previous is None or previous.seq != plan.first_seq - 1:
        raise ChainBroken(f"the log starts at seq {plan.first_seq} but its anchor is missing "
                          f"or names another seq: run realworld verify")
    else:
        start = previous
    scratch = Database.open(workdir / "archived.db", create=True)
    conn = scratch.connect()
    try:
        conn.execute("PRAGMA synchronous = OFF")  # scratch: a crash loses nothing of ours
        copy_base(live, conn)
        counts: dict[str, list[int]] = {}
        segment = write_segment(directory, _prefix_rows(live, plan, start, conn, counts))
    finally:
        conn.close()
    # Only what the base is made of: the carried tables and the calls behind the
    # aggregates. The rest of the prefix's detail would be projected only to be dropped.
    wanted = set(CARRIED) | {"activities", "archived_sessions", "archived_capability_stats"}
    projections = [p for p in PROJECTIONS if wanted & set(p.tables)]
    with Projector(scratch, projections, commit_after=_SCRATCH_COMMIT_S) as projector:
        projector.catch_up()
    conn = scratch.connect_readonly()
    try:
        base: list[BaseRow] = []
        for table, where in CARRIED.items():
            rows = _dicts(conn, f"SELECT * FROM {table}" + (f" WHERE {where}" if where else ""))
            base.extend(encode_rows(table, rows))
        sessions, stats = _summaries(conn, counts, segment.name)
        base.extend(encode_rows("archived_sessions", sessions))
        base.extend(encode_rows("archived_capability_stats", stats))
        known = {str(r[0]) for r in conn.execute("SELECT session_id FROM test_sessions")}
    finally:
        conn.close()
    base.sort()
    return _Sealed(segment, base, base_digest(base), sum(1 for s in counts if s in known))


# --- the transaction -----------------------------------------------------------------


def _retained_replay(live: sqlite3.Connection, plan: Plan, sealed: _Sealed,
                     workdir: Path) -> Database:
    """Projections of the log as it will be: the new base, then the retained events up to
    the tail as planned (what is appended meanwhile is caught up after the commit)."""
    scratch = Database.open(workdir / "retained.db", create=True)
    conn = scratch.connect()
    try:
        conn.execute("PRAGMA synchronous = OFF")
        with transaction(conn), archive_authorized(conn, plan.last_seq):
            write_base(conn, ChainStart(plan.last_seq, plan.anchor), sealed.base)
        after = plan.last_seq
        while after < plan.tail_seq:
            rows = [r for r in read_rows(live, after, _PAGE) if r[0] <= plan.tail_seq]
            if not rows:
                break
            with transaction(conn):
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            after = rows[-1][0]
    finally:
        conn.close()
    with Projector(scratch, commit_after=_SCRATCH_COMMIT_S) as projector:
        projector.catch_up()
    return scratch


def _commit(db: Database, plan: Plan, sealed: _Sealed, origin: str, cutoff: str,
            retained: Database, now: datetime) -> None:
    """One transaction: append the archive event, delete the prefix, write the base and
    swap in the projections replayed from it."""
    segment = sealed.segment
    event = LogArchived(ARCHIVE_STREAM, segment.name, segment.sha256, segment.size,
                        plan.first_seq, plan.last_seq, segment.events, sealed.sessions,
                        segment.first_prev_hash, plan.anchor, sealed.digest, origin, cutoff)
    conn = db.connect()
    try:
        conn.execute("ATTACH DATABASE ? AS scratch", (str(retained.path),))
        committed = False
        try:
            with transaction(conn):
                first, tail = conn.execute("SELECT MIN(seq), MAX(seq) FROM events").fetchone()
                anchor = conn.execute("SELECT hash FROM events WHERE seq = ?",
                                      (plan.last_seq,)).fetchone()
                if (first != plan.first_seq or tail is None or tail < plan.tail_seq
                        or anchor is None or anchor[0] != plan.anchor):
                    raise ArchiveRefused("the log changed under the archive (another archive "
                                         "or a restore ran): nothing was archived; run it again")
                with archive_authorized(conn, plan.last_seq):
                    # First: with every event archived, the tail would otherwise be gone.
                    append_in(conn, [Envelope(event, ts=format_ts(now))])
                    conn.execute("DELETE FROM events WHERE seq <= ?", (plan.last_seq,))
                    write_base(conn, ChainStart(plan.last_seq, plan.anchor), sealed.base)
                    replace_projections(conn, "scratch")
            committed = True
        finally:
            try:
                conn.execute("DETACH DATABASE scratch")
            except sqlite3.Error:
                if not committed:
                    raise
                # Done: the connection closes below, which detaches it anyway.
    finally:
        conn.close()


# --- space ---------------------------------------------------------------------------


def log_size(path: Path) -> int:
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            total += candidate.stat().st_size
    return total


def reclaim(db: Database) -> Reclaimed:
    """Give the pages the archive freed back to the file system, by SQLite's own
    transactions (a crash in the middle leaves the log as before): the first time a
    ``VACUUM`` that also turns on incremental vacuum, then ``incremental_vacuum``; then a
    checkpoint that truncates the -wal those wrote."""
    before = log_size(db.path)
    conn = db.connect()
    try:
        try:
            if int(conn.execute("PRAGMA freelist_count").fetchone()[0]) > 0:
                if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    conn.execute("VACUUM")
                else:
                    conn.execute("PRAGMA incremental_vacuum").fetchall()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as exc:
            return Reclaimed(before, log_size(db.path), describe_write_error(exc))
    finally:
        conn.close()
    return Reclaimed(before, log_size(db.path))


# --- the operation -------------------------------------------------------------------


def _clean(directory: ArchiveDir, referenced: set[str], keep: str | None) -> tuple[str, ...]:
    """Remove what an archive that crashed left: temporary files, and segments no archive
    event refers to (but ``keep``, the one this archive is about to write: reused if
    identical)."""
    removed: list[str] = []
    for name in directory.leftovers():
        directory.remove(name)
    for name in directory.segments():
        if name not in referenced and name != keep:
            directory.remove(name)
            removed.append(name)
    if removed:
        directory.sync()
        log.info("orphan_segments_removed", segments=removed)
    return tuple(removed)


def archive(db: Database, cutoff: datetime, *, now: datetime | None = None) -> ArchiveResult:
    """Archive the log's prefix of sessions that ended before ``cutoff``; see the module.
    ``now`` is when the archive runs (its event's time; a cutoff after it is refused)."""
    began = time.monotonic()
    now = utc_now() if now is None else now
    if cutoff > now:
        raise ArchiveRefused(f"the cutoff {format_ts(cutoff)[:19]}Z is in the future: "
                             f"archive sessions that ended before a time that has passed")
    cutoff_ts = format_ts(cutoff)
    if not db.is_writable():
        raise ArchiveRefused(f"cannot archive {db.path}: the file is not writable")
    try:
        catch_up(db)
    except sqlite3.OperationalError as exc:
        if cause(exc) is None:
            raise
        raise ArchiveFailed(f"{describe_write_error(exc)}: nothing was archived") from None
    live = db.connect_readonly()
    try:
        origin = _origin(live)
        where = archive_dir(db.path)
        try:
            existing = ArchiveDir.check(where, origin)
        except ArchiveDirError as exc:
            raise ArchiveRefused(str(exc)) from None
        planned = None if origin is None else _plan(live, cutoff_ts)
        if origin is None or (planned is None and (existing is None or not existing.marked)):
            return ArchiveResult(cutoff_ts, None, reclaimed=None,
                                 seconds=time.monotonic() - began)
        try:
            directory = existing if planned is None and existing is not None else (
                ArchiveDir.create(where, origin))
        except ArchiveDirError as exc:
            raise ArchiveRefused(str(exc)) from None
        except OSError as exc:
            raise ArchiveFailed(f"cannot create {where}: {describe_write_error(exc)}: "
                                f"nothing was archived") from None
        with directory.locked() as mine:
            if not mine:
                raise ArchiveRefused(f"another realworld archive is running on {db.path}")
            result = _archive_locked(db, live, directory, origin, cutoff_ts, now)
    finally:
        live.close()
    try:
        catch_up(db)
    except sqlite3.OperationalError as exc:  # the archive is done; the next read catches up
        log.warning("catch_up_after_archive_failed", reason=describe_write_error(exc))
    # Also when nothing was archived: an earlier archive may have found no room to.
    reclaimed = reclaim(db)
    return ArchiveResult(result.cutoff, result.segment, result.sessions, result.retained_first,
                         result.retained_last, result.retained_events, result.anchor,
                         reclaimed, result.removed, time.monotonic() - began)


def _archive_locked(db: Database, live: sqlite3.Connection, directory: ArchiveDir,
                    origin: str, cutoff: str, now: datetime) -> ArchiveResult:
    referenced = {record.name for record in segment_records(live)}
    plan = _plan(live, cutoff)  # again, under the lock: another archive may just have ended
    if plan is None:
        return ArchiveResult(cutoff, None, removed=_clean(directory, referenced, None))
    keep = segment_name(plan.first_seq, plan.last_seq)
    if keep in referenced:
        raise ChainBroken(f"segment {keep} is referenced already, yet its events are in the "
                          f"log: run realworld verify")
    removed = _clean(directory, referenced, keep)
    try:
        with tempfile.TemporaryDirectory(prefix="realworld-archive-") as workdir:
            sealed = _seal(live, directory, plan, Path(workdir))
            retained = _retained_replay(live, plan, sealed, Path(workdir))
            _commit(db, plan, sealed, origin, cutoff, retained, now)
    except BaseException as exc:
        # Not committed, so no event refers to the segment: take it away now rather than
        # at the next archive (it was checked above not to be a referenced one).
        with contextlib.suppress(OSError):
            directory.remove(keep)
            directory.sync()
        if isinstance(exc, (sqlite3.OperationalError, OSError)) and cause(exc) is not None:
            raise ArchiveFailed(f"{describe_write_error(exc)}: nothing was archived, the log "
                                f"is as it was") from None
        if isinstance(exc, DatabaseError):
            raise ArchiveFailed(f"{exc}: nothing was archived, the log is as it was") from None
        raise
    count = live.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM events").fetchone()
    log.info("log_archived", segment=sealed.segment.name, events=sealed.segment.events,
             first_seq=plan.first_seq, last_seq=plan.last_seq, sessions=sealed.sessions)
    return ArchiveResult(cutoff, sealed.segment, sealed.sessions, count[1], count[2],
                         int(count[0]), plan.anchor, removed=removed)


# --- bringing the detail back --------------------------------------------------------


@dataclass(frozen=True)
class HistoryResult:
    path: Path
    events: int
    from_segments: int
    segments: int
    last_seq: int


def _history_rows(live: sqlite3.Connection, directory: Path | None,
                  needed: Sequence[SegmentRecord]) -> Iterator[StoredRow]:
    for record in needed:
        path = None if directory is None else directory / record.name
        if path is None or not path.is_file():
            raise ArchiveRefused(f"segment {record.name} (seq {record.first_seq}-"
                                 f"{record.last_seq}) is missing from {directory}: its "
                                 f"detail cannot be restored")
        try:
            yield from verified_rows(path, record)
        except SegmentError as exc:
            raise ArchiveRefused(f"{exc}; nothing was restored") from None
    after = 0
    while True:
        rows = read_rows(live, after, _PAGE)
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def restore_history(db: Database, output: Path, *, force: bool = False) -> HistoryResult:
    """A complete log at ``output``: every archived event from its segment (each checked
    against its ``log_archived`` event), then the events the log keeps, chained from
    genesis and projected with all their detail. Private (0600), self-contained (no -wal),
    written under a temporary name and renamed into place."""
    output = output.expanduser()
    if output.resolve() == db.path.resolve():
        raise ArchiveRefused("--output is the log itself: name another file")
    if (output.exists() or output.is_symlink()) and not force:
        raise ArchiveRefused(f"{output} exists; use --force to replace it")
    if not output.parent.is_dir():
        raise ArchiveRefused(f"{output.parent} is not a directory")
    if db.is_writable():
        catch_up(db)
    live = db.connect_readonly()
    staged = output.with_name(f".{output.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        first = live.execute("SELECT MIN(seq) FROM events").fetchone()[0]
        records = segment_records(live)
        needed = [r for r in records if first is None or r.last_seq < int(first)]
        expected = 1
        for record in needed:
            if record.first_seq != expected:
                raise ArchiveRefused(f"the archive has no segment for seq {expected}-"
                                     f"{record.first_seq - 1}: nothing was restored")
            expected = record.last_seq + 1
        origin = _origin(live)
        where = archive_dir(db.path)
        try:
            directory = ArchiveDir.check(where, origin)
        except ArchiveDirError as exc:
            raise ArchiveRefused(str(exc)) from None
        touch_private(staged)
        history = Database.open(staged, create=True)
        conn = history.connect()
        count = from_segments = last = 0
        expected_link = ChainStart(0, GENESIS_HASH)
        try:
            batch: list[StoredRow] = []
            for row in _history_rows(live, None if directory is None else directory.path,
                                     needed):
                broken = first_break((ChainRow(*row),), expected_link)
                if broken is not None:
                    raise ArchiveRefused(f"the history does not chain at seq {broken.seq} "
                                         f"({broken.reason}): nothing was restored")
                expected_link = ChainStart(row[0], row[8])
                batch.append(row)
                count += 1
                last = row[0]
                if first is None or row[0] < int(first):
                    from_segments += 1
                if len(batch) >= _PAGE:
                    with transaction(conn):
                        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                         batch)
                    batch.clear()
            if batch:
                with transaction(conn):
                    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     batch)
        finally:
            conn.close()
        catch_up(history)
        conn = history.connect()
        try:
            # Self-contained, like a backup: no -wal travels beside it.
            conn.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            conn.close()
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(staged, output)
        else:
            try:
                os.link(staged, output)
            except FileExistsError:
                raise ArchiveRefused(f"{output} appeared meanwhile; not replacing it") from None
            staged.unlink()
        fd = os.open(output.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        for leftover in (staged, *(staged.with_name(staged.name + s)
                                   for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
        if isinstance(exc, (sqlite3.OperationalError, OSError)) and cause(exc) is not None:
            raise ArchiveFailed(f"{describe_write_error(exc)}: nothing was restored") from None
        raise
    finally:
        live.close()
    return HistoryResult(output, count, from_segments, len(needed), last)


def segment_names_on_disk(db_path: Path) -> list[str]:
    """Segment files present beside the log (for reports); [] when there is no directory."""
    where = archive_dir(db_path)
    if not where.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(where) if parse_segment_name(entry.name))

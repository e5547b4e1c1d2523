"""``realworld ship``: forward every event of the local log that the fleet lacks, in ``seq``
order, exactly once.

Where the central log stands for this machine is read in the transaction that extends it,
under a per-machine advisory lock, so two shippers (or a shipper and its own restart) never
send the same event twice and a batch is either all there or not at all. Rows go in by
``COPY`` into a temporary table and one ``INSERT … ON CONFLICT DO NOTHING``; an event whose
``event_id`` is already there with other content is an error that names it. The position
reached is also kept in the local database, for ``realworld status``; the central log is
the truth, so a position lost in a crash costs nothing.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from daemon.fleet.applier import apply_all, apply_machine
from daemon.fleet.central_schema import ensure_schema
from daemon.fleet.connection import fleet_key, masked, session
from daemon.fleet.errors import FleetCheckFailed, FleetUsageError
from daemon.log.anchor import segment_records
from daemon.log.database import Database, transaction
from daemon.log.events import format_ts, utc_now
from daemon.log.segments import SegmentError, archive_dir, verified_rows
from daemon.log.store import StoredRow, read_rows

DEFAULT_BATCH = 20_000
#: Seconds between two records of the position reached in the local database (the central
#: log is the truth; the local record serves ``status``, and each is a local commit).
RECORD_EVERY_S = 2.0
MAX_MACHINE_NAME = 200

SHIPMENTS_DDL = """
CREATE TABLE IF NOT EXISTS fleet_shipments (
    fleet TEXT PRIMARY KEY,            -- the central database, without its password
    machine TEXT NOT NULL,             -- the name this log ships as
    position INTEGER NOT NULL,         -- the last seq the fleet holds of this log
    shipped_at TEXT,                   -- when a ship last reached the fleet
    attempted_at TEXT NOT NULL,        -- when a ship last tried
    last_error TEXT                    -- why the last try failed; NULL after a success
)
"""

_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS realworld_staging (
    machine text, seq bigint, event_id text, session_id text, type text, version integer,
    ts text, payload jsonb, prev_hash text, hash text
) ON COMMIT DELETE ROWS
"""
_COLUMNS = "machine, seq, event_id, session_id, type, version, ts, payload, prev_hash, hash"


def default_machine() -> str:
    return socket.gethostname() or "localhost"


def check_machine(name: str) -> str:
    if not name or len(name) > MAX_MACHINE_NAME or not name.isprintable() or name != name.strip():
        raise FleetUsageError(f"invalid machine name {name!r}: 1 to {MAX_MACHINE_NAME} printable "
                              f"characters, no surrounding spaces")
    return name


@dataclass(frozen=True)
class ShipResult:
    fleet: str  # masked
    machine: str
    shipped: int  # events this call added to the fleet
    position: int  # the last seq the fleet holds of this log
    local_last: int  # the last seq of the local log
    applied: int  # central projection events applied for this machine

    @property
    def behind(self) -> int:
        return max(0, self.local_last - self.position)


@dataclass(frozen=True)
class Shipment:
    """What the local database knows of its shipping to one fleet (``realworld status``)."""

    fleet: str
    machine: str
    position: int
    shipped_at: str | None
    attempted_at: str
    last_error: str | None


def _local_last(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])


def _local_hash(db: Database, conn: sqlite3.Connection, seq: int) -> str | None:
    for row in local_rows(db, conn, seq - 1, page=1):
        return row[8] if row[0] == seq else None
    return None


def _segment_rows(db: Database, conn: sqlite3.Connection,
                  after: int) -> Iterator[Iterator[StoredRow]]:
    """The archived rows after ``after``, a segment at a time, each verified as it is read."""
    first = conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
    if first is not None and int(first) <= after + 1:
        return
    where = archive_dir(db.path)
    for record in segment_records(conn):
        if record.last_seq <= after:
            continue
        path = where / record.name
        if not path.is_file():
            raise FleetCheckFailed(
                f"events {record.first_seq}-{record.last_seq} of this log were archived before "
                f"they were shipped, and their segment {path} is missing: put it back (or "
                f"restore a backup) and ship again")
        yield (row for row in verified_rows(path, record) if row[0] > after)


def local_rows(db: Database, conn: sqlite3.Connection, after: int,
               page: int = DEFAULT_BATCH) -> Iterator[StoredRow]:
    """Every event of the local log after ``after`` in order: archived segments, then the log."""
    try:
        for rows in _segment_rows(db, conn, after):
            for row in rows:
                after = row[0]
                yield row
    except SegmentError as exc:
        raise FleetCheckFailed(f"cannot ship archived events: {exc}") from None
    while True:
        page_rows = read_rows(conn, after, page)
        if not page_rows:
            return
        yield from page_rows
        after = page_rows[-1][0]


def _record(db: Database, shipment: Shipment) -> None:
    conn = db.connect()
    try:
        with transaction(conn):
            conn.execute(SHIPMENTS_DDL)
            conn.execute(
                "INSERT INTO fleet_shipments (fleet, machine, position, shipped_at, "
                "attempted_at, last_error) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fleet) DO "
                "UPDATE SET machine = excluded.machine, position = excluded.position, "
                "shipped_at = COALESCE(excluded.shipped_at, fleet_shipments.shipped_at), "
                "attempted_at = excluded.attempted_at, last_error = excluded.last_error",
                (shipment.fleet, shipment.machine, shipment.position, shipment.shipped_at,
                 shipment.attempted_at, shipment.last_error))
    finally:
        conn.close()


def record_failure(db: Database, url: str, machine: str, error: str) -> None:
    """Keep why a ship failed (and where the fleet stood before it) for ``status``."""
    known = {s.fleet: s for s in shipments(db)}.get(fleet_key(url))
    _record(db, Shipment(fleet_key(url), machine, known.position if known else 0,
                         None, format_ts(utc_now()), error))


def shipments(db: Database) -> list[Shipment]:
    """Every fleet this log was shipped to, as the local database recorded it."""
    conn = db.connect_readonly()
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fleet_shipments'"
                              ).fetchone()
        if exists is None:
            return []
        return [Shipment(*row) for row in conn.execute(
            "SELECT fleet, machine, position, shipped_at, attempted_at, last_error "
            "FROM fleet_shipments ORDER BY fleet")]
    finally:
        conn.close()


def _central_tail(cursor: Any, machine: str) -> tuple[int, str | None]:
    row = cursor.execute("SELECT seq, hash FROM events WHERE machine = %s "
                         "ORDER BY seq DESC LIMIT 1", (machine,)).fetchone()
    return (0, None) if row is None else (int(row[0]), str(row[1]))


def _check_continuity(db: Database, local: sqlite3.Connection, machine: str, seq: int,
                      central_hash: str | None, local_last: int) -> None:
    if seq == 0:
        return
    if seq > local_last:
        raise FleetCheckFailed(
            f"the fleet holds seq {seq} for machine {machine!r} but this log ends at seq "
            f"{local_last}: another log ships as {machine!r}; give this one its own name "
            f"(--machine, or [fleet] machine)")
    if _local_hash(db, local, seq) != central_hash:
        raise FleetCheckFailed(
            f"the fleet's event seq {seq} of machine {machine!r} is not this log's (their "
            f"hashes differ): another log ships as {machine!r}, or the central row was "
            f"edited; give this log its own name (--machine) or run realworld verify --fleet")


def _insert_batch(conn: Any, cursor: Any, machine: str, rows: list[StoredRow]) -> int:
    """Add ``rows`` after the machine's central tail, in the caller's transaction, which holds
    the machine's lock: straight into ``events`` by COPY, as nothing of this machine can be
    there yet; an ``event_id`` that is (the same log shipped under another name) rolls the
    attempt back, and the staged path names it."""
    try:
        with conn.transaction(), cursor.copy(f"COPY events ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((machine, *row))
        return len(rows)
    except psycopg.errors.UniqueViolation:
        return _insert_staged(cursor, machine, rows)


def _insert_staged(cursor: Any, machine: str, rows: list[StoredRow]) -> int:
    with cursor.copy(f"COPY realworld_staging ({_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((machine, *row))
    cursor.execute(f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM realworld_staging "
                   f"ORDER BY seq ON CONFLICT DO NOTHING")
    inserted = int(cursor.rowcount)
    if inserted != len(rows):
        clash = cursor.execute(
            "SELECT s.seq, s.event_id, e.machine, e.seq FROM realworld_staging s "
            "JOIN events e ON e.event_id = s.event_id OR (e.machine = s.machine AND e.seq = s.seq) "
            "WHERE e.hash <> s.hash OR e.machine <> s.machine OR e.seq <> s.seq "
            "ORDER BY s.seq LIMIT 1").fetchone()
        if clash is not None:
            seq, event_id, other_machine, other_seq = clash
            raise FleetCheckFailed(
                f"event {event_id} (seq {seq} of machine {machine!r}) is already in the fleet "
                f"with other content, as seq {other_seq} of machine {other_machine!r}: the "
                f"same log shipped under two names, or a central row edited by hand")
    return inserted


def ship(db: Database, url: str, machine: str | None = None, *,
         batch: int = DEFAULT_BATCH, apply: bool = True,
         deadline: float | None = None) -> ShipResult:
    """Ship what the fleet lacks of ``db``'s log; each batch is one central transaction.
    ``deadline`` (a ``time.monotonic()`` value) ends a long catch-up early: the next call
    goes on from where this one stopped."""
    machine = check_machine(machine or default_machine())
    where = masked(url)
    shipped = 0
    local = db.connect_readonly()
    try:
        with session(url, autocommit=True) as conn:
            ensure_schema(conn, where)
            cursor = conn.cursor()
            cursor.execute(_STAGING)
            position = 0
            recorded = time.monotonic()
            while True:
                local_last = _local_last(local)
                with conn.transaction():
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                                   ("realworld-ship:" + machine,))
                    position, central_hash = _central_tail(cursor, machine)
                    _check_continuity(db, local, machine, position, central_hash, local_last)
                    rows = []
                    for row in local_rows(db, local, position, batch):
                        rows.append(row)
                        if len(rows) >= batch:
                            break
                    if not rows:
                        break
                    added = _insert_batch(conn, cursor, machine, rows)
                    cursor.execute(
                        "INSERT INTO machines (machine, shipped_events) VALUES (%s, %s) "
                        "ON CONFLICT (machine) DO UPDATE SET last_shipped = now(), "
                        "shipped_events = machines.shipped_events + excluded.shipped_events",
                        (machine, added))
                shipped += added
                position = rows[-1][0]
                if time.monotonic() - recorded >= RECORD_EVERY_S:
                    now = format_ts(utc_now())
                    _record(db, Shipment(fleet_key(url), machine, position, now, now, None))
                    recorded = time.monotonic()
                if deadline is not None and time.monotonic() >= deadline:
                    break
            applied = 0
            if apply:
                applied = apply_machine(conn, machine, deadline=deadline)
                # Then any machine left behind: by a migration that replays the projections,
                # a shipper run with --no-apply, or one killed between shipping and applying.
                apply_all(conn, deadline=deadline)
        now = format_ts(utc_now())
        _record(db, Shipment(fleet_key(url), machine, position, now if shipped else None, now,
                             None))
        return ShipResult(where, machine, shipped, position, _local_last(local), applied)
    finally:
        local.close()

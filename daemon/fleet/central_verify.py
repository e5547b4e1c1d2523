"""``realworld verify --fleet``: each machine's central hash chain holds, and its central
projections equal a replay of its central log.

The central payload is ``jsonb``, which keeps the value but not the text; the local log
hashed canonical JSON of that value, so the chain is checked over the canonical JSON of
what the central row holds, and any edit of a value breaks it.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.fleet.central_schema import projection_tables
from daemon.log.database import Database, transaction
from daemon.log.hashchain import ChainBreak, ChainRow, canonical_json, first_break
from daemon.log.store import StoredRow, load_payload
from daemon.projections.projector import Projector
from daemon.projections.verify import TableMismatch

_PAGE = 10_000
_EVENT_COLUMNS = "seq, event_id, session_id, type, version, ts, payload::text, prev_hash, hash"


@dataclass(frozen=True)
class MachineCheck:
    machine: str
    events: int
    position: int  # where its central projections stand (compared there)
    chain_break: ChainBreak | None
    mismatches: tuple[TableMismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.mismatches


def _canonical(row: tuple[Any, ...]) -> StoredRow:
    seq, event_id, session_id, type_, version, ts, payload, prev_hash, digest = row
    return (int(seq), event_id, session_id, type_, int(version), ts,
            canonical_json(load_payload(payload)), prev_hash, digest)


def _central_rows(conn: Any, machine: str, up_to: int | None = None) -> Iterator[StoredRow]:
    after = 0
    cursor = conn.cursor()
    while True:
        cursor.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE machine = %s AND seq > %s "
                       f"ORDER BY seq LIMIT %s", (machine, after, _PAGE))
        rows = cursor.fetchall()
        if not rows:
            return
        for row in rows:
            if up_to is not None and row[0] > up_to:
                return
            yield _canonical(row)
        after = rows[-1][0]


def _normal(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _compare(conn: Any, replay: sqlite3.Connection, machine: str) -> list[TableMismatch]:
    mismatches = []
    cursor = conn.cursor()
    for spec in projection_tables():
        columns = ", ".join(spec.column_names)
        order = ", ".join(spec.key)
        cursor.execute(f"SELECT {columns} FROM {spec.name} WHERE machine = %s ORDER BY {order}",
                       (machine,))
        central = [tuple(map(_normal, row)) for row in cursor.fetchall()]
        replayed = [tuple(map(_normal, row)) for row in replay.execute(
            f"SELECT {columns} FROM {spec.name} ORDER BY {order}")]
        for live_row, replay_row in itertools.zip_longest(central, replayed):
            if live_row != replay_row:
                mismatches.append(TableMismatch(
                    spec.name, len(central), len(replayed),
                    f"central {live_row!r} != replayed {replay_row!r}"))
                break
    return mismatches


def _replayed(rows: Iterator[StoredRow], directory: Path) -> Database:
    scratch = Database.open(directory / "replay.db", create=True)
    conn = scratch.connect()
    try:
        conn.execute("PRAGMA synchronous = OFF")
        for trigger in ("events_no_update", "events_no_delete", "events_no_replace"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        while True:
            page = list(itertools.islice(rows, _PAGE))
            if not page:
                break
            with transaction(conn):
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", page)
    finally:
        conn.close()
    with Projector(scratch) as projector:
        projector.catch_up()
    return scratch


def verify_machine(conn: Any, machine: str) -> MachineCheck:
    cursor = conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM events WHERE machine = %s", (machine,))
    events = int(cursor.fetchone()[0])
    broken = first_break(ChainRow(*row) for row in _central_rows(conn, machine))
    cursor.execute("SELECT position FROM projection_positions WHERE machine = %s", (machine,))
    found = cursor.fetchone()
    position = 0 if found is None else int(found[0])
    if broken is not None:
        return MachineCheck(machine, events, position, broken)
    with conn.transaction():
        # The rows and the position they stand at, read in one snapshot.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT position FROM projection_positions WHERE machine = %s",
                       (machine,))
        found = cursor.fetchone()
        position = 0 if found is None else int(found[0])
        with tempfile.TemporaryDirectory(prefix="realworld-fleet-replay-") as directory:
            scratch = _replayed(_central_rows(conn, machine, position), Path(directory))
            replay = scratch.connect_readonly()
            try:
                mismatches = _compare(conn, replay, machine)
            finally:
                replay.close()
    return MachineCheck(machine, events, position, None, tuple(mismatches))


def machines(conn: Any) -> list[str]:
    return [str(row[0]) for row in conn.execute(
        "SELECT DISTINCT machine FROM events ORDER BY machine").fetchall()]


def verify_fleet(conn: Any, only: Sequence[str] = ()) -> list[MachineCheck]:
    return [verify_machine(conn, machine) for machine in (only or machines(conn))]

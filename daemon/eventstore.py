"""The append-only event log: one writer appends batches, readers read by position."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence

from daemon.database import Database, transaction
from daemon.events import Envelope, Recorded, from_payload, to_payload
from daemon.hashchain import GENESIS_HASH, ChainRow, canonical_json, event_hash

_COLUMNS = "seq, event_id, session_id, type, version, ts, payload, prev_hash, hash"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

StoredRow = tuple[int, str, str, str, int, str, str, str, str]


def encode(envelopes: Sequence[Envelope], last_seq: int, last_hash: str) -> list[StoredRow]:
    """Turn envelopes into chained rows following ``(last_seq, last_hash)``; pure."""
    rows: list[StoredRow] = []
    prev_hash = last_hash
    seq = last_seq
    for envelope in envelopes:
        seq += 1
        event = envelope.event
        payload = canonical_json(to_payload(event))
        digest = event_hash(prev_hash, seq, envelope.event_id, event.session_id, event.TYPE,
                            event.VERSION, envelope.ts, payload)
        rows.append((seq, envelope.event_id, event.session_id, event.TYPE, event.VERSION,
                     envelope.ts, payload, prev_hash, digest))
        prev_hash = digest
    return rows


def decode(row: StoredRow) -> Recorded:
    seq, event_id, session_id, event_type, version, ts, payload, prev_hash, digest = row
    event = from_payload(event_type, version, session_id, json.loads(payload))
    return Recorded(seq=seq, event_id=event_id, ts=ts, event=event, prev_hash=prev_hash,
                    hash=digest)


class EventStore:
    """Appends are serialised by a lock and by SQLite's write lock, so the chain never forks
    even when several processes share one log."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn = db.connect()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, envelopes: Sequence[Envelope]) -> list[StoredRow]:
        """Append a batch in one transaction; when this returns, the events are durable."""
        if not envelopes:
            return []
        with self._lock, transaction(self._conn) as conn:
            tail = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            last_seq, last_hash = tail if tail is not None else (0, GENESIS_HASH)
            rows = encode(envelopes, last_seq, last_hash)
            conn.executemany(_INSERT, rows)
        return rows

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)


def read_rows(conn: sqlite3.Connection, after_seq: int = 0,
              limit: int | None = None) -> list[StoredRow]:
    sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq"
    params: tuple[int, ...] = (after_seq,)
    if limit is not None:
        sql += " LIMIT ?"
        params = (after_seq, limit)
    return conn.execute(sql, params).fetchall()


def _paged(conn: sqlite3.Connection, after_seq: int, page: int) -> Iterator[StoredRow]:
    """Every row after ``after_seq`` in order, a page at a time so a large log stays on disk."""
    while True:
        rows = read_rows(conn, after_seq, page)
        if not rows:
            return
        yield from rows
        after_seq = rows[-1][0]


def chain_rows(conn: sqlite3.Connection, page: int = 10_000) -> Iterator[ChainRow]:
    for row in _paged(conn, 0, page):
        yield ChainRow(*row)


def read_events(conn: sqlite3.Connection, after_seq: int = 0,
                session_id: str | None = None) -> Iterator[Recorded]:
    if session_id is None:
        yield from map(decode, _paged(conn, after_seq, 10_000))
        return
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
        (session_id, after_seq))
    yield from map(decode, cursor)

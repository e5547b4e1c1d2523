"""Where the retained log starts: the anchor and the archive base.

``realworld archive`` moves a prefix of the log to a sealed segment. What the log keeps of
it is, first, the **anchor**: the seq and hash of the last archived event, which the first
retained event's ``prev_hash`` already names, so the chain is proven from there on; and
second, the **archive base**: the projection rows those events left that later events
build on (sessions, open findings, files, quarantine, learned patterns, the list of
segments), one canonical JSON row each. A replay loads the base and projects the retained
events on top of it. The latest ``log_archived`` event holds the base's digest, so the
base is covered by the chain like an event.

Both tables are written by the archive only, under the authorization row it inserts in its
own transaction (:func:`archive_authorized`); triggers refuse everybody else.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from daemon.log.events import LogArchived
from daemon.log.hashchain import GENESIS_HASH, ChainStart, canonical_json
from daemon.log.schema import PRIMARY_KEYS, PROJECTION_TABLES
from daemon.log.segments import SegmentRecord
from daemon.log.store import load_payload

#: One row of the archive base: (table, primary key as canonical JSON, row as canonical JSON).
BaseRow = tuple[str, str, str]


@contextmanager
def archive_authorized(conn: sqlite3.Connection, up_to_seq: int) -> Iterator[None]:
    """Inside the caller's transaction: the archive may delete events up to ``up_to_seq``
    and write the anchor and base while the block runs. The row is gone before the caller
    commits (and a rollback takes it too), so no other statement ever sees it."""
    conn.execute("INSERT INTO archive_in_progress (up_to_seq) VALUES (?)", (up_to_seq,))
    yield
    conn.execute("DELETE FROM archive_in_progress")


# --- encoding ----------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    # SQLite values are scalars; JSON has no bytes (a file name that is not UTF-8 is stored
    # as its bytes) nor infinities, so those two become one-key objects no scalar can be.
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$bytes" in value:
            return bytes.fromhex(value["$bytes"])
        if "$float" in value:
            return float(value["$float"])
    return value


def encode_rows(table: str, rows: Iterable[Mapping[str, Any]]) -> list[BaseRow]:
    """Projection rows of ``table`` as base rows, keyed by the table's primary key."""
    keys = PRIMARY_KEYS[table]
    encoded: list[BaseRow] = []
    for row in rows:
        values = {name: _encode_value(value) for name, value in row.items()}
        encoded.append((table, canonical_json([values[k] for k in keys]),
                        canonical_json(values)))
    return encoded


def decode_row(row_json: str) -> dict[str, Any]:
    data = load_payload(row_json)
    if not isinstance(data, dict):
        raise ValueError("an archive base row is not a JSON object")
    return {name: _decode_value(value) for name, value in data.items()}


def base_digest(rows: Iterable[BaseRow]) -> str:
    """SHA-256 of the base rows in (table, key) order, one line each: what the latest
    ``log_archived`` event records, and ``verify`` recomputes."""
    digest = hashlib.sha256()
    for table, key, row in sorted(rows):
        digest.update(f"{table}\t{key}\t{row}\n".encode())
    return digest.hexdigest()


# --- reading and writing -----------------------------------------------------------------


def read_anchor(conn: sqlite3.Connection) -> ChainStart | None:
    """The anchor the archive recorded, or None for a log never archived."""
    row = conn.execute("SELECT anchor_seq, anchor_hash FROM archive_anchor").fetchone()
    return None if row is None else ChainStart(int(row[0]), str(row[1]))


def read_base(conn: sqlite3.Connection, tables: Sequence[str] | None = None) -> list[BaseRow]:
    """The base rows (of ``tables``, or all) in (table, key) order."""
    rows = conn.execute("SELECT tbl, key, row FROM archive_base ORDER BY tbl, key").fetchall()
    wanted = None if tables is None else set(tables)
    return [(str(t), str(k), str(r)) for t, k, r in rows if wanted is None or t in wanted]


def write_base(conn: sqlite3.Connection, anchor: ChainStart, rows: Iterable[BaseRow]) -> None:
    """Replace the anchor and the base; inside :func:`archive_authorized`."""
    conn.execute("DELETE FROM archive_anchor")
    conn.execute("INSERT INTO archive_anchor (anchor_seq, anchor_hash) VALUES (?, ?)",
                 (anchor.seq, anchor.hash))
    conn.execute("DELETE FROM archive_base")
    conn.executemany("INSERT INTO archive_base (tbl, key, row) VALUES (?, ?, ?)", rows)


def copy_base(source: sqlite3.Connection, dest: sqlite3.Connection) -> None:
    """Put ``source``'s anchor and base into ``dest`` (a scratch replay), in one
    transaction of ``dest``'s own."""
    anchor = read_anchor(source)
    if anchor is None:
        return
    rows = read_base(source)
    dest.execute("BEGIN IMMEDIATE")
    try:
        with archive_authorized(dest, anchor.seq):
            write_base(dest, anchor, rows)
    except BaseException:
        dest.execute("ROLLBACK")
        raise
    dest.execute("COMMIT")


def load_base(conn: sqlite3.Connection, tables: Iterable[str]) -> int:
    """Insert the base rows of ``tables`` into those projection tables (the start of a
    replay from the anchor); returns how many. Names not among today's projection tables
    are skipped, never put into SQL."""
    known = [t for t in tables if t in PROJECTION_TABLES]
    count = 0
    by_shape: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    for table, _, row_json in read_base(conn, known):
        row = decode_row(row_json)
        by_shape.setdefault((table, tuple(row)), []).append(tuple(row.values()))
        count += 1
    for (table, columns), values in by_shape.items():
        conn.executemany(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})", values)
    return count


# --- what the chain says -----------------------------------------------------------------


def latest_archive(conn: sqlite3.Connection) -> tuple[int, LogArchived] | None:
    """The newest ``log_archived`` event in the log, with its seq; None if there is none or
    it cannot be read (the chain check then reports the log's start)."""
    row = conn.execute("SELECT seq, session_id, payload FROM events WHERE type = ? "
                       "ORDER BY seq DESC LIMIT 1", (LogArchived.TYPE,)).fetchone()
    if row is None:
        return None
    try:
        data = load_payload(row[2])
        return int(row[0]), LogArchived(session_id=str(row[1]), **data)
    except (TypeError, ValueError):
        return None


def chain_start(conn: sqlite3.Connection) -> ChainStart | None:
    """Where the chain of the events table must start, for :func:`first_break`: None for a
    log that starts at seq 1 (genesis); else the anchor the newest ``log_archived`` event
    names, or seq 0 (so the missing start is reported at the first event) when none does."""
    first = conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
    if first is None or int(first) <= 1:
        return None
    found = latest_archive(conn)
    if found is None:
        return ChainStart(0, GENESIS_HASH)
    return ChainStart(found[1].last_seq, found[1].anchor)


def segment_records(conn: sqlite3.Connection) -> list[SegmentRecord]:
    """Every segment the log knows of, in seq order: the ``log_archived`` events it still
    holds, and those archived in turn, kept as ``archived_segments`` rows of the base (whose
    digest the newest event holds). From the log itself, never from a projection."""
    records: dict[str, SegmentRecord] = {}
    for _, _, row_json in read_base(conn, ("archived_segments",)):
        row = decode_row(row_json)
        record = SegmentRecord(str(row["segment"]), str(row["sha256"]), int(row["bytes"]),
                               int(row["first_seq"]), int(row["last_seq"]), int(row["events"]),
                               str(row["first_prev_hash"]), str(row["anchor"]))
        records[record.name] = record
    for session_id, payload in conn.execute(
            "SELECT session_id, payload FROM events WHERE type = ? ORDER BY seq",
            (LogArchived.TYPE,)):
        try:
            event = LogArchived(session_id=str(session_id), **load_payload(payload))
        except (TypeError, ValueError):
            continue  # unreadable: the chain check has reported it
        records[event.segment] = SegmentRecord(
            event.segment, event.sha256, event.size, event.first_seq, event.last_seq,
            event.events, event.first_prev_hash, event.anchor)
    return sorted(records.values(), key=lambda r: (r.first_seq, r.last_seq, r.name))

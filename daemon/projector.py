"""Applies the pure projections to SQLite, exactly once per event.

A batch is read, projected and written together with the advanced
checkpoints in one transaction, so a crash at any instant leaves either the
whole batch applied or none of it. Rows a batch touches are kept in an
identity map and written once at its end, which is what makes a replay of
100,000 events cheap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.database import Database, create_projections, drop_projections, transaction
from daemon.events import UnknownEventType, event_types, format_ts, utc_now
from daemon.eventstore import decode, read_rows
from daemon.projections import PROJECTIONS, Append, Change, Key, Projection, Put
from daemon.schema import PRIMARY_KEYS, PROJECTION_TABLES

DEFAULT_BATCH = 5_000


class UnitOfWork:
    """The projections' :class:`State` during one batch: reads see earlier changes in it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._rows: dict[tuple[str, Key], Mapping[str, Any] | None] = {}
        self._dirty: dict[tuple[str, Key], Mapping[str, Any] | None] = {}
        self._appends: dict[str, list[Mapping[str, Any]]] = {}

    def get(self, table: str, key: Key) -> Mapping[str, Any] | None:
        slot = (table, key)
        if slot in self._rows:
            return self._rows[slot]
        columns = PRIMARY_KEYS[table]
        where = " AND ".join(f"{column} = ?" for column in columns)
        cursor = self._conn.execute(f"SELECT * FROM {table} WHERE {where}", key)
        found = cursor.fetchone()
        names = [d[0] for d in cursor.description]
        row = None if found is None else dict(zip(names, found, strict=True))
        self._rows[slot] = row
        return row

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, Append):
                self._appends.setdefault(change.table, []).append(change.row)
            else:
                slot = (change.table, change.key)
                row = change.row if isinstance(change, Put) else None
                self._rows[slot] = row
                self._dirty[slot] = row

    def flush(self) -> None:
        puts: dict[str, list[Mapping[str, Any]]] = {}
        deletes: dict[str, list[Key]] = {}
        for (table, key), row in self._dirty.items():
            if row is None:
                deletes.setdefault(table, []).append(key)
            else:
                puts.setdefault(table, []).append(row)
        for table in PROJECTION_TABLES:
            columns = PRIMARY_KEYS[table]
            if table in deletes:
                where = " AND ".join(f"{column} = ?" for column in columns)
                self._conn.executemany(f"DELETE FROM {table} WHERE {where}", deletes[table])
            if table in puts:
                self._write(table, puts[table], upsert_on=columns)
            if table in self._appends:
                self._write(table, self._appends[table], upsert_on=None)
        self._dirty.clear()
        self._appends.clear()

    def _write(self, table: str, rows: Sequence[Mapping[str, Any]],
               upsert_on: tuple[str, ...] | None) -> None:
        # Rows of one table can differ in shape (an autoincrement key left out),
        # so group by column list and write each group with one executemany.
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(tuple(row.values()))
        for columns, values in groups.items():
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' for _ in columns)})")
            if upsert_on is not None:
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in upsert_on)
                sql += f" ON CONFLICT ({', '.join(upsert_on)}) DO UPDATE SET {updates}"
            else:
                sql = sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
            self._conn.executemany(sql, values)


@dataclass(frozen=True)
class CatchUp:
    applied: int  # events read and projected
    position: int  # the log position every projection has now reached


class Projector:
    """Brings every projection up to the end of the log."""

    def __init__(self, db: Database, projections: Sequence[Projection] = PROJECTIONS,
                 batch_size: int = DEFAULT_BATCH) -> None:
        self._conn = db.connect()
        self._projections = tuple(projections)
        self._batch_size = batch_size

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def catch_up(self, max_batches: int | None = None) -> CatchUp:
        applied = 0
        position = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            count, position = self._apply_batch()
            applied += count
            batches += 1
            if count == 0:
                break
        return CatchUp(applied, position)

    def _checkpoints(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT projection, position FROM projection_checkpoints")
        known = dict(rows.fetchall())
        return {p.name: int(known.get(p.name, 0)) for p in self._projections}

    def _apply_batch(self) -> tuple[int, int]:
        with transaction(self._conn) as conn:
            # Read inside the write lock: a concurrent projector may have moved them.
            positions = self._checkpoints()
            start = min(positions.values(), default=0)
            rows = read_rows(conn, start, self._batch_size)
            if not rows:
                return 0, start
            work = UnitOfWork(conn)
            for row in rows:
                try:
                    recorded = decode(row)
                except UnknownEventType:
                    # Types written by another tool stay in the log, unprojected.
                    if row[3] in event_types():
                        raise  # a known type we cannot read: projecting on would be wrong
                    continue
                for projection in self._projections:
                    if positions[projection.name] < recorded.seq:
                        work.apply(projection.apply(recorded, work))
            work.flush()
            last = rows[-1][0]
            now = format_ts(utc_now())
            for projection in self._projections:
                conn.execute(
                    "INSERT INTO projection_checkpoints (projection, position, updated_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (projection) DO UPDATE "
                    "SET position = excluded.position, updated_at = excluded.updated_at "
                    "WHERE projection_checkpoints.position < excluded.position",
                    (projection.name, last, now))
            return len(rows), last


def catch_up(db: Database) -> CatchUp:
    """Bring the projections up to date; what every read does first."""
    with Projector(db) as projector:
        return projector.catch_up()


def rebuild(db: Database) -> CatchUp:
    """Drop every projection and replay the whole log into fresh tables."""
    conn = db.connect()
    try:
        with transaction(conn):
            drop_projections(conn)
            create_projections(conn)
    finally:
        conn.close()
    return catch_up(db)

"""Applies the pure projections to SQLite, exactly once per event.

A batch is read, projected and written together with the advanced checkpoints
in one transaction (a long catch-up puts several batches in one, each under a
savepoint), so a crash at any instant leaves either the whole batch applied or
none of it. Rows a batch touches are kept in an identity map and written once
at its end, which is what makes a replay of 100,000 events cheap.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from daemon.log.anchor import load_base, read_anchor
from daemon.log.database import Database, transaction
from daemon.log.events import Event, Recorded, UnknownEventType, format_ts, utc_now
from daemon.log.schema import PRIMARY_KEYS, PROJECTION_TABLES
from daemon.log.store import Decoder, StoredRow, select_rows
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.model import Append, Change, Fold, Handler, Key, Projection, Put

DEFAULT_BATCH = 5_000
#: Seconds of batches per transaction: how long a catch-up may hold the write lock.
DEFAULT_COMMIT_AFTER = 1.0


#: A projection that handles an event type, its handler, and its fold for it if any.
Route = tuple[Projection, Handler, Fold | None]


@functools.cache
def _select_sql(table: str) -> str:
    where = " AND ".join(f"{column} = ?" for column in PRIMARY_KEYS[table])
    return f"SELECT * FROM {table} WHERE {where}"


@functools.cache
def _delete_sql(table: str) -> str:
    where = " AND ".join(f"{column} = ?" for column in PRIMARY_KEYS[table])
    return f"DELETE FROM {table} WHERE {where}"


@functools.lru_cache(maxsize=1024)
def _insert_sql(table: str, columns: tuple[str, ...], upsert_on: tuple[str, ...] | None) -> str:
    if upsert_on is None:
        return (f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})")
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in upsert_on)
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(upsert_on)}) DO UPDATE SET {updates}")


@dataclass
class _Run:
    """Consecutive events of one type that a projection folds at once."""

    fold: Fold
    event_type: type[Event]
    tables: tuple[str, ...]
    records: list[Recorded]


class UnitOfWork:
    """The projections' :class:`State` during one batch: reads see earlier changes in it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn  # SQLite's here; a subclass's own (the fleet's PostgreSQL)
        self._rows: dict[tuple[str, Key], Mapping[str, Any] | None] = {}
        self._dirty: dict[tuple[str, Key], Mapping[str, Any] | None] = {}
        self._appends: dict[str, list[Mapping[str, Any]]] = {}
        self._runs: dict[str, _Run] = {}  # projection name -> its deferred run
        self._run_tables: dict[str, str] = {}  # table -> projection with a deferred run

    def get(self, table: str, key: Key) -> Mapping[str, Any] | None:
        if self._run_tables:
            owner = self._run_tables.get(table)
            if owner is not None:
                self.settle(owner)  # a read sees every event before it
        slot = (table, key)
        try:
            return self._rows[slot]
        except KeyError:
            pass
        row = self._rows[slot] = self._fetch(table, key)
        return row

    def _fetch(self, table: str, key: Key) -> Mapping[str, Any] | None:
        cursor = self._conn.execute(_select_sql(table), key)
        found = cursor.fetchone()
        return None if found is None else dict(
            zip([d[0] for d in cursor.description], found, strict=True))

    def defer(self, projection: Projection, event_type: type[Event], fold: Fold,
              recorded: Recorded) -> None:
        """Add ``recorded`` to ``projection``'s run of ``event_type``, folded when settled."""
        run = self._runs.get(projection.name)
        if run is not None:
            if run.event_type is event_type:
                run.records.append(recorded)
                return
            self.settle(projection.name)
        self._runs[projection.name] = _Run(fold, event_type, projection.tables, [recorded])
        for table in projection.tables:
            self._run_tables[table] = projection.name

    def settle(self, projection_name: str) -> None:
        """Apply the projection's deferred run, if it has one."""
        run = self._runs.pop(projection_name, None)
        if run is None:
            return
        for table in run.tables:
            del self._run_tables[table]
        self.apply(run.fold(run.records, self))

    def apply(self, changes: Iterable[Change]) -> None:
        rows, dirty, appends = self._rows, self._dirty, self._appends
        for change in changes:
            if isinstance(change, Append):
                table_rows = appends.get(change.table)
                if table_rows is None:
                    table_rows = appends[change.table] = []
                table_rows.append(change.row)
            else:
                slot = (change.table, change.key)
                row = change.row if isinstance(change, Put) else None
                rows[slot] = row
                dirty[slot] = row

    def flush(self) -> None:
        for name in list(self._runs):
            self.settle(name)
        puts: dict[str, list[Mapping[str, Any]]] = {}
        deletes: dict[str, list[Key]] = {}
        for (table, key), row in self._dirty.items():
            if row is None:
                deletes.setdefault(table, []).append(key)
            else:
                puts.setdefault(table, []).append(row)
        for table in PROJECTION_TABLES:
            if table in deletes:
                self._delete(table, deletes[table])
            if table in puts:
                self._write(table, puts[table], upsert_on=PRIMARY_KEYS[table])
            if table in self._appends:
                self._write(table, self._appends[table], upsert_on=None)
        self._dirty.clear()
        self._appends.clear()

    def _delete(self, table: str, keys: Sequence[Key]) -> None:
        self._conn.executemany(_delete_sql(table), keys)

    def _write(self, table: str, rows: Sequence[Mapping[str, Any]],
               upsert_on: tuple[str, ...] | None) -> None:
        # Rows of one table can differ in shape (an autoincrement key left out), so
        # write each run of rows of one column list with one executemany, in order.
        start = 0
        while start < len(rows):
            columns = tuple(rows[start])
            end = start + 1
            while end < len(rows) and tuple(rows[end]) == columns:
                end += 1
            self._conn.executemany(_insert_sql(table, columns, upsert_on),
                                   [tuple(row.values()) for row in rows[start:end]])
            start = end


@dataclass(frozen=True)
class CatchUp:
    applied: int  # events read and projected
    position: int  # the log position every projection has now reached


class Projector:
    """Brings every projection up to the end of the log."""

    def __init__(self, db: Database, projections: Sequence[Projection] = PROJECTIONS,
                 batch_size: int = DEFAULT_BATCH,
                 commit_after: float = DEFAULT_COMMIT_AFTER) -> None:
        self._conn = db.connect()
        self._projections = tuple(projections)
        self._batch_size = batch_size
        self._commit_after = commit_after

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
        done = False
        while not done and (max_batches is None or batches < max_batches):
            failure: Exception | None = None
            # Batches bound the memory; a transaction takes batches for up to
            # ``commit_after`` seconds, since each commit of a long replay costs a WAL
            # checkpoint and its fsyncs (a tenth of a replay, at one commit per batch).
            with transaction(self._conn) as conn:
                began = time.monotonic()
                while True:
                    conn.execute("SAVEPOINT projector_batch")
                    try:
                        count, position = self._apply_batch()
                    except Exception as exc:
                        # Keep the batches before it: projections stand where they can.
                        conn.execute("ROLLBACK TO projector_batch")
                        failure = exc
                        break
                    finally:
                        conn.execute("RELEASE projector_batch")
                    applied += count
                    batches += 1
                    done = count == 0
                    if (done or batches == max_batches
                            or time.monotonic() - began >= self._commit_after):
                        break
            if failure is not None:
                raise failure
        return CatchUp(applied, position)

    def _checkpoints(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT projection, position FROM projection_checkpoints")
        known = dict(rows.fetchall())
        return {p.name: int(known.get(p.name, 0)) for p in self._projections}

    def _from_anchor(self, positions: dict[str, int]) -> dict[str, int]:
        """A log that was archived starts after its anchor: a projection that has not
        reached the anchor (a replay, a projection new to this log) starts from the
        archive base, the rows the archived events left, and reads on from the anchor. In
        the caller's transaction, with the checkpoints it moves."""
        anchor = read_anchor(self._conn)
        if anchor is None:
            return positions
        first = self._conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
        if first is not None and first <= anchor.seq:
            return positions  # the archived events are here after all: replay them instead
        behind = [p for p in self._projections if positions[p.name] < anchor.seq]
        if not behind:
            return positions
        load_base(self._conn, [table for projection in behind for table in projection.tables])
        self._advance([projection.name for projection in behind], anchor.seq)
        return {**positions, **{projection.name: anchor.seq for projection in behind}}

    def _advance(self, names: Sequence[str], position: int) -> None:
        now = format_ts(utc_now())
        self._conn.executemany(
            "INSERT INTO projection_checkpoints (projection, position, updated_at) "
            "VALUES (?, ?, ?) ON CONFLICT (projection) DO UPDATE "
            "SET position = excluded.position, updated_at = excluded.updated_at "
            "WHERE projection_checkpoints.position < excluded.position",
            [(name, position, now) for name in names])

    def _apply_batch(self) -> tuple[int, int]:
        """Project one batch and advance the checkpoints, inside the caller's transaction."""
        conn = self._conn
        # Read inside the write lock: a concurrent projector may have moved them.
        positions = self._from_anchor(self._checkpoints())
        start = min(positions.values(), default=0)
        work = UnitOfWork(conn)
        # Rows stream from the cursor: a large batch is never all in memory at once.
        with closing(select_rows(conn, start, self._batch_size)) as rows:
            count, last = project(rows, self._projections, positions, start, work)
        if count == 0:
            return 0, start
        work.flush()
        self._advance([projection.name for projection in self._projections], last)
        return count, last

def routes(projections: Sequence[Projection], event_type: type[Event]) -> tuple[Route, ...]:
    """The projections that handle ``event_type``, in order, each with its handler and
    fold (``None`` when it has none)."""
    found: list[Route] = []
    for projection in projections:
        if type(projection).apply is not Projection.apply:
            # It dispatches itself.
            found.append((projection, projection.apply, None))
        else:
            handler = projection.handlers.get(event_type)
            if handler is not None:
                found.append((projection, handler, projection.folds.get(event_type)))
    return tuple(found)


def project(rows: Iterable[StoredRow], projections: Sequence[Projection],
            positions: Mapping[str, int], start: int, work: UnitOfWork) -> tuple[int, int]:
    """Project ``rows`` into ``work``; return how many were read and the last position.
    ``positions`` is where each projection stands, ``start`` the lowest of them."""
    apply = work.apply
    decode = Decoder()
    # Usually every projection stands at ``start``; then each row is new to all.
    lagging = any(position != start for position in positions.values())
    dispatch: dict[type[Event], tuple[Route, ...]] = {}
    count, last = 0, start
    for row in rows:
        count += 1
        last = row[0]
        try:
            recorded = decode(row)
        except UnknownEventType:
            # Types written by another tool stay in the log, unprojected.
            if decode.knows(row[3]):
                raise  # a known type we cannot read: projecting on would be wrong
            continue
        event_type = type(recorded.event)
        handlers = dispatch.get(event_type)
        if handlers is None:
            handlers = dispatch[event_type] = routes(projections, event_type)
        if lagging:
            for projection, handler, _ in handlers:
                if positions[projection.name] < last:
                    apply(handler(recorded, work))
        else:
            for projection, handler, fold in handlers:
                if fold is not None:
                    work.defer(projection, event_type, fold, recorded)
                else:
                    work.settle(projection.name)  # its run came first
                    apply(handler(recorded, work))
    return count, last


def catch_up(db: Database) -> CatchUp:
    """Bring the projections up to date; what every read does first."""
    with Projector(db) as projector:
        return projector.catch_up()

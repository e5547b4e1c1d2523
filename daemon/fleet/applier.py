"""The central projections: the same pure projection functions the local log uses, applied
per machine to PostgreSQL.

Each batch runs in one transaction that locks the machine's tracking row, reads the events
after its position, writes the rows they produce and moves the position, forward only
(eventsourcing's tracking records). Two appliers racing for one machine take turns; a
crash leaves the batch wholly applied or not at all, so every event is applied exactly once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.fleet.central_schema import Table, table
from daemon.log.schema import PRIMARY_KEYS
from daemon.log.store import StoredRow
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.model import Key
from daemon.projections.projector import UnitOfWork, project

DEFAULT_BATCH = 5_000
_EVENT_COLUMNS = "seq, event_id, session_id, type, version, ts, payload::text, prev_hash, hash"


def _bool(value: Any) -> Any:
    return value if value is None else bool(value)


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _real(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


def _integer(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


# SQLite converts a value to its column's affinity; PostgreSQL refuses a mismatch. These
# give PostgreSQL what SQLite would have stored.
_AFFINITY = {"BOOLEAN": _bool, "TEXT": _text, "TIMESTAMP": _text, "REAL": _real,
             "INTEGER": _integer}


@functools.cache
def _where(name: str) -> str:
    return " AND ".join(["machine = %s", *(f"{c} = %s" for c in PRIMARY_KEYS[name])])


@functools.cache
def _upsert_sql(name: str, columns: tuple[str, ...]) -> str:
    key = ("machine", *PRIMARY_KEYS[name])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return (f"INSERT INTO {name} (machine, {', '.join(columns)}) "
            f"VALUES (%s, {', '.join('%s' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) {action}")


class CentralUnitOfWork(UnitOfWork):
    """The projector's unit of work over one machine's rows in PostgreSQL."""

    def __init__(self, cursor: Any, machine: str) -> None:
        super().__init__(cursor)
        self._machine = machine
        self._next_serial: dict[str, int] = {}

    def _fetch(self, name: str, key: Key) -> Mapping[str, Any] | None:
        spec = table(name)
        cursor = self._conn
        cursor.execute(f"SELECT {', '.join(spec.column_names)} FROM {name} "
                       f"WHERE {_where(name)}", (self._machine, *key))
        found = cursor.fetchone()
        return None if found is None else dict(zip(spec.column_names, found, strict=True))

    def _delete(self, name: str, keys: Sequence[Key]) -> None:
        self._conn.executemany(f"DELETE FROM {name} WHERE {_where(name)}",
                               [(self._machine, *key) for key in keys])

    def _serial(self, spec: Table) -> int:
        """The next number of ``spec``'s autoincrement key for this machine: each machine's
        rows are numbered as its own log numbers them, so they compare equal."""
        assert spec.serial is not None
        current = self._next_serial.get(spec.name)
        if current is None:
            self._conn.execute(f"SELECT COALESCE(MAX({spec.serial}), 0) FROM {spec.name} "
                               f"WHERE machine = %s", (self._machine,))
            current = int(self._conn.fetchone()[0])
        self._next_serial[spec.name] = current + 1
        return current + 1

    def _write(self, name: str, rows: Sequence[Mapping[str, Any]],
               upsert_on: tuple[str, ...] | None) -> None:
        spec = table(name)
        kinds = spec.kinds()
        grouped: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            if spec.serial is not None and row.get(spec.serial) is None:
                serial = spec.serial
                row = {serial: self._serial(spec),
                       **{column: value for column, value in row.items() if column != serial}}
            columns = tuple(row)
            values = tuple(_AFFINITY[kinds[c]](v) for c, v in row.items())
            grouped.setdefault(columns, []).append((self._machine, *values))
        for columns, params in grouped.items():
            self._conn.executemany(_upsert_sql(name, columns), params)


def central_position(cursor: Any, machine: str) -> int:
    cursor.execute("SELECT position FROM projection_positions WHERE machine = %s", (machine,))
    row = cursor.fetchone()
    return 0 if row is None else int(row[0])


def apply_machine(conn: Any, machine: str, *, batch: int = DEFAULT_BATCH,
                  deadline: float | None = None) -> int:
    """Bring ``machine``'s central projections up to its central log; how many events were
    applied. ``conn`` is in autocommit mode: each batch is its own transaction."""
    applied = 0
    cursor = conn.cursor()
    names = [projection.name for projection in PROJECTIONS]
    while True:
        with conn.transaction():
            cursor.execute("INSERT INTO projection_positions (machine) VALUES (%s) "
                           "ON CONFLICT (machine) DO NOTHING", (machine,))
            cursor.execute("SELECT position FROM projection_positions WHERE machine = %s "
                           "FOR UPDATE", (machine,))
            position = int(cursor.fetchone()[0])
            cursor.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE machine = %s "
                           f"AND seq > %s ORDER BY seq LIMIT %s", (machine, position, batch))
            rows: list[StoredRow] = cursor.fetchall()
            if not rows:
                return applied
            work = CentralUnitOfWork(conn.cursor(), machine)
            count, last = project(rows, PROJECTIONS, dict.fromkeys(names, position), position,
                                  work)
            work.flush()
            cursor.execute("UPDATE projection_positions SET position = %s, updated_at = now() "
                           "WHERE machine = %s AND position < %s", (last, machine, last))
        applied += count
        if deadline is not None and time.monotonic() >= deadline:
            return applied


def apply_all(conn: Any, *, deadline: float | None = None) -> dict[str, int]:
    """Every machine's projections up to its log (what ``realworld ship`` does for its own)."""
    cursor = conn.execute("SELECT DISTINCT machine FROM machines ORDER BY machine")
    machines = [str(row[0]) for row in cursor.fetchall()]
    return {machine: apply_machine(conn, machine, deadline=deadline) for machine in machines}

"""The central rows of chosen sessions copied into a scratch SQLite log of the local shape,
so ``report``, ``compare`` and ``findings`` read the fleet with the code that reads a local
log: one read side, two sources.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.fleet.central_schema import projection_tables
from daemon.fleet.errors import FleetUsageError
from daemon.log.database import Database, transaction

LATEST = "latest"


@dataclass(frozen=True)
class SessionRef:
    machine: str
    session_id: str


def resolve(conn: Any, ref: str, machine: str | None = None) -> SessionRef:
    """``ref`` is ``latest``, a session id, or ``MACHINE:SESSION``; a session id that two
    machines share needs its machine."""
    if machine is None and ":" in ref:
        machine, ref = ref.split(":", 1)
    where, params = ("", []) if machine is None else (" AND machine = %s", [machine])
    if ref.strip() == LATEST:
        row = conn.execute("SELECT machine, session_id FROM test_sessions WHERE true" + where
                           + " ORDER BY start_time DESC, session_id DESC LIMIT 1",
                           params).fetchone()
        if row is None:
            raise FleetUsageError("no sessions in the fleet yet"
                                  + (f" from machine {machine!r}" if machine else ""))
        return SessionRef(str(row[0]), str(row[1]))
    found = conn.execute("SELECT machine FROM test_sessions WHERE session_id = %s" + where
                         + " ORDER BY machine", [ref, *params]).fetchall()
    if not found:
        raise FleetUsageError(f"no session {ref!r} in the fleet"
                              + (f" from machine {machine!r}" if machine else ""))
    if len(found) > 1:
        names = ", ".join(str(r[0]) for r in found)
        raise FleetUsageError(f"session {ref!r} exists on several machines ({names}): write "
                              f"it as MACHINE:{ref}")
    return SessionRef(str(found[0][0]), ref)


def _copy(conn: Any, target: Any, name: str, columns: Sequence[str], where: str,
          params: Sequence[Any]) -> None:
    cursor = conn.cursor()
    cursor.execute(f"SELECT {', '.join(columns)} FROM {name} WHERE {where}", params)
    placeholders = ", ".join("?" for _ in columns)
    while rows := cursor.fetchmany(5_000):
        target.executemany(f"INSERT OR IGNORE INTO {name} ({', '.join(columns)}) "
                           f"VALUES ({placeholders})", rows)


@contextmanager
def replica(conn: Any, refs: Sequence[SessionRef]) -> Iterator[Database]:
    """A scratch log holding the central rows of ``refs``' sessions and of their workspaces
    (findings, files, quarantined files), for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="realworld-fleet-") as directory:
        db = Database.open(Path(directory) / "fleet.db", create=True)
        target = db.connect()
        try:
            with transaction(target):
                for ref in refs:
                    row = conn.execute("SELECT project_path FROM test_sessions WHERE machine = %s "
                                       "AND session_id = %s",
                                       (ref.machine, ref.session_id)).fetchone()
                    workspace = None if row is None else row[0]
                    for spec in projection_tables():
                        names = spec.column_names
                        if "workspace" in names and workspace is not None:
                            _copy(conn, target, spec.name, names, "machine = %s AND workspace = %s",
                                  (ref.machine, workspace))
                        elif "session_id" in names:
                            _copy(conn, target, spec.name, names,
                                  "machine = %s AND session_id = %s",
                                  (ref.machine, ref.session_id))
        finally:
            target.close()
        yield db

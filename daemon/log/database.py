"""Opening the SQLite file: ownership, schema version, pragmas, read-only access.

This is the one place that decides whether a file is ours, creates the
layout, and brings an older layout forward (by dropping the projections and
replaying the log, never by touching an event).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from analyzers.common.private_files import ensure_private_file
from daemon.log.schema import (
    APPLICATION_ID,
    CHECKPOINTS_DDL,
    EVENTS_DDL,
    PROJECTION_DDL,
    PROJECTION_TABLES,
    SCHEMA_VERSION,
    VIEW_NAMES,
    VIEWS_DDL,
)

log = structlog.get_logger("realworld.log")

Durability = Literal["normal", "full"]
BUSY_TIMEOUT_MS = 30_000


class DatabaseError(Exception):
    """A database we cannot use; the message is one line meant for a person."""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front, roll back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite has rolled back by itself after some errors (a full disk, an I/O error):
        # a ROLLBACK then would fail and hide the error that matters.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _is_empty(conn: sqlite3.Connection) -> bool:
    return int(conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]) == 0


def _check_ours(conn: sqlite3.Connection, path: Path) -> int:
    """Return the stored schema version, or raise if the file is not a realworld database."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        empty = _is_empty(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path} is not a SQLite database ({exc})") from exc
    if app_id != APPLICATION_ID:
        if empty and app_id == 0:
            return 0
        raise DatabaseError(f"{path} is a SQLite database but not a realworld one")
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"{path} has schema version {version}, newer than this realworld knows "
            f"({SCHEMA_VERSION}); upgrade realworld to read it"
        )
    return int(version)


def create_projections(conn: sqlite3.Connection) -> None:
    for ddl in PROJECTION_DDL.values():
        for statement in _statements(ddl):
            conn.execute(statement)
    for statement in _statements(VIEWS_DDL):
        conn.execute(statement)


def drop_projections(conn: sqlite3.Connection) -> None:
    for view in VIEW_NAMES:
        conn.execute(f"DROP VIEW IF EXISTS {view}")
    for table in PROJECTION_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute("DELETE FROM projection_checkpoints")


def replace_projections(conn: sqlite3.Connection, source: str) -> None:
    """Inside the caller's transaction: every projection table and checkpoint becomes
    what the attached database ``source`` (a scratch replay) holds."""
    drop_projections(conn)
    create_projections(conn)
    for table in PROJECTION_TABLES:
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM {source}.{table}")
    conn.execute(f"INSERT INTO main.projection_checkpoints "
                 f"SELECT * FROM {source}.projection_checkpoints")


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _initialise(conn: sqlite3.Connection) -> None:
    """Create the layout, or bring an older one forward by dropping and replaying projections."""
    with transaction(conn):
        # Re-read inside the write lock: another process may have just done this.
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        for statement in _statements(EVENTS_DDL) + _statements(CHECKPOINTS_DDL):
            conn.execute(statement)
        # Unconditionally: an older layout may be any version, 0 included, and on a new
        # file there is nothing to drop.
        drop_projections(conn)
        create_projections(conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create_private(path: Path) -> None:
    """The log file made 0600 before SQLite opens it: SQLite would create it with the
    umask's mode (0644 as a rule), and its ``-wal`` and ``-shm`` take the file's mode."""
    try:
        ensure_private_file(path)
    except OSError as exc:
        raise DatabaseError(f"cannot create {path}: {exc.strerror or exc}") from None


_warned: set[Path] = set()


def _warn_if_shared(path: Path) -> None:
    """Once per process and file: a log others may read (made before logs were private,
    or by hand) says how to make it private; it is the user's file, so we only ask."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077 and path not in _warned:
        _warned.add(path)
        log.warning("log_not_private", path=os.fspath(path), mode=f"{mode:04o}",
                    fix=f"chmod 600 {shlex.quote(os.fspath(path))}")


@dataclass(frozen=True)
class Database:
    """Where the event log lives and how to open it; each user gets its own connection."""

    path: Path
    durability: Durability = "normal"

    @classmethod
    def open(cls, path: str | Path, *, durability: Durability = "normal",
             create: bool = False) -> Database:
        """Check the file (creating it when ``create``) and return a handle to it."""
        db = cls(Path(path), durability)
        if not db.path.exists():
            if not create:
                raise DatabaseError(f"no database at {db.path}")
            if not db.path.parent.is_dir():
                raise DatabaseError(f"cannot create {db.path}: {db.path.parent} is not a directory")
            _create_private(db.path)
        elif db.path.is_dir():
            raise DatabaseError(f"{db.path} is a directory, not a database file")
        else:
            _warn_if_shared(db.path)
        conn = db._raw_connect()
        try:
            stored = _check_ours(conn, db.path)
            if stored < SCHEMA_VERSION:
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    _initialise(conn)
                except sqlite3.OperationalError as exc:
                    raise DatabaseError(f"cannot write {db.path}: {exc}") from exc
        finally:
            conn.close()
        return db

    def _raw_connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open {self.path}: {exc}") from exc
        return conn

    def connect(self) -> sqlite3.Connection:
        """A writable connection in autocommit mode; callers open their own transactions."""
        conn = self._raw_connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot use {self.path}: {exc}") from exc
        return conn

    def connect_readonly(self) -> sqlite3.Connection:
        """A connection that cannot write, twice over: a read-only URI and ``query_only``."""
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open {self.path} for reading: {exc}") from exc
        return conn

    def is_writable(self) -> bool:
        return os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)

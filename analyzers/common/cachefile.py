"""A rebuildable SQLite cache file beside the log: ours by its application id, versioned.

The code index and the result cache are caches: a corrupt file, or one an older or
newer ``realworld`` wrote, is rebuilt rather than reported. What a cache must never do
is overwrite a file that is not one of ours, so a file is taken only when it is absent,
empty, or a SQLite database carrying the cache's ``PRAGMA application_id``.

A cache file is created 0600 in directories made 0700 (its ``-wal`` and ``-shm`` follow
the file's mode). A file of another version is deleted with its WAL and made again
rather than emptied in place: dropped tables leave their pages (and an old code index
held file contents with secrets in clear) in the file's free list and in the WAL.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import structlog

from analyzers.common.private_files import ensure_private_file, make_private_dirs

log = structlog.get_logger("realworld.cachefile")

SQLITE_MAGIC = b"SQLite format 3\x00"


class NotOurs(Exception):
    """The path holds something that is not this kind of cache; it is never overwritten."""


@dataclass(frozen=True)
class CacheLayout:
    """What a cache file holds and how it is prepared.

    ``schema`` creates the tables, a ``meta (key, value)`` table among them; a file whose
    ``schema_version`` in ``meta`` is not ``version`` is deleted and made again. ``verify``
    (optional) is a query that reads every
    page of an existing file, so a torn file fails when it is opened (and is rebuilt)
    rather than at some later write.
    """

    what: str  # "code index", "result cache": for messages
    application_id: int
    version: int
    schema: Sequence[str]
    busy_timeout_ms: int = 10_000
    pragmas: Sequence[str] = ()
    verify: str | None = None


_opening = threading.Lock()


def connect_writer(path: Path, layout: CacheLayout,
                   not_ours: Callable[[str], Exception] = NotOurs) -> sqlite3.Connection:
    """A connection to the cache at ``path``, created, upgraded or rebuilt as needed.

    Raises ``not_ours(message)`` for a file that is not ours, and ``sqlite3.OperationalError``
    when the file may well be fine but cannot be written now (locked, read-only, disk full).
    """
    make_private_dirs(path.parent)
    # The analyzers of a session open their caches at once (the security scanner and the
    # pattern probe share the result cache): one found the other's file half made, a
    # SQLite file that was not yet ours, or locked while it turned to WAL. One at a time.
    with _opening:
        if not is_ours_or_absent(path, layout.application_id):
            raise not_ours(
                f"{path} exists and is not a realworld {layout.what}; not touching it")
        try:
            return _prepare(path, layout)
        except sqlite3.OperationalError:
            raise  # locked, read-only, out of disk: the file may be fine, so leave it be
        except _OtherVersion as exc:
            log.warning("cache_rebuilt", cache=layout.what, path=os.fspath(path),
                        reason="another_version", found=exc.found, expected=layout.version)
        except sqlite3.DatabaseError as exc:
            # Ours by its header but corrupt (torn, truncated, malformed): it is a cache.
            log.warning("cache_rebuilt", cache=layout.what, path=os.fspath(path),
                        reason="corrupt", error=str(exc))
        delete(path)
        return _prepare(path, layout)


class _OtherVersion(Exception):
    """The file is a cache of ours that another version wrote: to be deleted and made anew."""

    def __init__(self, found: int | None) -> None:
        super().__init__(found)
        self.found = found


def _prepare(path: Path, layout: CacheLayout) -> sqlite3.Connection:
    ensure_private_file(path)
    # check_same_thread=False: the runner calls an analyzer from a new thread each time,
    # never two at once, so the connection is never shared concurrently.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {layout.busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        # A cache: losing the last commits to a power cut costs some work again, no more.
        conn.execute("PRAGMA synchronous = NORMAL")
        for pragma in layout.pragmas:
            conn.execute(pragma)
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = schema_version(conn)
            if found != layout.version:
                if found is not None or has_tables(conn):
                    raise _OtherVersion(found)
                for statement in layout.schema:
                    conn.execute(statement)
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                             (str(layout.version),))
                conn.execute(f"PRAGMA application_id = {layout.application_id}")
            elif layout.verify is not None:
                conn.execute(layout.verify).fetchall()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn


def statements(script: str) -> tuple[str, ...]:
    """A SQL script as single statements: ``executescript`` would COMMIT the transaction
    the schema is made in. SQLite says where a statement ends (a ';' in a comment is not
    an end)."""
    found: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending)
            pending = ""
    return tuple(found)


def schema_version(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
                    ).fetchone() is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return None if row is None else int(row[0])
    except ValueError:
        return None


def has_tables(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def is_ours_or_absent(path: Path, application_id: int) -> bool:
    """Whether a writer may take (and, if corrupt, replace) the file at ``path``.

    Absent or empty: yes. Not SQLite: never. SQLite: when its application id is ours,
    or it is an empty database (a crash between the connect and the schema). The id is
    asked of SQLite, since in WAL mode a fresh header may still sit in the WAL; only a
    file SQLite cannot read is judged by the id in the header on disk.
    """
    header = _header(path)
    if header is None or not header:
        return True
    if not header.startswith(SQLITE_MAGIC) or len(header) < 72:
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=ro", uri=True)
        try:
            found = int(conn.execute("PRAGMA application_id").fetchone()[0])
            if found == application_id:
                return True
            return found == 0 and not has_tables(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return _header_id(header) == application_id


def is_ours(path: Path, application_id: int) -> bool:
    """The file on disk carries ``application_id`` in its header (no SQLite involved)."""
    try:
        header = _header(path)
    except OSError:
        return False
    return header is not None and len(header) >= 72 and _header_id(header) == application_id


def delete(path: Path) -> None:
    """The cache file and its WAL, shared-memory and journal files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _header(path: Path) -> bytes | None:
    """The first 100 bytes (SQLite's header), ``None`` when there is no file; other
    errors (permissions) propagate: they are not for a cache to decide."""
    try:
        with open(path, "rb") as stream:
            return stream.read(100)
    except FileNotFoundError:
        return None


def _header_id(header: bytes) -> int:
    return int.from_bytes(header[68:72], "big")

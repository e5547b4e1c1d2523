"""The analyzers' per-file results on disk, so a restarted daemon resumes where it stopped.

The security scanner and the pattern probe remember, per file, the digest of the
bytes they last looked at and what they found there. Kept in memory only, that
memory dies with the process: a restart (or a ``kill -9`` in the middle of the
first pass over a big workspace) scans everything again, and a finding whose file
was fixed or deleted while the daemon was down is never resolved, since the new
process does not know it was reported. This module keeps that memory in one
SQLite file beside the code index (:func:`~analyzers.common.locations.choose_cache_path`).

It is a cache, never a source of truth: a missing, corrupt, foreign-version file
is rebuilt with a warning, a locked or unwritable one is done without for a
while, and no operation here ever raises into an analyzer's call. Results are
keyed by workspace (its resolved root) and analyzer, and tagged with a
``variant``: whatever the results depend on besides the bytes (the scanner's salt
id, since another salt makes other fingerprints). Loading with another variant
discards that analyzer's rows.

Writes are buffered and written in one short transaction at each checkpoint
(every ``commit_every`` rows or ``commit_seconds``, and at :meth:`commit`): two
analyzers sharing the file never hold its write lock for longer than a flush,
and a killed process loses at most one checkpoint's worth of work.

Payloads are JSON objects the analyzers build from values that are already safe
for the log (masked previews, salted fingerprints): nothing here may hold a
secret's value, since the file sits in a cache directory for anyone with the
user's rights to read.

Tables (for people who look with plain SQL): ``meta(key, value)``;
``scopes(id, workspace, analyzer, variant)``; ``results(scope_id, path, digest,
payload)``, ``payload`` a JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from analyzers.common.cachefile import CacheLayout, NotOurs, connect_writer, delete, is_ours
from analyzers.common.locations import choose_cache_path
from analyzers.common.sqlpaths import path_from_sql, path_to_sql

log = structlog.get_logger("realworld.result_cache")

CACHE_NAME = "results"
SCHEMA_VERSION = 1
#: ``PRAGMA application_id``: how a file is known to be ours before it is replaced.
APPLICATION_ID = 0x52575243  # "RWRC"
COMMIT_EVERY_ROWS = 200
COMMIT_EVERY_SECONDS = 1.0
#: Short: an analyzer waiting on another's flush should wait a flush, not a call.
BUSY_TIMEOUT_MS = 2_000
#: After a failure (locked, read-only, disk full), how long to go without the cache.
RETRY_AFTER_S = 30.0

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE scopes (id INTEGER PRIMARY KEY, workspace NOT NULL, analyzer TEXT NOT NULL, "
    "variant TEXT NOT NULL, UNIQUE (workspace, analyzer))",
    "CREATE TABLE results (scope_id INTEGER NOT NULL REFERENCES scopes(id), path NOT NULL, "
    "digest TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (scope_id, path)) WITHOUT ROWID",
)
_LAYOUT = CacheLayout(
    what="result cache", application_id=APPLICATION_ID, version=SCHEMA_VERSION,
    schema=_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS,
    verify="SELECT count(*), sum(length(payload)) FROM results")


@dataclass(frozen=True)
class Entry:
    """What an analyzer stored for one file: the digest of the bytes, and its payload."""

    digest: str
    payload: Mapping[str, Any]


class ResultCache:
    """One analyzer's per-file results for one workspace; every method is best effort."""

    def __init__(self, path: Path, workspace: str, analyzer: str, variant: str = "", *,
                 commit_every: int = COMMIT_EVERY_ROWS,
                 commit_seconds: float = COMMIT_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._workspace = path_to_sql(os.path.realpath(workspace))
        self._analyzer = analyzer
        self._variant = variant
        self._commit_every = max(1, commit_every)
        self._commit_seconds = commit_seconds
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._scope: int | None = None
        self._retry_at = 0.0
        self._pending: dict[str, tuple[str, str] | None] = {}  # path -> (digest, json) or delete
        self._last_commit = clock()

    @classmethod
    def for_workspace(cls, root: str | os.PathLike[str], analyzer: str, variant: str = "", *,
                      explicit: str | os.PathLike[str] | None = None,
                      log_path: str | os.PathLike[str] | None = None,
                      env: Mapping[str, str] | None = None,
                      commit_every: int = COMMIT_EVERY_ROWS,
                      commit_seconds: float = COMMIT_EVERY_SECONDS) -> ResultCache:
        """The cache of ``root`` where the location rules put it (beside the code index)."""
        path = choose_cache_path(root, CACHE_NAME, explicit=explicit, log_path=log_path, env=env)
        return cls(path, os.fspath(root), analyzer, variant, commit_every=commit_every,
                   commit_seconds=commit_seconds)

    @property
    def available(self) -> bool:
        """Whether the file is open (for result data: a cache done without is worth saying)."""
        return self._conn is not None

    # --- the API ------------------------------------------------------------------

    def load(self) -> dict[str, Entry]:
        """Every stored result of this workspace and analyzer; empty when there are none, when
        they were made with another variant (they are dropped), or when the file is unusable."""
        conn = self._connection()
        if conn is None:
            return {}
        try:
            return dict(self._load(conn))
        except sqlite3.Error as exc:
            self._failed("read", exc)
            return {}

    def put(self, path: str, digest: str, payload: Mapping[str, Any]) -> None:
        """Remember ``path``'s result; written at the next checkpoint."""
        try:
            text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"),
                              allow_nan=False)
        except (TypeError, ValueError) as exc:  # an analyzer bug: lose the row, not the call
            log.warning("result_cache_row_not_stored", analyzer=self._analyzer, error=str(exc))
            return
        self._pending[path] = (digest, text)
        self._maybe_commit()

    def delete(self, path: str) -> None:
        self._pending[path] = None
        self._maybe_commit()

    def commit(self) -> None:
        """Write what is buffered (the checkpoint)."""
        self._last_commit = self._clock()
        if not self._pending:
            return
        conn = self._connection()
        if conn is None:
            # Done without for now: an unbounded buffer would be a leak, so drop it.
            self._pending.clear()
            return
        pending, self._pending = self._pending, {}
        try:
            assert self._scope is not None
            scope = self._scope
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO results (scope_id, path, digest, payload) "
                    "VALUES (?, ?, ?, ?)",
                    [(scope, path_to_sql(p), *row) for p, row in pending.items()
                     if row is not None])
                conn.executemany("DELETE FROM results WHERE scope_id = ? AND path = ?",
                                 [(scope, path_to_sql(p)) for p, row in pending.items()
                                  if row is None])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed("write", exc)

    def close(self) -> None:
        self.commit()
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    # --- internals ----------------------------------------------------------------

    def _maybe_commit(self) -> None:
        if (len(self._pending) >= self._commit_every
                or self._clock() - self._last_commit >= self._commit_seconds):
            self.commit()

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self._clock() < self._retry_at:
            return None
        try:
            self._conn = _open(self.path)
            self._scope = self._bind(self._conn)
        except (OSError, sqlite3.Error, NotOurs) as exc:
            self._failed("open", exc)
            return None
        return self._conn

    def _bind(self, conn: sqlite3.Connection) -> int:
        """This workspace and analyzer's scope id, its rows dropped if made with another
        variant."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT id, variant FROM scopes WHERE workspace = ? AND "
                               "analyzer = ?", (self._workspace, self._analyzer)).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO scopes (workspace, analyzer, variant) VALUES (?, ?, ?)",
                    (self._workspace, self._analyzer, self._variant))
                assert cursor.lastrowid is not None
                scope = int(cursor.lastrowid)
            else:
                scope = int(row[0])
                if row[1] != self._variant:
                    conn.execute("DELETE FROM results WHERE scope_id = ?", (scope,))
                    conn.execute("UPDATE scopes SET variant = ? WHERE id = ?",
                                 (self._variant, scope))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return scope

    def _load(self, conn: sqlite3.Connection) -> Iterator[tuple[str, Entry]]:
        for path, digest, payload in conn.execute(
                "SELECT path, digest, payload FROM results WHERE scope_id = ?", (self._scope,)):
            try:
                value = json.loads(payload)
            except ValueError:
                continue  # one bad row costs its file a rescan
            if isinstance(value, dict) and isinstance(digest, str):
                yield path_from_sql(path), Entry(digest, value)

    def _failed(self, what: str, exc: BaseException) -> None:
        log.warning("result_cache_unavailable", path=os.fspath(self.path), operation=what,
                    error=f"{type(exc).__name__}: {exc}", retry_in_s=RETRY_AFTER_S)
        self._pending.clear()
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._retry_at = self._clock() + RETRY_AFTER_S
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.OperationalError) and is_ours(self.path, APPLICATION_ID):
            delete(self.path)  # corrupt: the next open starts afresh
            self._retry_at = 0.0


# --- the file -----------------------------------------------------------------------


def _open(path: Path) -> sqlite3.Connection:
    return connect_writer(path, _LAYOUT)

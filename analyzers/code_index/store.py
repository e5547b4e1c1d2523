"""The code index: one SQLite file of file contents by line (FTS5 trigram) and Python symbols.

A rebuildable cache, never the event log: nothing here is a fact anyone relies on
later, so a version change or a corrupt file is answered by starting over. The
file can hold several workspaces (one log, several watched projects); paths are
relative to their workspace.

Tables (documented for people who query the file with plain SQL):

* ``workspaces(id, root)``: the resolved root of each indexed workspace.
* ``files(id, workspace_id, path, content_hash, size, mtime_ns, indexed_at, encoding,
  lines, parse_error)``: one row per indexed text file. ``content_hash`` (SHA-256)
  is what makes indexing incremental; ``parse_error`` says why a Python file has
  no symbols.
* ``symbols(id, file_id, name, qualname, kind, line, col, depth)``: Python definitions.
* ``lines``: FTS5, ``tokenize='trigram'``, one row per non-blank line, its rowid
  ``file_id << 32 | line`` so a hit carries its file and line without a join and a
  file's lines are one rowid range. Lines are stored cut at :data:`MAX_LINE_CHARS`,
  which bounds any scan of them (a minified bundle cannot make a regex crawl).
* ``symbol_locations``: a view joining symbols to their file paths.

``detail='none'`` keeps the FTS index small and fast to build (measured on the
standard library: about 40 % less time and space than ``detail='full'``). It cannot
answer phrase queries, so a substring is looked up as the AND of its trigrams,
which every containing line satisfies, and each candidate is confirmed in Python.

One writer: the indexer holds the only writing connection; searches open their
own read-only connections and, in WAL mode, never wait for it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from analyzers.common.cachefile import CacheLayout, connect_writer, schema_version, statements
from analyzers.common.sqlpaths import path_from_sql, path_to_sql

#: 2: lines are stored with their secrets masked. A file of version 1 may hold secrets in
#: clear, so it is deleted and rebuilt, never upgraded in place.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id``, in the file header: how we know a file is ours before
#: daring to replace it.
APPLICATION_ID = 0x52574349  # "RWCI"
MAX_LINE_CHARS = 2_000
LINE_BITS = 32
MAX_LINES = (1 << LINE_BITS) - 1
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE workspaces (
    id   INTEGER PRIMARY KEY,
    root NOT NULL UNIQUE            -- TEXT, or BLOB of the raw bytes of a non-UTF-8 path
);
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    path         NOT NULL,          -- relative, '/'-separated; BLOB when not UTF-8
    content_hash TEXT NOT NULL,     -- SHA-256 hex of the bytes indexed
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    indexed_at   TEXT NOT NULL,     -- ISO 8601, UTC
    encoding     TEXT NOT NULL,     -- what the text was decoded with
    lines        INTEGER NOT NULL,
    parse_error  TEXT,              -- why a Python file yielded no symbols
    UNIQUE (workspace_id, path)
);
CREATE TABLE symbols (
    id       INTEGER PRIMARY KEY,
    file_id  INTEGER NOT NULL REFERENCES files(id),
    name     TEXT NOT NULL COLLATE NOCASE,
    qualname TEXT NOT NULL,
    kind     TEXT NOT NULL,
    line     INTEGER NOT NULL,
    col      INTEGER NOT NULL,      -- 1-based, characters, where the name starts
    depth    INTEGER NOT NULL       -- 0 at module level
);
CREATE INDEX symbols_by_name ON symbols(name);
CREATE INDEX symbols_by_file ON symbols(file_id);
CREATE VIRTUAL TABLE lines USING fts5(text, tokenize='trigram', detail='none', columnsize=0);
CREATE VIEW symbol_locations AS
    SELECT w.root AS workspace, f.path, s.line, s.col, s.kind, s.name, s.qualname
    FROM symbols AS s JOIN files AS f ON f.id = s.file_id
    JOIN workspaces AS w ON w.id = f.workspace_id;
"""
_LAYOUT = CacheLayout(
    what="code index", application_id=APPLICATION_ID, version=SCHEMA_VERSION,
    schema=statements(_SCHEMA), busy_timeout_ms=BUSY_TIMEOUT_MS,
    # FTS5 inserts touch many pages; a 16 MiB cache (default 2) keeps a 200-file commit
    # from spilling pages into the WAL before it ends.
    pragmas=("PRAGMA cache_size = -16384",))


class IndexError_(Exception):
    """Base of the index's own errors (the trailing underscore: ``IndexError`` is a builtin)."""


class IndexUnavailable(IndexError_):
    """No usable index at that path (missing, not ours, built by another version)."""


class NotAnIndex(IndexError_):
    """The path holds something that is not a code index; it is never overwritten."""


@dataclass(frozen=True)
class KnownFile:
    id: int
    path: str
    content_hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SymbolRecord:
    name: str
    qualname: str
    kind: str
    line: int
    col: int
    depth: int


@dataclass(frozen=True)
class FileRecord:
    """Everything the index keeps of one file, ready to be written."""

    path: str
    content_hash: str
    size: int
    mtime_ns: int
    encoding: str
    lines: Sequence[str]
    symbols: Sequence[SymbolRecord] = ()
    parse_error: str | None = None


@dataclass(frozen=True)
class SymbolRow:
    """A symbol as searches see it: with its file."""

    name: str
    qualname: str
    kind: str
    line: int
    col: int
    depth: int
    file_id: int
    path: str
    workspace_id: int


@dataclass(frozen=True)
class FileInfo:
    path: str
    workspace_id: int


def line_rowid(file_id: int, line: int) -> int:
    return (file_id << LINE_BITS) | line


def split_rowid(rowid: int) -> tuple[int, int]:
    return rowid >> LINE_BITS, rowid & MAX_LINES


class IndexStore:
    """A connection to one index file, with the few operations indexing and search need."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly
        self._files: dict[int, FileInfo] = {}

    # --- opening ----------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> IndexStore:
        path = Path(path)
        if readonly:
            return cls(path, _connect_readonly(path), True)
        return cls(path, _connect_writer(path), False)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; a snapshot for readers (``BEGIN``)."""
        self.conn.execute("BEGIN" if self.readonly else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- workspaces and files ---------------------------------------------------

    def workspace_id(self, root: str, *, create: bool = False) -> int | None:
        key = path_to_sql(root)
        row = self.conn.execute("SELECT id FROM workspaces WHERE root = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        cursor = self.conn.execute("INSERT INTO workspaces (root) VALUES (?)", (key,))
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def workspaces(self) -> dict[int, str]:
        return {int(i): path_from_sql(r) for i, r in
                self.conn.execute("SELECT id, root FROM workspaces ORDER BY id")}

    def known_files(self, workspace_id: int) -> dict[str, KnownFile]:
        rows = self.conn.execute(
            "SELECT id, path, content_hash, size, mtime_ns FROM files WHERE workspace_id = ?",
            (workspace_id,))
        known = (KnownFile(int(i), path_from_sql(p), h, int(s), int(m)) for i, p, h, s, m in rows)
        return {k.path: k for k in known}

    def known_file(self, workspace_id: int, path: str) -> KnownFile | None:
        row = self.conn.execute(
            "SELECT id, path, content_hash, size, mtime_ns FROM files "
            "WHERE workspace_id = ? AND path = ?", (workspace_id, path_to_sql(path))).fetchone()
        if row is None:
            return None
        return KnownFile(int(row[0]), path_from_sql(row[1]), row[2], int(row[3]), int(row[4]))

    def write_file(self, workspace_id: int, record: FileRecord, indexed_at: str) -> int:
        """Replace whatever the index held for this path; the file's id (kept across edits,
        so hits keep their order)."""
        key = path_to_sql(record.path)
        row = self.conn.execute("SELECT id FROM files WHERE workspace_id = ? AND path = ?",
                                (workspace_id, key)).fetchone()
        values = (record.content_hash, record.size, record.mtime_ns, indexed_at,
                  record.encoding, len(record.lines), record.parse_error)
        new_rows = dict(_line_rows(0, record.lines))  # line number -> text
        stale: list[int] = []
        if row is None:
            cursor = self.conn.execute(
                "INSERT INTO files (workspace_id, path, content_hash, size, mtime_ns, "
                "indexed_at, encoding, lines, parse_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (workspace_id, key, *values))
            assert cursor.lastrowid is not None
            file_id = int(cursor.lastrowid)
        else:
            file_id = int(row[0])
            # Only lines whose number or text changed are touched: FTS5 pays per row, and
            # an edit usually leaves most of a file where it was (appending a function to
            # a 15,000-line module: 40 ms instead of 450).
            base = line_rowid(file_id, 0)
            for rowid, text in self.conn.execute(
                    "SELECT rowid, text FROM lines WHERE rowid BETWEEN ? AND ?",
                    (base, line_rowid(file_id, MAX_LINES))):
                if new_rows.get(rowid - base) == text:
                    del new_rows[rowid - base]  # already there, as it is
                else:
                    stale.append(rowid)
            self.conn.execute("DELETE FROM symbols WHERE file_id = ?", (file_id,))
            self.conn.execute(
                "UPDATE files SET content_hash = ?, size = ?, mtime_ns = ?, indexed_at = ?, "
                "encoding = ?, lines = ?, parse_error = ? WHERE id = ?", (*values, file_id))
        self.conn.executemany("DELETE FROM lines WHERE rowid = ?", ((r,) for r in stale))
        base = line_rowid(file_id, 0)
        self.conn.executemany("INSERT INTO lines (rowid, text) VALUES (?, ?)",
                              ((base + number, text) for number, text in new_rows.items()))
        self.conn.executemany(
            "INSERT INTO symbols (file_id, name, qualname, kind, line, col, depth) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((file_id, s.name, s.qualname, s.kind, s.line, s.col, s.depth)
             for s in record.symbols))
        self._files.pop(file_id, None)
        return file_id

    def touch_file(self, file_id: int, mtime_ns: int) -> None:
        """Same content, new mtime: remember it so the next full pass need not read it."""
        self.conn.execute("UPDATE files SET mtime_ns = ? WHERE id = ?", (mtime_ns, file_id))

    def remove_file(self, file_id: int) -> None:
        self._drop_contents(file_id)
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
        self._files.pop(file_id, None)

    def _drop_contents(self, file_id: int) -> None:
        self.conn.execute("DELETE FROM lines WHERE rowid BETWEEN ? AND ?",
                          (line_rowid(file_id, 0), line_rowid(file_id, MAX_LINES)))
        self.conn.execute("DELETE FROM symbols WHERE file_id = ?", (file_id,))

    def counts(self, workspace_id: int | None = None) -> tuple[int, int]:
        """(files, symbols) in the index, or in one workspace of it."""
        if workspace_id is None:
            files = self.conn.execute("SELECT count(*) FROM files").fetchone()[0]
            symbols = self.conn.execute("SELECT count(*) FROM symbols").fetchone()[0]
        else:
            files = self.conn.execute("SELECT count(*) FROM files WHERE workspace_id = ?",
                                      (workspace_id,)).fetchone()[0]
            symbols = self.conn.execute(
                "SELECT count(*) FROM symbols WHERE file_id IN "
                "(SELECT id FROM files WHERE workspace_id = ?)", (workspace_id,)).fetchone()[0]
        return int(files), int(symbols)

    # --- reads for search -------------------------------------------------------

    def file_info(self, file_id: int) -> FileInfo | None:
        cached = self._files.get(file_id)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT path, workspace_id FROM files WHERE id = ?",
                                (file_id,)).fetchone()
        if row is None:
            return None
        info = FileInfo(path_from_sql(row[0]), int(row[1]))
        if len(self._files) > 100_000:  # a long-lived reader on a huge index: stay bounded
            self._files.clear()
        self._files[file_id] = info
        return info

    def forget_files(self) -> None:
        """Drop cached file names (a reader calls this when the writer may have moved on)."""
        self._files.clear()

    _SYMBOL_COLUMNS = ("SELECT s.name, s.qualname, s.kind, s.line, s.col, s.depth, s.file_id, "
                       "f.path, f.workspace_id FROM symbols AS s "
                       "JOIN files AS f ON f.id = s.file_id ")

    def symbols_named(self, names: Iterable[str]) -> list[SymbolRow]:
        """Symbols whose name equals any of ``names``, ignoring ASCII case."""
        wanted = list(dict.fromkeys(names))
        rows: list[SymbolRow] = []
        for start in range(0, len(wanted), 500):  # stay below SQLite's variable limit
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows += [_symbol_row(r) for r in self.conn.execute(
                self._SYMBOL_COLUMNS + f"WHERE s.name IN ({marks})", chunk)]
        return rows

    def symbols_containing(self, text: str) -> list[SymbolRow]:
        """Symbols whose name contains ``text``, ignoring ASCII case (a scan of the names)."""
        return [_symbol_row(r) for r in self.conn.execute(
            self._SYMBOL_COLUMNS + "WHERE s.name LIKE ? ESCAPE '\\'", (f"%{_like_escape(text)}%",))]

    def symbol_names(self) -> Iterator[str]:
        """Every distinct symbol name (an index-only scan)."""
        for (name,) in self.conn.execute("SELECT DISTINCT name COLLATE BINARY FROM symbols"):
            yield name

    def symbol_id_range(self) -> tuple[int, int] | None:
        row = self.conn.execute("SELECT min(id), max(id) FROM symbols").fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def symbol_at_or_after(self, symbol_id: int, workspace_id: int | None = None,
                           kinds: Sequence[str] = ()) -> SymbolRow | None:
        """The first symbol with an id at or after ``symbol_id`` (for uniform sampling)."""
        where = ["s.id >= ?"]
        params: list[object] = [symbol_id]
        if workspace_id is not None:
            where.append("f.workspace_id = ?")
            params.append(workspace_id)
        if kinds:
            where.append(f"s.kind IN ({', '.join('?' * len(kinds))})")
            params += list(kinds)
        row = self.conn.execute(
            self._SYMBOL_COLUMNS + "WHERE " + " AND ".join(where) + " ORDER BY s.id LIMIT 1",
            params).fetchone()
        return None if row is None else _symbol_row(row)

    def line_text(self, file_id: int, line: int) -> str | None:
        row = self.conn.execute("SELECT text FROM lines WHERE rowid = ?",
                                (line_rowid(file_id, line),)).fetchone()
        return None if row is None else str(row[0])

    def lines_matching(self, fts_query: str) -> Iterator[tuple[int, str]]:
        """(rowid, text) of lines satisfying an FTS5 query, in rowid (file, line) order."""
        yield from self.conn.execute(
            "SELECT rowid, text FROM lines WHERE lines MATCH ? ORDER BY rowid", (fts_query,))

    def lines_like(self, text: str) -> Iterator[tuple[int, str]]:
        """Lines containing ``text`` ignoring ASCII case, by scanning: for strings too short
        to have a trigram."""
        yield from self.conn.execute(
            "SELECT rowid, text FROM lines WHERE text LIKE ? ESCAPE '\\' ORDER BY rowid",
            (f"%{_like_escape(text)}%",))

    def all_lines(self) -> Iterator[tuple[int, str]]:
        yield from self.conn.execute("SELECT rowid, text FROM lines ORDER BY rowid")


def _symbol_row(row: Sequence[object]) -> SymbolRow:
    name, qualname, kind, line, col, depth, file_id, path, workspace_id = row
    assert isinstance(path, (str, bytes))
    return SymbolRow(str(name), str(qualname), str(kind), _int(line), _int(col), _int(depth),
                     _int(file_id), path_from_sql(path), _int(workspace_id))


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _line_rows(file_id: int, lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(lines[:MAX_LINES], start=1):
        # Blank lines can match no query; leaving them out keeps the index a third smaller.
        if text and not text.isspace():
            yield line_rowid(file_id, number), text[:MAX_LINE_CHARS]


# --- connections ------------------------------------------------------------------


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise IndexUnavailable(f"no code index at {path}")
    try:
        conn = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"cannot open the code index {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = schema_version(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise IndexUnavailable(f"cannot read the code index {path}: {exc}") from None
    if version != SCHEMA_VERSION:
        conn.close()
        what = "is not a code index" if version is None else (
            f"was built by another version (schema {version}, this is {SCHEMA_VERSION})")
        raise IndexUnavailable(f"{path} {what}")
    return conn


def _connect_writer(path: Path) -> sqlite3.Connection:
    return connect_writer(path, _LAYOUT, NotAnIndex)

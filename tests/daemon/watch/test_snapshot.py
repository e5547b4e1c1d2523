"""The snapshot's types as the ``files`` projection stores them."""

from __future__ import annotations

import os
import sqlite3

from daemon.types import path_from_sql, path_to_sql
from daemon.watch.snapshot import FileState, printable_path, state_from_row


def test_paths_round_trip_through_sqlite_even_when_not_utf8() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime REAL,"
                 " content_hash TEXT)")
    names = ["plain.py", "two\nlines", os.fsdecode(b"caf\xe9.txt"), "\u00e9t\u00e9.md"]
    for name in names:
        conn.execute("INSERT INTO files VALUES (?, 1, 2.5, 'h')", (path_to_sql(name),))
    rows = conn.execute("SELECT path, size, mtime, content_hash FROM files").fetchall()
    restored = sorted(path_from_sql(r[0]) for r in rows)
    assert restored == sorted(names)
    assert isinstance(path_to_sql("plain.py"), str)
    assert state_from_row(*rows[0]) == FileState(path_from_sql(rows[0][0]), 1, 2.5, "h")
    assert state_from_row("x", None, 1.0, "h") is None
    assert printable_path(os.fsdecode(b"caf\xe9")) == "caf\\xe9"

"""A cache file is ours to rebuild, never someone else's to overwrite."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import closing
from pathlib import Path

import pytest

from analyzers.common.cachefile import (
    CacheLayout,
    NotOurs,
    connect_writer,
    delete,
    is_ours,
    is_ours_or_absent,
    schema_version,
    statements,
)

LAYOUT = CacheLayout(
    what="test cache", application_id=0x54455354, version=2,
    schema=statements("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        -- a ';' in a comment; is not an end
        CREATE TABLE items (name TEXT PRIMARY KEY);
        CREATE VIEW item_names AS SELECT name FROM items;
    """),
    verify="SELECT count(*) FROM items")


def test_statements_split_where_sqlite_says() -> None:
    assert len(LAYOUT.schema) == 3
    assert "a ';' in a comment" in LAYOUT.schema[1]


def test_a_new_file_is_made_ours_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "cache.db"
    conn = connect_writer(path, LAYOUT)
    conn.execute("INSERT INTO items VALUES ('kept')")
    conn.close()
    assert is_ours(path, LAYOUT.application_id) and is_ours_or_absent(path, LAYOUT.application_id)
    conn = connect_writer(path, LAYOUT)
    assert conn.execute("SELECT name FROM item_names").fetchall() == [("kept",)]
    assert schema_version(conn) == 2
    conn.close()


def test_another_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    connect_writer(path, LAYOUT).execute("INSERT INTO items VALUES ('old')").connection.close()
    newer = CacheLayout(**{**LAYOUT.__dict__, "version": 3})
    conn = connect_writer(path, newer)
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    assert schema_version(conn) == 3
    conn.close()


def test_another_version_leaves_no_byte_of_the_old_file(tmp_path: Path) -> None:
    # Dropping the tables would leave their pages in the free list and the WAL; an old code
    # index held file contents (secrets in clear), so nothing of it may survive.
    path = tmp_path / "cache.db"
    marker = "old-content-" + "Q7x" * 300
    conn = connect_writer(path, LAYOUT)
    conn.executemany("INSERT INTO items VALUES (?)", ((f"{marker}{i}",) for i in range(50)))
    conn.close()
    newer = CacheLayout(**{**LAYOUT.__dict__, "version": 3})
    conn = connect_writer(path, newer)
    conn.execute("INSERT INTO items VALUES ('new')")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            assert b"old-content-" not in Path(f"{path}{suffix}").read_bytes()
    conn.close()


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_a_new_cache_and_its_wal_are_private_whatever_the_umask(tmp_path: Path,
                                                                 umask: int) -> None:
    path = tmp_path / "made" / "here" / "cache.db"
    previous = os.umask(umask)
    try:
        conn = connect_writer(path, LAYOUT)
        conn.execute("INSERT INTO items VALUES ('x')")
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode) == 0o600, suffix
        for made in (path.parent, path.parent.parent):
            assert stat.S_IMODE(made.stat().st_mode) == 0o700
        conn.close()
    finally:
        os.umask(previous)


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    conn = connect_writer(path, LAYOUT)
    conn.executemany("INSERT INTO items VALUES (?)", [(f"item {n:05}" * 40,) for n in range(500)])
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096:len(data) - 4096] = b"\xde\xad" * ((len(data) - 8192) // 2)  # pages torn
    path.write_bytes(bytes(data))
    conn = connect_writer(path, LAYOUT)
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    conn.close()


@pytest.mark.parametrize("content", [b"my notes, not a database\n", "sqlite"])
def test_someone_elses_file_is_never_touched(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "cache.db"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # a real SQLite database of somebody else's, with a table in it
        other = sqlite3.connect(path)
        other.execute("CREATE TABLE mine (x)")
        other.commit()
        other.close()
    before = path.read_bytes()
    with pytest.raises(NotOurs, match="is not a realworld test cache"):
        connect_writer(path, LAYOUT)
    assert path.read_bytes() == before


def test_delete_takes_the_wal_and_its_friends(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").write_bytes(b"x")
    delete(path)
    delete(path)  # twice is fine
    assert list(tmp_path.iterdir()) == []


def _open_at_once(path: Path, openers: int) -> list[BaseException]:
    """``openers`` threads open the same new cache at the same moment; what they raised."""
    start = threading.Barrier(openers)
    failures: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            connect_writer(path, LAYOUT).close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_analyzers_opening_a_new_cache_at_once_all_get_it(tmp_path: Path) -> None:
    # The security scanner and the pattern probe open <db>.results.db together when a
    # session starts; one of them found it half made and called it somebody else's.
    for attempt in range(30):
        path = tmp_path / f"cache-{attempt}.db"
        assert _open_at_once(path, 4) == []
        with closing(sqlite3.connect(path)) as conn:
            assert schema_version(conn) == LAYOUT.version

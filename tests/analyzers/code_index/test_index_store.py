"""The index file: schema, incremental writes, odd paths, and what it refuses."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzers.code_index.regex_literals import Literal, fts_query
from analyzers.code_index.store import (
    APPLICATION_ID,
    MAX_LINE_CHARS,
    SCHEMA_VERSION,
    FileRecord,
    IndexStore,
    IndexUnavailable,
    NotAnIndex,
    SymbolRecord,
    line_rowid,
    split_rowid,
)

NOW = "2024-06-01T08:00:00.000+00:00"


def record(path: str, lines: list[str], content_hash: str = "h1",
           symbols: tuple[SymbolRecord, ...] = ()) -> FileRecord:
    return FileRecord(path=path, content_hash=content_hash, size=sum(map(len, lines)),
                      mtime_ns=1, encoding="utf-8", lines=lines, symbols=symbols)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IndexStore]:
    opened = IndexStore.open(tmp_path / "cache" / "code.index.db")
    yield opened
    opened.close()


def workspace(store: IndexStore, root: str = "/work/project") -> int:
    with store.transaction():
        ws = store.workspace_id(root, create=True)
    assert ws is not None
    return ws


def test_a_new_index_has_its_schema_wal_and_application_id(store: IndexStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[
            0] == str(SCHEMA_VERSION)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"files", "symbols", "lines", "workspaces", "symbol_locations"} <= names
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'lines'").fetchone()[0]
        assert "trigram" in sql
    finally:
        conn.close()
    assert oct(store.path.parent.stat().st_mode & 0o777) == "0o700"


def test_write_read_rewrite_and_remove_a_file(store: IndexStore) -> None:
    ws = workspace(store)
    symbol = SymbolRecord("main", "app.main", "function", 2, 5, 0)
    with store.transaction():
        file_id = store.write_file(ws, record("src/app.py", ["import os", "def main():",
                                                             "", "    return os.sep"],
                                              symbols=(symbol,)), NOW)
    assert store.counts(ws) == (1, 1)
    known = store.known_files(ws)["src/app.py"]
    assert (known.id, known.content_hash, known.mtime_ns) == (file_id, "h1", 1)
    assert store.line_text(file_id, 2) == "def main():"
    assert store.line_text(file_id, 3) is None  # blank lines are not stored
    rows = list(store.lines_matching(fts_query(Literal("os.sep"))))
    assert [split_rowid(r) for r, _ in rows] == [(file_id, 4)]
    assert [s.qualname for s in store.symbols_named(["MAIN"])] == ["app.main"]  # any case

    with store.transaction():
        again = store.write_file(ws, record("src/app.py", ["class App:", "    pass"], "h2"),
                                 NOW)
    assert again == file_id  # the id survives an edit, so hits keep their order
    assert store.counts(ws) == (1, 0)
    assert list(store.lines_matching(fts_query(Literal("main")))) == []
    assert store.line_text(file_id, 1) == "class App:"

    with store.transaction():
        store.remove_file(file_id)
    assert store.counts(ws) == (0, 0)
    assert list(store.all_lines()) == []


BEFORE = ["alpha", "bravo", "charlie"]


@pytest.mark.parametrize("after", [
    ["alpha", "bravo", "charlie", "delta", "echo"],  # appended
    ["alpha", "BRAVO two", "charlie"],  # changed in place
    ["new line", "alpha", "bravo", "charlie"],  # everything shifted down
    ["bravo", "charlie"],  # everything shifted up
    ["alpha", "", "charlie", "   "],  # lines turned blank
    [],  # emptied
])
def test_an_edit_leaves_exactly_the_new_lines(store: IndexStore, after: list[str]) -> None:
    ws = workspace(store)
    with store.transaction():
        file_id = store.write_file(ws, record("f.txt", BEFORE), NOW)
        store.write_file(ws, record("g.txt", BEFORE), NOW)  # a neighbour, untouched
    with store.transaction():
        store.write_file(ws, record("f.txt", after, "h2"), NOW)
    stored = [(split_rowid(r), text) for r, text in store.all_lines()]
    assert [x for x in stored if x[0][0] == file_id] == [
        ((file_id, n), t) for n, t in enumerate(after, 1) if t.strip()]
    assert [t for (f, _), t in stored if f != file_id] == BEFORE
    # The trigram index agrees with the rows: every word where it is now, and only there.
    for word in {w for line in BEFORE + after for w in line.split()}:
        found = {split_rowid(r) for r, _ in store.lines_matching(fts_query(Literal(word)))
                 if split_rowid(r)[0] == file_id}
        assert found == {(file_id, n) for n, t in enumerate(after, 1)
                         if word.lower() in t.lower()}, word


def test_lines_come_in_file_and_line_order_and_are_cut(store: IndexStore) -> None:
    ws = workspace(store)
    long_line = "x" * 100 + "needle" + "y" * (MAX_LINE_CHARS * 2)
    with store.transaction():
        first = store.write_file(ws, record("a.txt", ["needle 1", "b", "needle 2"]), NOW)
        second = store.write_file(ws, record("b.txt", ["needle 3", long_line]), NOW)
    rows = list(store.lines_matching(fts_query(Literal("needle"))))
    assert [r for r, _ in rows] == [line_rowid(first, 1), line_rowid(first, 3),
                                    line_rowid(second, 1), line_rowid(second, 2)]
    assert len(rows[-1][1]) == MAX_LINE_CHARS


def test_short_strings_are_found_by_scanning(store: IndexStore) -> None:
    ws = workspace(store)
    with store.transaction():
        file_id = store.write_file(ws, record("a.txt", ["a_b", "a%b", "AB", "x"]), NOW)
    assert [split_rowid(r)[1] for r, _ in store.lines_like("a_")] == [1]  # "_" is literal
    assert [split_rowid(r)[1] for r, _ in store.lines_like("%")] == [2]
    assert [split_rowid(r)[1] for r, _ in store.lines_like("ab")] == [3]
    assert file_id == 1


def test_odd_paths_round_trip(store: IndexStore) -> None:
    ws = workspace(store)
    odd = [os.fsdecode(b"bad\xff\xfename.py"), "new\nline.py", "sp ace/ünï.py"]
    with store.transaction():
        for path in odd:
            store.write_file(ws, record(path, ["text"]), NOW)
    assert sorted(store.known_files(ws)) == sorted(odd)
    conn = sqlite3.connect(store.path)
    try:
        kinds = {r[0] for r in conn.execute("SELECT typeof(path) FROM files")}
    finally:
        conn.close()
    assert kinds == {"text", "blob"}  # the non-UTF-8 name is kept as its bytes


def test_workspaces_are_kept_apart(store: IndexStore) -> None:
    one, two = workspace(store, "/a"), workspace(store, os.fsdecode(b"/b\xff"))
    with store.transaction():
        store.write_file(one, record("same.py", ["one"]), NOW)
        store.write_file(two, record("same.py", ["two"]), NOW)
    assert store.counts(one) == (1, 0) and store.counts() == (2, 0)
    assert store.workspaces() == {one: "/a", two: os.fsdecode(b"/b\xff")}
    assert store.workspace_id("/a") == one and store.workspace_id("/c") is None


def test_symbol_sampling_helpers(store: IndexStore) -> None:
    ws = workspace(store)
    symbols = tuple(SymbolRecord(f"f{i}", f"m.f{i}", "function", i + 1, 5, 0) for i in range(3))
    with store.transaction():
        store.write_file(ws, record("m.py", ["def f0():", "def f1():", "def f2():"],
                                    symbols=symbols), NOW)
    low, high = store.symbol_id_range() or (0, 0)
    assert high - low == 2
    row = store.symbol_at_or_after(low + 1, ws, ("function",))
    assert row is not None and row.name == "f1" and row.path == "m.py"
    assert store.symbol_at_or_after(high + 1, ws) is None
    assert store.symbol_at_or_after(low, ws, ("class",)) is None
    assert sorted(store.symbol_names()) == ["f0", "f1", "f2"]
    assert [s.name for s in store.symbols_containing("1")] == ["f1"]


def test_readers_see_commits_and_cannot_write(store: IndexStore) -> None:
    ws = workspace(store)
    reader = IndexStore.open(store.path, readonly=True)
    try:
        assert reader.counts() == (0, 0)
        with store.transaction():
            store.write_file(ws, record("a.py", ["x = 1"]), NOW)
        assert reader.counts() == (1, 0)
        with pytest.raises(sqlite3.OperationalError):
            reader.conn.execute("DELETE FROM files")
    finally:
        reader.close()


def test_a_missing_or_foreign_index_is_unavailable_to_readers(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="no code index"):
        IndexStore.open(tmp_path / "missing.db", readonly=True)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(IndexUnavailable, match="not a code index"):
        IndexStore.open(other, readonly=True)


def test_an_older_schema_is_rebuilt_by_the_writer_and_refused_by_readers(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    with IndexStore.open(path) as store:
        ws = workspace(store)
        with store.transaction():
            store.write_file(ws, record("a.py", ["x = 1"]), NOW)
        store.conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(IndexUnavailable, match="another version"):
        IndexStore.open(path, readonly=True)
    with IndexStore.open(path) as store:
        assert store.counts() == (0, 0)  # a cache: started over
    with IndexStore.open(path, readonly=True) as reader:
        assert reader.counts() == (0, 0)


def test_a_corrupt_index_of_ours_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    with IndexStore.open(path) as store:
        workspace(store)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)  # keep the header (and its application id)
    path.write_bytes(bytes(data))
    with IndexStore.open(path) as store:
        assert store.counts() == (0, 0)
        assert store.workspaces() == {}


def test_a_file_that_is_not_an_index_is_never_overwritten(tmp_path: Path) -> None:
    precious = tmp_path / "notes.db"
    precious.write_text("my notes\n")
    with pytest.raises(NotAnIndex):
        IndexStore.open(precious)
    assert precious.read_text() == "my notes\n"
    theirs = tmp_path / "theirs.db"
    conn = sqlite3.connect(theirs)
    conn.execute("CREATE TABLE important (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAnIndex):
        IndexStore.open(theirs)
    conn = sqlite3.connect(theirs)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("important",)]
    conn.close()

"""scan/diff on real directories, with the bad input DESIGN.md invariant 5 names."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.types import path_from_sql, path_to_sql
from daemon.watch.ignore import IgnoreRules
from daemon.watch.snapshot import (
    STAT_HASH_PREFIX,
    Change,
    FileState,
    ScanError,
    apply_changes,
    diff,
    keep_unreadable,
    printable_path,
    read_state,
    restrict,
    scan,
    state_from_row,
)

import unprivileged


def write(root: Path, rel: str, data: bytes | str = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_scan_tracks_regular_files_with_size_mtime_and_hash(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "print(1)\n")
    write(tmp_path, "pkg/b.bin", bytes(range(256)) * 10)
    write(tmp_path, "pkg/deep/c.txt", "")
    write(tmp_path, ".gitignore", "*.log\n")
    write(tmp_path, "skip.log", "noise")
    write(tmp_path, ".git/HEAD", "ref: x")
    result = scan(tmp_path, IgnoreRules.load(tmp_path))
    assert sorted(result.files) == [".gitignore", "a.py", "pkg/b.bin", "pkg/deep/c.txt"]
    binary = result.files["pkg/b.bin"]
    assert binary.size == 2560
    assert binary.content_hash == sha(bytes(range(256)) * 10)
    assert binary.mtime == (tmp_path / "pkg" / "b.bin").stat().st_mtime
    assert result.files["pkg/deep/c.txt"].content_hash == sha(b"")
    assert result.errors == ()
    assert result.directories == 3


def test_symlinks_are_never_followed_so_loops_cannot_hang(tmp_path: Path) -> None:
    write(tmp_path, "real/file.txt", "data")
    (tmp_path / "real" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "zero").symlink_to("/dev/zero")
    outside = Path(tempfile.mkdtemp())
    try:
        write(outside, "secret.txt", "outside")
        (tmp_path / "out").symlink_to(outside / "secret.txt")
        result = scan(tmp_path, IgnoreRules.load(tmp_path))
    finally:
        shutil.rmtree(outside)
    assert sorted(result.files) == ["real/file.txt"]
    assert result.symlinks == 5
    assert result.errors == ()
    assert scan(tmp_path, IgnoreRules.load(tmp_path), under="real/loop").files == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "fine")
    os.mkfifo(tmp_path / "pipe")
    result = scan(tmp_path, IgnoreRules.load(tmp_path))
    assert sorted(result.files) == ["ok.txt"]
    [error] = result.errors
    assert (error.path, error.kind) == ("pipe", "not_regular")
    assert "FIFO" in error.message


def test_names_with_newlines_and_undecodable_bytes(tmp_path: Path) -> None:
    newline = "two\nlines.txt"
    write(tmp_path, newline, "n")
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(raw, "wb") as stream:
        stream.write(b"latin-1 name")
    result = scan(tmp_path, IgnoreRules.load(tmp_path))
    bad = os.fsdecode(b"caf\xe9.txt")
    assert sorted(result.files) == sorted([newline, bad])
    assert result.files[bad].content_hash == sha(b"latin-1 name")
    # the key round-trips to the bytes on disk
    assert os.path.exists(os.path.join(os.fsencode(tmp_path), os.fsencode(bad)))
    assert isinstance(read_state(str(tmp_path), bad), FileState)


def test_vanished_paths_are_absent_not_errors(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert read_state(root, "never-there.txt") is None
    write(tmp_path, "file", "x")
    assert read_state(root, "file/child") is None  # ENOTDIR
    (tmp_path / "dir").mkdir()
    assert read_state(root, "dir") is None


def test_a_missing_root_is_reported(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    rules = IgnoreRules.load(tmp_path)
    result = scan(gone, rules)
    assert result.files == {}
    assert [e.kind for e in result.errors] == ["root_missing"]


UNREADABLE_SCRIPT = """
import json
import sys
from daemon.watch.ignore import IgnoreRules
from daemon.watch.snapshot import scan
root = sys.argv[1]
result = scan(root, IgnoreRules.load(root))
print(json.dumps({"files": sorted(result.files),
                  "errors": sorted((e.path, e.kind) for e in result.errors)}))
"""


def test_unreadable_files_and_directories_are_errors() -> None:
    with unprivileged.sandbox() as box:
        write(box.dir, "ok.txt", "fine")
        write(box.dir, "locked.txt", "secret").chmod(0o000)
        write(box.dir, "closed/inner.txt", "x")
        (box.dir / "closed").chmod(0o000)
        out = box.run(UNREADABLE_SCRIPT, box.dir)
    assert out["files"] == ["ok.txt"]
    assert [tuple(e) for e in out["errors"]] == [("closed", "unreadable"),
                                                 ("locked.txt", "unreadable")]


def test_previous_state_skips_reading_unchanged_files(tmp_path: Path) -> None:
    write(tmp_path, "big.bin", b"\0" * 100_000)
    rules = IgnoreRules.load(tmp_path)
    first = scan(tmp_path, rules)
    assert first.hashed_bytes == 100_000
    fake = {p: FileState(s.path, s.size, s.mtime, "pretend") for p, s in first.files.items()}
    second = scan(tmp_path, rules, previous=fake)
    assert second.files["big.bin"].content_hash == "pretend"  # size+mtime equal: not read
    assert second.hashed_bytes == 0
    os.utime(tmp_path / "big.bin", ns=(1, 1))
    third = scan(tmp_path, rules, previous=fake)
    assert third.files["big.bin"].content_hash == first.files["big.bin"].content_hash


def test_huge_files_are_not_read_above_the_cap(tmp_path: Path) -> None:
    write(tmp_path, "huge.bin", b"\1" * 5000)
    write(tmp_path, "small.txt", "s")
    result = scan(tmp_path, IgnoreRules.load(tmp_path), max_hash_bytes=1000)
    assert result.files["huge.bin"].content_hash.startswith(STAT_HASH_PREFIX)
    assert result.files["small.txt"].content_hash == sha(b"s")
    assert result.hashed_bytes == 1


def test_scan_under_a_file_a_directory_a_missing_or_ignored_path(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "out/\n")
    write(tmp_path, "src/a.py", "a")
    write(tmp_path, "src/lib/b.py", "b")
    write(tmp_path, "out/c.py", "c")
    rules = IgnoreRules.load(tmp_path)
    assert sorted(scan(tmp_path, rules, under="src").files) == ["src/a.py", "src/lib/b.py"]
    assert sorted(scan(tmp_path, rules, under="src/a.py").files) == ["src/a.py"]
    assert scan(tmp_path, rules, under="missing").files == {}
    assert scan(tmp_path, rules, under="out").files == {}
    assert scan(tmp_path, rules, under="out/c.py").files == {}


def test_rescan_finds_changes_made_while_nobody_watched(tmp_path: Path) -> None:
    write(tmp_path, "keep.txt", "same")
    write(tmp_path, "edit.txt", "before")
    write(tmp_path, "gone.txt", "bye")
    write(tmp_path, "old/name.txt", "moving content")
    rules = IgnoreRules.load(tmp_path)
    known = scan(tmp_path, rules).files

    (tmp_path / "edit.txt").write_text("after!")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "name.txt").rename(tmp_path / "new" / "name.txt")
    write(tmp_path, "fresh.txt", "hello")

    now = scan(tmp_path, rules, previous=known).files
    changes = diff(known, now)
    assert [(c.kind, c.path, c.dest_path) for c in changes] == [
        ("modified", "edit.txt", None),
        ("deleted", "gone.txt", None),
        ("moved", "old/name.txt", "new/name.txt"),
        ("created", "fresh.txt", None),
    ]
    assert apply_changes(known, changes) == now


def state(path: str, content: bytes, mtime: float = 1.0) -> FileState:
    return FileState(path, len(content), mtime, sha(content))


def test_diff_pairs_moves_by_hint_then_by_content_but_not_empty_files() -> None:
    old = {
        "a": state("a", b"A"), "b": state("b", b"B"), "e1": state("e1", b""),
        "t": state("t", b"T"),
    }
    new = {
        "a2": state("a2", b"A"), "b2": state("b2", b"B edited"), "e2": state("e2", b""),
        "t": state("t", b"T", mtime=2.0),
    }
    plain = diff(old, new)
    assert [(c.kind, c.path, c.dest_path) for c in plain] == [
        ("deleted", "b", None), ("deleted", "e1", None),
        ("moved", "a", "a2"), ("created", "b2", None), ("created", "e2", None),
    ]
    hinted = diff(old, new, move_hints={"b2": "b"}, report_touched=True)
    assert [(c.kind, c.path, c.dest_path) for c in hinted] == [
        ("touched", "t", None), ("deleted", "e1", None),
        ("moved", "a", "a2"), ("moved", "b", "b2"), ("created", "e2", None),
    ]
    assert apply_changes(old, hinted) == new
    assert Change("moved", "a", new["a2"], "a2").current_path == "a2"
    with pytest.raises(ValueError):
        apply_changes(old, [Change("created", "x")])


def test_restrict_keeps_a_subtree() -> None:
    known = {p: state(p, b"x") for p in ("a", "ab/c", "a/b", "a/b/c", "z")}
    assert sorted(restrict(known, ["a"])) == ["a", "a/b", "a/b/c"]
    assert sorted(restrict(known, ["a/b", "z"])) == ["a/b", "a/b/c", "z"]
    assert restrict(known, [""]) == known


paths = st.sampled_from(["a", "b", "c", "d/e", "d/f", "g/h/i", "n\nl", "\udce9"])
contents = st.sampled_from([b"", b"1", b"2", b"22", b"333"])
mtimes = st.sampled_from([1.0, 2.0])
states = st.dictionaries(paths, st.tuples(contents, mtimes), max_size=8).map(
    lambda d: {p: state(p, c, m) for p, (c, m) in d.items()}
)


@settings(max_examples=200, deadline=None)
@given(old=states, new=states)
def test_applying_the_diff_to_old_gives_new(
    old: dict[str, FileState], new: dict[str, FileState]
) -> None:
    changes = diff(old, new, report_touched=True)
    assert apply_changes(old, changes) == new
    # Each path changes at most once, and moves only pair equal content.
    touched = [c.path for c in changes] + [c.dest_path for c in changes if c.dest_path]
    assert len(touched) == len(set(touched))
    for change in changes:
        if change.kind == "moved":
            assert change.state is not None
            assert old[change.path].content_hash == change.state.content_hash
    # Without touched changes, the result differs from new only in mtimes.
    quiet = apply_changes(old, diff(old, new))
    assert {p: (s.size, s.content_hash) for p, s in quiet.items()} == {
        p: (s.size, s.content_hash) for p, s in new.items()
    }


def test_unreadable_paths_keep_their_known_state_instead_of_being_deleted() -> None:
    known = {p: state(p, b"x") for p in ("locked.txt", "dir/a", "dir/b", "gone", "pipe")}
    new = {"locked.txt": state("locked.txt", b"y")}
    errors = [
        ScanError("dir", "unreadable", "Permission denied"),
        ScanError("gone", "vanished", "No such file"),
        ScanError("pipe", "not_regular", "a named pipe"),
        ScanError("locked.txt", "io_error", "EIO"),
    ]
    kept = keep_unreadable(new, known, errors)
    assert sorted(kept) == ["dir/a", "dir/b", "locked.txt"]
    assert kept["locked.txt"] == new["locked.txt"]  # what was read wins
    assert [c.kind for c in diff(known, kept)] == ["modified", "deleted", "deleted"]


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

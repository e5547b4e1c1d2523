"""scan on real directories, with the bad input DESIGN.md invariant 5 names."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from daemon.watch.diff import apply_changes, diff
from daemon.watch.ignore import IgnoreRules
from daemon.watch.scan import STAT_HASH_PREFIX, read_state, scan
from daemon.watch.snapshot import FileState

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
from daemon.watch.scan import scan
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

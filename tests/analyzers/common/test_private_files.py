"""Files written beside the log: exactly 0600 whatever the umask, never over another."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from analyzers.common.private_files import (
    ensure_private_file,
    fsync_dir,
    make_private_dirs,
    tighten_umask,
    touch_private,
)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_a_private_file_is_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        touch_private(tmp_path / "f")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600


def test_a_private_file_never_replaces_one_that_is_there(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("kept")
    with pytest.raises(FileExistsError):
        touch_private(tmp_path / "f")
    assert (tmp_path / "f").read_text() == "kept"


def test_a_directory_syncs(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


def test_private_dirs_are_0700_each_one_made_whatever_the_umask(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    os.chmod(tmp_path / "shared", 0o755)
    previous = os.umask(0o000)
    try:
        make_private_dirs(tmp_path / "shared" / "a" / "b")
        make_private_dirs(tmp_path / "shared" / "a" / "b")  # already there: no error
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755  # not ours: kept
    for made in (tmp_path / "shared" / "a", tmp_path / "shared" / "a" / "b"):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_private_dirs_refuse_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        make_private_dirs(tmp_path / "f")


def test_ensure_private_file_creates_0600_once_and_keeps_what_is_there(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert ensure_private_file(tmp_path / "db")
        (tmp_path / "db").write_text("kept")
        assert not ensure_private_file(tmp_path / "db")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o600
    assert (tmp_path / "db").read_text() == "kept"


@pytest.mark.parametrize(("before", "after"), [(0o022, 0o077), (0o002, 0o077),
                                               (0o277, 0o277)])
def test_the_umask_is_tightened_never_loosened(before: int, after: int) -> None:
    original = os.umask(before)
    try:
        assert tighten_umask() == before
        assert os.umask(before) == after
    finally:
        os.umask(original)

"""Files written beside the log: exactly 0600 whatever the umask, never over another."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from daemon.log.private_files import fsync_dir, touch_private


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

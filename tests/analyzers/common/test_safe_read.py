"""What every reader of workspace files shares: links and FIFOs refused at the open, the
kind of what is not a regular file, an OSError in one line."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from analyzers.common.safe_read import OPEN_FLAGS, describe_error, file_kind


def test_the_kind_of_what_is_not_a_regular_file() -> None:
    assert file_kind(stat.S_IFREG | 0o644) is None
    assert file_kind(stat.S_IFDIR | 0o755) == "directory"
    assert file_kind(stat.S_IFLNK | 0o777) == "symlink"
    assert file_kind(stat.S_IFIFO | 0o600) == "special"
    assert file_kind(stat.S_IFCHR | 0o600) == "special"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")
def test_a_link_is_refused_and_a_fifo_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError) as refused:
        os.open(tmp_path / "link", OPEN_FLAGS)
    assert refused.value.errno == errno.ELOOP
    os.mkfifo(tmp_path / "fifo")
    fd = os.open(tmp_path / "fifo", OPEN_FLAGS)  # returns at once: nobody writes to it
    try:
        assert file_kind(os.fstat(fd).st_mode) == "special"
    finally:
        os.close(fd)


def test_an_error_in_one_line_without_the_path() -> None:
    error = PermissionError(errno.EACCES, "Permission denied", "/secret/place")
    assert describe_error(error) == "PermissionError: Permission denied"

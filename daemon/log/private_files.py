"""Files the log writes beside itself (backups, segments, restored histories): private,
and durable once renamed into place."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def create_private(path: Path) -> int:
    """A new file at ``path``, mode exactly 0600 whatever the umask; its open descriptor.
    Refuses a file that is already there (``O_EXCL``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    try:
        os.fchmod(fd, 0o600)  # a umask can take bits off 0o600 too
    except BaseException:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path) -> None:
    """:func:`create_private`, closed at once (SQLite opens the file itself)."""
    os.close(create_private(path))


def fsync_dir(directory: Path) -> None:
    """Make a rename or creation in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise  # some file systems cannot sync a directory; that is no failure
    finally:
        os.close(fd)

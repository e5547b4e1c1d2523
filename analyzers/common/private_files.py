"""Every file and directory realworld writes is its user's alone (invariant 10): 0600 and
0700 whatever the umask, and durable once renamed into place.

One definition for the log (backups, segments, restored histories, the log itself)
and the analyzers' caches (the code index, the result cache). SQLite creates a
database's ``-wal`` and ``-shm`` with the database file's mode, so a database file
made here first keeps its companions private too.
"""

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


def ensure_private_file(path: Path) -> bool:
    """``path`` made 0600 when absent (before SQLite creates it with the umask's mode);
    an existing file is left as it is. Whether this call created it."""
    try:
        touch_private(path)
    except FileExistsError:
        return False
    return True


def make_private_dirs(directory: Path) -> None:
    """``directory`` and any missing parents, each one made here 0700 whatever the umask
    (``mkdir(mode=)`` applies only to the last one, and only through the umask).
    Directories already there are left as they are: they may be shared on purpose."""
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by another process: theirs to decide
        os.chmod(created, 0o700)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")


def tighten_umask() -> int:
    """Add 077 to the process's umask (never loosen it); the umask it had.

    For what we do not create ourselves: files and directories libraries make
    (stevedore's entry-point cache, temporary files) follow the umask alone.
    """
    previous = os.umask(0o077)
    os.umask(previous | 0o077)
    return previous


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

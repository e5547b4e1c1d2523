"""What every reader of workspace files does the same way: open, judge the kind, sniff, report.

A workspace can hold anything: a symlink out of it, a FIFO that blocks an open, a
device, a file replaced between the check and the open. Both readers (the census's
:mod:`analyzers.common.filescan` and :mod:`analyzers.common.sourcefile`) open with
:data:`OPEN_FLAGS` and judge the type on the open descriptor with :func:`file_kind`,
so what they read is the regular file they judged.
"""

from __future__ import annotations

import os
import stat
from typing import Literal

#: A NUL byte in this many first bytes makes a file binary.
BINARY_SNIFF_BYTES = 8 * 1024

FileKind = Literal["directory", "symlink", "special"]

OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # a link swapped in after the check is refused, not followed
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in cannot block the open
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def file_kind(mode: int) -> FileKind | None:
    """What a file that is not regular is (``None`` for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special"


def describe_error(exc: OSError) -> str:
    """An ``OSError`` in one line, without the path (the caller names the file)."""
    return f"{type(exc).__name__}: {exc.strerror or exc}"

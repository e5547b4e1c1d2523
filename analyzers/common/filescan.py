"""Reading one file for the census: streamed, never followed through a link, never raising.

Any file the workspace can hold comes back as a :class:`FileScan` or a
:class:`Skipped`: a FIFO is not opened for a blocking read, a symlink is not
followed out of the workspace, a file that vanishes or is unreadable becomes
a reason, and a file of any size costs at most one chunk of memory.
"""

from __future__ import annotations

import codecs
import errno
import os
from dataclasses import dataclass
from io import BufferedReader
from typing import Literal

from analyzers.common.safe_read import BINARY_SNIFF_BYTES, OPEN_FLAGS, describe_error, file_kind

CHUNK_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 64 * 1024 * 1024
HEAD_BYTES = 256  # enough for a shebang line

SkipReason = Literal["missing", "directory", "symlink", "special", "error"]


@dataclass(frozen=True)
class FileScan:
    """What the census needs from one regular file.

    ``lines`` counts newline characters plus a final unterminated line, and is
    ``None`` for binary files and for files above the scan limit (``huge``),
    whose ``size`` comes from ``stat`` without reading them.
    """

    size: int
    binary: bool
    lines: int | None
    utf8: bool | None  # None when not known (binary or huge)
    huge: bool
    head: bytes


@dataclass(frozen=True)
class Skipped:
    reason: SkipReason
    detail: str = ""


def scan_file(path: str | os.PathLike[str], *, max_scan_bytes: int = MAX_SCAN_BYTES,
              chunk_bytes: int = CHUNK_BYTES) -> FileScan | Skipped:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Skipped("missing")
    except OSError as exc:
        return Skipped("error", describe_error(exc))
    kind = file_kind(info.st_mode)
    if kind is not None:
        return Skipped(kind)
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        return Skipped("missing")
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink since the lstat
            return Skipped("symlink")
        return Skipped("error", describe_error(exc))
    try:
        with open(fd, "rb", closefd=True) as stream:
            # fstat on the open descriptor: the file we read is the file we judged.
            opened = os.fstat(stream.fileno())
            kind = file_kind(opened.st_mode)
            if kind is not None:
                return Skipped(kind)
            chunk = max(chunk_bytes, BINARY_SNIFF_BYTES)
            return _read(stream, opened.st_size, max_scan_bytes, chunk)
    except OSError as exc:
        return Skipped("error", describe_error(exc))


def _read(stream: BufferedReader, size: int, max_scan_bytes: int, chunk_bytes: int) -> FileScan:
    first = stream.read(chunk_bytes if size <= max_scan_bytes else BINARY_SNIFF_BYTES)
    binary = b"\x00" in first[:BINARY_SNIFF_BYTES]
    head = first[:HEAD_BYTES]
    if size > max_scan_bytes:
        return FileScan(size=size, binary=binary, lines=None, utf8=None, huge=True, head=head)
    total = len(first)
    if binary:
        # Lines mean nothing here; the size is all the census wants, and stat has it.
        return FileScan(size=max(size, total), binary=True, lines=None, utf8=None, huge=False,
                        head=head)
    decoder: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    last = b""
    chunk = first
    while chunk:
        newlines += chunk.count(b"\n")
        last = chunk[-1:]
        decoder = _feed(decoder, chunk)
        if total > max_scan_bytes:
            break  # the file grew while we read it; what we have is enough
        chunk = stream.read(chunk_bytes)
        total += len(chunk)
    decoder = _feed(decoder, b"", final=True)
    lines = newlines + (1 if total and last != b"\n" else 0)
    return FileScan(size=total, binary=False, lines=lines, utf8=decoder is not None, huge=False,
                    head=head)


def _feed(decoder: codecs.IncrementalDecoder | None, chunk: bytes,
          final: bool = False) -> codecs.IncrementalDecoder | None:
    """Validate UTF-8 incrementally; ``None`` once the file has proved not to be."""
    if decoder is None:
        return None
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return None
    return decoder

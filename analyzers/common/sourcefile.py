"""Reading one workspace file whole: bounded, never through a link, never raising.

The same safety as :mod:`analyzers.common.filescan` (:mod:`analyzers.common.safe_read`:
``O_NOFOLLOW``, ``O_NONBLOCK``, the type judged on the open descriptor), but this reader
keeps the bytes: the index, the scanner and the probe need the text. A file above the
cap is refused from its ``stat`` size without being read, and a file that grows past
the cap while being read is refused too, so memory per file is bounded by the cap.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import os
import tokenize
from dataclasses import dataclass
from typing import Literal

from analyzers.base import is_transient
from analyzers.common.safe_read import BINARY_SNIFF_BYTES, OPEN_FLAGS, describe_error, file_kind

SkipReason = Literal["missing", "symlink", "directory", "special", "too_large", "binary",
                     "error"]


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Source:
    data: bytes
    size: int
    mtime_ns: int
    content_hash: str  # SHA-256 hex of ``data``


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    detail: str = ""
    size: int = 0
    #: The same read a moment later may well succeed: a lock, a busy file, a file being
    #: written while we read it (:func:`analyzers.base.is_transient`).
    transient: bool = False


def stat_file(path: str | os.PathLike[str]) -> FileStat | Skip:
    """Size and mtime of a regular file, without following a link."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Skip("missing")
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:  # a parent became a file
            return Skip("missing")
        return Skip("error", describe_error(exc), transient=is_transient(exc))
    kind = file_kind(info.st_mode)
    if kind is not None:
        return Skip(kind)
    return FileStat(info.st_size, info.st_mtime_ns)


def read_source(path: str | os.PathLike[str], max_bytes: int) -> Source | Skip:
    """The whole content of a regular text file of at most ``max_bytes`` bytes."""
    checked = stat_file(path)
    if isinstance(checked, Skip):
        return checked
    if checked.size > max_bytes:
        return Skip("too_large", size=checked.size)
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        return Skip("missing")
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink since the lstat
            return Skip("symlink")
        if exc.errno == errno.ENOTDIR:
            return Skip("missing")
        return Skip("error", describe_error(exc), transient=is_transient(exc))
    try:
        with open(fd, "rb", closefd=True) as stream:
            opened = os.fstat(stream.fileno())
            kind = file_kind(opened.st_mode)
            if kind is not None:
                return Skip(kind)
            head = stream.read(BINARY_SNIFF_BYTES)
            if b"\x00" in head:
                return Skip("binary", size=opened.st_size)
            rest = stream.read(max_bytes + 1 - len(head)) if len(head) <= max_bytes else b""
            data = head + rest
            if len(data) > max_bytes:  # it grew past the cap while we read it
                return Skip("too_large", size=len(data))
            after = os.fstat(stream.fileno())
            if (after.st_size, after.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns) \
                    or len(data) != opened.st_size:
                # Written to while we read: these bytes may be half of one version and half
                # of another, which no analyzer should record as the file's content.
                return Skip("error", "changed while being read", size=len(data),
                            transient=True)
            return Source(data=data, size=len(data), mtime_ns=opened.st_mtime_ns,
                          content_hash=hashlib.sha256(data).hexdigest())
    except OSError as exc:
        return Skip("error", describe_error(exc), transient=is_transient(exc))


def decode_text(data: bytes, *, python: bool = False) -> tuple[str, str]:
    """The text of a file and the encoding it was read with.

    UTF-8 first (a BOM is dropped so columns on line 1 match what ``ast`` reports);
    then, for Python, the PEP 263 declaration; then Latin-1, which cannot fail and
    keeps every byte as one character, so line numbers and ASCII identifiers stay
    right even when the real encoding is unknown.
    """
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if python:
        try:
            declared, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            if codecs.lookup(declared).name not in ("utf-8", "utf-8-sig"):
                return data.decode(declared), declared
        except (SyntaxError, LookupError, UnicodeDecodeError):
            pass
    return data.decode("latin-1"), "latin-1"

"""Sealed segments: archived events in compressed files beside the log (IO only).

``<db>.archive/`` (mode 0700) holds a marker file saying whose it is and one file per
archive, ``seg-<first seq>-<last seq>.jsonl.zst`` (mode 0600): zstd-compressed JSON
lines, one per event, each with every column of ``events`` (``payload`` as the stored
text, so its hash can be recomputed byte for byte). A segment is written under a
temporary name, fsync'ed, renamed into place and its directory fsync'ed before the log
transaction that refers to it, so a referenced segment is always whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import zstandard

from analyzers.common.private_files import create_private, fsync_dir
from daemon.log.hashchain import ChainRow, ChainStart, first_break
from daemon.log.store import StoredRow

MARKER = "REALWORLD-ARCHIVE"
MARKER_FORMAT = "realworld-archive"
FORMAT_VERSION = 1
SEGMENT_SUFFIX = ".jsonl.zst"
#: zstd's default level: compresses a log's JSON about 8 to 1 at a few hundred MB/s.
LEVEL = 3
_SEGMENT_NAME = re.compile(r"^seg-(\d{12})-(\d{12})\.jsonl\.zst$")
_LEFTOVER = re.compile(r"^\.seg-.*\.tmp$")
_COLUMNS = ("seq", "event_id", "session_id", "type", "version", "ts", "payload", "prev_hash",
            "hash")
_CHUNK = 1 << 20


class ArchiveDirError(Exception):
    """An archive directory we must not use (not ours, another log's, unreadable); one
    line for a person."""


class SegmentError(Exception):
    """A segment file that cannot be read as one; one line naming it."""


def archive_dir(db_path: Path) -> Path:
    """``<db>.archive`` beside the log."""
    return db_path.with_name(db_path.name + ".archive")


def segment_name(first_seq: int, last_seq: int) -> str:
    return f"seg-{first_seq:012d}-{last_seq:012d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> tuple[int, int] | None:
    match = _SEGMENT_NAME.match(name)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _marker_text(origin: str) -> str:
    return json.dumps({"format": MARKER_FORMAT, "version": FORMAT_VERSION, "origin": origin},
                      sort_keys=True) + "\n"


def read_marker(directory: Path) -> dict[str, Any] | None:
    """The marker's content; None when there is no marker."""
    path = directory / MARKER
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchiveDirError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("format") != MARKER_FORMAT:
        raise ArchiveDirError(f"{directory} is not a realworld archive directory "
                              f"({MARKER} is somebody else's)")
    return data


class ArchiveDir:
    """The segment directory of one log, checked to be ours."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def marked(self) -> bool:
        """Whether its marker is there (an empty directory is adopted by :meth:`create`)."""
        return (self.path / MARKER).is_file()

    @classmethod
    def check(cls, path: Path, origin: str | None) -> ArchiveDir | None:
        """The directory if it exists and is ours (and, when ``origin`` is known, this
        log's); None when it does not exist. Raises :class:`ArchiveDirError` otherwise."""
        if not os.path.lexists(path):
            return None
        if path.is_symlink() or not path.is_dir():
            raise ArchiveDirError(f"{path} is not a directory: not a realworld archive")
        marker = read_marker(path)
        if marker is None:
            if any(path.iterdir()):
                raise ArchiveDirError(f"{path} is not a realworld archive directory (no "
                                      f"{MARKER} in it); move it away or use another --db")
            return cls(path)  # an empty directory: adopted by create()
        recorded = marker.get("origin")
        if origin is not None and recorded and recorded != origin:
            raise ArchiveDirError(f"{path} holds the archive of another log (its first "
                                  f"event's hash is {str(recorded)[:12]}…, this log's "
                                  f"{origin[:12]}…)")
        return cls(path)

    @classmethod
    def create(cls, path: Path, origin: str) -> ArchiveDir:
        """The directory, made (0700, with its marker) if it is not there yet."""
        found = cls.check(path, origin)
        if found is None:
            with contextlib.suppress(FileExistsError):  # made meanwhile: checked below
                path.mkdir(mode=0o700)
            found = cls.check(path, origin)
            assert found is not None
        os.chmod(path, 0o700)
        if not (path / MARKER).exists():
            staged = path / f".{MARKER}.{secrets.token_hex(4)}.tmp"
            fd = create_private(staged)
            try:
                os.write(fd, _marker_text(origin).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(staged, path / MARKER)
            fsync_dir(path)
            fsync_dir(path.parent)
        return found

    @contextmanager
    def locked(self) -> Iterator[bool]:
        """An exclusive lock on the marker for the duration of one archive: True when
        taken, False when another archive holds it (nothing waits)."""
        fd = os.open(self.path / MARKER, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock

    def segments(self) -> list[str]:
        """Names of the segment files present, in seq order."""
        names = [entry.name for entry in os.scandir(self.path)
                 if entry.is_file(follow_symlinks=False) and parse_segment_name(entry.name)]
        return sorted(names)

    def leftovers(self) -> list[str]:
        """Temporary files of a segment write that never finished."""
        return sorted(entry.name for entry in os.scandir(self.path)
                      if _LEFTOVER.match(entry.name))

    def remove(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def sync(self) -> None:
        fsync_dir(self.path)


@dataclass(frozen=True)
class SegmentFile:
    name: str
    sha256: str
    size: int
    first_seq: int
    last_seq: int
    events: int
    first_prev_hash: str
    last_hash: str
    reused: bool  # an identical file was there already (left by an archive that crashed)


def _line(row: StoredRow) -> bytes:
    """One event as a JSON object; the payload is the stored text itself, so its hash can
    be recomputed from the line. orjson writes it in half the time; what it refuses (a
    lone surrogate in a text column) goes through ``json``, escaped."""
    record = dict(zip(_COLUMNS, row, strict=True))
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


class _HashingFile:
    """A raw file descriptor that hashes and counts what is written through it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            self.digest.update(view[:written])
            self.size += written
            view = view[written:]
        return len(data)

    def flush(self) -> None:
        pass


def write_segment(directory: ArchiveDir, rows: Iterable[StoredRow]) -> SegmentFile:
    """Write ``rows`` (consecutive seqs, in order) as a segment: temporary name, fsync,
    rename, directory fsync. An identical file already under the name (an archive that
    crashed before its transaction) is kept as it is; a different one is replaced."""
    staged = directory.path / f".seg-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = create_private(staged)
    first: StoredRow | None = None
    last: StoredRow | None = None
    count = 0
    try:
        sink = _HashingFile(fd)
        compressor = zstandard.ZstdCompressor(level=LEVEL)
        with compressor.stream_writer(sink, closefd=False) as writer:  # type: ignore[arg-type]
            buffer = bytearray()
            for row in rows:
                if first is None:
                    first = row
                last = row
                count += 1
                buffer += _line(row)
                if len(buffer) >= _CHUNK:
                    writer.write(bytes(buffer))
                    buffer.clear()
            if buffer:
                writer.write(bytes(buffer))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        staged.unlink(missing_ok=True)
        raise
    os.close(fd)
    if first is None or last is None:
        staged.unlink(missing_ok=True)
        raise ValueError("a segment needs at least one event")
    name = segment_name(first[0], last[0])
    target = directory.path / name
    sha = sink.digest.hexdigest()
    reused = False
    try:
        if target.exists() and file_sha256(target) == sha:
            staged.unlink()
            reused = True
        else:
            os.replace(staged, target)
        directory.sync()
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return SegmentFile(name, sha, sink.size, first[0], last[0], count, first[7], last[8],
                       reused)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _row(line: bytes, name: str, number: int) -> StoredRow:
    try:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            data = json.loads(line)  # a lone surrogate, escaped by json when written
        values = tuple(data[column] for column in _COLUMNS)
    except (ValueError, KeyError, TypeError) as exc:
        raise SegmentError(f"segment {name}: line {number} is not an event ({exc})") from None
    seq, event_id, session_id, event_type, version, ts, payload, prev_hash, digest = values
    return (seq, event_id, session_id, event_type, version, ts, payload, prev_hash, digest)


def read_segment(path: Path) -> Iterator[StoredRow]:
    """The rows of a segment in order; :class:`SegmentError` if it cannot be read."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            reader = zstandard.ZstdDecompressor().stream_reader(handle)
            pending = b""
            number = 0
            while True:
                chunk = reader.read(_CHUNK)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    number += 1
                    yield _row(line, name, number)
            if pending.strip():
                raise SegmentError(f"segment {name} ends in the middle of a line")
    except zstandard.ZstdError as exc:
        raise SegmentError(f"segment {name} is not a whole zstd file ({exc})") from None


@dataclass(frozen=True)
class SegmentRecord:
    """What the log recorded of a segment (its ``log_archived`` event): what the file must be."""

    name: str
    sha256: str
    size: int
    first_seq: int
    last_seq: int
    events: int
    first_prev_hash: str
    anchor: str


def verified_rows(path: Path, record: SegmentRecord) -> Iterator[StoredRow]:
    """The rows of the segment at ``path``, checked against ``record`` as they are read:
    the file's SHA-256, then every row's hash and link, its seqs, its count and its last
    hash. :class:`SegmentError` (naming the segment) at the first thing that differs."""
    name = record.name
    actual = file_sha256(path)
    if actual != record.sha256:
        raise SegmentError(f"segment {name}: its SHA-256 is {actual[:16]}…, the log_archived "
                           f"event recorded {record.sha256[:16]}…: the file was changed")
    expected = ChainStart(record.first_seq - 1, record.first_prev_hash)
    count = 0
    for row in read_segment(path):
        broken = first_break((ChainRow(*row),), expected)
        if broken is not None:
            raise SegmentError(f"segment {name}: seq {broken.seq}: {broken.reason}")
        expected = ChainStart(row[0], row[8])
        count += 1
        yield row
    if (count, expected.seq, expected.hash) != (record.events, record.last_seq, record.anchor):
        raise SegmentError(f"segment {name}: holds {count} events ending at seq {expected.seq}, "
                           f"the log_archived event recorded {record.events} ending at seq "
                           f"{record.last_seq} on its anchor")

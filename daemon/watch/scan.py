"""Reading the workspace's files from disk: ``scan`` walks the tree, ``read_state`` reads one.

``scan`` returns a :class:`ScanResult`: a :class:`~daemon.watch.snapshot.FileState` per
tracked file plus a :class:`~daemon.watch.snapshot.ScanError` per thing it could not
read. A rescan — at startup against the ``files`` projection, after a queue overflow, on
a schedule — is ``diff(known, scan(root, rules, previous=known).files)``.

Bad input never raises (DESIGN.md invariant 5):

- symbolic links are never followed, neither to directories (no loops, no escape from
  the workspace) nor to files (a link may point at ``/dev/zero`` or outside the
  workspace); they are counted in ``ScanResult.symlinks`` and not tracked;
- a directory reached twice (bind mounts) is walked once (``loop`` error);
- FIFOs, sockets and devices are never opened for reading (``not_regular`` error);
- unreadable files and directories (``unreadable``), files that vanish between listing
  and reading (``vanished``) and other I/O errors (``io_error``) become errors;
- files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat`` after
  opening, so a path swapped for a FIFO or link after listing is caught too.

Hashing cost: the content hash is SHA-256 of the bytes (read in 1 MiB chunks; faster
than BLAKE2b where the CPU has SHA instructions). A scan given a ``previous`` state
reuses the hash of a file whose size and mtime are unchanged, so a rescan reads only
what changed. Files above ``max_hash_bytes`` are not read at all: their hash is
``stat:<size>:<mtime_ns>`` (changes still show through size/mtime).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field

from daemon.watch.ignore import IgnoreRules, normalize
from daemon.watch.snapshot import ErrorKind, FileState, ScanError

CHUNK_BYTES = 1 << 20
DEFAULT_MAX_HASH_BYTES = 256 << 20
STAT_HASH_PREFIX = "stat:"
# A file that changes while it is hashed is hashed again, this many times at most.
_HASH_ATTEMPTS = 3

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True)
class ScanResult:
    """What one scan found, and what it cost."""

    files: dict[str, FileState]
    errors: tuple[ScanError, ...] = ()
    directories: int = 0  # directories walked (not ignored)
    symlinks: int = 0  # symbolic links seen and not followed
    hashed_bytes: int = 0  # bytes actually read (the rest came from ``previous``)


# --- reading one file ---------------------------------------------------------


def _error_kind(exc: OSError) -> ErrorKind:
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOTDIR:
        return "vanished"
    if isinstance(exc, PermissionError):
        return "unreadable"
    if exc.errno == errno.ELOOP:  # O_NOFOLLOW on a path that became a symlink
        return "not_regular"
    return "io_error"


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def stat_hash(size: int, mtime_ns: int) -> str:
    return f"{STAT_HASH_PREFIX}{size}:{mtime_ns}"


def hash_open_file(fd: int, size_hint: int = CHUNK_BYTES) -> tuple[str, int]:
    """SHA-256 hex of everything readable from ``fd`` and the number of bytes read.

    Reads in chunks of at most 1 MiB, sized down for small files (allocating a 1 MiB
    buffer per file would cost more than hashing most source files).
    """
    digest = hashlib.sha256()
    chunk = max(4096, min(CHUNK_BYTES, size_hint + 1))
    total = 0
    while True:
        data = os.read(fd, chunk)
        if not data:
            break
        digest.update(data)
        total += len(data)
    return digest.hexdigest(), total


def read_state(
    root: str,
    path: str,
    previous: FileState | None = None,
    *,
    max_hash_bytes: int | None = DEFAULT_MAX_HASH_BYTES,
) -> FileState | ScanError | None:
    """The state of one workspace file, read now.

    ``None`` when there is no regular file to track there (missing, a directory, a
    symlink). With ``previous`` of equal size and mtime the old hash is reused without
    reading; pass ``None`` to force a read (the watcher does, after an event).
    """
    absolute = os.path.join(root, *path.split("/"))
    try:
        before = os.lstat(absolute)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOTDIR:
            return None
        return ScanError(path, _error_kind(exc), _describe(exc))
    if stat.S_ISDIR(before.st_mode) or stat.S_ISLNK(before.st_mode):
        return None
    if not stat.S_ISREG(before.st_mode):
        return ScanError(path, "not_regular", _special_kind(before.st_mode))
    if (
        previous is not None
        and previous.size == before.st_size
        and previous.mtime == before.st_mtime
    ):
        return FileState(path, before.st_size, before.st_mtime, previous.content_hash)
    if max_hash_bytes is not None and before.st_size > max_hash_bytes:
        return FileState(
            path, before.st_size, before.st_mtime, stat_hash(before.st_size, before.st_mtime_ns)
        )
    return _hash_file(absolute, path)


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not read"
    if stat.S_ISSOCK(mode):
        return "a socket, not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not read"
    return "not a regular file, not read"


def _hash_file(absolute: str, path: str) -> FileState | ScanError:
    try:
        fd = os.open(absolute, _OPEN_FLAGS)
    except OSError as exc:
        return ScanError(path, _error_kind(exc), _describe(exc))
    try:
        state: FileState | None = None
        for _ in range(_HASH_ATTEMPTS):
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                return ScanError(path, "not_regular", _special_kind(opened.st_mode))
            os.lseek(fd, 0, os.SEEK_SET)
            content_hash, _ = hash_open_file(fd, opened.st_size)
            after = os.fstat(fd)
            state = FileState(path, after.st_size, after.st_mtime, content_hash)
            if (after.st_size, after.st_mtime_ns) == (opened.st_size, opened.st_mtime_ns):
                return state
        # Still being written: report what was read last; the writer's next event
        # (or the next rescan, since size or mtime will differ) reads it again.
        assert state is not None
        return state
    except OSError as exc:
        return ScanError(path, _error_kind(exc), _describe(exc))
    finally:
        os.close(fd)


# --- walking the tree ----------------------------------------------------------


@dataclass
class _Walk:
    root: str
    rules: IgnoreRules
    previous: Mapping[str, FileState]
    max_hash_bytes: int | None
    files: dict[str, FileState] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    directories: int = 0
    symlinks: int = 0
    hashed_bytes: int = 0
    seen_dirs: set[tuple[int, int]] = field(default_factory=set)

    def file(self, path: str) -> None:
        previous = self.previous.get(path)
        result = read_state(self.root, path, previous, max_hash_bytes=self.max_hash_bytes)
        if isinstance(result, FileState):
            self.files[path] = result
            reused = previous is not None and previous.content_hash == result.content_hash and (
                previous.size == result.size and previous.mtime == result.mtime
            )
            if not reused and not result.content_hash.startswith(STAT_HASH_PREFIX):
                self.hashed_bytes += result.size
        elif isinstance(result, ScanError):
            self.errors.append(result)
        # None: it vanished or became a directory/link after listing; nothing to track.

    def directory(self, start: str) -> None:
        stack = [start]
        while stack:
            directory = stack.pop()
            absolute = os.path.join(self.root, *directory.split("/")) if directory else self.root
            try:
                info = os.stat(absolute, follow_symlinks=False)
                key = (info.st_dev, info.st_ino)
                if key in self.seen_dirs:
                    self.errors.append(ScanError(directory, "loop", "directory reached twice"))
                    continue
                self.seen_dirs.add(key)
                with os.scandir(absolute) as iterator:
                    entries = list(iterator)
            except OSError as exc:
                if directory == start and start == "" and isinstance(exc, FileNotFoundError):
                    self.errors.append(ScanError("", "root_missing", _describe(exc)))
                else:
                    self.errors.append(ScanError(directory, _error_kind(exc), _describe(exc)))
                continue
            self.directories += 1
            subdirectories: list[str] = []
            for entry in entries:
                path = f"{directory}/{entry.name}" if directory else entry.name
                try:
                    if entry.is_symlink():
                        self.symlinks += 1
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError as exc:
                    self.errors.append(ScanError(path, _error_kind(exc), _describe(exc)))
                    continue
                if self.rules.is_ignored(path, is_dir):
                    continue
                if is_dir:
                    subdirectories.append(path)
                else:
                    self.file(path)
            stack.extend(sorted(subdirectories, reverse=True))


def scan(
    root: str | os.PathLike[str],
    rules: IgnoreRules,
    *,
    under: str = "",
    previous: Mapping[str, FileState] | None = None,
    max_hash_bytes: int | None = DEFAULT_MAX_HASH_BYTES,
) -> ScanResult:
    """Every tracked file below ``root`` (or only below ``root/under``) and every error.

    ``under`` may name a directory (its subtree is scanned), a file (just that file), or
    nothing that exists (an empty result). ``previous`` lets unchanged files keep their
    hash without being read.
    """
    walk = _Walk(
        root=os.fspath(root),
        rules=rules,
        previous=previous if previous is not None else {},
        max_hash_bytes=max_hash_bytes,
    )
    start = normalize(under)
    if start and rules.is_ignored(start, _is_real_dir(walk.root, start)):
        return ScanResult(files={})
    if start and not _is_real_dir(walk.root, start):
        walk.file(start)
        if start not in walk.files and not walk.errors:
            _count_symlink(walk, start)
    else:
        walk.directory(start)
    return ScanResult(
        files=walk.files,
        errors=tuple(walk.errors),
        directories=walk.directories,
        symlinks=walk.symlinks,
        hashed_bytes=walk.hashed_bytes,
    )


def _is_real_dir(root: str, path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(os.path.join(root, *path.split("/"))).st_mode)
    except OSError:
        return False


def _count_symlink(walk: _Walk, path: str) -> None:
    try:
        if stat.S_ISLNK(os.lstat(os.path.join(walk.root, *path.split("/"))).st_mode):
            walk.symlinks += 1
    except OSError:
        pass

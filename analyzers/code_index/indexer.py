"""``code_indexer``: keeps the code index in step with the workspace, incrementally.

A change batch re-reads the named paths; a file whose SHA-256 equals the indexed
one costs a read and nothing more. A full pass (:data:`~analyzers.base.FULL_PASS`)
lists the workspace, drops entries of files that are gone, and trusts an
unchanged size and mtime without reading (that is what makes a restart on a large
workspace cheap). Renames arrive as the old path (now missing: dropped) and the
new one (indexed).

No single file can fail the call: binary, oversized, vanished, unreadable or
special files are counted and skipped, Python that ``ast`` rejects is still
indexed as text. Only the index itself failing (disk full, a locked file past
the busy timeout) raises, and the runner records that as an error activity.

Long passes commit every few hundred files, so a call abandoned by the runner's
deadline (or a killed daemon) keeps what it did; a pass that runs past its own
time budget stops early and leaves the rest for the next call.

A file that failed (a bug of ours on odd input) or was busy or written to while
read is named in the result's ``failures`` for the runner to retry or quarantine;
quarantined paths (:meth:`CodeIndexer.exclude`) are never opened, and what the
index holds of them stays as it was.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from analyzers.base import AnalysisResult, FileFailure, is_full_pass, is_transient
from analyzers.code_index.pysymbols import extract_symbols, is_python, module_name, split_lines
from analyzers.code_index.store import FileRecord, IndexStore, KnownFile, SymbolRecord
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.locations import choose_index_path
from analyzers.common.printable import printable as _printable
from analyzers.common.secrets.redact import mask_secrets
from analyzers.common.sourcefile import Skip, decode_text, read_source, stat_file
from analyzers.common.walk import IgnoreRule, default_ignore, list_workspace

DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024
#: Below the runner's default 30 s deadline, so a long pass ends itself and reports.
DEFAULT_TIME_BUDGET_S = 20.0
COMMIT_EVERY_FILES = 200
COMMIT_EVERY_SECONDS = 1.0
ERROR_SAMPLES = 5


@dataclass
class _Tally:
    """What one call did; becomes the activity's ``result_data``."""

    mode: str
    files_indexed: int = 0
    files_skipped_unchanged: int = 0
    files_removed: int = 0
    missing: int = 0
    symbols: int = 0
    lines: int = 0
    bytes: int = 0
    skipped_binary: int = 0
    skipped_too_large: int = 0
    skipped_not_regular: int = 0
    skipped_quarantined: int = 0
    syntax_errors: int = 0
    non_utf8: int = 0
    errors: int = 0
    error_samples: list[dict[str, str]] = field(default_factory=list)
    parse_error_samples: list[dict[str, str]] = field(default_factory=list)
    pending: int = 0
    failures: list[FileFailure] = field(default_factory=list)  # for the runner, not the data

    def error(self, path: str, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append({"path": _printable(path), "error": message})

    def failed(self, path: str, exc: BaseException) -> None:
        # An exception on odd input may quote the file: what it says is masked like the file.
        message = mask_secrets(f"{type(exc).__name__}: {exc}")
        self.error(path, message)
        self.failures.append(FileFailure(path, "transient" if is_transient(exc) else "crash",
                                         message))


class CodeIndexer:
    name = "code_indexer"
    activity_type = "indexing"

    def __init__(self, *, index_path: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 ignore: IgnoreRule = default_ignore,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 time_budget_s: float = DEFAULT_TIME_BUDGET_S,
                 commit_every: int = COMMIT_EVERY_FILES,
                 env: Mapping[str, str] | None = None) -> None:
        if max_file_bytes < 1:
            raise ValueError("max_file_bytes must be positive")
        if time_budget_s <= 0:
            raise ValueError("time_budget_s must be positive")
        self._index_path = index_path
        self._log_path = log_path
        self._ignore = ignore
        self._max_file_bytes = max_file_bytes
        self._time_budget_s = time_budget_s
        self._commit_every = max(1, commit_every)
        self._env = env
        self._store: IndexStore | None = None
        self._root: str | None = None
        self._workspace_id = 0
        # Paths a call had no time for, oldest first; True when they came from a full pass
        # (so an unchanged size and mtime may be trusted).
        self._pending: dict[str, bool] = {}
        self._pass_unfinished = False  # the pending paths are the rest of a full pass
        self._excluded: frozenset[str] = frozenset()
        self._interrupted = threading.Event()

    # --- the protocol -------------------------------------------------------------

    def applies_to(self, path: str) -> bool:
        return not self._ignore(path, False)

    def exclude(self, paths: frozenset[str]) -> None:
        """Quarantined paths (the whole set): never opened until the runner releases them."""
        self._excluded = frozenset(paths)

    def interrupt(self) -> None:
        """The session is ending: the running call stops after the file it is on."""
        self._interrupted.set()

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        store = self._open(root)
        assert self._root is not None
        deadline = time.monotonic() + self._time_budget_s
        if is_full_pass(paths):
            tally = _Tally("full")
            if self._pass_unfinished and self._pending:
                # The last pass ran out of time: go on where it stopped. Listing the
                # workspace and starting from the top again, a pass that always runs out
                # of time would never end.
                work = dict(self._pending)
            else:
                work = self._full_pass_work(store, root, tally)
                # Changes that were waiting go first; the pass covers them all.
                work = {**{p: work[p] for p in self._pending if p in work}, **work}
            self._pending.clear()
        else:
            tally = _Tally("changes")
            work = dict(self._pending)
            self._pending.clear()
            for path in paths:
                work.pop(path, None)  # re-queued at the end: a change is newer than a pass
                work[path] = False
        known = store.known_files(self._workspace_id) if tally.mode == "full" else None
        self._index(store, self._root, work, known, tally, deadline)
        self._pass_unfinished = bool(self._pending) and (
            tally.mode == "full" or self._pass_unfinished)
        files, symbols = store.counts(self._workspace_id)
        data: dict[str, Any] = {
            **{k: v for k, v in vars(tally).items() if k != "failures"},
            "max_file_bytes": self._max_file_bytes,
            "index_path": os.fspath(store.path),
            "index_files": files,
            "index_symbols": symbols,
        }
        return AnalysisResult(summary=_summary(tally), data=data, remaining=tally.pending,
                              failures=tuple(tally.failures))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- work ---------------------------------------------------------------------

    def _open(self, root: Path) -> IndexStore:
        real = os.path.realpath(os.fspath(root))
        # A cache someone deleted to reclaim space is rebuilt, not written to as a ghost.
        if self._store is not None and self._root == real and self._store.path.exists():
            return self._store
        self.close()
        path = choose_index_path(real, explicit=self._index_path, log_path=self._log_path,
                                 env=self._env)
        store = IndexStore.open(path)
        with store.transaction():
            workspace_id = store.workspace_id(real, create=True)
        assert workspace_id is not None
        self._store, self._root, self._workspace_id = store, real, workspace_id
        self._pending.clear()
        return store

    def _full_pass_work(self, store: IndexStore, root: Path, tally: _Tally) -> dict[str, bool]:
        listing = list_workspace(root, self._ignore)
        for directory, problem in listing.problems:
            tally.error(directory, problem)
        present = set(listing.files)
        # Files below a directory we could not list may well still exist: keep them.
        blind = [d for d, _ in listing.problems]
        stale = [k for p, k in store.known_files(self._workspace_id).items()
                 if p not in present and not _below_any(p, blind)]
        if stale:
            with store.transaction():
                for known in stale:
                    store.remove_file(known.id)
            tally.files_removed += len(stale)
        return dict.fromkeys(listing.files, True)

    def _index(self, store: IndexStore, root: str, work: Mapping[str, bool],
               known: Mapping[str, KnownFile] | None, tally: _Tally, deadline: float) -> None:
        queue: Iterator[tuple[str, bool]] = iter(list(work.items()))
        now = _now()
        while True:
            done = 0
            started = time.monotonic()
            with store.transaction():
                for path, trust_stat in queue:
                    if path in self._excluded:
                        tally.skipped_quarantined += 1
                        continue
                    previous = (known.get(path) if known is not None
                                else store.known_file(self._workspace_id, path))
                    self._one(store, root, path, previous, trust_stat, tally, now)
                    done += 1
                    if (done >= self._commit_every
                            or time.monotonic() - started >= COMMIT_EVERY_SECONDS
                            or self._out_of_time(deadline)):
                        break
                else:
                    return
            if self._out_of_time(deadline):
                self._pending.update(queue)
                tally.pending = len(self._pending)
                return
            now = _now()

    def _out_of_time(self, deadline: float) -> bool:
        return self._interrupted.is_set() or time.monotonic() >= deadline

    def _one(self, store: IndexStore, root: str, path: str, previous: KnownFile | None,
             trust_stat: bool, tally: _Tally, now: str) -> None:
        """Index one path inside the caller's transaction; a failure is this file's alone.

        Everything that can fail on odd input (reading, decoding, parsing) happens
        before the first write, so a failure leaves nothing half-written and needs no
        savepoint (which would also make FTS5 flush a tiny segment per file: measured
        3x slower on a cold pass). What fails after that is SQLite itself, and raises.
        """
        try:
            planned = self._plan(root, path, previous, trust_stat)
        except Exception as exc:  # a bug of ours on odd input must cost one file only
            tally.failed(path, exc)
            return
        if planned is None:
            tally.files_skipped_unchanged += 1
        elif isinstance(planned, Skip):
            self._skipped(store, path, planned, previous, tally)
        elif isinstance(planned, int):
            assert previous is not None
            store.touch_file(previous.id, planned)
            tally.files_skipped_unchanged += 1
        else:
            self._write(store, planned, tally, now)

    def _plan(self, root: str, path: str, previous: KnownFile | None,
              trust_stat: bool) -> FileRecord | Skip | int | None:
        """What to do with one path: ``None`` nothing (unchanged), an ``int`` a new mtime
        for unchanged content, a :class:`Skip`, or the record to write."""
        if not is_workspace_relative(path):
            return Skip("error", "path is outside the workspace")
        absolute = os.path.join(root, *path.split("/"))
        if trust_stat and previous is not None:
            stat = stat_file(absolute)
            if not isinstance(stat, Skip) and (stat.size, stat.mtime_ns) == (
                    previous.size, previous.mtime_ns):
                return None
        source = read_source(absolute, self._max_file_bytes)
        if isinstance(source, Skip):
            return source
        if previous is not None and previous.content_hash == source.content_hash:
            return None if previous.mtime_ns == source.mtime_ns else source.mtime_ns
        return build_record(path, source.data, source.content_hash, source.mtime_ns)

    def _write(self, store: IndexStore, record: FileRecord, tally: _Tally, now: str) -> None:
        try:
            store.write_file(self._workspace_id, record, now)
        except sqlite3.Error:
            raise
        except Exception as exc:  # text SQLite refuses: drop whatever part got written
            tally.failed(record.path, exc)
            written = store.known_file(self._workspace_id, record.path)
            if written is not None:
                store.remove_file(written.id)
            return
        tally.files_indexed += 1
        tally.bytes += record.size
        tally.lines += len(record.lines)
        tally.symbols += len(record.symbols)
        if record.encoding != "utf-8":
            tally.non_utf8 += 1
        if record.parse_error is not None:
            tally.syntax_errors += 1
            if len(tally.parse_error_samples) < ERROR_SAMPLES:
                tally.parse_error_samples.append(
                    {"path": _printable(record.path), "error": record.parse_error})

    def _skipped(self, store: IndexStore, path: str, skip: Skip, previous: KnownFile | None,
                 tally: _Tally) -> None:
        if skip.reason == "error":
            # Unreadable now (permissions, IO): the last indexed content stays searchable.
            tally.error(path, skip.detail)
            if skip.transient:
                tally.failures.append(FileFailure(path, "transient", skip.detail))
            return
        if skip.reason == "missing":
            tally.missing += 1
        elif skip.reason == "binary":
            tally.skipped_binary += 1
        elif skip.reason == "too_large":
            tally.skipped_too_large += 1
        else:  # a symlink (never followed), a directory, a FIFO, a device
            tally.skipped_not_regular += 1
        if previous is not None:
            store.remove_file(previous.id)
            tally.files_removed += 1


def build_record(path: str, data: bytes, content_hash: str, mtime_ns: int) -> FileRecord:
    """What the index keeps of one file's bytes: its lines, every secret in them masked
    (invariant 10: the index is a file like any other), and, for Python, its symbols."""
    python = is_python(path, data[:256])
    text, encoding = decode_text(data, python=python)
    lines = split_lines(text)
    symbols: tuple[SymbolRecord, ...] = ()
    parse_error: str | None = None
    if python:
        # From the text as written: masking changes lengths, and columns are the file's.
        scan = extract_symbols(text, module_name(path), lines)
        parse_error = scan.error
        symbols = tuple(SymbolRecord(s.name, s.qualname, s.kind, s.line, s.col, s.depth)
                        for s in scan.symbols)
    masked = mask_secrets(text)
    if masked is not text:
        lines = split_lines(masked)  # the same number of lines: a mask never spans a line end
    if lines and lines[-1] == "":
        lines.pop()  # the text ended with a newline: no line after it
    return FileRecord(path=path, content_hash=content_hash, size=len(data), mtime_ns=mtime_ns,
                      encoding=encoding, lines=lines, symbols=symbols, parse_error=parse_error)


def _summary(tally: _Tally) -> str:
    parts = [f"{tally.files_indexed} files"]
    if tally.files_skipped_unchanged:
        parts.append(f"{tally.files_skipped_unchanged} unchanged")
    if tally.files_removed:
        parts.append(f"{tally.files_removed} removed")
    skipped = tally.skipped_binary + tally.skipped_too_large
    if skipped:
        parts.append(f"{skipped} skipped")
    if tally.errors:
        parts.append(f"{tally.errors} errors")
    if tally.pending:
        parts.append(f"{tally.pending} pending")
    return ", ".join(parts)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _below_any(path: str, directories: Sequence[str]) -> bool:
    return any(d == "." or path.startswith(f"{d}/") for d in directories)



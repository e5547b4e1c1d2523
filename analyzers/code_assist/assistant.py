"""``code_assistant``: what an editor asks a language engine, asked of jedi on changed files.

Each call takes up to ``files_per_pass`` of the Python files it is given (on a full pass,
of the workspace's files that changed since the previous pass: every file, the first time),
samples up to ``positions_per_file`` real positions of each kind in
each (:mod:`analyzers.code_assist.positions`) and asks jedi, in a worker process
(:mod:`analyzers.code_assist.requests`): go to definition, references, and completion
right after the dot of an ``x.attr`` the code really uses. Every request is timed, and its
answer checked (:mod:`analyzers.code_assist.judge`) against the code index's symbol table
and against the code itself. The call's data holds the figures only: requests, p50/p95
latency per kind, agreement per kind and the overall ``accuracy``.

It runs once the indexer's call of a batch has ended (``runs_after``), beside the scanner
and the probe, so it checks jedi against an index that already holds the batch. Each file
is bounded by ``file_timeout_s`` in its worker: a file past it, or one jedi fails on, is
named in the result's ``failures``; the runner asks for it alone and, failing again on the
same bytes, quarantines it. A full pass does not ask again bytes that failed, nor files
whose size and modification time are those it recorded at the last pass or call
(``asked.db`` in jedi's cache directory, a
:class:`~analyzers.common.result_cache.ResultCache`): asking jedi the same questions of
the same bytes measures nothing new, and cost every ``run --once`` 1.6 s of jedi on this
repository's 672-file stdlib copy. Quarantined paths (:meth:`CodeAssistant.exclude`) are
never opened. ``budget_s`` bounds a call: files not started within it are not asked this
time (a sampler has no backlog to keep).

jedi is given a project rooted at the workspace, so definitions in other modules
resolve; its cache directory sits beside the code index, outside the workspace.
"""

from __future__ import annotations

import ast
import contextlib
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.base import AnalysisResult, FileFailure, is_full_pass, is_transient
from analyzers.code_assist.judge import Defined, Truth, Verdict, figures, judge
from analyzers.code_assist.positions import KINDS, name_uses, sample_positions
from analyzers.code_assist.requests import Assistant, AssistTask, FileAnswers, make_assistant
from analyzers.code_index.pysymbols import PARSE_ERRORS, split_lines
from analyzers.code_index.store import IndexStore, IndexUnavailable
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.locations import choose_cache_path, choose_index_path
from analyzers.common.private_files import make_private_dirs
from analyzers.common.pyparse import parse_python
from analyzers.common.result_cache import ResultCache
from analyzers.common.sourcefile import Skip, decode_text, read_source, stat_file
from analyzers.common.walk import IgnoreRule, default_ignore, list_workspace
from analyzers.common.workerpool import Outcome, WorkerPool

DEFAULT_FILES_PER_PASS = 5
DEFAULT_POSITIONS_PER_FILE = 3  # of each kind: up to 9 requests a file
DEFAULT_BUDGET_S = 20.0  # below the runner's default 30 s deadline per call
DEFAULT_FILE_TIMEOUT_S = 10.0
DEFAULT_MAX_FILE_BYTES = 1024 * 1024  # bigger Python files are generated, not written
#: One worker: jedi keeps what it inferred warm in its process, and the machine's cores
#: are already shared with the scanner's and the probe's workers.
DEFAULT_PROCESSES = 1
#: Files read (to sample them) per file asked: a file with nothing to ask about costs a
#: read, and a pass over a workspace of empty ``__init__.py`` files must still end.
READS_PER_FILE = 4
MAX_LISTED = 5
PYTHON_SUFFIXES = (".py", ".pyw")
CACHE_NAME = "jedi"
ASKED_NAME = "asked.db"  # in jedi's cache directory: the stamps of files already asked about


@dataclass(frozen=True)
class _Sampled:
    """A file read and parsed, its positions still to be drawn."""

    path: str
    digest: str
    tree: ast.Module
    lines: list[str]


@dataclass
class _Call:
    full: bool
    asked: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
    problem_count: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    unasked: int = 0  # files sampled but not started within the budget
    answered: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Survey:
    """A full pass's listing beside the record of what was asked."""

    stamps: dict[str, str]  # every listed regular file's stamp
    changed: list[str]  # listed files not asked about as they are now (or with no stamp)
    recorded: dict[str, str]  # the record as it was: path -> stamp
    unchanged: int


class CodeAssistant:
    """Asks jedi for definitions, references and completions at real positions, and
    checks the answers against the code index."""

    name = "code_assistant"
    activity_type = "code_assistance"
    runs_after_others = True  # after the indexer's call of a batch: checked on fresh symbols
    # Only the indexer: jedi's answers then overlap the scanner's and the probe's work.
    runs_after = frozenset({"code_indexer"})

    def __init__(self, *, index_path: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 cache_path: str | os.PathLike[str] | None = None,
                 ignore: IgnoreRule = default_ignore,
                 files_per_pass: int = DEFAULT_FILES_PER_PASS,
                 positions_per_file: int = DEFAULT_POSITIONS_PER_FILE,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 file_timeout_s: float = DEFAULT_FILE_TIMEOUT_S,
                 budget_s: float | None = DEFAULT_BUDGET_S,
                 processes: int = DEFAULT_PROCESSES, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic,
                 env: Mapping[str, str] | None = None) -> None:
        if files_per_pass < 1 or positions_per_file < 1:
            raise ValueError("files_per_pass and positions_per_file must be at least 1")
        if processes < 0:
            raise ValueError("processes must be 0 (in this thread) or more")
        self._index_path = index_path
        self._log_path = log_path
        self._cache_path = cache_path
        self._ignore = ignore
        self._files = files_per_pass
        self._positions = positions_per_file
        self._max_file_bytes = max_file_bytes
        self._file_timeout_s = file_timeout_s
        self._budget_s = budget_s
        self._processes = processes
        self._clock = clock
        self._env = env
        self._rng = random.Random(seed)  # the sequence of samples repeats from run to run
        self._excluded: frozenset[str] = frozenset()
        self._failed: dict[str, str] = {}  # path -> digest jedi failed on or ran out of time
        self._interrupted = threading.Event()
        self._pool: WorkerPool | None = None
        self._pool_cache: str | None = None
        self._here: Assistant | None = None  # processes=0
        self._store: IndexStore | None = None
        self._store_key: tuple[str, Path] | None = None
        # The runner may start a call while an earlier one it gave up on still runs: both
        # read the index through one connection, which neither may close under the other
        # (SQLite crashes the process when a connection closes mid-statement).
        self._store_lock = threading.Lock()
        self._asked: ResultCache | None = None
        self._asked_root: str | None = None
        self._asked_lock = threading.Lock()  # the same hazard, for the record of what was asked
        # prepare's survey of a full pass, run beside the batch's first calls and handed to
        # the call that follows: (real root, survey), or None.
        self._preparing: threading.Thread | None = None
        self._prepared: tuple[str, _Survey] | None = None

    def applies_to(self, path: str) -> bool:
        return path.endswith(PYTHON_SUFFIXES) and not self._ignore(path, False)

    def exclude(self, paths: frozenset[str]) -> None:
        """Quarantined paths (the whole set): never opened until the runner releases them."""
        self._excluded = frozenset(paths)

    def prepare(self, root: Path, paths: Sequence[str]) -> None:
        """Start the jedi worker while the batch's other calls run, when the call will ask
        something: its start-up (an interpreter, jedi's imports and first inference) is then
        off this call's time. A full pass's survey (listing and stat-ing the workspace,
        50 ms on 700 files) runs in a thread of its own, not before the batch's first calls,
        and the call uses it."""
        if self._processes == 0 or self._interrupted.is_set():
            return
        real = os.path.realpath(os.fspath(root))
        if not is_full_pass(paths):
            self._ensure_pool(self._jedi_cache(real)).start(1)
            return
        self._finish_preparing()
        self._preparing = threading.Thread(target=self._prepare_pass, args=(real,),
                                           name="code-assistant-prepare", daemon=True)
        self._preparing.start()

    def _prepare_pass(self, real: str) -> None:
        try:
            survey = self._survey(Path(real))
            self._prepared = (real, survey)
            if survey.changed and not self._interrupted.is_set():
                self._ensure_pool(self._jedi_cache(real)).start(1)
        except Exception:  # the call surveys again, and says what is wrong
            self._prepared = None

    def _finish_preparing(self) -> None:
        """Wait for prepare's thread: the pool and the record are not shared with it."""
        if self._preparing is not None:
            self._preparing.join()
            self._preparing = None

    def _take_prepared(self, real: str) -> _Survey | None:
        self._finish_preparing()
        prepared, self._prepared = self._prepared, None
        return prepared[1] if prepared is not None and prepared[0] == real else None

    def interrupt(self) -> None:
        """The session is ending: no file starts, and the worker holding one is stopped."""
        self._interrupted.set()
        if self._pool is not None:
            self._pool.interrupt()

    def release(self) -> None:
        """Stop the jedi worker (and what it inferred); the next call starts one again."""
        self._finish_preparing()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        self.release()
        self._close_store()
        with self._asked_lock:
            if self._asked is not None:
                self._asked.close()
                self._asked = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        started = self._clock()
        real = os.path.realpath(os.fspath(root))
        call = _Call(full=is_full_pass(paths))
        prepared = self._take_prepared(real)
        survey = (prepared or self._survey(Path(real))) if call.full else None
        sampled = self._sampled(Path(real), paths, call, survey)
        index = self._index_location(real)
        truth = self._truth(real, index, sampled)
        tasks = [AssistTask(f.path, os.path.join(real, f.path), real, f.digest,
                            self._max_file_bytes,
                            sample_positions(f.path, f.digest, f.tree, f.lines, self._positions,
                                             None if truth is None else truth.in_workspace))
                 for f in sampled]
        tasks = [t for t in tasks if t.positions]
        call.skipped["nothing_to_ask"] += len(sampled) - len(tasks)
        if tasks:
            self._ask(real, tasks, started, truth, call)
        self._remember(real, call, survey)
        return self._result(call, index, truth is not None)

    # --- what to ask ----------------------------------------------------------------

    def _sampled(self, root: Path, paths: Sequence[str], call: _Call,
                 survey: _Survey | None) -> list[_Sampled]:
        """Up to ``files_per_pass`` files, read and parsed: of the files a full pass's
        ``survey`` found changed, or of a batch's ``paths``."""
        if survey is not None:
            candidates = list(survey.changed)
            call.skipped["unchanged"] += survey.unchanged
        else:
            candidates = list(dict.fromkeys(paths))
        candidates.sort()
        self._rng.shuffle(candidates)
        sampled: list[_Sampled] = []
        reads = 0
        for path in candidates:
            if len(sampled) >= self._files or reads >= self._files * READS_PER_FILE \
                    or self._interrupted.is_set():
                break
            if path in self._excluded:
                call.skipped["quarantined"] += 1
                continue
            if not is_workspace_relative(path):
                self._problem(call, path, "outside the workspace")
                continue
            reads += 1
            source = read_source(root / path, self._max_file_bytes)
            if isinstance(source, Skip):
                call.skipped[source.reason] += 1
                if source.transient:
                    call.failures.append(FileFailure(path, "transient", source.detail))
                if source.reason != "missing":
                    self._problem(call, path, source.reason)
                continue
            if call.full and self._failed.get(path) == source.content_hash:
                # A pass does not spend the bound again on bytes that failed; a batch naming
                # the file does (the runner isolating it: twice, and it is quarantined).
                call.skipped["failed_before"] += 1
                continue
            text, _ = decode_text(source.data, python=True)
            try:
                tree = parse_python(text)
            except PARSE_ERRORS:
                call.skipped["does_not_parse"] += 1  # mid-edit text: asked once it parses
                continue
            sampled.append(_Sampled(path, source.content_hash, tree, split_lines(text)))
        return sampled

    # --- what was asked -------------------------------------------------------------

    def _survey(self, root: Path) -> _Survey:
        listed = [p for p in list_workspace(root, self._ignore).files if self.applies_to(p)]
        with self._asked_lock:
            recorded = {p: e.digest for p, e in self._asked_cache(os.fspath(root)).load().items()}
        stamps: dict[str, str] = {}
        changed: list[str] = []
        for path in listed:
            stamp = _stamp(root / path)
            if stamp is not None:
                stamps[path] = stamp
            # No stamp (a link, gone since the listing): reading it will say why it is skipped.
            if stamp is None or recorded.get(path) != stamp:
                changed.append(path)
        return _Survey(stamps, changed, recorded, len(listed) - len(changed))

    def _asked_cache(self, real: str) -> ResultCache:
        """Under ``_asked_lock``."""
        if self._asked is not None and self._asked_root == real:
            return self._asked
        if self._asked is not None:
            self._asked.close()
        self._asked = ResultCache(Path(self._jedi_cache(real)) / ASKED_NAME, real, self.name)
        self._asked_root = real
        return self._asked

    def _remember(self, real: str, call: _Call, survey: _Survey | None) -> None:
        """A full pass that ran to its end records every file it listed, asked or not (the
        next pass asks about what changed since); a batch records the files it asked about.
        A file that failed stays unrecorded, so it is asked again once its bytes change."""
        if self._interrupted.is_set():
            return
        failed = {f.path for f in call.failures} | self._failed.keys()
        if survey is not None:
            stamps = {p: survey.stamps[p] for p in survey.changed  # the rest are recorded
                      if p in survey.stamps}
            gone = survey.recorded.keys() - survey.stamps.keys()
        else:
            stamps = {p: s for p in call.answered if (s := _stamp(Path(real) / p)) is not None}
            gone = set()
        with self._asked_lock:
            cache = self._asked_cache(real)
            for path in gone:
                cache.delete(path)
            for path, stamp in stamps.items():
                if path not in failed:
                    cache.put(path, stamp, {})
            cache.commit()

    def _index_location(self, real: str) -> Path:
        return choose_index_path(real, explicit=self._index_path, log_path=self._log_path,
                                 env=self._env)

    def _truth(self, real: str, location: Path, sampled: Iterable[_Sampled]) -> Truth | None:
        """What the index records for every name the sampled files read (None: no index)."""
        names = {u.name for f in sampled for u in name_uses(f.tree, f.lines, path=f.path)}
        with self._store_lock:
            try:
                return self._read_truth(real, location, names)
            except sqlite3.DatabaseError:
                # The indexer may have rebuilt the file under our connection: once more,
                # afresh.
                self._close_store_locked()
                try:
                    return self._read_truth(real, location, names)
                except sqlite3.DatabaseError:
                    return None

    def _read_truth(self, real: str, location: Path, names: set[str]) -> Truth | None:
        store = self._open_store(real, location)
        if store is None:
            return None
        with store.transaction():  # one snapshot: the indexer may commit meanwhile
            workspace_id = store.workspace_id(real)
            if workspace_id is None:
                return None
            rows = store.symbols_named(sorted(names)) if names else []
            files = store.known_files(workspace_id)
        defined: dict[str, list[Defined]] = {}
        for row in rows:
            # The index matches names ignoring case; Python does not.
            if row.workspace_id == workspace_id and row.name in names:
                defined.setdefault(row.name, []).append(Defined(row.path, row.line, row.depth))
        return Truth.of(defined, files)

    def _open_store(self, real: str, location: Path) -> IndexStore | None:
        if self._store is not None and self._store_key == (real, location) and location.exists():
            self._store.forget_files()  # the indexer may have moved files since last time
            return self._store
        self._close_store_locked()
        try:
            self._store = IndexStore.open(location, readonly=True)
        except IndexUnavailable:
            return None  # not built (yet): answers are timed, definitions not judged
        self._store_key = (real, location)
        return self._store

    def _close_store(self) -> None:
        with self._store_lock:
            self._close_store_locked()

    def _close_store_locked(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- asking ---------------------------------------------------------------------

    def _ask(self, real: str, tasks: list[AssistTask], started: float, truth: Truth | None,
             call: _Call) -> None:
        cache = self._jedi_cache(real)
        if self._processes == 0:
            self._ask_here(cache, tasks, started, truth, call)
            return
        pool = self._ensure_pool(cache)
        stop_at = None if self._budget_s is None else (
            time.monotonic() + max(0.0, self._budget_s - (self._clock() - started)))
        done = 0
        for index, outcome in pool.run(tasks, stop_at=stop_at):
            done += 1
            self._take(call, tasks[index], _from_outcome(outcome), truth)
        call.unasked += len(tasks) - done

    def _ask_here(self, cache: str, tasks: list[AssistTask], started: float,
                  truth: Truth | None, call: _Call) -> None:
        """In this thread (``processes=0``): no per-file bound; for tests and debugging."""
        if self._here is None:
            self._here = Assistant(cache)
        for index, task in enumerate(tasks):
            if self._interrupted.is_set() or (
                    index > 0 and self._budget_s is not None
                    and self._clock() - started > self._budget_s):
                call.unasked += len(tasks) - index
                return
            result: FileAnswers | Skip | FileFailure
            try:
                result = self._here(task)
            except Exception as exc:  # a jedi failure costs this file, not the call
                kind = "transient" if is_transient(exc) else "crash"
                result = FileFailure(task.path, kind, type(exc).__name__)
            self._take(call, task, result, truth)

    def _take(self, call: _Call, task: AssistTask, result: FileAnswers | Skip | FileFailure,
              truth: Truth | None) -> None:
        path = task.path
        if isinstance(result, Skip):
            call.skipped[result.reason] += 1
            if result.transient:
                call.failures.append(FileFailure(path, "transient", result.detail))
            return
        if isinstance(result, FileFailure):
            failure = FileFailure(path, result.kind, result.error)
            call.skipped["timed_out" if failure.kind == "timeout" else "failed"] += 1
            self._problem(call, path, f"{failure.kind}: {failure.error}")
            call.failures.append(failure)
            if failure.kind != "transient":
                self._failed[path] = task.digest
            return
        call.asked += 1
        call.answered.append(path)
        self._failed.pop(path, None)
        call.verdicts += [judge(path, answer, truth) for answer in result.answers]

    def _jedi_cache(self, real: str) -> str:
        """jedi's cache directory for ``real``: beside the code index, never inside it."""
        file = choose_cache_path(real, CACHE_NAME, explicit=self._cache_path,
                                 log_path=self._log_path, env=self._env)
        directory = file.with_suffix("") if file.suffix == ".db" else file
        make_private_dirs(directory)
        return os.fspath(directory)

    def _ensure_pool(self, cache: str) -> WorkerPool:
        if self._pool is not None and self._pool_cache != cache:
            self._pool.close()  # another workspace: its own cache directory
            self._pool = None
        if self._pool is None:
            self._pool = WorkerPool(make_assistant, cache, processes=self._processes,
                                    timeout_s=self._file_timeout_s)
            self._pool_cache = cache
            if self._interrupted.is_set():  # interrupt() ran before there was a pool to stop
                self._pool.interrupt()
        return self._pool

    # --- the result -----------------------------------------------------------------

    def _problem(self, call: _Call, path: str, reason: str) -> None:
        call.problem_count += 1
        if len(call.problems) < MAX_LISTED:
            call.problems.append((path, reason))

    def _result(self, call: _Call, index: Path, judged: bool) -> AnalysisResult:
        numbers = figures(call.verdicts)
        data: dict[str, Any] = {
            "mode": "full" if call.full else "changes",
            "files": call.asked,
            **numbers,
            "index_path": os.fspath(index) if judged else None,
            "skipped": dict(sorted((k, v) for k, v in call.skipped.items() if v)),
            "problems": [{"path": path, "reason": reason} for path, reason in call.problems],
            "problem_count": call.problem_count,
            "unasked": call.unasked,
        }
        return AnalysisResult(summary=summary(numbers, call.skipped["unchanged"]), data=data,
                              failures=tuple(call.failures))


def summary(numbers: Mapping[str, Any], unchanged: int = 0) -> str:
    """``3 capabilities, 27 requests, 93% right``: the kinds of request asked, as the spec's
    console line counts them, then what they came to (and, when nothing was asked, how many
    files a pass found unchanged)."""
    requests: Mapping[str, int] = numbers["requests"]
    asked = sum(requests.values())
    kinds = sum(1 for kind in KINDS if requests.get(kind))
    text = f"{kinds} capabilit{'y' if kinds == 1 else 'ies'}, {asked} request" + (
        "" if asked == 1 else "s")
    accuracy = numbers.get("accuracy")
    if accuracy is not None:
        text += f", {accuracy * 100:.0f}% right"
    if not asked and unchanged:
        text += f", {unchanged} file{'' if unchanged == 1 else 's'} unchanged since the last pass"
    return text


def _stamp(path: Path) -> str | None:
    """Size and modification time: what the code index, too, takes as "unchanged"."""
    status = stat_file(path)
    return None if isinstance(status, Skip) else f"{status.size}:{status.mtime_ns}"


def _from_outcome(outcome: Outcome[Any]) -> FileAnswers | Skip | FileFailure:
    value = outcome.value
    if outcome.ok and isinstance(value, (FileAnswers, Skip)):
        return value
    kind = "timeout" if outcome.kind == "timeout" else "crash"
    return FileFailure("", kind, outcome.error or "no result")

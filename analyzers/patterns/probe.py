"""``pattern_probe``: complexity and maintainability per Python file, and the Mistake Learner.

For each Python file of a call: radon's cyclomatic complexity per function and
maintainability index (:mod:`analyzers.patterns.complexity`), the known-risky shapes it
holds (:mod:`analyzers.patterns.matcher`), and what its change taught, compared with what
the file held last time (:mod:`analyzers.patterns.learner`). A call returns:

* ``findings``: every complexity/maintainability finding of the files it looked
  at, and a ``learned:<shape>`` warning for each risky shape the learner has seen
  fixed somewhere ("similar to the fix in path:line"). A pattern learned in this
  call also warns on files not in it, from what the learner remembers of them.
* ``resolved``: fingerprints reported earlier that those files no longer have,
  every one of a deleted (or now unreadable as Python) file included.
* ``learned``: the new patterns; the runner makes them ``PatternLearned`` events,
  and :meth:`PatternProbe.seed` takes them back after a restart.

Bad input stays with its file: binary, oversized, vanished, linked or special
files are skipped with a reason; text that is not UTF-8 is decoded as its PEP 263
declaration or Latin-1 says; a module that does not parse is searched as text;
one too deep for ``ast`` or radon (``RecursionError``) loses its complexity only.
With ``budget_s`` set, files not started within it are left for the next call
(``deferred``), so a first pass over a huge workspace never outlives the runner's
deadline.

Files are measured in worker processes (:mod:`analyzers.patterns.file_measure`, on
:mod:`analyzers.common.workerpool`): radon and the matcher are pure Python, and on the
daemon's threads they shared one interpreter lock with the code indexer, so a cold pass
used one core of two. A worker also bounds each file (``file_timeout_s``): a file past it
is skipped and named in ``failures`` as a timeout, which the runner retries alone and then
quarantines; a full pass does not spend the bound again on the same bytes. Results are
taken in the order of the files, so what is learned does not depend on which worker
finished first. ``processes=0`` measures in the calling thread, without a bound.

Restarts resume: what makes the probe incremental (per file: the digest, the
complexity numbers and findings, the learner's profile, what was reported) goes to
the result cache (:mod:`analyzers.common.result_cache`) as each file is done, so a new
process does not measure unchanged files again and resolves what went away while
it was down. Learned patterns are not kept there: they are events already
(:mod:`daemon.read.learned` seeds them back).

A file that fails (a bug of ours on odd input) or was busy or written to while read
is named in the result's ``failures`` for the runner; quarantined paths
(:meth:`PatternProbe.exclude`) are never opened.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analyzers.base import (
    AnalysisResult,
    FileFailure,
    Finding,
    LearnedPattern,
    is_full_pass,
    is_transient,
)
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.finding_data import finding_to_data, findings_from_data, strings_from_data
from analyzers.common.result_cache import (
    COMMIT_EVERY_ROWS,
    COMMIT_EVERY_SECONDS,
    Entry,
    ResultCache,
)
from analyzers.common.sourcefile import Skip, read_source
from analyzers.common.walk import IgnoreRule, default_ignore, list_workspace
from analyzers.common.workerpool import Outcome, WorkerPool, default_processes
from analyzers.patterns.complexity import ComplexityThresholds
from analyzers.patterns.file_measure import (
    FileMeasurement,
    FileMeasurer,
    Measured,
    MeasureTask,
    make_file_measurer,
)
from analyzers.patterns.learned_findings import warnings
from analyzers.patterns.learner import DEFAULT_MAX_FILES, MistakeLearner
from analyzers.patterns.profile import Profile
from analyzers.patterns.profile_data import profile_from_data, profile_to_data

DEFAULT_MAX_FILE_BYTES = 1024 * 1024  # bigger Python files are generated, not written
DEFAULT_BUDGET_S = 20.0  # below the runner's default 30 s deadline per call
DEFAULT_FILE_TIMEOUT_S = 10.0  # one file's bound: radon on a pathological module
#: Skipped files, and learned shapes, named one by one in the activity's data (the counts
#: cover all of them): a call's data stays this size however big the workspace.
MAX_LISTED = 5
PYTHON_SUFFIXES = (".py", ".pyw")

# A skip that says the file is no longer Python we can read: what it had is resolved.
# "error" (a permission flicker, a lock) is left out: its findings wait for a good read.
_GONE = frozenset({"missing", "directory", "symlink", "special", "too_large", "binary"})


@dataclass(frozen=True)
class _Failure:
    """A file whose measuring failed: what the result and the runner are told."""

    kind: str  # FileFailure's: "crash", "timeout" or "transient"
    detail: str  # one line, never the file's content
    reason: str  # for the activity's problems

    @classmethod
    def of(cls, exc: BaseException) -> _Failure:
        # The type only: a message could quote the file's code.
        name = type(exc).__name__
        return cls("transient" if is_transient(exc) else "crash", name, f"failed: {name}")


def _from_outcome(outcome: Outcome[Any]) -> FileMeasurement | Skip | _Failure:
    value = outcome.value
    if outcome.ok and isinstance(value, (FileMeasurement, Skip)):
        return value
    if outcome.kind == "timeout":
        return _Failure("timeout", outcome.error, outcome.error)
    error = outcome.error or "no result"
    return _Failure("crash", error, f"failed: {error}")


@dataclass
class _Call:
    """What one call gathered, for its result."""

    full: bool
    analyzed: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)  # the first MAX_LISTED
    problem_count: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    looked_at: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    complexity: dict[str, tuple[Finding, ...]] = field(default_factory=dict)
    learned: list[LearnedPattern] = field(default_factory=list)
    shapes: Counter[str] = field(default_factory=Counter)
    functions: int = 0
    max_complexity: int = 0
    min_maintainability: float | None = None
    deferred: int = 0
    failures: list[FileFailure] = field(default_factory=list)


class PatternProbe:
    name = "pattern_probe"
    activity_type = "pattern_probe"

    def __init__(self, *, thresholds: ComplexityThresholds | None = None,
                 ignore: IgnoreRule = default_ignore,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 budget_s: float | None = DEFAULT_BUDGET_S,
                 processes: int | None = None,
                 file_timeout_s: float = DEFAULT_FILE_TIMEOUT_S,
                 max_files: int = DEFAULT_MAX_FILES,
                 learner: MistakeLearner | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 log_path: str | os.PathLike[str] | None = None,
                 cache_path: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None,
                 commit_every: int = COMMIT_EVERY_ROWS,
                 commit_seconds: float = COMMIT_EVERY_SECONDS) -> None:
        self._thresholds = thresholds if thresholds is not None else ComplexityThresholds()
        self._ignore = ignore
        self._max_file_bytes = max_file_bytes
        self._budget_s = budget_s
        # 0: measure in the calling thread (no per-file bound; for tests and debugging).
        self._processes = default_processes() if processes is None else processes
        self._file_timeout_s = file_timeout_s
        self._pool: WorkerPool | None = None
        self._clock = clock
        self.learner = learner if learner is not None else MistakeLearner(max_files=max_files)
        self._max_files = max_files
        # Bounded like the learner's memory: least recently seen paths go first.
        self._measured: OrderedDict[str, Measured] = OrderedDict()
        self._reported: dict[str, frozenset[str]] = {}  # path -> fingerprints last reported
        self._failed: dict[str, str] = {}  # path -> digest that crashed or ran out of time
        self._backlog: dict[str, None] = {}  # paths a budget left for later, in order
        self._pass_unfinished = False  # the backlog is the rest of a full pass
        self._excluded: frozenset[str] = frozenset()
        self._interrupted = threading.Event()
        self._root: str | None = None
        self._cache: ResultCache | None = None
        self._cache_options: dict[str, Any] = {
            "explicit": cache_path, "log_path": log_path, "env": env,
            "commit_every": commit_every, "commit_seconds": commit_seconds}

    def applies_to(self, path: str) -> bool:
        return path.endswith(PYTHON_SUFFIXES) and not self._ignore(path, False)

    def prepare(self, root: Path, paths: Sequence[str]) -> None:
        """Start a worker (importing radon) while the batch's earlier calls run. On a full
        pass, one: most passes after the first find a few changed files, and the worker a
        pass with nothing changed starts in vain costs a core 0.1 s beside the pass."""
        if self._processes == 0 or self._interrupted.is_set() \
                or (self._pool is not None and self._pool.size > 0):
            return
        count = 1 if is_full_pass(paths) else sum(
            1 for path in dict.fromkeys(paths) if self.applies_to(path))
        if count:
            self._ensure_pool().start(count)

    def seed(self, patterns: Iterable[LearnedPattern]) -> int:
        """Patterns learned before this instance existed (the ``learned_patterns``
        projection, read by the session at start); how many were new to it."""
        return self.learner.seed(patterns)

    def exclude(self, paths: frozenset[str]) -> None:
        """Quarantined paths (the whole set): never opened until the runner releases them."""
        self._excluded = frozenset(paths)

    def interrupt(self) -> None:
        """The session is ending: the running call stops before its next file, and the
        workers holding one are stopped (they are processes: nothing of ours is lost)."""
        self._interrupted.set()
        if self._pool is not None:
            self._pool.interrupt()

    def release(self) -> None:
        """Stop the idle worker processes; the next call starts them again."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes and write what the cache holds in its buffer."""
        self.release()
        if self._cache is not None:
            self._cache.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        started = self._clock()
        cache = self._resume(root)
        call = _Call(full=is_full_pass(paths))
        if call.full and self._pass_unfinished and self._backlog:
            # The last pass ran out of time: go on where it stopped (starting from the
            # top again, a pass that always runs out of time would never end).
            targets = list(self._backlog)
        elif call.full:
            listing = list_workspace(root, self._ignore)
            targets = [p for p in listing.files if self.applies_to(p)]
            present = set(targets)
            # Files that went away while nobody watched (or between two full passes).
            call.gone += [p for p in {*self.learner.paths(), *self._reported, *self._measured}
                          if p not in present]
            for directory, reason in listing.problems:
                _note_problem(call, directory, reason)
        else:
            targets = list(paths)
        # What an earlier call left goes first.
        queue = list(dict.fromkeys([*self._backlog, *targets]))
        self._backlog = {}
        tasks: list[MeasureTask] = []
        for index, path in enumerate(queue):
            if self._interrupted.is_set():
                self._defer(call, queue[index:])
                break
            if path in self._excluded:
                call.skipped["quarantined"] += 1
                continue
            try:
                task = self._plan(root, path, call)
            except Exception as exc:  # a bug meeting odd input costs this file, not the batch
                self._failed_file(call, path, _Failure.of(exc))
                continue
            if task is not None:
                tasks.append(task)
        if tasks:
            self._measure(tasks, started, call)
        for path in call.gone:
            self.learner.forget(path)
            self._measured.pop(path, None)
        self._pass_unfinished = bool(self._backlog) and (call.full or self._pass_unfinished)
        result = self._result(call)
        cache.commit()
        return result

    # --- the result cache -------------------------------------------------------------

    def _resume(self, root: Path) -> ResultCache:
        """The cache of ``root``; the first time, what it holds becomes the probe's memory."""
        real = os.path.realpath(os.fspath(root))
        if self._cache is not None and self._root == real:
            return self._cache
        if self._cache is not None:  # another workspace: nothing of the last one applies
            self._cache.close()
            for path in self.learner.paths():
                self.learner.forget(path)
            self._measured.clear()
            self._reported.clear()
            self._failed.clear()
            self._backlog.clear()
            self._pass_unfinished = False
        self._root = real
        # The thresholds decide which functions are findings: other thresholds, other rows.
        self._cache = ResultCache.for_workspace(real, self.name, repr(self._thresholds),
                                                **self._cache_options)
        for path, entry in self._cache.load().items():
            restored = _restore(entry)
            if restored is None:
                continue  # a row this version cannot read: the file is measured again
            measured, profile, reported, failed = restored
            if failed is not None:
                self._failed[path] = failed
            if measured is not None and path not in self._measured:
                self._measured[path] = measured
                if profile is not None and path not in self.learner:
                    self.learner.restore(path, entry.digest, profile)
            if reported and path not in self._reported:
                self._reported[path] = reported
        return self._cache

    def _save(self, path: str) -> None:
        """Write ``path``'s state through to the cache (at the next checkpoint)."""
        assert self._cache is not None
        measured = self._measured.get(path)
        reported = self._reported.get(path)
        failed = self._failed.get(path)
        if measured is None and not reported and failed is None:
            self._cache.delete(path)
            return
        payload: dict[str, Any] = {}
        if measured is not None:
            payload["measured"] = {
                "findings": [finding_to_data(f) for f in measured.findings],
                "functions": measured.functions, "max_complexity": measured.max_complexity,
                "maintainability": measured.maintainability, "note": measured.note}
            profile = self.learner.profile(path)
            if profile is not None and self.learner.digest(path) == measured.digest:
                payload["profile"] = profile_to_data(profile)
        if reported:
            payload["reported"] = sorted(reported)
        if failed is not None:
            payload["failed"] = failed
        self._cache.put(path, measured.digest if measured is not None else "", payload)

    # --- one file -----------------------------------------------------------------

    def _plan(self, root: Path, path: str, call: _Call) -> MeasureTask | None:
        """The task that measures ``path``, or None when there is nothing to measure."""
        if not is_workspace_relative(path):
            call.skipped["outside"] += 1
            _note_problem(call, path, "outside the workspace")
            return None
        location = root / path
        # Read here only to hash (the bytes are dropped at once); the measuring reads the
        # file again for itself, so memory stays at one file however big the batch.
        source = read_source(location, self._max_file_bytes)
        if isinstance(source, Skip):
            self._skipped(call, path, source)
            return None
        digest = source.content_hash
        measured = self._measured.get(path)
        if measured is not None and measured.digest == digest \
                and self.learner.digest(path) == digest:
            call.looked_at.append(path)
            call.unchanged += 1
            self.learner.touch(path)
            self._measured.move_to_end(path)
            self._tally(call, path, measured)
            return None
        if call.full and self._failed.get(path) == digest:
            # A pass does not try again bytes that crashed or ran past the per-file bound;
            # a batch naming the file does (the runner isolating it: twice, and it is
            # quarantined).
            call.skipped["failed_before"] += 1
            return None
        return MeasureTask(path, os.fspath(location), self._max_file_bytes, digest)

    def _measure(self, tasks: list[MeasureTask], started: float, call: _Call) -> None:
        if self._processes == 0:
            self._measure_here(tasks, started, call)
            return
        pool = self._ensure_pool()
        stop_at = None if self._budget_s is None else (
            time.monotonic() + max(0.0, self._budget_s - (self._clock() - started)))
        # Results are taken in the order of the tasks, whatever order the workers finish
        # in, so what the learner learns does not depend on which worker was faster.
        finished: dict[int, Outcome[Any]] = {}
        taken = 0
        for index, outcome in pool.run(tasks, stop_at=stop_at):
            finished[index] = outcome
            while taken in finished:
                self._take(call, tasks[taken], _from_outcome(finished.pop(taken)))
                taken += 1
        # Not started within the budget, or held by a worker when the session ended.
        left = []
        for index in range(taken, len(tasks)):
            if index in finished:
                self._take(call, tasks[index], _from_outcome(finished.pop(index)))
            else:
                left.append(tasks[index].path)
        if left:
            self._defer(call, left)

    def _measure_here(self, tasks: list[MeasureTask], started: float, call: _Call) -> None:
        """In this thread (``processes=0``): no per-file bound, but no worker either."""
        measurer = FileMeasurer(self._thresholds)
        for index, task in enumerate(tasks):
            if self._interrupted.is_set() or (
                    index > 0 and self._budget_s is not None
                    and self._clock() - started > self._budget_s):
                self._defer(call, [t.path for t in tasks[index:]])
                return
            result: FileMeasurement | Skip | _Failure
            try:
                result = measurer(task)
            except Exception as exc:  # a bug meeting odd input costs this file, not the batch
                result = _Failure.of(exc)
            self._take(call, task, result)

    def _take(self, call: _Call, task: MeasureTask,
              result: FileMeasurement | Skip | _Failure) -> None:
        path = task.path
        if isinstance(result, Skip):
            self._skipped(call, path, result)
            return
        if isinstance(result, _Failure):
            self._failed_file(call, path, result, task.digest)
            return
        digest = result.measured.digest
        previous = self._measured.get(path)
        measured = result.measured
        if not result.parsed and previous is not None:
            # Mid-edit text that does not parse: the last numbers stand until it does,
            # rather than resolving every finding and detecting it again a save later.
            measured = replace(previous, digest=digest, note=result.measured.note)
        learned = self.learner.observe(path, digest, result.detection)
        # Only now is the file's state updated: a failure above leaves it as it was.
        call.looked_at.append(path)
        call.analyzed += 1
        call.learned += learned
        self._measured[path] = measured
        self._measured.move_to_end(path)
        self._failed.pop(path, None)
        self._save(path)  # the checkpoint: a restart need not measure it again
        while len(self._measured) > self._max_files:
            forgotten, _ = self._measured.popitem(last=False)
            self._save(forgotten)
        self._tally(call, path, measured)

    def _skipped(self, call: _Call, path: str, skip: Skip) -> None:
        call.skipped[skip.reason] += 1
        if skip.transient:
            call.failures.append(FileFailure(path, "transient", skip.detail))
        if skip.reason in _GONE:
            call.gone.append(path)
        if skip.reason != "missing":
            _note_problem(call, path, skip.reason + (f": {skip.detail}" if skip.detail else ""))

    def _failed_file(self, call: _Call, path: str, failure: _Failure,
                     digest: str | None = None) -> None:
        call.skipped["timed_out" if failure.kind == "timeout" else "failed"] += 1
        _note_problem(call, path, failure.reason)
        call.failures.append(FileFailure(path, failure.kind, failure.detail))
        if failure.kind != "transient" and digest is not None:
            # Its findings stay as they were; these bytes are not tried again by a pass.
            self._failed[path] = digest
            self._save(path)

    def _defer(self, call: _Call, paths: Sequence[str]) -> None:
        self._backlog = dict.fromkeys(paths)
        call.deferred = len(self._backlog)

    def _ensure_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(make_file_measurer, self._thresholds,
                                    processes=self._processes, timeout_s=self._file_timeout_s)
            if self._interrupted.is_set():  # interrupt() ran before there was a pool to stop
                self._pool.interrupt()
        return self._pool

    def _tally(self, call: _Call, path: str, measured: Measured) -> None:
        call.complexity[path] = measured.findings
        call.functions += measured.functions
        call.max_complexity = max(call.max_complexity, measured.max_complexity)
        if measured.maintainability is not None:
            call.min_maintainability = measured.maintainability if \
                call.min_maintainability is None else min(call.min_maintainability,
                                                          measured.maintainability)
        if measured.note:
            call.notes[measured.note] += 1
        call.shapes.update(o.shape for o in self.learner.occurrences(path))

    # --- the result -----------------------------------------------------------------

    def _result(self, call: _Call) -> AnalysisResult:
        references = self.learner.references()
        fresh_shapes = {p.shape for p in call.learned}
        looked_at = set(call.looked_at)
        # A pattern learned now also warns where the shape already sat, unchanged.
        elsewhere = [p for p in self.learner.paths_with(fresh_shapes) if p not in looked_at]
        findings: list[Finding] = []
        resolved: list[str] = []
        warned = 0
        for path in (*call.looked_at, *elsewhere):
            complexity = call.complexity.get(path)
            if complexity is None:  # not read in this call: only its warnings are new
                measured = self._measured.get(path)
                complexity = measured.findings if measured is not None else ()
            learned_warnings = warnings(path, self.learner.occurrences(path), references)
            warned += len(learned_warnings)
            now = (*complexity, *learned_warnings)
            findings += now
            shown = frozenset(f.fingerprint for f in now)
            before = self._reported.get(path, frozenset())
            if path in looked_at:
                resolved += sorted(before - shown)
            else:
                shown |= before  # what a file not read now had stays reported
            if shown:
                self._reported[path] = shown
            else:
                self._reported.pop(path, None)
            if shown != before:
                self._save(path)
        for path in dict.fromkeys(call.gone):
            resolved += sorted(self._reported.pop(path, frozenset()))
            self._save(path)
        return AnalysisResult(summary=_summary(call, warned), data=_data(call, warned,
                              len(findings), len(resolved), self.learner.learned_count),
                              findings=tuple(findings), resolved=tuple(resolved),
                              learned=tuple(call.learned), failures=tuple(call.failures),
                              remaining=call.deferred)


def _restore(entry: Entry) -> tuple[Measured | None, Profile | None, frozenset[str],
                                    str | None] | None:
    """A cached row back as (the measurements, the learner's profile, what was reported,
    the bytes whose measuring failed)."""
    payload = entry.payload
    measured: Measured | None = None
    profile: Profile | None = None
    raw = payload.get("measured")
    if raw is not None:
        if not isinstance(raw, dict):
            return None
        findings = findings_from_data(raw.get("findings"))
        functions, worst = raw.get("functions"), raw.get("max_complexity")
        maintainability, note = raw.get("maintainability"), raw.get("note")
        if findings is None or not isinstance(functions, int) or not isinstance(worst, int) \
                or not isinstance(note, str) or not (
                    maintainability is None or isinstance(maintainability, (int, float))):
            return None
        measured = Measured(entry.digest, findings, functions, worst,
                             None if maintainability is None else float(maintainability), note)
        if "profile" in payload:
            profile = profile_from_data(payload["profile"])
            if profile is None:
                return None
    reported = strings_from_data(payload.get("reported", []))
    failed = payload.get("failed")
    if reported is None or not (failed is None or isinstance(failed, str)):
        return None
    return measured, profile, reported, failed


def _note_problem(call: _Call, path: str, reason: str) -> None:
    call.problem_count += 1
    if len(call.problems) < MAX_LISTED:
        call.problems.append((path, reason))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(call: _Call, warned: int) -> str:
    parts = [_plural(sum(call.shapes.values()), "pattern"), f"{len(call.learned)} learned"]
    if warned:
        parts.append(_plural(warned, "warning"))
    complex_functions = sum(1 for found in call.complexity.values() for f in found
                            if f.rule == "complexity")
    if complex_functions:
        parts.append(_plural(complex_functions, "complex function"))
    if call.deferred:
        parts.append(f"{call.deferred} deferred")
    return ", ".join(parts)


def _data(call: _Call, warned: int, findings: int, resolved: int,
          learned_total: int) -> dict[str, Any]:
    return {
        "mode": "full" if call.full else "changes",
        "files": call.analyzed + call.unchanged,
        "analyzed": call.analyzed,
        "unchanged": call.unchanged,
        "skipped": dict(sorted(call.skipped.items())),
        "problems": [{"path": path, "reason": reason} for path, reason in call.problems],
        "problem_count": call.problem_count,
        "notes": dict(sorted(call.notes.items())),
        "functions": call.functions,
        "max_complexity": call.max_complexity,
        "min_maintainability": (None if call.min_maintainability is None
                                else round(call.min_maintainability, 2)),
        "patterns": dict(sorted(call.shapes.items())),
        "learned": len(call.learned),
        "learned_shapes": sorted({p.shape for p in call.learned})[:MAX_LISTED],
        "learned_total": learned_total,
        "warnings": warned,
        "findings": findings,
        "resolved": resolved,
        "deferred": call.deferred,
    }

"""``pattern_probe``: complexity and maintainability per Python file, and the Mistake Learner.

For each Python file of a call: radon's cyclomatic complexity per function and
maintainability index (:mod:`analyzers.complexity`), the known-risky shapes it
holds (:mod:`analyzers.mistakes`), and what its change taught, compared with what
the file held last time (:mod:`analyzers.learner`). A call returns:

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
"""

from __future__ import annotations

import ast
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from analyzers.base import AnalysisResult, Finding, LearnedPattern, is_full_pass
from analyzers.complexity import ComplexityReport, ComplexityThresholds, measure_complexity
from analyzers.learner import DEFAULT_MAX_FILES, MistakeLearner
from analyzers.mistakes import Detection, detect, detect_text, warnings
from analyzers.sourcefile import Skip, decode_text, read_source
from analyzers.walk import IgnoreRule, default_ignore, list_workspace

DEFAULT_MAX_FILE_BYTES = 1024 * 1024  # bigger Python files are generated, not written
DEFAULT_BUDGET_S = 20.0  # below the runner's default 30 s deadline per call
MAX_LISTED = 20  # skipped files named one by one in the activity's data
PYTHON_SUFFIXES = (".py", ".pyw")

# A skip that says the file is no longer Python we can read: what it had is resolved.
# "error" (a permission flicker, a lock) is left out: its findings wait for a good read.
_GONE = frozenset({"missing", "directory", "symlink", "special", "too_large", "binary"})


@dataclass(frozen=True)
class _Measured:
    """The complexity side of one version of one file, kept to skip radon when unchanged."""

    digest: str
    findings: tuple[Finding, ...]
    functions: int
    max_complexity: int
    maintainability: float | None
    note: str  # why complexity is missing, or ""


@dataclass
class _Call:
    """What one call gathered, for its result."""

    full: bool
    analyzed: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
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


class PatternProbe:
    name = "pattern_probe"
    activity_type = "pattern_probe"

    def __init__(self, *, thresholds: ComplexityThresholds | None = None,
                 ignore: IgnoreRule = default_ignore,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 budget_s: float | None = DEFAULT_BUDGET_S,
                 max_files: int = DEFAULT_MAX_FILES,
                 learner: MistakeLearner | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._thresholds = thresholds if thresholds is not None else ComplexityThresholds()
        self._ignore = ignore
        self._max_file_bytes = max_file_bytes
        self._budget_s = budget_s
        self._clock = clock
        self.learner = learner if learner is not None else MistakeLearner(max_files=max_files)
        self._max_files = max_files
        # Bounded like the learner's memory: least recently seen paths go first.
        self._measured: OrderedDict[str, _Measured] = OrderedDict()
        self._reported: dict[str, frozenset[str]] = {}  # path -> fingerprints last reported
        self._backlog: dict[str, None] = {}  # paths a budget left for later, in order

    def applies_to(self, path: str) -> bool:
        return path.endswith(PYTHON_SUFFIXES) and not self._ignore(path, False)

    def seed(self, patterns: Iterable[LearnedPattern]) -> int:
        """Patterns learned before this instance existed (the ``learned_patterns``
        projection, read by the session at start); how many were new to it."""
        return self.learner.seed(patterns)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        started = self._clock()
        call = _Call(full=is_full_pass(paths))
        if call.full:
            listing = list_workspace(root, self._ignore)
            targets = [p for p in listing.files if self.applies_to(p)]
            present = set(targets)
            # Files that went away while nobody watched (or between two full passes).
            call.gone += [p for p in {*self.learner.paths(), *self._reported, *self._measured}
                          if p not in present]
            call.problems += list(listing.problems)[:MAX_LISTED]
        else:
            targets = list(paths)
        queue = list(dict.fromkeys([*targets, *self._backlog]))
        self._backlog = {}
        for index, path in enumerate(queue):
            if self._budget_s is not None and self._clock() - started > self._budget_s:
                self._backlog = dict.fromkeys(queue[index:])
                call.deferred = len(self._backlog)
                break
            try:
                self._one_file(root, path, call)
            except Exception as exc:  # a bug meeting odd input costs this file, not the batch
                call.skipped["failed"] += 1
                _note_problem(call, path, f"failed: {type(exc).__name__}")
        for path in call.gone:
            self.learner.forget(path)
            self._measured.pop(path, None)
        return self._result(call)

    # --- one file -----------------------------------------------------------------

    def _one_file(self, root: Path, path: str, call: _Call) -> None:
        if not _inside(path):
            call.skipped["outside"] += 1
            _note_problem(call, path, "outside the workspace")
            return
        source = read_source(root / path, self._max_file_bytes)
        if isinstance(source, Skip):
            call.skipped[source.reason] += 1
            if source.reason in _GONE:
                call.gone.append(path)
            if source.reason != "missing":
                _note_problem(call, path, source.reason + (f": {source.detail}"
                                                           if source.detail else ""))
            return
        digest = source.content_hash
        measured = self._measured.get(path)
        if measured is not None and measured.digest == digest \
                and self.learner.digest(path) == digest:
            call.looked_at.append(path)
            call.unchanged += 1
            self.learner.touch(path)
            self._measured.move_to_end(path)
            self._tally(call, path, measured)
            return
        text, _ = decode_text(source.data, python=True)
        tree, note = _parse(text)
        measured = self._measure(text, path, digest, tree, note, previous=measured)
        detection = _detect(tree, text, path)
        learned = self.learner.observe(path, digest, detection)
        # Only now is the file's state updated: a failure above leaves it as it was.
        call.looked_at.append(path)
        call.analyzed += 1
        call.learned += learned
        self._measured[path] = measured
        self._measured.move_to_end(path)
        while len(self._measured) > self._max_files:
            self._measured.popitem(last=False)
        self._tally(call, path, measured)

    def _measure(self, text: str, path: str, digest: str, tree: ast.Module | None,
                 note: str, previous: _Measured | None) -> _Measured:
        if tree is None:
            if previous is not None:
                # Mid-edit text that does not parse: the last numbers stand until it does,
                # rather than resolving every finding and detecting it again a save later.
                return replace(previous, digest=digest, note=note)
            return _Measured(digest, (), 0, 0, None, note)
        try:
            report = measure_complexity(text, path, self._thresholds, tree)
        except RecursionError:
            return _Measured(digest, (), 0, 0, None, "too deeply nested")
        except Exception as exc:  # radon on odd input: this file loses its numbers, no more
            return _Measured(digest, (), 0, 0, None, f"complexity failed: {type(exc).__name__}")
        return _from_report(digest, report)

    def _tally(self, call: _Call, path: str, measured: _Measured) -> None:
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
        for path in dict.fromkeys(call.gone):
            resolved += sorted(self._reported.pop(path, frozenset()))
        return AnalysisResult(summary=_summary(call, warned), data=_data(call, warned,
                              len(findings), len(resolved), self.learner.learned_count),
                              findings=tuple(findings), resolved=tuple(resolved),
                              learned=tuple(call.learned))


def _parse(text: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(text), ""
    except RecursionError:
        return None, "too deeply nested"
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return None, "does not parse"
    except MemoryError:
        return None, "too large to parse"


def _detect(tree: ast.Module | None, text: str, path: str) -> Detection:
    if tree is not None:
        try:
            return detect(tree, path)
        except (RecursionError, MemoryError):
            pass  # the text fallback below still finds shapes, line by line
    return detect_text(text)


def _from_report(digest: str, report: ComplexityReport) -> _Measured:
    return _Measured(digest, report.findings, len(report.functions), report.max_complexity,
                     report.maintainability, "")


def _inside(path: str) -> bool:
    """Relative and without ``..``: a batch names files in the workspace, nothing else."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\x00" not in path


def _note_problem(call: _Call, path: str, reason: str) -> None:
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
        "notes": dict(sorted(call.notes.items())),
        "functions": call.functions,
        "max_complexity": call.max_complexity,
        "min_maintainability": (None if call.min_maintainability is None
                                else round(call.min_maintainability, 2)),
        "patterns": dict(sorted(call.shapes.items())),
        "learned": len(call.learned),
        "learned_shapes": sorted({p.shape for p in call.learned}),
        "learned_total": learned_total,
        "warnings": warned,
        "findings": findings,
        "resolved": resolved,
        "deferred": call.deferred,
    }

"""The Mistake Learner's memory: what each file held last time, and the fixes learned so far.

:mod:`analyzers.patterns.lessons` says what a change taught; this keeps the state that
needs: per path, the hash of the content last seen and its compact
:class:`~analyzers.patterns.profile.Profile` (shapes per function, never the text), and
the learned patterns by shape. Both are bounded: the least recently seen paths
are forgotten past ``max_files`` (a forgotten file's next change is a first
sighting, which teaches nothing), and at most ``max_per_shape`` patterns are kept
per shape (the earliest, since a warning cites the first fix seen).

Not thread-safe, and it need not be: one analyzer instance is never called twice
at once (see :class:`~analyzers.base.Analyzer`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from analyzers.base import LearnedPattern
from analyzers.patterns.lessons import learn
from analyzers.patterns.matcher import Detection, Occurrence
from analyzers.patterns.profile import DEFAULT_MAX_OCCURRENCES, Pending, Profile, make_profile
from analyzers.patterns.shapes import SHAPES

DEFAULT_MAX_FILES = 50_000
DEFAULT_MAX_PER_SHAPE = 64


@dataclass(frozen=True)
class _Memory:
    digest: str
    profile: Profile


class MistakeLearner:
    def __init__(self, *, max_files: int = DEFAULT_MAX_FILES,
                 max_per_shape: int = DEFAULT_MAX_PER_SHAPE,
                 max_occurrences: int = DEFAULT_MAX_OCCURRENCES) -> None:
        if max_files < 1 or max_per_shape < 1 or max_occurrences < 1:
            raise ValueError("the learner's limits must be positive")
        self._max_files = max_files
        self._max_per_shape = max_per_shape
        self._max_occurrences = max_occurrences
        self._files: OrderedDict[str, _Memory] = OrderedDict()
        self._learned: dict[str, list[LearnedPattern]] = {}
        self._keys: set[tuple[str, str, int]] = set()

    # --- learned patterns -----------------------------------------------------------

    def seed(self, patterns: Iterable[LearnedPattern]) -> int:
        """Add patterns learned earlier (from the log); how many were new."""
        return len(self._remember(patterns))

    @property
    def learned_count(self) -> int:
        return sum(len(patterns) for patterns in self._learned.values())

    def references(self) -> Mapping[str, LearnedPattern]:
        """Per shape, the fix a warning cites: the first one learned, so the message
        of a warning stays the same while more fixes are learned."""
        return {shape: patterns[0] for shape, patterns in self._learned.items() if patterns}

    def _remember(self, patterns: Iterable[LearnedPattern]) -> list[LearnedPattern]:
        fresh: list[LearnedPattern] = []
        for pattern in patterns:
            key = (pattern.shape, pattern.path, pattern.line)
            if pattern.shape not in SHAPES or key in self._keys:
                continue  # a shape this version does not know cannot be matched anyway
            kept = self._learned.setdefault(pattern.shape, [])
            if len(kept) >= self._max_per_shape:
                continue
            kept.append(pattern)
            self._keys.add(key)
            fresh.append(pattern)
        return fresh

    # --- files ----------------------------------------------------------------------

    def digest(self, path: str) -> str | None:
        """The content hash last seen for ``path``, if it is remembered."""
        memory = self._files.get(path)
        return None if memory is None else memory.digest

    def occurrences(self, path: str) -> tuple[Occurrence, ...]:
        memory = self._files.get(path)
        return () if memory is None else memory.profile.occurrences

    def paths_with(self, shapes: Iterable[str]) -> Iterator[str]:
        """Remembered paths with an occurrence of any of ``shapes``."""
        wanted = frozenset(shapes)
        for path, memory in self._files.items():
            if any(o.shape in wanted for o in memory.profile.occurrences):
                yield path

    def paths(self) -> tuple[str, ...]:
        return tuple(self._files)

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def touch(self, path: str) -> None:
        """``path`` was seen again unchanged: keep it from being forgotten first."""
        if path in self._files:
            self._files.move_to_end(path)

    def observe(self, path: str, digest: str, detection: Detection) -> tuple[LearnedPattern, ...]:
        """Record the new content of ``path``; the patterns this change taught that were
        not known yet. A path seen for the first time teaches nothing: there is no before."""
        previous = self._files.get(path)
        if previous is not None and previous.digest == digest:
            self._files.move_to_end(path)
            return ()
        if previous is not None and previous.profile.parsed and not detection.parsed:
            # A save in the middle of an edit that does not parse: the last version that
            # did stays the "before", so the save that completes the fix still teaches.
            self._files[path] = _Memory(digest, previous.profile)
            self._files.move_to_end(path)
            return ()
        learned: tuple[LearnedPattern, ...] = ()
        waiting: tuple[Pending, ...] = ()
        if previous is not None:
            learned, waiting = learn(path, previous.profile, detection)
        profile = make_profile(detection, waiting, max_occurrences=self._max_occurrences)
        self._files[path] = _Memory(digest, profile)
        self._files.move_to_end(path)
        while len(self._files) > self._max_files:
            self._files.popitem(last=False)
        return tuple(self._remember(learned))

    def profile(self, path: str) -> Profile | None:
        """What is remembered of ``path`` (for the result cache to keep across restarts)."""
        memory = self._files.get(path)
        return None if memory is None else memory.profile

    def restore(self, path: str, digest: str, profile: Profile) -> None:
        """Take back what an earlier process remembered of ``path``, so an unchanged file
        is not read again and its next change still has a "before" to learn from."""
        self._files[path] = _Memory(digest, profile)
        self._files.move_to_end(path)
        while len(self._files) > self._max_files:
            self._files.popitem(last=False)

    def forget(self, path: str) -> None:
        """The file is gone: a file created later at the same path starts afresh."""
        self._files.pop(path, None)

"""What to read again after a batch of settled events, pure: which directories to rescan,
which files to read, and the known state those reads replace.

The coalescer's kinds are only hints; the watcher reads every settled path again and
diffs it against the known state. A settled directory (created, moved in, deleted) is
scanned whole, and files below it are not read a second time. A file that had events of
its own is hashed again even below such a directory: equal size and mtime do not prove
equal content (one mtime tick).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from daemon.watch.coalesce import Settled
from daemon.watch.diff import restrict
from daemon.watch.ignore import IgnoreRules
from daemon.watch.snapshot import FileState


@dataclass(frozen=True)
class Reread:
    """The reads one batch of settled events calls for."""

    directories: tuple[str, ...]  # outermost settled directories, sorted: scan each subtree
    files: tuple[str, ...]  # settled files outside those directories, sorted: read each
    old: dict[str, FileState]  # the known state of everything these reads cover
    previous: Mapping[str, FileState]  # hashes the directory scans may reuse
    move_hints: dict[str, str]  # destination -> source, from rename events
    rules_changed: bool  # a .gitignore or info/exclude was among them


def plan_reread(settled: Sequence[Settled], known: Mapping[str, FileState]) -> Reread:
    rules_changed = any(
        IgnoreRules.is_rules_file(item.path)
        or (item.moved_from is not None and IgnoreRules.is_rules_file(item.moved_from))
        for item in settled
    )
    directories = _outermost({s.path for s in settled if s.is_dir})
    files = sorted(
        s.path for s in settled if not s.is_dir and not _under_any(s.path, directories)
    )
    old = restrict(known, directories) if directories else {}
    old.update((path, known[path]) for path in files if path in known)
    evented = {s.path for s in settled if not s.is_dir}
    return Reread(
        directories=tuple(sorted(directories)),
        files=tuple(files),
        old=old,
        previous=_Without(known, evented),
        move_hints={s.path: s.moved_from for s in settled if s.moved_from is not None},
        rules_changed=rules_changed,
    )


class _Without(Mapping[str, FileState]):
    """``known`` minus some paths, without copying it."""

    def __init__(self, known: Mapping[str, FileState], hidden: set[str]) -> None:
        self._known = known
        self._hidden = hidden

    def __getitem__(self, path: str) -> FileState:
        if path in self._hidden:
            raise KeyError(path)
        return self._known[path]

    def __iter__(self) -> Iterator[str]:
        return (p for p in self._known if p not in self._hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _outermost(directories: set[str]) -> set[str]:
    """Drop directories that lie inside another one of the set."""
    if "" in directories:
        return {""}
    return {d for d in directories if not _under_any(d, directories - {d})}


def _under_any(path: str, directories: set[str]) -> bool:
    if "" in directories:
        return True
    candidate = path
    while True:
        slash = candidate.rfind("/")
        if slash < 0:
            return False
        candidate = candidate[:slash]
        if candidate in directories:
            return True

"""Comparing two snapshots, pure: ``diff`` gives the changes from one to the other, and
``apply_changes`` is its inverse (``apply_changes(old, diff(old, new)) == new``).

No disk, no clock, no threads: the watcher hands in states it read, so every rule here
(what counts as modified, how moves are paired, what an unreadable path keeps) is tested
on plain dictionaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from daemon.watch.ignore import normalize
from daemon.watch.snapshot import Change, FileState, ScanError


def restrict(state: Mapping[str, FileState], prefixes: Iterable[str]) -> dict[str, FileState]:
    """The part of ``state`` at or below any of ``prefixes`` (``""`` is everything)."""
    wanted = {normalize(p) for p in prefixes}
    if "" in wanted:
        return dict(state)
    result: dict[str, FileState] = {}
    for path, file_state in state.items():
        candidate = path
        while True:
            if candidate in wanted:
                result[path] = file_state
                break
            slash = candidate.rfind("/")
            if slash < 0:
                break
            candidate = candidate[:slash]
    return result


def diff(
    old: Mapping[str, FileState],
    new: Mapping[str, FileState],
    *,
    report_touched: bool = False,
    move_hints: Mapping[str, str] | None = None,
) -> list[Change]:
    """The changes that turn ``old`` into ``new``, in a stable order.

    A file is ``modified`` when its size or content hash differ; a file whose only
    difference is its mtime is ``touched`` when ``report_touched`` is set and not
    reported otherwise. A deleted and a created file are paired into one ``moved``
    change when ``move_hints`` (destination -> source, from rename events) says so, or
    else when they have the same non-empty content hash (in sorted path order, one to
    one).
    """
    changes: list[Change] = []
    deleted = sorted(p for p in old if p not in new)
    created = sorted(p for p in new if p not in old)
    for path in sorted(p for p in new if p in old):
        before, after = old[path], new[path]
        if before.size != after.size or before.content_hash != after.content_hash:
            changes.append(Change("modified", path, after))
        elif report_touched and before != after:
            changes.append(Change("touched", path, after))

    # Renames the events saw come first; then pair by content. Empty files all share
    # one hash, so they are not paired by content.
    moved_sources: set[str] = set()
    moves: dict[str, Change] = {}
    deleted_set = set(deleted)
    for path in created:
        hinted = (move_hints or {}).get(path)
        if hinted is not None and hinted in deleted_set and hinted not in moved_sources:
            moved_sources.add(hinted)
            moves[path] = Change("moved", hinted, new[path], dest_path=path)
    sources: dict[str, list[str]] = {}
    for path in deleted:
        if old[path].size > 0 and path not in moved_sources:
            sources.setdefault(old[path].content_hash, []).append(path)
    unmatched_created: list[str] = []
    for path in created:
        if path in moves:
            continue
        candidates = sources.get(new[path].content_hash)
        if candidates:
            source = candidates.pop(0)
            moved_sources.add(source)
            moves[path] = Change("moved", source, new[path], dest_path=path)
        else:
            unmatched_created.append(path)
    changes.extend(Change("deleted", p) for p in deleted if p not in moved_sources)
    changes.extend(moves[p] for p in sorted(moves))
    changes.extend(Change("created", p, new[p]) for p in unmatched_created)
    return changes


def apply_changes(
    state: Mapping[str, FileState], changes: Iterable[Change]
) -> dict[str, FileState]:
    """``state`` after ``changes``, as the ``files`` projection applies them."""
    result = dict(state)
    for change in changes:
        if change.kind == "deleted":
            result.pop(change.path, None)
            continue
        if change.state is None:
            raise ValueError(f"a {change.kind} change needs a state: {change!r}")
        if change.kind == "moved":
            result.pop(change.path, None)
        result[change.current_path] = change.state
    return result


# Errors that say nothing about whether a file still exists: keep its last known state
# rather than reporting it deleted (a chmod, a flaky network share).
_KEEP_ON_ERROR: frozenset[str] = frozenset({"unreadable", "io_error"})


def keep_unreadable(
    new: Mapping[str, FileState],
    known: Mapping[str, FileState],
    errors: Iterable[ScanError],
) -> dict[str, FileState]:
    """``new`` plus the known state of files (or directories) that could not be read now."""
    result = dict(new)
    prefixes = [e.path for e in errors if e.kind in _KEEP_ON_ERROR]
    if prefixes:
        for path, file_state in restrict(known, prefixes).items():
            result.setdefault(path, file_state)
    return result

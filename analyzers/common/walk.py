"""Listing a whole workspace for a full pass, without following links and without raising."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Version control internals, dependency trees and tool caches: large, generated, not the
# code people write. The shared ignore list, once wired in, replaces this through ``ignore``.
DEFAULT_IGNORED_DIRS: frozenset[str] = frozenset({
    ".git", ".hg", ".svn", ".bzr", "_darcs",
    "node_modules", "bower_components",
    "__pycache__", ".venv", "venv", ".tox", ".nox", ".eggs",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
})

#: ``(relative_path, is_dir) -> ignored?``: the shape of ``IgnoreRules.is_ignored`` in
#: ``daemon.watch.ignore``, so the watcher's ignore list can be passed in as it is.
IgnoreRule = Callable[[str, bool], bool]


def default_ignore(path: str, is_dir: bool = False) -> bool:
    """True when any component of the relative ``path`` is an ignored directory name."""
    return any(part in DEFAULT_IGNORED_DIRS for part in path.split("/"))


@dataclass(frozen=True)
class Listing:
    files: tuple[str, ...]  # everything that is not a directory, relative, ``/``-separated
    problems: tuple[tuple[str, str], ...]  # directories that could not be listed
    ignored: int  # entries (a pruned directory counts once) left out by the ignore rule


def list_workspace(root: Path, ignore: IgnoreRule = default_ignore) -> Listing:
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    ignored = 0
    # Iterative, depth-first; directory symlinks are listed as files (never entered),
    # so a link loop cannot make the walk go round.
    stack: list[str] = [""]
    while stack:
        relative = stack.pop()
        directory = os.path.join(root, relative) if relative else os.fspath(root)
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            problems.append((relative or ".", f"{type(exc).__name__}: {exc.strerror or exc}"))
            continue
        subdirectories: list[str] = []
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_directory = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_directory = False  # the scan of the path will say what it is
            if ignore(path, is_directory):
                ignored += 1
            elif is_directory:
                subdirectories.append(path)
            else:
                files.append(path)
        stack.extend(reversed(subdirectories))
    return Listing(files=tuple(files), problems=tuple(problems), ignored=ignored)

"""Scratch copies of the user's project: scenarios edit and break copies, never the original."""

from __future__ import annotations

import shutil
from pathlib import Path

from analyzers.common.walk import DEFAULT_IGNORED_DIRS, list_workspace

#: Caches and version-control internals are not worth copying: the analyzers skip them.
COPY_IGNORED = (*sorted(DEFAULT_IGNORED_DIRS), "*.pyc")
REPLICA_PREFIX = "replica_"


class ProjectError(ValueError):
    """The project cannot be used (missing, not a directory, empty); one line, exit 2."""


def check_project(project: Path) -> Path:
    if not project.exists():
        raise ProjectError(f"project {project} does not exist")
    if not project.is_dir():
        raise ProjectError(f"project {project} is not a directory")
    return project.resolve()


def scratch_copy(project: Path, destination: Path) -> Path:
    """A copy of ``project`` at ``destination`` (which must not exist yet); links are
    copied as links so a link out of the tree is never followed."""
    try:
        shutil.copytree(project, destination, symlinks=True,
                        ignore=shutil.ignore_patterns(*COPY_IGNORED))
    except (OSError, shutil.Error) as exc:
        raise ProjectError(f"cannot copy {project} to {destination}: {exc}") from None
    return destination


def count_files(root: Path) -> int:
    """Files a full pass would list (the analyzers' own walk)."""
    return len(list_workspace(root).files)


def replicate(root: Path, at_least: int) -> tuple[int, int]:
    """Copy the tree into ``replica_2/``, ``replica_3/`` ... inside itself until it holds
    ``at_least`` files; returns (files, copies). Replicas are real files: the indexer and
    the scanners treat them like any others, so the load is real even on a small project."""
    originals = sorted(p for p in root.iterdir() if not p.name.startswith(REPLICA_PREFIX))
    count = count_files(root)
    per_copy = count
    copies = 1
    if per_copy == 0:
        return 0, 1
    while count < at_least:
        copies += 1
        target = root / f"{REPLICA_PREFIX}{copies}"
        target.mkdir()
        for item in originals:
            if item.is_dir() and not item.is_symlink():
                shutil.copytree(item, target / item.name, symlinks=True)
            else:
                shutil.copy2(item, target / item.name, follow_symlinks=False)
        count += per_copy
    return count_files(root), copies

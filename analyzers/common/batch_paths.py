"""What a path handed to an analyzer may be: relative to the workspace, and inside it.

A batch names files by their ``/``-separated path relative to the workspace root. Each
analyzer refuses any other (absolute, climbing out with ``..``, holding a NUL byte)
before it opens anything, so no batch can make it read outside the workspace.
"""

from __future__ import annotations

from pathlib import PurePosixPath


def is_workspace_relative(path: str) -> bool:
    """Relative and without ``..``: a batch names files in the workspace, nothing else."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\x00" not in path

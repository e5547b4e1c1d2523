"""Where the code index lives: beside the event log, never inside the watched workspace.

The index is a rebuildable cache, so losing it costs one cold pass and nothing else;
what matters is that the indexer and ``realworld search`` agree on the file without
being told twice. Both walk the same chain of candidates:

1. an explicit path (the analyzer's ``index_path``, the command's ``--index``);
2. ``$REALWORLD_INDEX_DB``;
3. ``<log stem>.index.db`` beside the event log (``realworld_testing.db`` ->
   ``realworld_testing.index.db``), when the log's path is known;
4. ``$XDG_CACHE_HOME/realworld/index-<hash of the workspace>.db`` (``~/.cache`` when
   the variable is unset or not absolute, as the XDG spec says);
5. the same name under the system's temporary directory.

The writer skips every candidate that lies inside the workspace (a log kept in the
project directory, a workspace that is the home directory): writing there would wake
the watcher on every commit and break the promise that the workspace is never written.

Other rebuildable caches (the analyzers' per-file results, :mod:`analyzers.common.result_cache`)
sit beside the index under their own name, by the same chain: ``<log stem>.results.db``,
``results-<hash>.db`` in the cache directory, and so on (:func:`choose_cache_path`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

INDEX_ENV = "REALWORLD_INDEX_DB"
CACHE_DIR_NAME = "realworld"
#: The index file's companions, which sit beside it and must stay out of the workspace too.
SQLITE_SUFFIXES: tuple[str, ...] = ("", "-wal", "-shm", "-journal")


def index_path_for_log(log_path: str | os.PathLike[str]) -> Path:
    """``<stem>.index.db`` next to the event log."""
    log = Path(log_path).expanduser()
    return log.with_name(f"{log.stem}.index.db")


def workspace_key(root: str | os.PathLike[str]) -> str:
    """A short stable name for a workspace: the hash of its resolved path's bytes."""
    real = os.path.realpath(os.fspath(root))
    return hashlib.sha256(os.fsencode(real)).hexdigest()[:16]


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative value is invalid and must be ignored.
    base = Path(configured) if configured and os.path.isabs(configured) else (
        Path(env.get("HOME") or Path.home()) / ".cache")
    return base / CACHE_DIR_NAME


def default_index_path(root: str | os.PathLike[str],
                       env: Mapping[str, str] | None = None) -> Path:
    """The per-workspace cache file used when nothing names one."""
    return cache_dir(env) / f"index-{workspace_key(root)}.db"


def _private_temp_dir() -> Path:
    # Per user: a shared name in /tmp would let one user's index be read by another.
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"{CACHE_DIR_NAME}-{user}"


def candidates(root: str | os.PathLike[str] | None, *,
               explicit: str | os.PathLike[str] | None = None,
               log_path: str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> Iterator[Path]:
    """The chain described in the module docstring, most specific first."""
    env = os.environ if env is None else env
    if explicit:
        yield Path(explicit).expanduser()
    if env.get(INDEX_ENV):
        yield Path(env[INDEX_ENV]).expanduser()
    if log_path:
        yield index_path_for_log(log_path)
    if root is not None:
        yield default_index_path(root, env)
        yield _private_temp_dir() / f"index-{workspace_key(root)}.db"


def is_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (existing or not) resolves to somewhere at or below ``root``."""
    real_root = os.path.realpath(os.fspath(root))
    real = os.path.realpath(os.fspath(path))
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:  # different drives on Windows
        return False


def companion_path(index_path: str | os.PathLike[str], name: str) -> Path:
    """The file called ``name`` beside an index file: ``log.index.db`` -> ``log.<name>.db``,
    ``index-<hash>.db`` -> ``<name>-<hash>.db``, anything else ``x.db`` -> ``x.<name>.db``."""
    path = Path(index_path)
    file = path.name
    if file.endswith(".index.db"):
        return path.with_name(f"{file[:-len('.index.db')]}.{name}.db")
    if file.startswith("index-") and file.endswith(".db"):
        return path.with_name(f"{name}-{file[len('index-'):]}")
    return path.with_name(f"{path.stem}.{name}.db")


def choose_cache_path(root: str | os.PathLike[str], name: str, *,
                      explicit: str | os.PathLike[str] | None = None,
                      log_path: str | os.PathLike[str] | None = None,
                      env: Mapping[str, str] | None = None) -> Path:
    """Where the cache ``name`` of ``root`` lives: ``explicit``, else beside wherever the
    code index of ``root`` would go (the first such place outside the workspace)."""
    chain = [Path(explicit).expanduser()] if explicit else []
    chain += [companion_path(c, name) for c in candidates(root, log_path=log_path, env=env)]
    for candidate in chain:
        if not is_inside(candidate, root):
            return candidate
    raise ValueError(f"no place outside the workspace {os.fspath(root)!r} for the {name} cache")


def choose_index_path(root: str | os.PathLike[str], *,
                      explicit: str | os.PathLike[str] | None = None,
                      log_path: str | os.PathLike[str] | None = None,
                      env: Mapping[str, str] | None = None) -> Path:
    """Where the indexer of ``root`` writes: the first candidate outside the workspace."""
    for candidate in candidates(root, explicit=explicit, log_path=log_path, env=env):
        if not is_inside(candidate, root):
            return candidate
    # Only reachable when even the temporary directory is inside the workspace ("/").
    raise ValueError(f"no place outside the workspace {os.fspath(root)!r} for the code index")

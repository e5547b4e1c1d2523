"""Paths as SQLite stores them without loss, in the log, the code index and the caches alike.

Paths are ``str`` decoded with ``surrogateescape``; SQLite's UTF-8 text cannot hold the
lone surrogates of a name that is not valid UTF-8, so such a path is stored as the BLOB
of its original bytes (every other path stays TEXT).
"""

from __future__ import annotations

import os


def path_to_sql(path: str) -> str | bytes:
    """TEXT when the path is valid UTF-8, else the BLOB of its original bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def path_from_sql(value: str | bytes) -> str:
    """The inverse of :func:`path_to_sql`."""
    return os.fsdecode(value) if isinstance(value, bytes) else value

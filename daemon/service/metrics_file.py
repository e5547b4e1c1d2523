"""``[metrics] textfile``: the daemon's metrics where node_exporter's textfile collector reads.

Written after each projection refresh that applied something (the tester's refresh
listeners), from the projections alone: the counts are read
(:func:`daemon.read.queries.metrics_counts`), rendered by ``prometheus_client``
(:mod:`daemon.read.render.prometheus`) and written atomically by its
``write_to_textfile`` (a temporary file beside the target, then a rename), so the
collector never reads half a file. A failure to write is one warning, said again only
when it changes; the daemon goes on.

The file is created 0600, as every file the daemon writes (the process umask): a
node_exporter running as another user needs the daemon's user, or root, to read it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import structlog
from prometheus_client import write_to_textfile

from daemon.log.database import Database
from daemon.read.queries import metrics_counts
from daemon.read.render.prometheus import BUCKETS_MS, metrics_registry

log = structlog.get_logger("realworld.metrics")


class MetricsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._failure = ""

    def write(self, db: Database) -> bool:
        """Write the file from ``db``'s projections; False (and a warning) if it failed."""
        try:
            registry = metrics_registry(metrics_counts(db, BUCKETS_MS))
            write_to_textfile(os.fspath(self.path), registry)
        except (OSError, sqlite3.Error) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if reason != self._failure:
                log.warning("metrics_not_written", path=os.fspath(self.path), reason=reason)
            self._failure = reason
            return False
        self._failure = ""
        return True

"""``[metrics] textfile``: the daemon's metrics where node_exporter's textfile collector reads.

Written after the projection refreshes that applied something (the tester's refresh
listeners), at most every :data:`MIN_INTERVAL_S` (Prometheus scrapes every 15 s or so
anyway; a change within the interval is written at the first refresh after it), from the
projections alone. The first write counts every call in the log; each later one reads only
the activities appended since and adds them, so a daemon months old pays for what is new,
and its counters only go up while it runs (a restart is the counter reset Prometheus
expects; archived sessions are then no longer counted). The counts are read
(:func:`daemon.read.queries.metrics_counts`), rendered by ``prometheus_client``
(:mod:`daemon.read.render.prometheus`) and written atomically by its
``write_to_textfile`` (a temporary file beside the target, then a rename), so the
collector never reads half a file. A failure to write is one warning, said again only
when it changes; the daemon goes on.

The file is made 0644, unlike every other file the daemon writes (0600): node_exporter
runs as its own user, and the file holds counts, never code, paths or secrets.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import structlog
from prometheus_client import write_to_textfile

from daemon.log.database import Database
from daemon.read.metric_counts import MetricsCounts, accumulate
from daemon.read.queries import metrics_counts
from daemon.read.render.prometheus import BUCKETS_MS, metrics_registry

log = structlog.get_logger("realworld.metrics")

MIN_INTERVAL_S = 10.0
READABLE = 0o644


class MetricsFile:
    def __init__(self, path: Path, min_interval_s: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._failure = ""
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._dirty = False
        self._tried_at: float | None = None
        self._counts: MetricsCounts | None = None

    def refreshed(self, db: Database, moved: bool) -> None:
        """A refresh happened (``moved``: the projections changed): write if something
        changed since the last write and the interval has passed."""
        self._dirty |= moved
        now = self._clock()
        if not self._dirty or (self._tried_at is not None
                               and now - self._tried_at < self._min_interval_s):
            return
        self._tried_at = now
        if self.write(db):
            self._dirty = False

    def write(self, db: Database) -> bool:
        """Write the file from ``db``'s projections; False (and a warning) if it failed."""
        try:
            after = 0 if self._counts is None else self._counts.last_row
            new = metrics_counts(db, BUCKETS_MS, after)
            if new.last_row < after:
                # The table was rebuilt (``realworld rebuild``): its rows are numbered anew
                # and were counted before; go on from its end.
                new = replace(new, capabilities=())
            counts = accumulate(self._counts, new)
            write_to_textfile(os.fspath(self.path), metrics_registry(counts))
            # Unlike everything else realworld writes, this file is for another user to
            # read (node_exporter runs as its own), and it holds counts only.
            os.chmod(self.path, READABLE)
            self._counts = counts
        except (OSError, sqlite3.Error) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if reason != self._failure:
                log.warning("metrics_not_written", path=os.fspath(self.path), reason=reason)
            self._failure = reason
            return False
        self._failure = ""
        return True

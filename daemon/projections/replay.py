"""Replaying the log into a scratch database outside it: what ``verify`` compares with and
what ``rebuild`` swaps in.

The scratch file lives in the temporary directory, never beside the log: a log on a
full disk or a read-only copy still verifies, and a rebuild that cannot finish leaves
the live projections as they were instead of half dropped.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.log.anchor import copy_base
from daemon.log.database import Database, replace_projections, transaction
from daemon.log.store import read_rows
from daemon.projections.projector import CatchUp, Projector, catch_up

_PAGE = 10_000


_EVENT_TRIGGERS = ("events_no_update", "events_no_delete", "events_no_replace")


@contextmanager
def scratch_replay(live: sqlite3.Connection, position: int) -> Iterator[tuple[Database, int]]:
    """A scratch database holding the log up to ``position`` and its projections, for the
    duration of the block; with how many events were projected there."""
    with tempfile.TemporaryDirectory(prefix="realworld-replay-") as directory:
        scratch = Database.open(Path(directory) / "replay.db", create=True)
        conn = scratch.connect()
        try:
            conn.execute("PRAGMA synchronous = OFF")  # scratch: a crash loses nothing of ours
            # The append-only guards check every copied row against the whole table (a
            # third of a replay's time); the rows come from a log that kept them.
            for trigger in _EVENT_TRIGGERS:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            # An archived log replays from its anchor: the base first, then the events.
            copy_base(live, conn)
            after = 0
            while after < position:
                rows = [r for r in read_rows(live, after, _PAGE) if r[0] <= position]
                if not rows:
                    break
                with transaction(conn):
                    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     rows)
                after = rows[-1][0]
        finally:
            conn.close()
        with Projector(scratch) as projector:
            applied = projector.catch_up().applied
        yield scratch, applied


def rebuild(db: Database) -> CatchUp:
    """Replay the whole log into fresh projections, swapped in by one transaction; then
    whatever was appended meanwhile is caught up as usual."""
    live = db.connect_readonly()
    try:
        position = int(live.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        with scratch_replay(live, position) as (scratch, applied):
            live.close()
            conn = db.connect()
            try:
                conn.execute("ATTACH DATABASE ? AS scratch", (str(scratch.path),))
                try:
                    with transaction(conn):
                        replace_projections(conn, "scratch")
                finally:
                    conn.execute("DETACH DATABASE scratch")
            finally:
                conn.close()
    finally:
        live.close()
    more = catch_up(db)
    return CatchUp(applied + more.applied, more.position)

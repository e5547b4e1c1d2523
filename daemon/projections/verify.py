"""`realworld verify`: the hash chain holds and the projections equal a fresh replay."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from daemon.log.database import Database
from daemon.log.hashchain import ChainBreak, first_break
from daemon.log.schema import PRIMARY_KEYS, PROJECTION_TABLES
from daemon.log.store import chain_rows
from daemon.log.write_errors import cause, describe_write_error
from daemon.projections.projector import catch_up
from daemon.projections.replay import scratch_replay


@dataclass(frozen=True)
class TableMismatch:
    table: str
    live_rows: int
    replayed_rows: int
    first_difference: str


@dataclass(frozen=True)
class VerifyReport:
    events: int
    position: int  # the log position the projections were compared at
    chain_break: ChainBreak | None
    mismatches: tuple[TableMismatch, ...] = field(default=())
    note: str = ""  # why the projections were compared short of the log's end, if they were

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.mismatches


def _projected_position(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MIN(position) FROM projection_checkpoints").fetchone()
    return int(row[0] or 0)


def _ordered_rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[object, ...]]:
    order = ", ".join(PRIMARY_KEYS[table])
    yield from conn.execute(f"SELECT * FROM {table} ORDER BY {order}")


def _compare_table(live: sqlite3.Connection, replay: sqlite3.Connection,
                   table: str) -> TableMismatch | None:
    live_count = live.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    replay_count = replay.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    pairs = itertools.zip_longest(_ordered_rows(live, table), _ordered_rows(replay, table))
    for live_row, replay_row in pairs:
        if live_row != replay_row:
            return TableMismatch(table, live_count, replay_count,
                                 f"live {live_row!r} != replayed {replay_row!r}")
    return None


def _truncation(conn: sqlite3.Connection) -> ChainBreak | None:
    """A chain cut off at its end still links; projections that got further show the cut."""
    last = int(conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)
    reached = int(conn.execute("SELECT MAX(position) FROM projection_checkpoints").fetchone()[0]
                  or 0)
    if reached > last:
        return ChainBreak(last + 1, f"the log ends at seq {last} but projections reached "
                                    f"{reached}: events were removed")
    return None


def verify(db: Database) -> VerifyReport:
    """Walk the chain, then replay the log into a scratch database and compare every table."""
    live = db.connect_readonly()
    try:
        broken = first_break(chain_rows(live)) or _truncation(live)
        if broken is not None:
            # An edited log cannot be trusted to replay (an edited payload may not even
            # parse), so the chain break is the whole verdict.
            events = live.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            return VerifyReport(events, _projected_position(live), broken)
        note = ""
        if db.is_writable():
            try:
                catch_up(db)
            except sqlite3.OperationalError as exc:
                if cause(exc) is None:
                    raise
                # A full disk (or a file we may not write): the projections are compared
                # where they stand, which proves as much about them.
                note = f"projections not caught up first: {describe_write_error(exc)}"
        events = live.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        position = _projected_position(live)
        with scratch_replay(live, position) as (scratch, _):
            replayed = scratch.connect_readonly()
            try:
                mismatches = tuple(
                    m for m in (_compare_table(live, replayed, t) for t in PROJECTION_TABLES)
                    if m is not None)
            finally:
                replayed.close()
    finally:
        live.close()
    return VerifyReport(events, position, None, mismatches, note)

"""Small session logs with chosen response times, and the report/compare commands in-process.

Sessions are written as events through the real EventStore and projected, so the commands
read real projection rows. ``run_command`` builds a ``realworld`` parser holding only the
commands under test, mirroring :func:`daemon.cli.main.main`'s mapping of one-line errors to
exit 2, so these tests do not depend on how the lead wires the commands into the CLI.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from daemon.cli.common import Parser, UsageError, common_options
from daemon.config import ConfigError
from daemon.log.database import Database, DatabaseError
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    Event,
    FindingDetected,
    MetricSampled,
    SessionEnded,
    SessionStarted,
    format_ts,
    new_id,
)
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up

Call = tuple[str, float, bool]  # capability, response ms, success

START = datetime(2026, 2, 3, 10, 0, 0, tzinfo=timezone.utc)

ONE_LINE_ERRORS = (UsageError, ConfigError, DatabaseError)

Register = Callable[["argparse._SubParsersAction[Any]", argparse.ArgumentParser], None]


def add_session(db_path: Path, session_id: str, calls: Sequence[Call], *,
                status: str | None = "completed", start: datetime = START,
                step_s: float = 10.0, findings: Sequence[FindingDetected] = ()) -> Database:
    """One session of ``calls``, ``step_s`` apart; ``status=None`` leaves it running."""
    db = Database.open(db_path, create=True)
    events: list[tuple[Event, datetime]] = [
        (SessionStarted(session_id, "/work/project", 5), start)]
    for i, (capability, ms, ok) in enumerate(calls):
        at = start + timedelta(seconds=step_s * (i + 1))
        events.append((ActivityRecorded(
            session_id, new_id(), capability, "run", description=f"{capability}: {ms:.0f}ms",
            response_time_ms=ms, cpu_before=10.0, cpu_after=20.0 + i, memory_before_mb=40.0,
            memory_after_mb=40.0 + i, success=ok, error_message=None if ok else "failed"), at))
        events.append((MetricSampled(session_id, new_id(), "system", "cpu_usage", 15.0 + i,
                                     "percent"), at))
    last = start + timedelta(seconds=step_s * (len(calls) + 1))
    events.extend((finding, last) for finding in findings)
    if status is not None:
        events.append((SessionEnded(session_id, status, "duration reached"), last))
    with EventStore(db) as store:
        store.append([Envelope(event, ts=format_ts(at)) for event, at in events])
    catch_up(db)
    return db


def run_command(register: Register, *argv: str) -> tuple[int, str, str]:
    parser = Parser(prog="realworld")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(commands, common_options())
    out, err = io.StringIO(), io.StringIO()
    try:
        args = parser.parse_args(list(argv))
        code = int(args.run(args, out))
    except ONE_LINE_ERRORS as exc:
        err.write(f"realworld: error: {exc}\n")
        code = 2
    return code, out.getvalue(), err.getvalue()

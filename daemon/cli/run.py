"""`realworld run`: one test session in the foreground, with the spec's console output."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import structlog

from daemon.app.tester import RealWorldTester
from daemon.config import ENV_DURATION, ENV_INTERVAL, Config
from daemon.durations import parse_minutes, parse_seconds
from daemon.log.events import ActivityRecorded
from daemon.log.write_errors import describe_write_error
from daemon.read.render.console import CapabilityCount, UpdateView, activity_line, update_block
from daemon.service.wakeup import WOKEN, Wakeup

log = structlog.get_logger("realworld.run")

DEFAULT_RUN_MINUTES = 2.0  # the spec's "Quick 2-minute test"


class RunUsageError(ValueError):
    """A bad flag value; the message is one line."""


@dataclass(frozen=True)
class RunOptions:
    project: Path
    db_path: Path
    minutes: float  # 0 with --continuous or --once
    mode: str  # timed | continuous | once
    monitor_interval: float  # seconds
    quiet: bool
    report: bool
    save_report: Path | None
    report_format: str


def resolve_options(*, project: str, duration: str | None, monitor_interval: str | None,
                    continuous: bool, once: bool, quiet: bool, no_report: bool,
                    save_report: str | None, report_format: str, db_path: Path,
                    env: Mapping[str, str] | None = None,
                    config_interval: float = 30.0) -> RunOptions:
    """Flags, then ``REALWORLD_TESTING_*``, then the config file's ``monitor_interval``
    (``config_interval``), then the spec's defaults; raises RunUsageError."""
    env = os.environ if env is None else env
    if continuous and once:
        raise RunUsageError("--continuous and --once exclude each other")
    root = Path(project).expanduser()
    if not root.is_dir():
        raise RunUsageError(f"project path does not exist or is not a directory: {project}")
    try:
        duration_text = duration or env.get(ENV_DURATION)
        minutes = parse_minutes(duration_text) if duration_text else DEFAULT_RUN_MINUTES
        interval_text = monitor_interval or env.get(ENV_INTERVAL)
        interval = parse_seconds(interval_text) if interval_text else config_interval
    except ValueError as exc:
        raise RunUsageError(str(exc)) from None
    mode = "once" if once else "continuous" if continuous else "timed"
    return RunOptions(
        project=root.resolve(), db_path=db_path, minutes=minutes if mode == "timed" else 0.0,
        mode=mode, monitor_interval=interval, quiet=quiet, report=not no_report,
        save_report=Path(save_report) if save_report else None, report_format=report_format)


class _Console:
    """Prints activity lines as they happen and an update block every monitor interval."""

    def __init__(self, out: TextIO, options: RunOptions) -> None:
        self._out = out
        self.session_id = ""  # known once the session has started
        self._options = options
        self._lock = threading.Lock()

    def activity(self, event: ActivityRecorded) -> None:
        # Listening starts before the session does (a --once pass can be over before
        # start_test_session returns); this tester runs no other session.
        if not event.description:
            return
        with self._lock:
            self._out.write(activity_line(event.session_id, event.description) + "\n")
            self._out.flush()

    def update(self, tester: RealWorldTester, number: int, started: float) -> None:
        """One update block; skipped (the session decides what a failure means) when the
        figures cannot be read."""
        try:
            self._update(tester, number, started)
        except (sqlite3.Error, OSError) as exc:
            log.warning("update_skipped", reason=describe_write_error(exc))

    def _update(self, tester: RealWorldTester, number: int, started: float) -> None:
        monitor = tester.monitor_activities()
        metrics = tester.collect_metrics()
        [row] = [s for s in monitor["sessions"] if s["session_id"] == self.session_id] or [{}]
        elapsed = time.monotonic() - started
        total_s = self._options.minutes * 60
        view = UpdateView(
            number=number,
            total=math.ceil(total_s / self._options.monitor_interval) if total_s else None,
            clock=datetime.now(),
            session_id=self.session_id,
            elapsed_s=elapsed,
            remaining_s=max(0.0, total_s - elapsed) if total_s else None,
            activities=int(row.get("total_activities") or 0),
            errors=int(row.get("total_errors") or 0),
            cpu_percent=metrics["system_resources"]["cpu_percent"],
            memory_percent=metrics["system_resources"]["memory_percent"],
            capabilities={
                name: CapabilityCount(stats["calls"], stats["calls"] - stats["errors"])
                for name, stats in monitor["activities_by_capability"].items()
            },
        )
        with self._lock:
            self._out.write("\n" + update_block(view) + "\n")
            self._out.flush()


@dataclass(frozen=True)
class RunOutcome:
    session_id: str
    status: str  # completed | stopped | error | ...
    reason: str  # why it ended, in a person's words


def run_foreground(options: RunOptions, config: Config, out: TextIO) -> RunOutcome:
    """Run the session to its end (or Ctrl-C / SIGTERM).

    The main thread blocks on one :class:`~daemon.service.wakeup.Wakeup`: the session's end,
    a signal, or the next update's time, whichever comes first.
    """
    with Wakeup() as wakeup, wakeup.signals((signal.SIGINT, signal.SIGTERM)):
        tester = RealWorldTester(options.db_path, config=config)
        try:
            tester.monitor_interval = options.monitor_interval
            console = _Console(out, options)
            if not options.quiet:
                tester.add_activity_listener(console.activity)
            session_id = tester.start_test_session(options.project, options.minutes,
                                                   mode=options.mode)
            console.session_id = session_id
            session = tester.session(session_id)
            assert session is not None
            session.on_done(wakeup.wake)
            started = time.monotonic()
            updates = 0
            next_update = started + options.monitor_interval
            while session.running:
                arrived = wakeup.wait(max(0.0, next_update - time.monotonic()))
                if any(number != WOKEN for number in arrived):
                    out.write("\nInterrupted: stopping the session and writing the report...\n")
                    out.flush()
                    tester.stop_session(session_id)
                    break
                if session.running and time.monotonic() >= next_update:
                    next_update += options.monitor_interval
                    if not options.quiet:
                        updates += 1
                        console.update(tester, updates, started)
            # The session's own word: on a full disk its end is not in the projections.
            return RunOutcome(session_id, session.status, session.end_reason)
        finally:
            tester.close()


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()

"""``realworld run``: one test session in the foreground, with the spec's console output,
then its report and, with ``--fail-under``/``--fail-on``, its verdict as the exit status."""

from __future__ import annotations

import argparse
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
from typing import Any, TextIO

import structlog

from daemon.app.tester import RealWorldTester
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, examples
from daemon.cli.report import FORMATS as REPORT_FORMATS
from daemon.cli.report import render_session_report, write_report
from daemon.config import ENV_DURATION, ENV_INTERVAL, Config, load_config, resolve_db_path
from daemon.durations import parse_minutes, parse_seconds
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded
from daemon.log.write_errors import describe_write_error
from daemon.read.analysis.gates import FAIL_ON_CONFIDENCES, FAIL_ON_LEVELS, gate, parse_score
from daemon.read.queries import baseline_problems, open_findings
from daemon.read.render.console import (
    CapabilityCount,
    UpdateView,
    activity_line,
    update_block,
    update_count,
)
from daemon.read.reporting import analysis_dict
from daemon.service.wakeup import WOKEN, Wakeup

log = structlog.get_logger("realworld.run")

DEFAULT_RUN_MINUTES = 2.0  # the spec's "Quick 2-minute test"
#: In ``--save-report F``, replaced by the session's id (the id is made at the start).
SESSION_PLACEHOLDER = "{session}"


class RunUsageError(UsageError):
    """A bad flag value; the message is one line (exit 2)."""


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
    files: tuple[str, ...] = ()  # with mode "once": only these (workspace-relative)


def resolve_options(*, project: str, duration: str | None, monitor_interval: str | None,
                    continuous: bool, once: bool, quiet: bool, no_report: bool,
                    save_report: str | None, report_format: str, db_path: Path,
                    env: Mapping[str, str] | None = None,
                    config_interval: float = 30.0,
                    config_minutes: float | None = None) -> RunOptions:
    """Flags, then ``REALWORLD_TESTING_*``, then the config file's ``monitor_interval``
    (``config_interval``) and ``default_duration`` (``config_minutes``, None when the file
    does not set it), then the spec's defaults; raises RunUsageError."""
    env = os.environ if env is None else env
    if continuous and once:
        raise RunUsageError("--continuous and --once exclude each other")
    root = Path(project).expanduser()
    if not root.is_dir():
        raise RunUsageError(f"project path does not exist or is not a directory: {project}")
    try:
        duration_text = duration or env.get(ENV_DURATION)
        minutes = (parse_minutes(duration_text) if duration_text
                   else config_minutes or DEFAULT_RUN_MINUTES)
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
        self.total = update_count(options.minutes * 60, options.monitor_interval)
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
            total=self.total or None,
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
                                                   mode=options.mode, files=options.files)
            console.session_id = session_id
            session = tester.session(session_id)
            assert session is not None
            session.on_done(wakeup.wake)
            started = time.monotonic()
            updates = 0
            next_update = started + options.monitor_interval
            interrupted = False
            while session.running:
                arrived = wakeup.wait(max(0.0, next_update - time.monotonic()))
                if any(number != WOKEN for number in arrived):
                    out.write("\nInterrupted: stopping the session and writing the report...\n")
                    out.flush()
                    tester.stop_session(session_id)
                    interrupted = True
                    break
                if session.running and time.monotonic() >= next_update:
                    next_update += options.monitor_interval
                    if not options.quiet:
                        updates += 1
                        console.update(tester, updates, started)
            if (not options.quiet and not interrupted and session.status == "completed"
                    and options.mode == "timed" and updates < console.total):
                # The update due at the very end (a duration that is a multiple of the
                # interval) races the session's end; it is printed once the session is over.
                console.update(tester, updates + 1, started)
            # The session's own word: on a full disk its end is not in the projections.
            return RunOutcome(session_id, session.status, session.end_reason)
        finally:
            tester.close()


def report_path(template: Path, session_id: str) -> Path:
    """``--save-report`` with ``{session}`` replaced by the session's id."""
    return Path(str(template).replace(SESSION_PLACEHOLDER, session_id))


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    options = resolve_options(
        project=args.project, duration=args.duration, monitor_interval=args.monitor_interval,
        continuous=args.continuous, once=args.once, quiet=args.quiet,
        no_report=args.no_report, save_report=args.save_report, report_format=args.format,
        db_path=resolve_db_path(args.db, config), config_interval=config.monitor_interval,
        config_minutes=config.default_duration if config.default_duration_from_file else None)
    outcome = run_foreground(options, config, out)
    session_id, status = outcome.session_id, outcome.status
    if status == "error":
        sys.stderr.write(f"realworld: the session ended in error: {outcome.reason}\n")
    if options.report or options.save_report:
        db = Database.open(options.db_path)
        text = render_session_report(db, session_id, options.report_format)
        if options.report:
            out.write("\n" + text)
        if options.save_report:
            target = report_path(options.save_report, session_id)
            write_report(target, text)
            out.write(f"Report saved to {target}\n")
    exit_code = EXIT_OK if status in ("completed", "stopped") else EXIT_FAILED
    if baseline_failed(Database.open(options.db_path), session_id) and not args.exit_zero:
        exit_code = EXIT_FAILED
    if args.fail_under is not None or args.fail_on is not None:
        db = Database.open(options.db_path)
        passed, reasons = gate(analysis_dict(db, session_id), args.fail_under, args.fail_on,
                               open_findings(db, session_id), args.fail_on_confidence)
        for reason in reasons:
            sys.stderr.write(f"realworld: FAIL: {reason}\n")
        if not passed and not args.exit_zero:
            exit_code = EXIT_FAILED
    return exit_code


def baseline_failed(db: Database, session_id: str) -> bool:
    """Say on stderr what the scanner said of the baseline; True if it is not applied or
    matched nothing (a baseline that hides nothing it should is a failed check)."""
    problems, notices = baseline_problems(db, session_id)
    for notice in notices:
        sys.stderr.write(f"realworld: baseline: {notice}\n")
    for problem in problems:
        sys.stderr.write(f"realworld: FAIL: baseline: {problem}\n")
    return bool(problems)


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``run`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "run", parents=[common],
        help="one test session in the foreground: watch, analyze, measure, then report",
        **examples("realworld run --project ~/src/app --duration 10",
                   "realworld run --once --quiet --fail-on high     # CI: one pass, a verdict",
                   "realworld run --continuous --save-report report.html --format html"))
    parser.add_argument("--project", default=".", metavar="P",
                        help="workspace to watch (default: the current directory)")
    parser.add_argument("--duration", metavar="D",
                        help="minutes, or 30s/5m/1h (default: $REALWORLD_TESTING_DURATION, "
                             "else the config file's default_duration, else 2)")
    parser.add_argument("--monitor-interval", metavar="S",
                        help="seconds between resource samples and console updates "
                             "(default: $REALWORLD_TESTING_INTERVAL, else 30)")
    ending = parser.add_mutually_exclusive_group()
    ending.add_argument("--continuous", action="store_true",
                        help="run until Ctrl-C or SIGTERM instead of for a duration")
    ending.add_argument("--once", action="store_true",
                        help="one full pass of every analyzer, then the report (CI, hooks)")
    parser.add_argument("--quiet", action="store_true", help="no live output, only the report")
    parser.add_argument("--no-report", action="store_true", help="do not print the report")
    parser.add_argument("--save-report", metavar="F",
                        help="also write the report to F; {session} in F becomes the "
                             "session's id")
    parser.add_argument("--format", choices=REPORT_FORMATS, default="text",
                        help="report format (default: text)")
    parser.add_argument("--fail-under", type=parse_score, metavar="SCORE", default=None,
                        help="exit 1 when the overall score (0-100) is below SCORE")
    parser.add_argument("--fail-on", choices=FAIL_ON_LEVELS, default=None,
                        help="exit 1 when an issue or a finding (a secret, a bandit rule) "
                             "of this severity or worse is open")
    parser.add_argument("--fail-on-confidence", choices=FAIL_ON_CONFIDENCES, default=None,
                        help="with --fail-on: count only findings at least this sure "
                             "(default: any)")
    parser.add_argument("--exit-zero", action="store_true",
                        help="print what the gates found but exit 0 for it (a session that "
                             "ended in error still exits 1)")
    parser.set_defaults(run=cmd_run)

"""The ``realworld`` command line.

Exit status: 0 success, 1 a check that failed, 2 bad usage or input, always
with one line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from daemon.app.liveness import process_alive
from daemon.cli import backup as backup_command
from daemon.cli import compare as compare_command
from daemon.cli import findings as findings_command
from daemon.cli import report as report_command
from daemon.cli import scenario as scenario_command
from daemon.cli import search as search_command
from daemon.cli.backup import BackupUsageError
from daemon.cli.compare import CompareUsageError
from daemon.cli.findings import FindingsUsageError
from daemon.cli.report import ReportUsageError
from daemon.cli.scenario import ScenarioUsageError
from daemon.cli.search import SearchUsageError
from daemon.config import ConfigError, load_config, resolve_db_path
from daemon.log.database import Database, DatabaseError, Durability
from daemon.log.write_errors import cause, describe_write_error
from daemon.logsetup import configure_logging
from daemon.projections.projector import catch_up
from daemon.projections.replay import rebuild
from daemon.projections.verify import verify
from daemon.read.analysis.gates import FAIL_ON_LEVELS, gate, parse_score
from daemon.read.history import list_sessions
from daemon.read.query import FORMATS, QueryError, QueryResult, render, render_table, run_query
from daemon.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
REPORT_FORMATS = report_command.FORMATS


class UsageError(Exception):
    """Bad usage or input: reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage block before its message; we promise one line.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _common_options() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--db", metavar="FILE",
                        help="event log database (default: $REALWORLD_TESTING_DB, the config "
                             "file's db_path, then ./realworld_testing.db)")
    common.add_argument("--config", metavar="FILE",
                        help="TOML config file (default: $XDG_CONFIG_HOME/realworld/config.toml)")
    return common


def _open_db(args: argparse.Namespace, *, create: bool = False) -> Database:
    config = load_config(args.config)
    path = resolve_db_path(args.db, config)
    durability: Durability = "full" if config.durability == "full" else "normal"
    return Database.open(path, durability=durability, create=create)


def _fresh(db: Database) -> Database:
    """Projections catch up before every read; a read-only file, or one on a full disk,
    is read as it stands."""
    if db.is_writable():
        try:
            catch_up(db)
        except sqlite3.OperationalError as exc:
            if cause(exc) is None:
                raise
            sys.stderr.write(f"realworld: warning: projections not caught up "
                             f"({describe_write_error(exc)}); reading them as they stand\n")
    return db


def cmd_sessions(args: argparse.Namespace, out: TextIO) -> int:
    db = _fresh(_open_db(args))
    conn = db.connect_readonly()
    try:
        sessions = list_sessions(conn, limit=args.limit)
    finally:
        conn.close()
    if args.json:
        out.write(json.dumps(sessions, indent=2) + "\n")
        return EXIT_OK
    if not sessions:
        out.write(f"no sessions yet in {db.path}\n")
        return EXIT_OK
    columns = ("session_id", "status", "start_time", "project_path", "total_activities",
               "total_errors", "avg_response_time", "overall_score")
    rows = tuple(tuple(s[c] for c in columns) for s in sessions)
    out.write(render_table(QueryResult(columns, rows)))
    return EXIT_OK


def cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    db = _fresh(_open_db(args))
    out.write(render(run_query(db, args.sql), args.format))
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace, out: TextIO) -> int:
    db = _open_db(args)
    if not db.is_writable():
        raise UsageError(f"cannot rebuild {db.path}: the file is not writable")
    result = rebuild(db)
    out.write(f"rebuilt the projections of {db.path} from {result.applied} events\n")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    db = _open_db(args)
    report = verify(db)
    if report.chain_break is None:
        out.write(f"chain: ok ({report.events} events)\n")
    else:
        out.write(f"chain: broken at seq {report.chain_break.seq}: {report.chain_break.reason}\n")
    if report.note:
        out.write(f"note: {report.note}\n")
    if not report.mismatches:
        out.write(f"projections: ok (every table equals a replay up to seq {report.position})\n")
    for mismatch in report.mismatches:
        out.write(f"projections: {mismatch.table} differs from a replay "
                  f"({mismatch.live_rows} live rows, {mismatch.replayed_rows} replayed): "
                  f"{mismatch.first_difference}\n")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from daemon.cli.report import render_session_report
    from daemon.cli.run import RunUsageError, resolve_options, run_foreground
    from daemon.read.reporting import analysis_dict

    config = load_config(args.config)
    try:
        options = resolve_options(
            project=args.project, duration=args.duration, monitor_interval=args.monitor_interval,
            continuous=args.continuous, once=args.once, quiet=args.quiet,
            no_report=args.no_report, save_report=args.save_report, report_format=args.format,
            db_path=resolve_db_path(args.db, config), config_interval=config.monitor_interval)
    except RunUsageError as exc:
        raise UsageError(str(exc)) from None
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
            options.save_report.parent.mkdir(parents=True, exist_ok=True)
            options.save_report.write_text(text, encoding="utf-8")
            out.write(f"Report saved to {options.save_report}\n")
    exit_code = EXIT_OK if status in ("completed", "stopped") else EXIT_FAILED
    if args.fail_under is not None or args.fail_on is not None:
        passed, reasons = gate(analysis_dict(Database.open(options.db_path), session_id),
                               args.fail_under, args.fail_on)
        for reason in reasons:
            sys.stderr.write(f"realworld: FAIL: {reason}\n")
        if not passed:
            exit_code = EXIT_FAILED
    return exit_code


def cmd_daemon(args: argparse.Namespace, out: TextIO) -> int:
    from daemon.service.daemon import DaemonUsageError, run_daemon

    try:
        return run_daemon(args.config, args.db, args.workspace or ())
    except DaemonUsageError as exc:
        raise UsageError(str(exc)) from None


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    db = _fresh(_open_db(args))
    conn = db.connect_readonly()
    try:
        running = [s for s in list_sessions(conn) if s["status"] == "running"]
    finally:
        conn.close()
    for session in running:
        alive = process_alive(session["pid"], session["host"], session["pid_since"])
        session["process"] = {True: "alive", False: "gone", None: "unknown"}[alive]
    if args.json:
        out.write(json.dumps({"db": str(db.path), "running": running}, indent=2) + "\n")
        return EXIT_OK
    if not running:
        out.write(f"no session is running in {db.path}\n")
        return EXIT_OK
    columns = ("session_id", "mode", "process", "start_time", "project_path",
               "total_activities", "total_errors", "avg_response_time")
    rows = tuple(tuple(s[c] for c in columns) for s in running)
    out.write(render_table(QueryResult(columns, rows)))
    return EXIT_OK


Command = Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(prog="realworld", description="Watch a workspace, run real analyzers on "
                     "every change, measure them, and keep every fact in an append-only log.")
    parser.add_argument("--version", action="version", version=f"realworld {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", parents=[common],
        help="one test session in the foreground: watch, analyze, measure, then report")
    run.add_argument("--project", default=".", metavar="P",
                     help="workspace to watch (default: the current directory)")
    run.add_argument("--duration", metavar="D",
                     help="minutes, or 30s/5m/1h (default: $REALWORLD_TESTING_DURATION, else 2)")
    run.add_argument("--monitor-interval", metavar="S",
                     help="seconds between resource samples and console updates "
                          "(default: $REALWORLD_TESTING_INTERVAL, else 30)")
    ending = run.add_mutually_exclusive_group()
    ending.add_argument("--continuous", action="store_true",
                        help="run until Ctrl-C or SIGTERM instead of for a duration")
    ending.add_argument("--once", action="store_true",
                        help="one full pass of every analyzer, then the report (CI, hooks)")
    run.add_argument("--quiet", action="store_true", help="no live output, only the report")
    run.add_argument("--no-report", action="store_true", help="do not print the report")
    run.add_argument("--save-report", metavar="F", help="also write the report to F")
    run.add_argument("--format", choices=REPORT_FORMATS, default="text",
                     help="report format (default: text)")
    run.add_argument("--fail-under", type=parse_score, metavar="SCORE", default=None,
                     help="exit 1 when the overall score (0-100) is below SCORE")
    run.add_argument("--fail-on", choices=FAIL_ON_LEVELS, default=None,
                     help="exit 1 when an issue of this severity or worse is open")
    run.set_defaults(run=cmd_run)

    daemon = commands.add_parser(
        "daemon", parents=[common],
        help="the systemd service: continuous sessions for the configured workspaces")
    daemon.add_argument("--workspace", action="append", metavar="PATH",
                        help="watch PATH (repeatable; default: the config's workspaces)")
    daemon.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        default="info")
    daemon.set_defaults(run=cmd_daemon)

    status = commands.add_parser("status", parents=[common], help="sessions running now")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=cmd_status)

    sessions = commands.add_parser("sessions", parents=[common], help="past and running sessions")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    sessions.add_argument("--limit", type=int, default=None, metavar="N",
                          help="show the newest N sessions")
    sessions.set_defaults(run=cmd_sessions)

    query = commands.add_parser("query", parents=[common],
                                help="read-only SQL over the projections and the log")
    query.add_argument("sql", metavar="SQL")
    query.add_argument("--format", choices=FORMATS, default="table")
    query.set_defaults(run=cmd_query)

    rebuild_cmd = commands.add_parser("rebuild", parents=[common],
                                      help="drop every projection and replay the log")
    rebuild_cmd.set_defaults(run=cmd_rebuild)

    verify_cmd = commands.add_parser(
        "verify", parents=[common],
        help="check the hash chain and that the projections equal a replay (exit 1 if not)")
    verify_cmd.set_defaults(run=cmd_verify)

    report_command.register(commands, common)
    compare_command.register(commands, common)
    search_command.register(commands, common)
    findings_command.register(commands, common)
    scenario_command.register(commands, common)
    backup_command.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        args = build_parser().parse_args(argv)
        # The daemon's log is its output (journald); elsewhere only problems, on stderr.
        if args.command == "daemon":
            configure_logging(level=args.log_level)
        else:
            configure_logging(level="warning", stream=err)
        command: Command = args.run
        return command(args, out)
    except (UsageError, ConfigError, DatabaseError, QueryError, ReportUsageError,
            CompareUsageError, SearchUsageError, FindingsUsageError, ScenarioUsageError,
            BackupUsageError) as exc:
        err.write(f"realworld: error: {exc}\n")
        return EXIT_USAGE
    except (sqlite3.Error, OSError) as exc:
        if cause(exc) is None:
            raise
        # Disk full, read-only, permissions, I/O: what the user can act on, in one line.
        err.write(f"realworld: error: {describe_write_error(exc)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("realworld: interrupted\n")
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        return EXIT_OK

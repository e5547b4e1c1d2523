"""The ``realworld`` command line.

Exit status: 0 success, 1 a check that failed, 2 bad usage or input, always
with one line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from daemon import __version__
from daemon.config import ConfigError, load_config, resolve_db_path
from daemon.database import Database, DatabaseError, Durability
from daemon.history import list_sessions
from daemon.projector import catch_up, rebuild
from daemon.query import FORMATS, QueryError, QueryResult, render, render_table, run_query
from daemon.verify import verify

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or input: reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage block before its message; we promise one line.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _common_options() -> argparse.ArgumentParser:
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
    """Projections catch up before every read; a read-only file is read as it stands."""
    if db.is_writable():
        catch_up(db)
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
    if not report.mismatches:
        out.write(f"projections: ok (every table equals a replay up to seq {report.position})\n")
    for mismatch in report.mismatches:
        out.write(f"projections: {mismatch.table} differs from a replay "
                  f"({mismatch.live_rows} live rows, {mismatch.replayed_rows} replayed): "
                  f"{mismatch.first_difference}\n")
    return EXIT_OK if report.ok else EXIT_FAILED


Command = Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(prog="realworld", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"realworld {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        args = build_parser().parse_args(argv)
        command: Command = args.run
        return command(args, out)
    except (UsageError, ConfigError, DatabaseError, QueryError) as exc:
        err.write(f"realworld: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("realworld: interrupted\n")
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        return EXIT_OK

"""``realworld sessions [--json] [--limit N]``: past and running sessions, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from daemon.cli import fleet
from daemon.cli.common import EXIT_OK, examples, fresh, open_db
from daemon.read.queries import list_sessions
from daemon.read.user_sql import QueryResult, render_table

COLUMNS = ("session_id", "status", "start_time", "project_path", "total_activities",
           "total_errors", "avg_response_time", "overall_score")


def cmd_sessions(args: argparse.Namespace, out: TextIO) -> int:
    url = fleet.fleet_url(args)
    if url is not None:
        return fleet.cmd_sessions(url, args.limit, args.json, out)
    db = fresh(open_db(args))
    sessions = list_sessions(db, limit=args.limit)
    if args.json:
        out.write(json.dumps(sessions, indent=2) + "\n")
        return EXIT_OK
    if not sessions:
        out.write(f"no sessions yet in {db.path}\n")
        return EXIT_OK
    rows = tuple(tuple(s[c] for c in COLUMNS) for s in sessions)
    out.write(render_table(QueryResult(COLUMNS, rows)))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``sessions`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser("sessions", parents=[common], help="past and running sessions",
                                   **examples("realworld sessions --limit 5",
                                              "realworld sessions --json"))
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="show the newest N sessions")
    fleet.add_fleet_option(parser)
    parser.set_defaults(run=cmd_sessions)

"""``realworld query SQL [--format table|csv|json]``: the user's own read-only SQL."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli import fleet
from daemon.cli.common import EXIT_OK, examples, fresh, open_db
from daemon.read.user_sql import FORMATS, render, run_query


def cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    url = fleet.fleet_url(args)
    if url is not None:
        return fleet.cmd_query(url, args.sql, args.format, out)
    db = fresh(open_db(args))
    out.write(render(run_query(db, args.sql), args.format))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``query`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "query", parents=[common], help="read-only SQL over the projections and the log",
        **examples('realworld query "SELECT capability, AVG(response_time_ms) FROM '
                   'activities GROUP BY capability"',
                   'realworld query "SELECT * FROM findings WHERE resolved_at IS NULL" '
                   "--format csv"))
    parser.add_argument("sql", metavar="SQL")
    parser.add_argument("--format", choices=FORMATS, default="table")
    fleet.add_fleet_option(parser)
    parser.set_defaults(run=cmd_query)

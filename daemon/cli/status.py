"""``realworld status [--json]``: the sessions running now, and whether their process is."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from daemon.app.liveness import process_alive
from daemon.cli.common import EXIT_OK, examples, fresh, open_db
from daemon.read.queries import running_sessions, unshipped_by_workspace
from daemon.read.user_sql import QueryResult, render_table

COLUMNS = ("session_id", "mode", "process", "start_time", "project_path",
           "total_activities", "total_errors", "avg_response_time")
PROCESS_STATES = {True: "alive", False: "gone", None: "unknown"}


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from daemon.fleet.shipper import shipments  # with psycopg: not for every command

    db = fresh(open_db(args))
    running = running_sessions(db)
    for session in running:
        alive = process_alive(session["pid"], session["host"], session["pid_since"])
        session["process"] = PROCESS_STATES[alive]
    fleets = [{**vars(s), "behind": unshipped_by_workspace(db, s.position)}
              for s in shipments(db)]
    if args.json:
        out.write(json.dumps({"db": str(db.path), "running": running, "fleet": fleets},
                             indent=2) + "\n")
        return EXIT_OK
    if not running:
        out.write(f"no session is running in {db.path}\n")
    else:
        rows = tuple(tuple(s[c] for c in COLUMNS) for s in running)
        out.write(render_table(QueryResult(COLUMNS, rows)))
    for fleet in fleets:
        out.write(fleet_line(fleet) + "\n")
    return EXIT_OK


def fleet_line(fleet: dict[str, Any]) -> str:
    """How far the fleet is behind this log, per workspace, and why if it is stuck."""
    behind = fleet["behind"]
    total = sum(int(row["events"]) for row in behind)
    line = (f"fleet {fleet['fleet']} (as {fleet['machine']!r}): holds seq 1-{fleet['position']}"
            f", last shipped {fleet['shipped_at'] or 'never'}; ")
    if not total:
        line += "up to date"
    else:
        parts = ", ".join(f"{row['workspace']} {row['events']} (since {row['oldest']})"
                          for row in behind)
        line += f"{total} event(s) behind: {parts}"
    if fleet["last_error"]:
        line += f"; last try {fleet['attempted_at']} failed: {fleet['last_error']}"
    return line


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``status`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser("status", parents=[common], help="sessions running now",
                                   **examples("realworld status",
                                              "realworld status --json --db ~/.local/state/"
                                              "realworld/realworld.db"))
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=cmd_status)

"""``realworld ship [--fleet URL] [--machine NAME]``: forward the local log to the fleet's
central PostgreSQL, exactly once, then bring this machine's central projections up to it."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli.common import EXIT_OK, UsageError, open_db
from daemon.config import ENV_FLEET_URL, load_config, resolve_fleet_url
from daemon.fleet.errors import FleetError


def cmd_ship(args: argparse.Namespace, out: TextIO) -> int:
    # The PostgreSQL adapter (psycopg) loads only when a command talks to the fleet.
    from daemon.fleet.shipper import record_failure, ship

    config = load_config(args.config)
    url = resolve_fleet_url(args.fleet, config)
    if url is None:
        raise UsageError(f"no fleet to ship to: pass --fleet URL, set {ENV_FLEET_URL}, or set "
                         f"url in the config's [fleet] table")
    machine = args.machine or config.fleet_machine
    db = open_db(args)
    try:
        result = ship(db, url, machine, apply=not args.no_apply)
    except FleetError as exc:
        if db.is_writable():
            record_failure(db, url, machine or "", str(exc))
        raise
    out.write(f"shipped {result.shipped} event(s) of {db.path} to {result.fleet} as machine "
              f"{result.machine!r}: the fleet holds seq 1-{result.position} of this log"
              f"{'' if not result.behind else f', {result.behind} behind'}; "
              f"{result.applied} event(s) projected centrally\n")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``ship`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "ship", parents=[common],
        help="forward the log, exactly once, to the fleet's central PostgreSQL",
        epilog="example: realworld ship --fleet postgresql://ci@db.example.com/realworld "
               "--machine ci-runner-3")
    parser.add_argument("--fleet", metavar="URL", default=None,
                        help=f"the central PostgreSQL (default: ${ENV_FLEET_URL}, then the "
                             f"config's [fleet] url)")
    parser.add_argument("--machine", metavar="NAME", default=None,
                        help="the name this log ships as (default: [fleet] machine, then the "
                             "host name)")
    parser.add_argument("--no-apply", action="store_true",
                        help="ship only; leave the central projections to the next ship")
    parser.set_defaults(run=cmd_ship)

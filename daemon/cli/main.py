"""The ``realworld`` command line: the parser of every command, and the one place that
turns what went wrong into an exit status and one line on stderr.

Exit status: 0 success, 1 a check that failed, 2 bad usage or input, always with one
line on stderr and never a traceback. Each command is a module of this package.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from analyzers.common.private_files import tighten_umask
from daemon.cli import (
    archive,
    backup,
    compare,
    findings,
    hook,
    query,
    rebuild,
    report,
    run,
    scenario,
    search,
    service,
    sessions,
    ship,
    status,
    verify,
)
from daemon.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, UsageError, common_options
from daemon.config import ConfigError
from daemon.fleet.errors import FleetError, FleetUsageError
from daemon.log.database import DatabaseError
from daemon.log.write_errors import cause, describe_write_error
from daemon.logsetup import configure_logging
from daemon.read.user_sql import QueryError
from daemon.version import __version__

Command = Callable[[argparse.Namespace, TextIO], int]

#: In the order ``realworld --help`` lists them.
COMMANDS = (run, service, status, sessions, query, rebuild, verify, report, compare, search,
            findings, hook, scenario, backup, archive, ship)


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = Parser(prog="realworld", description="Watch a workspace, run real analyzers on "
                    "every change, measure them, and keep every fact in an append-only log.")
    parser.add_argument("--version", action="version", version=f"realworld {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands, common)
    return parser


def complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion (``eval "$(register-python-argcomplete realworld)"``): when the
    shell asks, argcomplete answers and exits; otherwise nothing is imported."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return  # optional: pip install 'realworld[completion]'
    argcomplete.autocomplete(parser)


def entry() -> NoReturn:
    """The ``realworld`` command (and ``python -m daemon``): :func:`main` in a process
    whose umask lets no one else read what it or its libraries write."""
    tighten_umask()
    sys.exit(main())


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        parser = build_parser()
        complete(parser)
        args = parser.parse_args(argv)
        # The daemon's log is its output (journald); elsewhere only problems, on stderr.
        if args.command == "daemon":
            configure_logging(level=args.log_level)
        else:
            configure_logging(level="warning", stream=err)
        command: Command = args.run
        return command(args, out)
    except (UsageError, ConfigError, DatabaseError, QueryError, FleetUsageError) as exc:
        err.write(f"realworld: error: {exc}\n")
        return EXIT_USAGE
    except FleetError as exc:
        # The server down or slow, the network cut, a check that failed: nothing local lost.
        err.write(f"realworld: error: {exc}\n")
        return EXIT_FAILED
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

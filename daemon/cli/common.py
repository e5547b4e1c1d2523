"""What every ``realworld`` command shares: exit codes, the one-line usage error, the
parser, the ``--db``/``--config`` options and the database a read command reads.

Exit status: 0 success, 1 a check that failed, 2 bad usage or input, always with one
line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from typing import Any, Final, NoReturn

from daemon.config import load_config, resolve_db_path
from daemon.log.database import Database, Durability
from daemon.log.write_errors import cause, describe_write_error
from daemon.projections.projector import catch_up

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


class UsageError(ValueError):
    """Bad usage or input: reported as one line, exit 2. Each command's own kind of bad
    input is a subclass, so the command line catches this one."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError`, not a usage block."""

    # argparse prints the whole usage block before its message; we promise one line.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def examples(*commands: str) -> dict[str, Any]:
    """``add_parser`` keywords giving a command's ``--help`` an epilog of example commands,
    one per line as written (tests/daemon/cli/test_cli.py parses each one)."""
    lines = "\n".join(f"  {command}" for command in commands)
    # Raw: examples are lines to copy; the commands using this have no long description
    # that would need wrapping.
    return {"epilog": f"examples:\n{lines}",
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def common_options() -> Parser:
    """The parent parser of every command: ``--db`` and ``--config``."""
    common = Parser(add_help=False)
    common.add_argument("--db", metavar="FILE",
                        help="event log database (default: $REALWORLD_TESTING_DB, the config "
                             "file's db_path, then ./realworld_testing.db)")
    common.add_argument("--config", metavar="FILE",
                        help="TOML config file (default: $XDG_CONFIG_HOME/realworld/config.toml)")
    return common


def open_db(args: argparse.Namespace, *, create: bool = False) -> Database:
    """The event log that ``--db``, ``--config`` and their defaults name."""
    config = load_config(args.config)
    path = resolve_db_path(args.db, config)
    durability: Durability = "full" if config.durability == "full" else "normal"
    return Database.open(path, durability=durability, create=create)


def fresh(db: Database) -> Database:
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

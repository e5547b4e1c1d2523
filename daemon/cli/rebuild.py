"""``realworld rebuild``: drop every projection and replay the log into them."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli.common import EXIT_OK, UsageError, open_db
from daemon.projections.replay import rebuild


def cmd_rebuild(args: argparse.Namespace, out: TextIO) -> int:
    db = open_db(args)
    if not db.is_writable():
        raise UsageError(f"cannot rebuild {db.path}: the file is not writable")
    result = rebuild(db)
    out.write(f"rebuilt the projections of {db.path} from {result.applied} events\n")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``rebuild`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser("rebuild", parents=[common],
                                   help="drop every projection and replay the log")
    parser.set_defaults(run=cmd_rebuild)

"""``realworld verify``: the hash chain holds and the projections equal a replay (else exit 1)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli.common import EXIT_FAILED, EXIT_OK, open_db
from daemon.projections.verify import verify


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    db = open_db(args)
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


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``verify`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "verify", parents=[common],
        help="check the hash chain and that the projections equal a replay (exit 1 if not)")
    parser.set_defaults(run=cmd_verify)

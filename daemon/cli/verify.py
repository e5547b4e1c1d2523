"""``realworld verify``: the hash chain holds and the projections equal a replay (else exit 1)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli import fleet
from daemon.cli.common import EXIT_FAILED, EXIT_OK, examples, open_db
from daemon.projections.verify import ArchiveCheck, verify


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    url = fleet.fleet_url(args)
    if url is not None:
        return fleet.cmd_verify(url, args.machine or (), out)
    db = open_db(args)
    report = verify(db)
    if report.chain_break is None:
        archived = report.archive
        start = "" if archived is None else (
            f" from seq {archived.first_seq}, on the anchor {archived.anchor[:16]}… of the archive")
        out.write(f"chain: ok ({report.events} events{start})\n")
        if archived is not None:
            for line in archive_lines(archived):
                out.write(line + "\n")
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


def archive_lines(archived: ArchiveCheck) -> list[str]:
    """What verify found of the sealed segments: verified, missing (a note) or bad."""
    ok = [s for s in archived.segments if s.status == "ok"]
    events = sum(s.events for s in ok)
    lines = []
    if ok:
        lines.append(f"archive: ok ({len(ok)} segment(s), {events} events, seq "
                     f"{ok[0].first_seq}-{ok[-1].last_seq}: chained from genesis to the anchor"
                     f"{'' if not archived.missing else ', where present'})")
    if archived.missing:
        names = ", ".join(s.segment for s in archived.missing)
        lines.append(f"note: {len(archived.missing)} segment(s) missing ({names}"
                     f"{'; ' + archived.directory_note if archived.directory_note else ''}): "
                     f"the retained part is proven from the anchor only")
    for bad in archived.bad:
        lines.append(f"archive: FAILED: {bad.reason}")
    if archived.orphans:
        lines.append(f"note: {len(archived.orphans)} segment file(s) no archive event refers to "
                     f"({', '.join(archived.orphans)}): left by an archive that did not finish; "
                     f"the next archive removes them")
    return lines


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``verify`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "verify", parents=[common],
        help="check the hash chain and that the projections equal a replay (exit 1 if not)",
        **examples("realworld verify --db ~/.local/state/realworld/realworld.db"))
    fleet.add_fleet_option(parser)
    parser.add_argument("--machine", metavar="NAME", action="append", default=None,
                        help="with --fleet: check only this machine (repeatable)")
    parser.set_defaults(run=cmd_verify)

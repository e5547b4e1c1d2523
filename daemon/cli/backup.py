"""``realworld backup FILE`` and ``realworld restore FILE``: see :mod:`daemon.app.backup`.

Each prints what it did in a line or two. Exit 0 when done, 1 when the backup was
written but its check failed (a broken chain, printed like ``verify`` prints it) or a
write failed (one line on stderr naming the cause, nothing partial left behind), 2 for
bad usage or input: :class:`BackupUsageError`, a one-line
:class:`~daemon.cli.common.UsageError`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from daemon.app.backup import (
    BackupRefused,
    BackupReport,
    BackupWriteFailed,
    LogSummary,
    RestoreReport,
    backup,
    restore,
)
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, open_db
from daemon.config import load_config, resolve_db_path
from daemon.log.database import Durability

CACHES_NOTE = ("Only the event log is copied (its projections are inside the same file). "
               "The code index and the result caches beside it (<db stem>.index.db, "
               "<db stem>.results.db) are rebuildable caches and are not part of a backup: "
               "a session rebuilds them.")


class BackupUsageError(UsageError):
    """Bad usage or input for ``backup`` or ``restore``: one line, exit 2."""


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``backup`` and ``restore`` to the ``realworld`` subcommands."""
    backup_parser = subparsers.add_parser(
        "backup", parents=[common],
        help="a consistent copy of the event log, safe while sessions write",
        description="Copy the event log to FILE with SQLite's online backup, while sessions "
                    "keep writing: one consistent snapshot, private (mode 0600), "
                    "self-contained (no -wal beside it), written under a temporary name and "
                    "renamed into place, then checked (it opens as a realworld log and its "
                    "hash chain holds). " + CACHES_NOTE)
    backup_parser.add_argument("file", metavar="FILE", help="where to write the backup")
    backup_parser.add_argument("--force", action="store_true",
                               help="replace FILE (and SQLite files left beside it) if it exists")
    backup_parser.set_defaults(run=cmd_backup)

    restore_parser = subparsers.add_parser(
        "restore", parents=[common],
        help="put a backup back as the event log, keeping the log it replaces",
        description="Check the backup FILE (a realworld log whose hash chain holds), refuse "
                    "if the log is in use (a live session or another process has it open), "
                    "keep the current log beside it as <db stem>.before-restore-<UTC time>.db, "
                    "then put the backup in its place, with no stale -wal/-shm mixed in. "
                    + CACHES_NOTE)
    restore_parser.add_argument("file", metavar="FILE", help="the backup to restore")
    restore_parser.set_defaults(run=cmd_restore)


def _log_location(args: argparse.Namespace) -> tuple[Path, Durability]:
    # Not open_db: the log a restore replaces may not exist yet.
    config = load_config(args.config)
    durability: Durability = "full" if config.durability == "full" else "normal"
    return resolve_db_path(args.db, config), durability


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    db = open_db(args)
    try:
        report = backup(db, Path(args.file), force=args.force)
    except BackupRefused as exc:
        raise BackupUsageError(str(exc)) from None
    except BackupWriteFailed as exc:
        sys.stderr.write(f"realworld: error: {exc}\n")
        return EXIT_FAILED
    out.write(backup_line(report) + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    path, durability = _log_location(args)
    try:
        report = restore(Path(args.file), path, durability=durability)
    except BackupRefused as exc:
        raise BackupUsageError(str(exc)) from None
    except BackupWriteFailed as exc:
        sys.stderr.write(f"realworld: error: {exc}\n")
        return EXIT_FAILED
    for line in restore_lines(report):
        out.write(line + "\n")
    return EXIT_OK


def events_text(summary: LogSummary) -> str:
    """``12,345 events (seq 1-12345)``, ``1 event (seq 7)``, ``0 events``."""
    count = summary.events
    noun = "event" if count == 1 else "events"
    if not count or summary.first_seq is None or summary.last_seq is None:
        return f"{count:,} {noun}"
    span = (str(summary.first_seq) if summary.first_seq == summary.last_seq
            else f"{summary.first_seq}-{summary.last_seq}")
    return f"{count:,} {noun} (seq {span})"


def chain_text(summary: LogSummary) -> str:
    broken = summary.chain_break
    return "chain ok" if broken is None else f"chain broken at seq {broken.seq}: {broken.reason}"


def backup_line(report: BackupReport) -> str:
    return f"backup: {events_text(report.summary)}, {chain_text(report.summary)} -> {report.path}"


def restore_lines(report: RestoreReport) -> list[str]:
    lines = [f"restore: {events_text(report.restored)}, {chain_text(report.restored)}, "
             f"from {report.source} -> {report.target}"]
    if report.kept is not None and report.kept_summary is not None:
        lines.append(f"restore: the previous log, {events_text(report.kept_summary)}, is kept "
                     f"as {report.kept}")
    else:
        moved = "".join(f"; its leftover {p.name.split('.before-restore-')[0]} is kept as {p}"
                        for p in report.moved_aside)
        lines.append(f"restore: there was no log at {report.target} before{moved}")
    return lines

"""``realworld archive``: retention (see :mod:`daemon.app.archive`).

``realworld archive --older-than 30d`` (or ``--before 2026-11-01``, or no option with
``retention`` in the config) moves the sessions that ended before the cutoff to a sealed
segment beside the log; ``realworld archive --restore [--output FILE]`` writes a complete
log with every archived detail back in it, for any command to read with ``--db FILE``.

Exit 0 when done (nothing to archive included), 1 when the log's chain does not hold
(nothing was archived; ``realworld verify`` says where), 2 for bad usage or input, an
archive directory that is not ours, a missing or changed segment, or a write that failed
(a full disk), with the log unchanged; always one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO, TypeVar

from daemon.app.archive import (
    ArchiveFailed,
    ArchiveRefused,
    ArchiveResult,
    ChainBroken,
    HistoryResult,
    archive,
    restore_history,
)
from daemon.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, open_db
from daemon.config import format_period, load_config, parse_period
from daemon.log.events import utc_now
from daemon.log.segments import archive_dir

T = TypeVar("T")


class ArchiveUsageError(UsageError):
    """Bad usage or input for ``archive``: one line, exit 2."""


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``archive`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "archive", parents=[common],
        help="retention: move sessions that ended before a cutoff to sealed segments",
        description="Move the events of sessions that ended before the cutoff, a prefix of "
                    "the log, to a sealed, compressed segment in <db>.archive/, leave an "
                    "anchor and a summary of them in the log (their test_sessions rows, "
                    "per-capability aggregates, open findings, files), and reclaim the "
                    "space. `realworld verify` proves the whole history with the segments "
                    "and the retained part without them. --restore writes a complete log "
                    "with the archived detail back in it, to read with --db.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--older-than", metavar="AGE",
                      help="archive sessions that ended longer ago than AGE (30d, 12h, 2w); "
                           "default: the config's retention")
    when.add_argument("--before", metavar="TIME",
                      help="archive sessions that ended before TIME (ISO 8601, UTC unless "
                           "it says otherwise: 2026-11-01 or 2026-11-01T12:00)")
    when.add_argument("--restore", action="store_true",
                      help="write the whole history (segments and log) to a complete log "
                           "at --output, with every detail projected again")
    parser.add_argument("--output", metavar="FILE",
                        help="with --restore: where (default: <db stem>.history.db beside "
                             "the log)")
    parser.add_argument("--force", action="store_true",
                        help="with --restore: replace --output if it exists")
    parser.set_defaults(run=cmd_archive)


def _cutoff(args: argparse.Namespace, now: datetime) -> datetime:
    if args.before:
        try:
            moment = datetime.fromisoformat(args.before.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ArchiveUsageError(f"--before: invalid time {args.before!r}: use ISO 8601, "
                                    f"such as 2026-11-01 or 2026-11-01T12:00") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    text = args.older_than
    if text is None:
        retention = load_config(args.config).retention
        if retention is None:
            raise ArchiveUsageError("say how old: --older-than AGE (such as 30d) or --before "
                                    "TIME, or set retention in the config file")
        return now - retention
    try:
        return now - parse_period(text)
    except ValueError as exc:
        if text.strip().startswith("-"):
            raise ArchiveUsageError(f"--older-than {text}: that cutoff is in the future; "
                                    f"give an age such as 30d") from None
        raise ArchiveUsageError(f"--older-than: {exc}") from None


def _attempt(work: Callable[[], T]) -> tuple[T | None, int]:
    """``work()``'s result, or None and the exit status of the one line it printed: a
    refusal is bad usage (exit 2, from the caller), a failed write 2, a broken chain 1."""
    try:
        return work(), EXIT_OK
    except ArchiveRefused as exc:
        raise ArchiveUsageError(str(exc)) from None
    except ArchiveFailed as exc:
        sys.stderr.write(f"realworld: error: {exc}\n")
        return None, EXIT_USAGE
    except ChainBroken as exc:
        sys.stderr.write(f"realworld: error: {exc}\n")
        return None, EXIT_FAILED


def cmd_archive(args: argparse.Namespace, out: TextIO) -> int:
    if args.restore:
        return _restore(args, out)
    if args.output or args.force:
        raise ArchiveUsageError("--output and --force go with --restore")
    now = utc_now()
    cutoff = _cutoff(args, now)
    db = open_db(args)
    result, status = _attempt(lambda: archive(db, cutoff, now=now))
    if result is None:
        return status
    for line in archive_lines(result, archive_dir(db.path), now):
        out.write(line + "\n")
    if result.reclaimed is not None and result.reclaimed.error:
        sys.stderr.write(f"realworld: error: space not reclaimed: {result.reclaimed.error} "
                         f"(the archive itself is done and the log verifies; run the archive "
                         f"again once there is room)\n")
        return EXIT_USAGE
    return EXIT_OK


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def archive_lines(result: ArchiveResult, where: Path, now: datetime) -> list[str]:
    cutoff = result.cutoff[:19].replace("T", " ") + " UTC"
    segment = result.segment
    if segment is None:
        lines = [f"archive: nothing to archive: no session that ended before {cutoff} is "
                 f"left at the start of the log"]
    else:
        age = format_period(now - datetime.fromisoformat(result.cutoff)) if now else ""
        reused = ", reusing the identical file a crashed archive left" if segment.reused else ""
        lines = [
            f"archive: {segment.events:,} events (seq {segment.first_seq}-{segment.last_seq}) "
            f"of {result.sessions:,} sessions that ended before {cutoff}"
            f"{f' ({age} ago)' if age else ''} -> {where / segment.name} "
            f"({_megabytes(segment.size)}, sha256 {segment.sha256[:16]}…{reused})",
            f"archive: the log keeps {result.retained_events:,} events (seq "
            f"{result.retained_first}-{result.retained_last}), chained on the anchor "
            f"{result.anchor[:16]}…; their sessions' summaries stay in test_sessions, "
            f"archived_sessions and archived_capability_stats",
        ]
    if result.removed:
        lines.append(f"archive: removed {len(result.removed)} segment file(s) no archive "
                     f"event referred to (left by an archive that did not finish)")
    reclaimed = result.reclaimed
    if reclaimed is not None and not reclaimed.error and reclaimed.before != reclaimed.after:
        lines.append(f"archive: {_megabytes(max(0, reclaimed.before - reclaimed.after))} "
                     f"reclaimed ({_megabytes(reclaimed.before)} -> "
                     f"{_megabytes(reclaimed.after)}) in {result.seconds:.1f} s")
    return lines


def _restore(args: argparse.Namespace, out: TextIO) -> int:
    db = open_db(args)
    output = (Path(args.output) if args.output
              else db.path.with_name(f"{db.path.stem}.history.db"))
    result, status = _attempt(lambda: restore_history(db, output, force=args.force))
    if result is None:
        return status
    out.write(history_line(result) + "\n")
    return EXIT_OK


def history_line(result: HistoryResult) -> str:
    return (f"restore: {result.events:,} events (seq 1-{result.last_seq}, "
            f"{result.from_segments:,} of them from {result.segments} segment(s)) with every "
            f"detail projected -> {result.path}; read it with --db {result.path}")

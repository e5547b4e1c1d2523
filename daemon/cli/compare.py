"""``realworld compare BASELINE CURRENT [--threshold PCT] [--json]``: a regression check.

Exit 0 when no measure is slower than the threshold allows, 1 on a regression (the rules
are in :mod:`daemon.read.analysis.regression`). Bad input raises :class:`CompareUsageError`,
a one-line :class:`~daemon.cli.common.UsageError` (exit 2): a threshold that is not a
number, an unknown session, a session still running (its numbers are not final) or one
with no activities (nothing to compare).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, fresh, open_db
from daemon.cli.report import ReportUsageError, resolve_session
from daemon.log.database import Database
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.regression import (
    DEFAULT_THRESHOLD_PCT,
    compare,
    parse_min_delta,
    parse_threshold,
    to_dict,
)
from daemon.read.render.comparison import render_text
from daemon.read.reporting import UnknownSession, load_analysis


class CompareUsageError(UsageError):
    """Bad input to ``compare``; the message is one line (exit 2)."""


def finished_analysis(db: Database, ref: str, role: str) -> dict[str, Any]:
    """The analysis dict of a finished session with activities, or CompareUsageError."""
    try:
        session_id = resolve_session(db, ref)
        analysis = load_analysis(db, session_id)
    except (UnknownSession, ReportUsageError) as exc:
        raise CompareUsageError(f"{role}: {exc}") from None
    status = analysis.session.get("status")
    if status == "running":
        raise CompareUsageError(f"{role} session {session_id!r} is still running; compare "
                                "needs finished sessions (wait for it or stop it)")
    if analysis.summary.total_activities == 0:
        raise CompareUsageError(f"{role} session {session_id!r} recorded no activities; "
                                "there is nothing to compare")
    return to_api_dict(analysis)


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    try:
        threshold = parse_threshold(args.threshold)
        min_delta = parse_min_delta(args.min_delta_ms)
    except ValueError as exc:
        raise CompareUsageError(str(exc)) from None
    db = fresh(open_db(args))
    baseline = finished_analysis(db, args.baseline, "baseline")
    current = finished_analysis(db, args.current, "current")
    comparison = compare(baseline, current, threshold, min_delta)
    if args.json:
        out.write(json.dumps(to_dict(comparison), indent=2) + "\n")
    else:
        out.write(render_text(comparison))
    return EXIT_FAILED if comparison.regressed else EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``compare`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "compare", parents=[common],
        help="regression check between two sessions (exit 1 on a regression)")
    parser.add_argument("baseline", metavar="BASELINE", help="the baseline session id (or latest)")
    parser.add_argument("current", metavar="CURRENT", help="the session to check (or latest)")
    # Parsed by the command rather than argparse, for a clearer one-line error.
    parser.add_argument("--threshold", default=f"{DEFAULT_THRESHOLD_PCT:g}", metavar="PCT",
                        help="percent slower that counts as a regression (default: 20)")
    parser.add_argument("--min-delta-ms", default="0", metavar="MS",
                        help="also require at least MS milliseconds slower (default: 0)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=cmd_compare)

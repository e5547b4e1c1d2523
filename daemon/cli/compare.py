"""``realworld compare BASELINE CURRENT [--threshold PCT] [--min-delta-ms MS] [--alpha P]
[--json]``: a regression check.

Exit 0 when no measure regressed, 1 on a regression (the rules, threshold, floor and
significance, are in :mod:`daemon.read.analysis.regression`; each flag's default is the
config file's ``[compare]`` key, else the built-in one). Bad input raises
:class:`CompareUsageError`,
a one-line :class:`~daemon.cli.common.UsageError` (exit 2): a threshold that is not a
number, an unknown session, a session still running (its numbers are not final) or one
with no activities (nothing to compare).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from daemon.cli import fleet
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError
from daemon.cli.report import ReportUsageError, resolve_session
from daemon.config import Config, load_config
from daemon.log.database import Database
from daemon.read.analysis.regression import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_DELTA_MS,
    DEFAULT_THRESHOLD_PCT,
    Rule,
    compare,
    parse_alpha,
    parse_min_delta,
    parse_threshold,
    to_dict,
)
from daemon.read.queries import response_times
from daemon.read.render.comparison import render_text
from daemon.read.reporting import UnknownSession, load_analysis


class CompareUsageError(UsageError):
    """Bad input to ``compare``; the message is one line (exit 2)."""


def finished_session(db: Database, ref: str, role: str) -> str:
    """The id of a finished session with activities, or CompareUsageError."""
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
    return session_id


def compare_rule(args: argparse.Namespace, config: Config) -> Rule:
    """Flags, then the config file's ``[compare]``, then the built-in rule."""
    def pick(flag: str | None, configured: float | None, default: float) -> str:
        return flag if flag is not None else f"{configured if configured is not None else default}"

    try:
        return Rule(
            threshold_pct=parse_threshold(pick(args.threshold, config.compare_threshold_pct,
                                               DEFAULT_THRESHOLD_PCT)),
            min_delta_ms=parse_min_delta(pick(args.min_delta_ms, config.compare_min_delta_ms,
                                              DEFAULT_MIN_DELTA_MS)),
            alpha=parse_alpha(pick(args.alpha, config.compare_alpha, DEFAULT_ALPHA)))
    except ValueError as exc:
        raise CompareUsageError(str(exc)) from None


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    rule = compare_rule(args, load_config(args.config))
    with fleet.session_source(args, [args.baseline, args.current]) as (db, refs):
        baseline_ref, current_ref = (str(ref) for ref in refs)
        baseline = finished_session(db, baseline_ref, "baseline")
        current = finished_session(db, current_ref, "current")
        comparison = compare(baseline, response_times(db, [baseline]),
                             current, response_times(db, [current]), rule)
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
    parser.add_argument("baseline", metavar="BASELINE",
                        help="the baseline session id (or latest; with --fleet, MACHINE:SESSION "
                             "or MACHINE:latest)")
    parser.add_argument("current", metavar="CURRENT", help="the session to check (or latest)")
    # Parsed by the command rather than argparse, for a clearer one-line error.
    parser.add_argument("--threshold", metavar="PCT",
                        help="percent slower that counts as a regression (default: "
                             f"[compare] threshold, else {DEFAULT_THRESHOLD_PCT:g})")
    parser.add_argument("--min-delta-ms", metavar="MS",
                        help="and slower by more than MS milliseconds (default: [compare] "
                             f"min_delta_ms, else {DEFAULT_MIN_DELTA_MS:g})")
    parser.add_argument("--alpha", metavar="P",
                        help="and a one-sided Mann-Whitney U p-value on the per-call times "
                             f"below P (default: [compare] alpha, else {DEFAULT_ALPHA:g})")
    parser.add_argument("--json", action="store_true", help="print JSON")
    fleet.add_fleet_option(parser)
    parser.set_defaults(run=cmd_compare)

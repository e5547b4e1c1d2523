"""``realworld report [SESSION|latest] [--format F] [--output F]``: a session's report.

Formats: ``text`` (the spec's layout), ``markdown``, ``json`` (the whole analysis dict),
``html`` (one self-contained file with charts, :mod:`daemon.read.render.html`) and ``sarif``
(the session's issues and open findings, :mod:`daemon.read.render.sarif`).

Bad input (an unknown session, no sessions at all, an output file that cannot be
written) raises :class:`ReportUsageError`, a one-line :class:`~daemon.cli.common.UsageError`
(exit 2). A session with no activities is not an error: its
report says so (zeros, ``(none)`` sections, and in HTML an explicit notice).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final, TextIO

from analyzers.common.private_files import make_private_dirs
from daemon.cli import fleet
from daemon.cli.common import EXIT_OK, UsageError, examples
from daemon.log.database import Database
from daemon.read.analysis.api import to_api_dict
from daemon.read.queries import latest_session_id, load_findings, open_findings
from daemon.read.render.html import render_html
from daemon.read.render.sarif import to_sarif
from daemon.read.reporting import RENDERERS, UnknownSession, load_analysis, load_series
from daemon.version import __version__

FORMATS: Final = ("text", "markdown", "json", "html", "sarif")
LATEST: Final = "latest"


class ReportUsageError(UsageError):
    """An unknown session or an unwritable output; the message is one line (exit 2)."""


def resolve_session(db: Database, ref: str | None) -> str:
    """``latest`` (or nothing) is the newest session; anything else is taken as an id."""
    if ref is None or ref.strip() in ("", LATEST):
        latest = latest_session_id(db)
        if latest is None:
            raise ReportUsageError(f"no sessions yet in {db.path}")
        return latest
    return ref


def render_session_report(db: Database, session_id: str, fmt: str = "text") -> str:
    """The report of one session in any of :data:`FORMATS` (the projections as they stand)."""
    if fmt not in FORMATS:
        raise ReportUsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    try:
        analysis = load_analysis(db, session_id)
        if fmt == "html":
            return render_html(analysis, load_series(db, session_id),
                               load_findings(db, session_id))
    except UnknownSession as exc:
        raise ReportUsageError(f"{exc} in {db.path}") from None
    if fmt == "sarif":
        data = to_api_dict(analysis)
        log = to_sarif(data["top_issues"], open_findings(db, session_id), __version__,
                       project_root=str(analysis.session.get("project_path") or "") or None,
                       run_properties={"sessionId": session_id,
                                       "overallScore": data["session"]["overall_score"]})
        return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
    return RENDERERS[fmt](analysis)


def write_report(path: Path, text: str) -> None:
    """Write atomically (a reader never sees half a report), 0600 like every file we write
    (``mkstemp``) in directories made 0700; one-line error if we cannot."""
    try:
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise ReportUsageError(
            f"cannot write the report to {path}: {exc.strerror or exc}") from None


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    with fleet.session_source(args, [args.session]) as (db, (ref,)):
        session_id = resolve_session(db, ref)
        text = render_session_report(db, session_id, args.format)
    if args.output:
        write_report(Path(args.output), text)
        out.write(f"Report saved to {args.output}\n")
    else:
        out.write(text)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``report`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "report", parents=[common], help="the improvement report of a session",
        **examples("realworld report latest --format html --output report.html",
                   "realworld report latest --format sarif --output realworld.sarif"))
    parser.add_argument("session", nargs="?", default=LATEST, metavar="SESSION",
                        help="a session id, or 'latest' (the default)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="report format (default: text)")
    parser.add_argument("--output", "-o", metavar="F",
                        help="write the report to F instead of standard output")
    fleet.add_fleet_option(parser)
    parser.set_defaults(run=cmd_report)

"""``realworld findings [SESSION] [--format F] [--open|--all]``: the findings, redacted.

Reads the ``findings`` projection (caught up first when the file is writable).
Every row already holds only a salted fingerprint and a masked preview
(invariant 4), so each format prints the rows as they are.

* ``SESSION`` is a session id or ``latest``; without it, the findings of every
  session (a row belongs to the session that saw the finding last).
* ``--open`` (the default) lists findings not resolved; ``--all`` adds resolved
  ones (in SARIF as ``pass`` results with ``baselineState: absent``).
* ``--fail-on LEVEL`` (with ``--fail-on-confidence``) exits 1 when a listed open finding
  is at LEVEL or worse, naming them in one line on stderr; ``--exit-zero`` keeps 0.
* ``--update-baseline FILE`` accepts the listed open security findings: their files
  are scanned again and the findings' unsalted keys added to the baseline FILE
  (:mod:`analyzers.security.baseline`, version 2) that the scanner reads, so they stop
  being reported, on this machine and any other. A version-1 FILE is rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Final, TextIO

from analyzers.base import safe_text
from analyzers.common.printable import printable
from analyzers.security.baseline import SALTED_VERSION, load_baseline, write_baseline
from analyzers.security.baseline_update import Wanted, accept
from analyzers.security.fingerprint import SaltError, load_salt, salt_id
from daemon.cli import fleet
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, examples
from daemon.log.database import Database
from daemon.read.analysis.gates import (
    FAIL_ON_CONFIDENCES,
    FAIL_ON_LEVELS,
    at_or_above,
    finding_reason,
)
from daemon.read.queries import (
    latest_session_id,
    load_findings,
    project_path,
    session_known,
)
from daemon.read.render.sarif import to_sarif
from daemon.types import SEVERITIES
from daemon.version import __version__

FORMATS: Final = ("text", "json", "sarif")
LATEST: Final = "latest"
SECURITY_CAPABILITY: Final = "security_scanner"


class FindingsUsageError(UsageError):
    """An unknown session, or a baseline that cannot be written; one line (exit 2)."""


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``findings`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "findings", parents=[common], help="security and pattern findings, redacted",
        **examples("realworld findings latest --fail-on high",
                   "realworld findings latest --update-baseline .realworld-baseline.json",
                   "realworld findings --all --format sarif"))
    parser.add_argument("session", nargs="?", default=None, metavar="SESSION",
                        help="a session id or 'latest' (default: every session)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--open", dest="state", action="store_const", const="open",
                       help="only findings still open (the default)")
    state.add_argument("--all", dest="state", action="store_const", const="all",
                       help="resolved findings too")
    parser.add_argument("--update-baseline", metavar="FILE", default=None,
                        help="accept the listed open security findings into the baseline FILE")
    parser.add_argument("--fail-on", choices=FAIL_ON_LEVELS, default=None,
                        help="exit 1 when an open finding of this severity or worse is listed")
    parser.add_argument("--fail-on-confidence", choices=FAIL_ON_CONFIDENCES, default=None,
                        help="with --fail-on: count only findings at least this sure")
    parser.add_argument("--exit-zero", action="store_true",
                        help="print what --fail-on found but exit 0")
    fleet.add_fleet_option(parser)
    parser.set_defaults(run=cmd_findings, state="open")


def cmd_findings(args: argparse.Namespace, out: TextIO) -> int:
    url = fleet.fleet_url(args)
    if url is not None and args.session is None:
        if args.update_baseline or args.format == "sarif":
            raise FindingsUsageError("with --fleet, --update-baseline and --format sarif need "
                                     "a SESSION (MACHINE:SESSION, or latest)")
        from daemon.fleet.connection import masked  # psycopg: only with --fleet

        rows = fleet.fleet_findings(url, include_resolved=args.state == "all")
        out.write(render(rows, args.format, db_path=Path(masked(url)), session_id=None,
                         state=args.state))
    else:
        with fleet.session_source(args, [args.session]) as (db, (ref,)):
            session_id = resolve_session(db, ref)
            rows = load_findings(db, session_id, include_resolved=args.state == "all")
            if args.update_baseline:
                out.write(update_baseline(db, Path(args.update_baseline), rows, session_id)
                          + "\n")
                return EXIT_OK
            # Only SARIF names where the files are; the other formats need not look it up.
            root = (project_path(db, session_id) if args.format == "sarif" and session_id
                    else None)
            out.write(render(rows, args.format, db_path=db.path, session_id=session_id,
                             state=args.state, project_root=root))
    if args.fail_on is None:
        return EXIT_OK
    flagged = at_or_above([r for r in rows if not r.get("resolved_at")],
                                   args.fail_on, args.fail_on_confidence)
    if not flagged:
        return EXIT_OK
    sys.stderr.write(f"realworld: FAIL: {finding_reason(flagged, args.fail_on)}\n")
    return EXIT_OK if args.exit_zero else EXIT_FAILED


# --- reading --------------------------------------------------------------------------


def resolve_session(db: Database, ref: str | None) -> str | None:
    """None for every session; ``latest`` is the newest; an id must be known."""
    if ref is None:
        return None
    if ref.strip() == LATEST:
        latest = latest_session_id(db)
        if latest is None:
            raise FindingsUsageError(f"no sessions yet in {db.path}")
        return latest
    if not session_known(db, ref):
        raise FindingsUsageError(f"no session {ref!r} in {db.path}")
    return ref


# --- rendering ------------------------------------------------------------------------


def render(rows: list[dict[str, Any]], fmt: str, *, db_path: Path, session_id: str | None,
           state: str = "open", project_root: str | None = None) -> str:
    if fmt == "json":
        return json.dumps({"db": str(db_path), "session": session_id, "state": state,
                           "count": len(rows), "by_severity": _by_severity(rows),
                           "findings": [_json_row(r) for r in rows]},
                          indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(render_sarif(rows, project_root, session_id),
                          indent=2, ensure_ascii=False) + "\n"
    return render_text(rows, state=state, session_id=session_id)


def render_text(rows: list[dict[str, Any]], *, state: str = "open",
                session_id: str | None = None) -> str:
    where = f"session {session_id}" if session_id else "all sessions"
    if not rows:
        return f"no {'open ' if state == 'open' else ''}findings ({where})\n"
    lines = []
    for row in rows:
        location = f"{printable(row['path'])}:{row['line']}"
        if "machine" in row:
            location = f"{printable(str(row['machine']))}: {location}"
        text = f"{location}: {row['severity']} [{printable(str(row['rule']))}] " \
               f"{printable(str(row['message'] or ''))}"
        if row["preview"]:
            text += f" ({printable(str(row['preview']))})"
        if row["resolved_at"]:
            text += f" -- resolved {row['resolved_at']}"
        lines.append(text)
    counts = _by_severity(rows)
    detail = ", ".join(f"{n} {s}" for s, n in counts.items())
    noun = "finding" if len(rows) == 1 else "findings"
    lines.append(f"{len(rows)} {'open ' if state == 'open' else ''}{noun} ({detail}; {where})")
    return "\n".join(lines) + "\n"


def render_sarif(rows: list[dict[str, Any]], root: str | None,
                 session_id: str | None) -> dict[str, Any]:
    log = to_sarif((), rows, __version__, project_root=root,
                   run_properties={"sessionId": session_id} if session_id else None)
    resolved = {str(r["fingerprint"]): str(r["resolved_at"]) for r in rows if r["resolved_at"]}
    for result in log["runs"][0]["results"]:
        fingerprint = result.get("partialFingerprints", {}).get("realworldFingerprint/v1")
        if fingerprint in resolved:
            # Gone from the code: a passing result, as a baseline comparison would show it.
            result.update(kind="pass", level="none", baselineState="absent")
            result["properties"]["resolvedAt"] = resolved[fingerprint]
    return log


def _by_severity(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(str(r["severity"]) for r in rows)
    ordered = {s: counts.pop(s) for s in SEVERITIES if s in counts}
    return {**ordered, **dict(sorted(counts.items()))}


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    # Lone surrogates (file names that are not UTF-8) as escapes, so the JSON is UTF-8.
    return {k: safe_text(v) if isinstance(v, str) else v for k, v in row.items()}


# --- the baseline ---------------------------------------------------------------------


def update_baseline(db: Database, path: Path, rows: list[dict[str, Any]],
                    session_id: str | None) -> str:
    """Accept the open security findings of ``rows`` into the baseline at ``path``."""
    wanted = [Wanted(str(r["rule"]), str(r["path"]), int(r["line"] or 0)) for r in rows
              if r["capability"] == SECURITY_CAPABILITY and not r["resolved_at"]]
    ref = session_id or latest_session_id(db)
    root = project_path(db, ref) if ref else None
    if root is None:
        raise FindingsUsageError(f"no session in {db.path} names a workspace to scan")
    try:
        salt: bytes | None = load_salt(create=False)
    except SaltError:
        salt = None  # needed only to carry over a version-1 file
    existing = load_baseline(path, salt_id(salt) if salt is not None else None)
    if existing.problem:
        raise FindingsUsageError(f"not updating the baseline: {existing.problem}")
    update = accept(Path(root), wanted, existing, salt)
    try:
        write_baseline(path, update.entries)
    except OSError as exc:
        raise FindingsUsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    told = f"baseline {path}: {len(update.entries)} accepted findings ({update.added} new)"
    if existing.version == SALTED_VERSION and existing.entries:
        told += (f"; rewritten from version 1: {update.carried} entries carried over, "
                 f"{update.dropped} whose findings are gone dropped")
    if update.missing:
        told += (f"; {update.missing} listed not found in their files as they are now "
                 "(changed since the scan?), not accepted")
    return told

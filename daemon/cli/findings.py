"""``realworld findings [SESSION] [--format F] [--open|--all]``: the findings, redacted.

Reads the ``findings`` projection (caught up first when the file is writable).
Every row already holds only a salted fingerprint and a masked preview
(invariant 4), so each format prints the rows as they are.

* ``SESSION`` is a session id or ``latest``; without it, the findings of every
  session (a row belongs to the session that saw the finding last).
* ``--open`` (the default) lists findings not resolved; ``--all`` adds resolved
  ones (in SARIF as ``pass`` results with ``baselineState: absent``).
* ``--update-baseline FILE`` accepts the listed open security findings: their
  fingerprints are added to the baseline FILE (:mod:`analyzers.security.baseline`) that
  the scanner reads, so they stop being reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any, Final, TextIO

from analyzers.base import safe_text
from analyzers.common.printable import printable
from analyzers.security.baseline import BaselineEntry, load_baseline, write_baseline
from analyzers.security.fingerprint import SaltError, load_salt, salt_id
from daemon.log.database import Database
from daemon.read.render.sarif import to_sarif
from daemon.types import SEVERITIES
from daemon.version import __version__

FORMATS: Final = ("text", "json", "sarif")
LATEST: Final = "latest"
SECURITY_CAPABILITY: Final = "security_scanner"
COLUMNS: Final = ("fingerprint", "session_id", "capability", "rule", "path", "line", "severity",
                  "confidence", "message", "preview", "first_seen", "last_seen", "resolved_at")


class FindingsUsageError(ValueError):
    """An unknown session, or a baseline that cannot be written; one line (exit 2)."""


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``findings`` to the ``realworld`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "findings", parents=[common], help="security and pattern findings, redacted")
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
    parser.set_defaults(run=cmd_findings, state="open")
    return parser


def cmd_findings(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: daemon.cli.main imports this module to register the command.
    from daemon.cli.main import UsageError, _fresh, _open_db

    db = _fresh(_open_db(args))
    try:
        session_id = resolve_session(db, args.session)
        rows = load_findings(db, session_id, include_resolved=args.state == "all")
        if args.update_baseline:
            out.write(update_baseline(db, Path(args.update_baseline), rows) + "\n")
            return 0
    except FindingsUsageError as exc:
        raise UsageError(str(exc)) from None
    out.write(render(rows, args.format, db=db, session_id=session_id, state=args.state))
    return 0


# --- reading --------------------------------------------------------------------------


def resolve_session(db: Database, ref: str | None) -> str | None:
    """None for every session; ``latest`` is the newest; an id must be known."""
    if ref is None:
        return None
    conn = db.connect_readonly()
    try:
        if ref.strip() == LATEST:
            row = conn.execute("SELECT session_id FROM test_sessions "
                               "ORDER BY start_time DESC LIMIT 1").fetchone()
            if row is None:
                raise FindingsUsageError(f"no sessions yet in {db.path}")
            return str(row[0])
        known = conn.execute("SELECT 1 FROM test_sessions WHERE session_id = ? UNION ALL "
                             "SELECT 1 FROM findings WHERE session_id = ? LIMIT 1",
                             (ref, ref)).fetchone()
    finally:
        conn.close()
    if known is None:
        raise FindingsUsageError(f"no session {ref!r} in {db.path}")
    return ref


def load_findings(db: Database, session_id: str | None, *,
                  include_resolved: bool = False) -> list[dict[str, Any]]:
    """Rows of the ``findings`` projection, worst first, then by path and line."""
    where = []
    params: list[str] = []
    if session_id is not None:
        where.append("session_id = ?")
        params.append(session_id)
    if not include_resolved:
        where.append("resolved_at IS NULL")
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES))
    sql = (f"SELECT {', '.join(COLUMNS)} FROM findings "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY CASE severity {rank} ELSE {len(SEVERITIES)} END, path, line, rule")
    conn = db.connect_readonly()
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # a database from before the findings table
    finally:
        conn.close()
    found = []
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        if isinstance(item["path"], bytes):  # a file name that is not UTF-8, kept as bytes
            item["path"] = os.fsdecode(item["path"])
        found.append(item)
    return found


def project_root(db: Database, session_id: str | None) -> str | None:
    if session_id is None:
        return None
    conn = db.connect_readonly()
    try:
        row = conn.execute("SELECT project_path FROM test_sessions WHERE session_id = ?",
                           (session_id,)).fetchone()
    finally:
        conn.close()
    return str(row[0]) if row and row[0] else None


# --- rendering ------------------------------------------------------------------------


def render(rows: list[dict[str, Any]], fmt: str, *, db: Database, session_id: str | None,
           state: str = "open") -> str:
    if fmt == "json":
        return json.dumps({"db": str(db.path), "session": session_id, "state": state,
                           "count": len(rows), "by_severity": _by_severity(rows),
                           "findings": [_json_row(r) for r in rows]},
                          indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(render_sarif(rows, project_root(db, session_id), session_id),
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


def scanner_salt_id(db: Database) -> str:
    """The salt the scanner used, as it recorded it; else this user's salt."""
    conn = db.connect_readonly()
    try:
        row = conn.execute(
            "SELECT json_extract(result_data, '$.salt_id') FROM activities "
            "WHERE capability = ? AND json_extract(result_data, '$.salt_id') IS NOT NULL "
            "ORDER BY timestamp DESC LIMIT 1", (SECURITY_CAPABILITY,)).fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    if row and row[0]:
        return str(row[0])
    try:
        return salt_id(load_salt(create=False))
    except SaltError as exc:
        raise FindingsUsageError(f"cannot tell which salt made the fingerprints: {exc}") from None


def update_baseline(db: Database, path: Path, rows: list[dict[str, Any]]) -> str:
    accepted = [BaselineEntry(fingerprint=str(r["fingerprint"]), rule=str(r["rule"]),
                              path=str(r["path"]), line=int(r["line"] or 0))
                for r in rows
                if r["capability"] == SECURITY_CAPABILITY and not r["resolved_at"]]
    salt = scanner_salt_id(db)
    existing = load_baseline(path, salt)
    if existing.problem:
        raise FindingsUsageError(f"not updating the baseline: {existing.problem}")
    known = {e.fingerprint for e in existing.entries}
    merged = [*existing.entries, *(e for e in accepted if e.fingerprint not in known)]
    try:
        write_baseline(path, merged, salt)
    except OSError as exc:
        raise FindingsUsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    added = len(merged) - len(existing.entries)
    return f"baseline {path}: {len(merged)} accepted findings ({added} new)"

"""What the read commands share to read the fleet (``--fleet URL``) instead of the local log.

``report``, ``compare`` and ``findings SESSION`` read a scratch replica of the sessions they
name (:mod:`daemon.fleet.replica`), so they print exactly what they print locally; ``query``,
``sessions``, ``findings`` and ``verify`` over every machine read the central tables.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from daemon.cli.common import EXIT_FAILED, EXIT_OK, fresh, open_db
from daemon.fleet.errors import FleetUsageError
from daemon.log.database import Database
from daemon.read.user_sql import QueryResult, render, render_table

#: Seconds a fleet query may run: a shared server is not ours to hold.
QUERY_TIMEOUT_MS = 60_000


def add_fleet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", metavar="URL", default=None,
                        help="read the central PostgreSQL of every machine (a libpq URL such "
                             "as postgresql://user@host/db) instead of the local log")


def fleet_url(args: argparse.Namespace) -> str | None:
    """The fleet this read command reads: only when ``--fleet URL`` asks for one."""
    url = getattr(args, "fleet", None)
    if url is not None and not url.strip():
        raise FleetUsageError("--fleet needs a PostgreSQL URL, such as postgresql://user@host/db")
    return url


@contextmanager
def read_conn(url: str) -> Iterator[Any]:
    """A read-only connection whose schema is one this code reads."""
    # The fleet's modules load psycopg: imported here, where a command first reads the
    # fleet, every other command (``run --once`` in a hook) is spared its 50 ms.
    from daemon.fleet.central_schema import require_schema
    from daemon.fleet.connection import masked, session

    with session(url, autocommit=True,
                 options=f"-c default_transaction_read_only=on "
                         f"-c statement_timeout={QUERY_TIMEOUT_MS}") as conn:
        require_schema(conn, masked(url))
        yield conn


@contextmanager
def session_source(args: argparse.Namespace,
                   refs: Sequence[str | None]) -> Iterator[tuple[Database, list[str | None]]]:
    """The log to read and the session ids to read in it: the local log and ``refs`` as
    given, or, with ``--fleet``, a replica of the sessions ``refs`` name (``latest``, an id
    or ``MACHINE:SESSION``)."""
    url = fleet_url(args)
    if url is None:
        yield fresh(open_db(args)), list(refs)
        return
    from daemon.fleet.replica import replica, resolve

    with read_conn(url) as conn:
        resolved = [None if ref is None else resolve(conn, ref) for ref in refs]
        ids = [None if ref is None else ref.session_id for ref in resolved]
        chosen = list(dict.fromkeys(ref for ref in resolved if ref is not None))
        if len({ref.session_id for ref in chosen}) < len(chosen):
            raise FleetUsageError("the two sessions have the same id on different machines: "
                                  "compare them one machine at a time")
        with replica(conn, chosen) as db:
            yield db, ids


def _plain(value: Any) -> Any:
    """A PostgreSQL value as the SQLite-shaped one every format prints: times as ISO text,
    numerics as floats."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


def cmd_query(url: str, sql: str, fmt: str, out: TextIO) -> int:
    """The user's SQL on the central tables, in a read-only transaction."""
    with read_conn(url) as conn:
        cursor = conn.execute(sql)
        columns = tuple(d.name for d in cursor.description or ())
        rows = (tuple(tuple(map(_plain, row)) for row in cursor.fetchall())
                if cursor.description else ())
    out.write(render(QueryResult(columns, rows), fmt))
    return EXIT_OK


SESSION_COLUMNS = ("machine", "session_id", "status", "start_time", "project_path",
                   "total_activities", "total_errors", "avg_response_time", "overall_score")


def cmd_sessions(url: str, limit: int | None, as_json: bool, out: TextIO) -> int:
    import json

    from daemon.fleet.connection import masked

    with read_conn(url) as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(SESSION_COLUMNS)} FROM test_sessions "
            f"ORDER BY start_time DESC, machine, session_id LIMIT %s", (limit,))
        rows = [dict(zip(SESSION_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
    elif not rows:
        out.write(f"no sessions yet in the fleet {masked(url)}\n")
    else:
        out.write(render_table(QueryResult(SESSION_COLUMNS,
                                           tuple(tuple(r.values()) for r in rows))))
    return EXIT_OK


FINDING_COLUMNS = ("machine", "workspace", "fingerprint", "session_id", "capability", "rule",
                   "path", "line", "severity", "confidence", "message", "preview", "first_seen",
                   "last_seen", "resolved_at")


def fleet_findings(url: str, include_resolved: bool) -> list[dict[str, Any]]:
    """Every machine's findings, worst first, as rows of the local shape plus ``machine``."""
    with read_conn(url) as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings "
            + ("" if include_resolved else "WHERE resolved_at IS NULL ")
            + "ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 "
              "WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, machine, path, line")
        return [dict(zip(FINDING_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def cmd_verify(url: str, machines: Sequence[str], out: TextIO) -> int:
    from daemon.fleet.central_verify import verify_fleet
    from daemon.fleet.connection import masked

    with read_conn(url) as conn:
        checks = verify_fleet(conn, machines)
    if not checks:
        out.write(f"fleet {masked(url)}: no machine has shipped yet\n")
    for check in checks:
        name = check.machine
        if check.chain_break is None:
            out.write(f"{name}: chain: ok ({check.events} events)\n")
        else:
            out.write(f"{name}: chain: broken at seq {check.chain_break.seq}: "
                      f"{check.chain_break.reason}\n")
            continue
        if not check.mismatches:
            out.write(f"{name}: projections: ok (every table equals a replay up to seq "
                      f"{check.position})\n")
        for mismatch in check.mismatches:
            out.write(f"{name}: projections: {mismatch.table} differs from a replay "
                      f"({mismatch.live_rows} central rows, {mismatch.replayed_rows} "
                      f"replayed): {mismatch.first_difference}\n")
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED

"""The user's own read-only SQL (``realworld query``) over the projections and the log, and
the three ways to print its result."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.log.database import Database

FORMATS = ("table", "csv", "json")


class QueryError(Exception):
    """SQL we refuse or that SQLite rejects; the message is one line."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Pragmas that take an argument yet only read; any other pragma given a value sets something.
_READING_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
})


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """A third lock beside the read-only URI and ``query_only``: no ATTACH, no pragma writes.

    ATTACH would open another file read-write, and ``PRAGMA query_only = OFF``
    would lift the second lock for the rest of the connection.
    """
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and arg2 is not None and arg1 not in _READING_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def run_query(db: Database, sql: str, params: Sequence[Any] = ()) -> QueryResult:
    """Run one statement on a connection that SQLite itself keeps from writing."""
    conn = db.connect_readonly()
    conn.set_authorizer(_authorize)
    try:
        cursor = conn.execute(sql, params)
        columns = tuple(d[0] for d in cursor.description or ())
        rows = tuple(cursor.fetchall())
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if any(word in message for word in ("readonly", "read-only", "not authorized")):
            raise QueryError(f"query is read-only, the statement was refused: {message}") from None
        raise QueryError(f"SQL error: {_one_line(message)}") from None
    except sqlite3.DatabaseError as exc:
        if "not authorized" in str(exc):
            raise QueryError(f"query is read-only, the statement was refused: {exc}") from None
        raise QueryError(f"SQL error: {_one_line(str(exc))}") from None
    except (sqlite3.ProgrammingError, sqlite3.Warning) as exc:
        raise QueryError(f"SQL error: {_one_line(str(exc))}") from None
    finally:
        conn.close()
    return QueryResult(columns, rows)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    if isinstance(value, float):
        return repr(round(value, 4))  # enough to read; --format csv|json keep every digit
    return str(value)


def render_table(result: QueryResult) -> str:
    if not result.columns:
        return ""
    cells = [[_cell(v).replace("\n", "\\n") for v in row] for row in result.rows]
    widths = [len(c) for c in result.columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool)
            for row in result.rows if row[i] is not None)
        for i in range(len(result.columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(result.columns), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    plural = "" if len(result.rows) == 1 else "s"
    out.append(f"({len(result.rows)} row{plural})")
    return "\n".join(out) + "\n"


def render_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if result.columns:
        writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def render_json(result: QueryResult) -> str:
    records = [{c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
               for row in result.rows]
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}


def render(result: QueryResult, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise QueryError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return RENDERERS[fmt](result)

"""Past and current sessions as plain dicts, read from the projections."""

from __future__ import annotations

import sqlite3
from typing import Any

SESSION_COLUMNS = (
    "session_id", "project_path", "start_time", "end_time", "duration_minutes", "status",
    "total_activities", "total_errors", "avg_response_time", "avg_cpu_usage",
    "avg_memory_usage", "overall_score", "created_at",
)


def list_sessions(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Newest first, each ``test_sessions`` row with its mode, end reason and process."""
    columns = ", ".join(f"s.{c}" for c in SESSION_COLUMNS)
    sql = (f"SELECT {columns}, x.mode, x.end_reason, x.pid, x.host, x.pid_since "
           "FROM test_sessions AS s LEFT JOIN session_stats AS x USING (session_id) "
           "ORDER BY s.start_time DESC, s.session_id")
    params: tuple[int, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    names = (*SESSION_COLUMNS, "mode", "end_reason", "pid", "host", "pid_since")
    return [dict(zip(names, row, strict=True)) for row in conn.execute(sql, params)]

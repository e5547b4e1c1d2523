"""For the analysis tests (:mod:`daemon.read.analysis`): one session's projection rows
built by hand or read back from a real log, and analysis dicts as a comparison reads them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from daemon.read.analysis.aggregate import analyze
from daemon.read.analysis.model import SessionAnalysis

from logbuilders import SPEC_SESSION

SID = "s1"
BASE = datetime(2026, 2, 3, 12, 15, tzinfo=timezone.utc)
Row = dict[str, Any]


def ts(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def session_row(session_id: str = SID, **extra: Any) -> Row:
    row: Row = {"session_id": session_id, "project_path": "/p", "start_time": ts(0),
                "end_time": ts(300), "duration_minutes": 5, "status": "completed",
                "total_activities": 0, "total_errors": 0, "overall_score": 0.0}
    row.update(extra)
    return row


_counter = iter(range(1_000_000))


def act(capability: str, ms: float | None, ok: bool = True, at: float | None = None,
        cpu: float | None = 30.0, mem: float | None = 50.0, error: str | None = None,
        session_id: str = SID) -> Row:
    n = next(_counter)
    return {"activity_id": f"a{n}", "session_id": session_id,
            "timestamp": ts(n if at is None else at), "capability": capability,
            "activity_type": "run", "description": None, "response_time_ms": ms,
            "cpu_before": cpu, "cpu_after": cpu, "memory_before_mb": mem,
            "memory_after_mb": mem, "success": 1 if ok else 0,
            "error_message": None if ok else (error or f"error {n}"), "result_data": None}


def metric(capability: str, metric_type: str, value: float, unit: str, at: float) -> Row:
    n = next(_counter)
    return {"metric_id": f"m{n}", "session_id": SID, "timestamp": ts(at),
            "capability": capability, "metric_type": metric_type, "value": value,
            "unit": unit, "context": None}


def run(activities: Sequence[Row] = (), metrics: Sequence[Row] = (),
        issues: Sequence[Row] = (), suggestions: Sequence[Row] = (),
        session: Row | None = None) -> SessionAnalysis:
    return analyze(session or session_row(), activities, metrics, issues, suggestions)


def spec_example_rows() -> list[Row]:
    """The spec's example report's capabilities: 42 calls, 3 errors."""
    rows = [act("workspace_analyzer", 245.0) for _ in range(17)]
    rows += [act("code_search", 189.0, ok=i != 7) for i in range(20)]
    rows += [act("security_scanner", ms, ok=i < 3)
             for i, ms in enumerate([2345.0, 1923.0, 2134.0, 2100.0, 2168.0])]
    return rows


def read_rows(conn: sqlite3.Connection, table: str) -> list[Row]:
    return [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE session_id = ?",
                                          (SPEC_SESSION,))]


def analyze_log(conn: sqlite3.Connection) -> SessionAnalysis:
    (session,) = read_rows(conn, "test_sessions")
    return analyze(session, read_rows(conn, "activities"), read_rows(conn, "performance_metrics"),
                   read_rows(conn, "issues"), read_rows(conn, "improvement_suggestions"))


def report(session_id: str, avg: float, p95: float, **caps: tuple[float, float]
           ) -> dict[str, Any]:
    """An analysis dict with only what a regression check reads."""
    return {
        "session": {"session_id": session_id},
        "summary": {"avg_response_time": avg, "p95_response_time": p95},
        "activities_by_capability": [
            {"capability": name, "avg_response": a, "p95_response": p}
            for name, (a, p) in caps.items()
        ],
    }

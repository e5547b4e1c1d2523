"""Reads one session's projection rows and turns them into an analysis, events and reports.

The IO edge of the pure analysis: everything here is a query followed by a
call into :mod:`daemon.read.analysis.analysis`, :mod:`daemon.read.analysis.scoring` or
:mod:`daemon.read.render.report`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from daemon.log.database import Database
from daemon.log.events import Event, SessionScored
from daemon.read.analysis.analysis import (
    SessionAnalysis,
    analyze,
    detect_issues,
    plan_issue_events,
    plan_suggestion_events,
    suggest,
    to_api_dict,
)
from daemon.read.analysis.scoring import overall_score
from daemon.read.analysis.series import SessionSeries, session_series
from daemon.read.render.report import render_json, render_markdown, render_text

RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}


class UnknownSession(ValueError):
    pass


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def latest_session_id(db: Database) -> str:
    conn = db.connect_readonly()
    try:
        row = conn.execute("SELECT session_id FROM test_sessions "
                           "ORDER BY start_time DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    if row is None:
        raise UnknownSession(f"no sessions yet in {db.path}")
    return str(row[0])


def load_analysis(db: Database, session_id: str) -> SessionAnalysis:
    """Analyze a session from its projection rows (the caller catches the projections up)."""
    conn = db.connect_readonly()
    try:
        sessions = _rows(conn, "SELECT * FROM test_sessions WHERE session_id = ?", (session_id,))
        if not sessions:
            raise UnknownSession(f"unknown session {session_id!r}")
        by_session = (session_id,)
        activities = _rows(conn, "SELECT * FROM activities WHERE session_id = ? "
                                 "ORDER BY timestamp", by_session)
        metrics = _rows(conn, "SELECT * FROM performance_metrics WHERE session_id = ? "
                              "ORDER BY timestamp", by_session)
        issues = _rows(conn, "SELECT * FROM issues WHERE session_id = ?", by_session)
        suggestions = _rows(conn, "SELECT * FROM improvement_suggestions WHERE session_id = ? "
                                  "ORDER BY suggestion_id", by_session)
    finally:
        conn.close()
    return analyze(sessions[0], activities, metrics, issues, suggestions)


def load_series(db: Database, session_id: str) -> SessionSeries:
    """The time series the HTML report charts (:mod:`daemon.read.analysis.series`)."""
    conn = db.connect_readonly()
    try:
        sessions = _rows(conn, "SELECT * FROM test_sessions WHERE session_id = ?", (session_id,))
        if not sessions:
            raise UnknownSession(f"unknown session {session_id!r}")
        by_session = (session_id,)
        activities = _rows(conn, "SELECT timestamp, capability, response_time_ms, success, "
                                 "error_message, cpu_after, memory_after_mb FROM activities "
                                 "WHERE session_id = ? ORDER BY timestamp", by_session)
        metrics = _rows(conn, "SELECT timestamp, capability, metric_type, value, unit "
                              "FROM performance_metrics WHERE session_id = ? "
                              "ORDER BY timestamp", by_session)
    finally:
        conn.close()
    return session_series(sessions[0], activities, metrics)


def judgement_events(analysis: SessionAnalysis) -> list[Event]:
    """The issues, suggestions and score a session's analysis adds to the log, idempotently."""
    session_id = analysis.session_id
    events: list[Event] = [
        *plan_issue_events(analysis.recorded_issues, detect_issues(analysis), session_id),
        *plan_suggestion_events(analysis.recorded_suggestions, suggest(analysis), session_id),
    ]
    score = overall_score(analysis)
    if analysis.session.get("overall_score") != score:
        events.append(SessionScored(session_id, score))
    return events


def analysis_dict(db: Database, session_id: str) -> dict[str, Any]:
    return to_api_dict(load_analysis(db, session_id))


def render_report(db: Database, session_id: str, fmt: str = "text") -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(RENDERERS)})")
    return RENDERERS[fmt](load_analysis(db, session_id))

"""Reads one session's projection rows and turns them into an analysis, events and reports.

The IO edge of the pure analysis: everything here is a query (:mod:`daemon.read.queries`)
followed by a call into :mod:`daemon.read.analysis` or :mod:`daemon.read.render.report`.
"""

from __future__ import annotations

from typing import Any

from daemon.log.database import Database
from daemon.log.events import Event, SessionScored
from daemon.read.analysis.aggregate import analyze
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.issues import detect_issues
from daemon.read.analysis.model import SessionAnalysis
from daemon.read.analysis.plan import plan_issue_events, plan_suggestion_events
from daemon.read.analysis.scoring import overall_score
from daemon.read.analysis.series import SessionSeries, session_series
from daemon.read.analysis.suggestions import suggest
from daemon.read.queries import series_records, session_records
from daemon.read.render.report import render_json, render_markdown, render_text

RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}


class UnknownSession(ValueError):
    """No session of that id in the log."""


def load_analysis(db: Database, session_id: str) -> SessionAnalysis:
    """Analyze a session from its projection rows (the caller catches the projections up)."""
    records = session_records(db, session_id)
    if records is None:
        raise UnknownSession(f"unknown session {session_id!r}")
    return analyze(records.session, records.activities, records.metrics, records.issues,
                   records.suggestions, archived=records.archived,
                   archived_capabilities=records.archived_capabilities)


def load_series(db: Database, session_id: str) -> SessionSeries:
    """The time series the HTML report charts (:mod:`daemon.read.analysis.series`)."""
    records = series_records(db, session_id)
    if records is None:
        raise UnknownSession(f"unknown session {session_id!r}")
    return session_series(records.session, records.activities, records.metrics)


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

"""Planning the events a judgement records, idempotently (daemon.read.analysis.plan)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from daemon.log.events import Envelope, IssueDetected, IssueUpdated, SuggestionMade
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read.analysis.issues import detect_issues, issue_id, top_issues
from daemon.read.analysis.model import IssueSpec
from daemon.read.analysis.plan import plan_issue_events, plan_suggestion_events
from daemon.read.analysis.suggestions import suggest

from logbuilders import SPEC_SESSION, spec_session_log
from sessionrows import SID, Row, analyze_log, read_rows, run, spec_example_rows


def _rows_after(events: Sequence[IssueDetected | IssueUpdated],
                rows: dict[str, Row]) -> dict[str, Row]:
    """What the issues projection does with these events (enough for planning)."""
    out = {k: dict(v) for k, v in rows.items()}
    for event in events:
        if isinstance(event, IssueDetected):
            out[event.issue_id] = {"issue_id": event.issue_id, "severity": event.severity,
                                   "capability": event.capability,
                                   "issue_type": event.issue_type,
                                   "description": event.description,
                                   "suggested_fix": event.suggested_fix,
                                   "reproducible": int(bool(event.reproducible))}
        else:
            row = out[event.issue_id]
            for name in ("severity", "description", "suggested_fix"):
                if getattr(event, name) is not None:
                    row[name] = getattr(event, name)
            if event.reproducible is not None:
                row["reproducible"] = int(event.reproducible)
    return out


def test_plan_issue_events_is_idempotent() -> None:
    specs = detect_issues(run(spec_example_rows()))
    first = plan_issue_events([], specs, SID)
    assert [type(e) for e in first] == [IssueDetected] * len(specs)
    assert [e.issue_id for e in first] == [issue_id(SID, s.issue_key) for s in specs]
    rows = _rows_after(first, {})
    assert plan_issue_events(list(rows.values()), specs, SID) == []


def test_a_changed_issue_is_updated_with_only_what_changed() -> None:
    spec = IssueSpec("x:slow_response", "high", "x", "slow_response", "slow", "fix it", True)
    rows = _rows_after(plan_issue_events([], [spec], SID), {})
    worse = IssueSpec("x:slow_response", "critical", "x", "slow_response", "slow", "fix it",
                      True)
    (event,) = plan_issue_events(list(rows.values()), [worse, worse], SID)
    assert event == IssueUpdated(SID, issue_id(SID, "x:slow_response"), severity="critical")


def test_plan_suggestion_events_skips_texts_already_made() -> None:
    specs = suggest(run(spec_example_rows()))
    existing = [{"session_id": SID, "suggestion": "Fix error handling in security_scanner"},
                {"session_id": "other",
                 "suggestion": "Optimize security_scanner - response time is too slow"}]
    planned = plan_suggestion_events(existing, [*specs, *specs], SID)
    assert planned == [SuggestionMade(
        SID, "performance", "medium", "Optimize security_scanner - response time is too slow",
        rationale="Average response time is 2134ms",
        estimated_impact="Could improve response time by 1067ms")]


# --- from a real log ------------------------------------------------------------


def test_planned_events_projected_then_planned_again_add_nothing(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "x.db")
    reader = db.connect_readonly()
    reader.row_factory = sqlite3.Row
    analysis = analyze_log(reader)
    issues = plan_issue_events(read_rows(reader, "issues"), detect_issues(analysis), SPEC_SESSION)
    suggestions = plan_suggestion_events(read_rows(reader, "improvement_suggestions"),
                                         suggest(analysis), SPEC_SESSION)
    assert issues and suggestions
    with EventStore(db) as store:
        store.append([Envelope(e) for e in [*issues, *suggestions]])
    catch_up(db)
    again = analyze_log(reader)
    assert plan_issue_events(read_rows(reader, "issues"), detect_issues(again), SPEC_SESSION) == []
    assert plan_suggestion_events(read_rows(reader, "improvement_suggestions"), suggest(again),
                                  SPEC_SESSION) == []
    assert len(top_issues(again)) == len(read_rows(reader, "issues"))
    reader.close()

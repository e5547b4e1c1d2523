"""Builders of small, realistic event logs for tests that need rows to read."""

from __future__ import annotations

from pathlib import Path

from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    IssueDetected,
    MetricSampled,
    SessionEnded,
    SessionStarted,
    SuggestionMade,
    new_id,
)
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up

SPEC_SESSION = "test_20260203_121500"  # the id the spec's example queries name


def _ts(minute: int, second: int) -> str:
    return f"2026-02-03T12:{minute:02d}:{second:02d}.000000+00:00"


def spec_session_log(path: Path, session_id: str = SPEC_SESSION) -> Database:
    """A finished five-minute session like the spec's example: three capabilities, issues."""
    db = Database.open(path, create=True)
    envelopes = [Envelope(SessionStarted(session_id, "/work/project", 5), ts=_ts(15, 0))]
    calls = [
        # capability, minute, second, response ms, success, cpu after, rss after
        ("workspace_analyzer", 15, 5, 245.0, True, 25.0, 40.0),
        ("workspace_analyzer", 16, 5, 255.0, True, 27.0, 41.0),
        ("code_search", 15, 10, 189.0, True, 22.0, 42.0),
        ("code_search", 16, 10, 211.0, False, 30.0, 43.0),
        ("security_scanner", 15, 20, 2345.0, True, 60.0, 55.0),
        ("security_scanner", 16, 20, 1923.0, False, 70.0, 57.0),
        ("security_scanner", 17, 20, 2134.0, False, 65.0, 58.0),
    ]
    for capability, minute, second, ms, ok, cpu, rss in calls:
        envelopes.append(Envelope(ActivityRecorded(
            session_id, new_id(), capability, "scan" if "security" in capability else "run",
            description=f"{capability}: {ms:.0f}ms", response_time_ms=ms, cpu_before=cpu - 5,
            cpu_after=cpu, memory_before_mb=rss - 1, memory_after_mb=rss, success=ok,
            error_message=None if ok else "timed out", result_data={"files": 3}),
            ts=_ts(minute, second)))
    envelopes.append(Envelope(MetricSampled(session_id, new_id(), "system", "cpu_usage", 25.3,
                                            "percent"), ts=_ts(15, 30)))
    for severity, capability in (("high", "security_scanner"), ("medium", "code_search"),
                                 ("high", "code_search"), ("low", "workspace_analyzer")):
        envelopes.append(Envelope(IssueDetected(
            session_id, new_id(), severity, capability, "performance",
            description="Slow response times affecting UX",
            suggested_fix="Optimize scanning algorithm or add caching", reproducible=True),
            ts=_ts(18, 0)))
    envelopes.append(Envelope(SuggestionMade(
        session_id, "reliability", "high", "Fix error handling in security_scanner",
        rationale="Success rate is only 33.3%", estimated_impact="Could improve success rate "
        "to 95%+"), ts=_ts(19, 0)))
    envelopes.append(Envelope(SessionEnded(session_id, "completed", "duration reached"),
                              ts=_ts(20, 0)))
    with EventStore(db) as store:
        store.append(envelopes)
    catch_up(db)
    return db

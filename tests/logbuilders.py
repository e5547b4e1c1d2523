"""Builders of small, realistic event logs for tests that need rows to read."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    Event,
    FileChanged,
    FileQuarantined,
    FileReleased,
    FindingDetected,
    FindingResolved,
    IssueDetected,
    MetricSampled,
    PatternLearned,
    ResourcesSampled,
    SessionEnded,
    SessionScored,
    SessionStarted,
    SuggestionMade,
    format_ts,
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


# --- months of history, for retention ------------------------------------------------------


def history_log(path: Path, *, days: int = 60, events: int = 100_000, seed: int = 12,
                now: datetime | None = None) -> Database:
    """A log of ``days`` of two daemon workspaces whose continuous sessions rotate daily,
    twelve hours apart (so sessions overlap: an archive's prefix can end inside one), about
    ``events`` events in all: measured calls with ~1 KB of result data, resource samples,
    file changes, findings appearing and resolved (changes only), issues, suggestions,
    learned patterns, quarantines and releases, scores after the ends. The newest session
    of each workspace still runs. Timestamps end just before ``now``; projected."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    origin = now - timedelta(days=days)
    workspaces = ("/ws/one", "/ws/two")
    per_session = max(20, events // (2 * days))
    files = {ws: [f"pkg/mod_{i:03d}.py" for i in range(120)] for ws in workspaces}
    open_findings: dict[str, set[str]] = {ws: set() for ws in workspaces}
    quarantined: dict[str, set[str]] = {ws: set() for ws in workspaces}
    timed: list[tuple[datetime, int, Event]] = []
    order = 0

    def at(moment: datetime, event: Event) -> None:
        nonlocal order
        order += 1
        timed.append((moment, order, event))

    for index, ws in enumerate(workspaces):
        for day in range(days):
            start = origin + timedelta(days=day, hours=12 * index, seconds=1)
            end = start + timedelta(days=1) - timedelta(seconds=2)
            running = end >= now
            end = min(end, now - timedelta(seconds=1))
            sid = f"test_{start:%Y%m%d_%H%M%S}"
            at(start, SessionStarted(sid, ws, 0, "continuous", 4242, "box"))
            span = (end - start).total_seconds()
            for _ in range(per_session):
                moment = start + timedelta(seconds=rng.uniform(1, span - 1))
                roll = rng.random()
                if roll < 0.70:
                    capability = rng.choice(("code_indexer", "security_scanner", "pattern_probe",
                                             "code_search", "workspace_analyzer"))
                    ok = rng.random() < 0.97
                    at(moment, ActivityRecorded(
                        sid, f"{rng.getrandbits(128):032x}", capability, "probe",
                        description=f"{capability}: full pass",
                        response_time_ms=rng.uniform(1, 900), cpu_before=rng.uniform(0, 90),
                        cpu_after=rng.uniform(0, 90), memory_before_mb=rng.uniform(40, 300),
                        memory_after_mb=rng.uniform(40, 300), success=ok,
                        error_message=None if ok else "TimeoutError: call took too long",
                        result_data={"files": rng.randint(1, 250), "pending": 0,
                                     "names": [rng.choice(files[ws]) for _ in range(12)],
                                     "note": "x" * rng.randint(200, 600)}))
                elif roll < 0.85:
                    at(moment, ResourcesSampled(sid, rng.uniform(0, 100), rng.uniform(0, 100),
                                                rng.uniform(0, 100), rng.uniform(0, 50),
                                                rng.uniform(40, 300)))
                elif roll < 0.90:
                    name = rng.choice(files[ws])
                    at(moment, FileChanged(sid, ws, name, rng.choice(("created", "modified")),
                                           size=rng.randint(10, 10_000),
                                           mtime=moment.timestamp(),
                                           content_hash=f"{rng.getrandbits(64):016x}"))
                elif roll < 0.95:
                    fp = f"fp-{ws[-3:]}-{rng.randint(1, 400)}"
                    if fp in open_findings[ws] and rng.random() < 0.5:
                        open_findings[ws].discard(fp)
                        at(moment, FindingResolved(sid, fp))
                    else:
                        open_findings[ws].add(fp)
                        at(moment, FindingDetected(
                            sid, fp, "security_scanner", rng.choice(("B101", "B602", "secret")),
                            rng.choice(files[ws]), rng.randint(1, 400),
                            rng.choice(("high", "medium", "low")), "high",
                            "a finding", "pass****"))
                elif roll < 0.97:
                    at(moment, IssueDetected(sid, f"{rng.getrandbits(64):016x}", "low",
                                             "code_search", "slow", "slow search",
                                             "add an index", True))
                elif roll < 0.98:
                    at(moment, SuggestionMade(sid, "performance", "low", "cache more",
                                              "calls are slow", "10 %"))
                elif roll < 0.99:
                    at(moment, PatternLearned(sid, rng.choice(("yaml_load", "eq_none")),
                                              "use safe_load", rng.choice(files[ws]),
                                              rng.randint(1, 50), "yaml.load(x)",
                                              "yaml.safe_load(x)"))
                else:
                    name = rng.choice(files[ws])
                    if name in quarantined[ws]:
                        quarantined[ws].discard(name)
                        at(moment, FileReleased(sid, ws, "pattern_probe", name,
                                                "its content changed"))
                    else:
                        quarantined[ws].add(name)
                        at(moment, FileQuarantined(sid, ws, "pattern_probe", name,
                                                   f"{rng.getrandbits(64):016x}",
                                                   "RecursionError: too deep", 2))
            if not running:
                at(end, SessionEnded(sid, "completed", "rotated after 1d"))
                at(end + timedelta(seconds=0.5), SessionScored(sid, rng.uniform(50, 100)))
    timed.sort(key=lambda item: (item[0], item[1]))
    db = Database.open(path, create=True)
    envelopes = [Envelope(event, ts=format_ts(moment), event_id=f"{rng.getrandbits(128):032x}")
                 for moment, _, event in timed]
    with EventStore(db) as store:
        for begin in range(0, len(envelopes), 5_000):
            store.append(envelopes[begin:begin + 5_000])
    catch_up(db)
    return db

"""The shapes of the dicts :class:`~daemon.app.tester.RealWorldTester` returns, as TypedDicts.

The spec's snippets index into plain dicts (``tester.collect_metrics()["system_resources"]
["cpu_percent"]``), so the API keeps returning dicts; these types let a caller's
``mypy --strict`` check those keys and values. A row of a projection table (a session's
figures, a recent activity) stays ``dict[str, Any]``: its keys are the table's columns,
documented with the schema.
"""

from __future__ import annotations

from typing import Any, TypedDict


class CapabilityActivity(TypedDict):
    calls: int
    errors: int
    success_rate: float  # percent
    avg_response: float  # ms


class Monitor(TypedDict):
    """:meth:`~daemon.app.tester.RealWorldTester.monitor_activities`."""

    timestamp: str  # ISO-8601, UTC
    active_sessions: list[str]
    sessions: list[dict[str, Any]]  # test_sessions rows, plus ``throttled``
    total_activities: int
    total_errors: int
    activities_by_capability: dict[str, CapabilityActivity]
    recent_activities: list[dict[str, Any]]  # newest first


class SystemResources(TypedDict):
    cpu_percent: float
    memory_percent: float
    disk_percent: float


class ProcessResources(TypedDict):
    cpu_percent: float  # this process and its children, of one core
    rss_mb: float


class CapabilityTimes(TypedDict):
    calls: int
    avg_response_ms: float
    p95_response_ms: float
    max_response_ms: float


class Metrics(TypedDict):
    """:meth:`~daemon.app.tester.RealWorldTester.collect_metrics`."""

    timestamp: str
    system_resources: SystemResources
    process: ProcessResources
    capabilities: dict[str, CapabilityTimes]


class Score(TypedDict):
    """How the overall score was made (:mod:`daemon.read.analysis.scoring`)."""

    overall: float  # 0-100, one decimal
    success: float  # points from each part, before penalties
    ux_quality: float
    resources: float | None  # None when no resource was sampled
    penalty: float
    critical_issues: int
    high_issues: int


class Degradation(TypedDict):
    detected: bool
    capabilities: list[dict[str, Any]]  # per capability: its trend over the session


class Analysis(TypedDict):
    """:meth:`~daemon.app.tester.RealWorldTester.analyze_session_results`: the spec's keys
    (``session``, ``summary``, ``top_issues``, …) and ours beside them."""

    session: dict[str, Any]  # the test_sessions row, overall_score computed afresh
    summary: dict[str, Any]
    score: Score
    activities_by_capability: list[dict[str, Any]]  # slowest first
    top_issues: list[dict[str, Any]]  # critical first
    worked_well: list[dict[str, Any]]
    worked_poorly: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    resource_usage: dict[str, Any]
    memory_trend: dict[str, Any]
    degradation: Degradation
    archived: dict[str, Any] | None  # the summary kept when the session was archived
    skipped_by_configuration: list[dict[str, Any]]

"""What the analysis of a session finds: frozen results, no behaviour.

Built by :func:`daemon.read.analysis.aggregate.analyze`; the API dict
(:func:`daemon.read.analysis.api.to_api_dict`) is derived from these fields, so a field's
name here is its key there unless ``api`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.read.analysis.configured_skips import ConfiguredSkip


@dataclass(frozen=True)
class CapabilityStats:
    capability: str
    calls: int
    successes: int
    errors: int
    success_rate: float  # percent
    timed_calls: int
    avg_response: float  # ms, over timed calls
    p95_response: float
    min_response: float
    max_response: float
    median_response: float
    outliers: tuple[float, ...]
    grade: str | None  # response-time grade of avg_response
    success_grade: str
    ux_score: float | None  # mean per-call UX quality score
    error_messages: tuple[tuple[str, int], ...]  # most common first
    # From the capability's performance_metrics rows (the per-call figures):
    cpu_percent: float | None = None  # mean CPU of a call, percent of one core
    ms_per_file: float | None = None  # mean over calls that worked through files
    time_to_first_result_ms: float | None = None  # from the session's start
    accuracy: tuple[tuple[str, float], ...] = ()  # (what was measured, mean 0-1)
    # Full passes take as long as the workspace is big, so the latency rules judge the
    # other calls (change batches) only: their count, average, p95 and median.
    full_pass_calls: int = 0
    judged_calls: int = 0
    judged_avg_response: float = 0.0
    judged_p95_response: float = 0.0
    judged_median_response: float = 0.0


@dataclass(frozen=True)
class Summary:
    total_activities: int
    total_errors: int
    success_rate: float  # percent
    avg_response_time: float  # ms
    p95_response_time: float
    # System-wide percent while the calls ran (their cpu_after, as test_sessions); the
    # session-long figure is resources.avg_cpu_percent, from the periodic samples.
    avg_cpu_usage: float
    avg_memory_usage: float  # MB, activities' memory_after_mb (as test_sessions)
    ux_score: float  # mean per-call UX quality over every timed call


@dataclass(frozen=True)
class ResourceUsage:
    cpu_source: str | None  # "system_metrics" | "activities" | None
    avg_cpu_percent: float | None
    peak_cpu_percent: float | None
    cpu_grade: str | None
    avg_memory_percent: float | None  # system-wide, from the system memory samples
    peak_memory_percent: float | None
    memory_grade: str | None
    avg_process_memory_mb: float | None
    peak_process_memory_mb: float | None
    peak_disk_percent: float | None


@dataclass(frozen=True)
class MemoryTrend:
    source: str | None  # "process_metrics" | "activities" | None
    samples: int
    span_minutes: float
    start_mb: float
    end_mb: float
    slope_mb_per_hour: float
    r_squared: float
    growth_mb: float  # fitted slope over the span
    leak_suspected: bool
    # Enough samples over a long enough span for the slope to mean something; a slope
    # from a few samples a second apart is shown as nothing rather than as MB/hour.
    long_enough: bool = False


@dataclass(frozen=True)
class DegradationCheck:
    capability: str
    samples: int
    first_median_ms: float
    last_median_ms: float
    ratio: float
    degraded: bool


@dataclass(frozen=True)
class Verdict:
    capability: str
    reason: str
    success_rate: float
    avg_response: float


@dataclass(frozen=True)
class IssueSpec:
    """An issue the analysis believes in; ``issue_key`` identifies it across runs."""

    issue_key: str
    severity: str
    capability: str
    issue_type: str
    description: str
    suggested_fix: str
    reproducible: bool


@dataclass(frozen=True)
class OpenIssue:
    """One of the session's open issues, recorded or just detected, as the API shows it."""

    # Recorded rows are shown as stored, so their values may be missing.
    issue_id: str | None
    severity: str
    capability: str | None
    issue_type: str | None
    description: str | None
    suggested_fix: str | None
    reproducible: bool | None


@dataclass(frozen=True)
class SuggestionSpec:
    category: str  # performance, reliability, resource_optimization, bug_fix
    priority: str  # critical, high, medium, low
    suggestion: str
    rationale: str
    estimated_impact: str


@dataclass(frozen=True)
class ArchivedCapability:
    """What ``archived_capability_stats`` keeps of one capability's archived calls."""

    capability: str
    calls: int
    errors: int
    avg_response_ms: float | None
    min_response_ms: float | None
    max_response_ms: float | None


@dataclass(frozen=True)
class ArchivedDetail:
    """Where an archived session's detail went, and the totals the log kept of it."""

    segment: str  # the latest segment holding its events
    events: int
    first_seq: int
    last_seq: int
    total_activities: int  # from its test_sessions row
    total_errors: int
    avg_response_time: float
    overall_score: float  # as recorded: nothing is left to score it again
    capabilities: tuple[ArchivedCapability, ...]


@dataclass(frozen=True)
class SessionAnalysis:
    session_id: str
    session: Mapping[str, Any]
    summary: Summary
    capabilities: tuple[CapabilityStats, ...]  # in order of first call
    resources: ResourceUsage
    memory_trend: MemoryTrend
    degradation: tuple[DegradationCheck, ...]
    worked_well: tuple[Verdict, ...]
    worked_poorly: tuple[Verdict, ...]
    # Judged once, when the analysis is made: the score, the report and the events
    # recorded for a session all read these rather than applying the rules again.
    detected_issues: tuple[IssueSpec, ...]  # most severe first
    open_issues: tuple[OpenIssue, ...]  # recorded merged with detected, most severe first
    recorded_issues: tuple[Mapping[str, Any], ...] = field(default=())
    recorded_suggestions: tuple[Mapping[str, Any], ...] = field(default=())
    # Set once ``realworld archive`` moved the session's detail to a segment: its rows
    # here are what the archive kept, and the report says so rather than "no activities".
    archived: ArchivedDetail | None = None
    # Findings the workspace's configuration hid, per rule and skip (the scanner's latest
    # full pass): the report says so, so nothing is left out unseen.
    skipped_by_configuration: tuple[ConfiguredSkip, ...] = field(default=())

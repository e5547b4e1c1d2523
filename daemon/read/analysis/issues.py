"""The issue rules: what a session's measures show is wrong, and its open issues.

Severities follow the thresholds of :mod:`daemon.read.analysis.thresholds`:

==========================  ==========================================================
issue_type                  raised when
==========================  ==========================================================
``low_success_rate``        success < 85%: medium; < 70%: high; < 50% with >= 3 calls:
                            critical
``slow_response``           average > 2000 ms: high; > 5000 ms: critical (change
                            batches only: a full pass's time is the workspace's size)
``performance_degradation`` degraded: medium; last/first >= 3x: high
``response_outliers``       any 3-sigma outlier: low
``memory_leak``             leak suspected: medium; >= 100 MB/hour: high
``high_cpu``                CPU grade poor (> 90%): medium
``high_memory``             memory grade critical (> 95%): high
==========================  ==========================================================

The rules run once per analysis (:func:`daemon.read.analysis.aggregate.analyze` keeps
their result in ``SessionAnalysis.detected_issues``); everything after reads that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from daemon.read.analysis import grades
from daemon.read.analysis.model import (
    CapabilityStats,
    DegradationCheck,
    IssueSpec,
    MemoryTrend,
    OpenIssue,
    ResourceUsage,
    SessionAnalysis,
)
from daemon.read.analysis.rows import (
    PROCESS_CAPABILITY,
    SYSTEM_CAPABILITY,
    Row,
    short_message,
    stored_bool,
)
from daemon.read.analysis.thresholds import (
    CRITICAL_MIN_CALLS,
    CRITICAL_SUCCESS,
    DEGRADE_HIGH_RATIO,
    ISSUE_HIGH_SUCCESS,
    ISSUE_MEDIUM_SUCCESS,
    LEAK_HIGH_SLOPE_MB_H,
    SLOW_AVG_MS,
    VERY_SLOW_AVG_MS,
)
from daemon.types import severity_rank, stable_id


def _success_issue(stat: CapabilityStats) -> IssueSpec | None:
    rate = stat.success_rate
    if stat.calls == 0 or rate >= ISSUE_MEDIUM_SUCCESS:
        return None
    if rate < CRITICAL_SUCCESS and stat.calls >= CRITICAL_MIN_CALLS:
        severity = "critical"
    elif rate < ISSUE_HIGH_SUCCESS:
        severity = "high"
    else:
        severity = "medium"
    description = (f"Frequent failures: {stat.errors} of {stat.calls} calls failed "
                   f"({rate:.1f}% success)")
    top_count = 0
    if stat.error_messages:
        top_message, top_count = stat.error_messages[0]
        description += f", most often: {short_message(top_message)}"
    return IssueSpec(
        issue_key=f"{stat.capability}:low_success_rate",
        severity=severity,
        capability=stat.capability,
        issue_type="low_success_rate",
        description=description,
        suggested_fix=f"Add error handling and retries in {stat.capability}",
        reproducible=top_count >= 2,
    )


def _slow_issue(stat: CapabilityStats) -> IssueSpec | None:
    if stat.judged_calls == 0 or stat.judged_avg_response <= SLOW_AVG_MS:
        return None
    over = (f" over {stat.judged_calls} change batches, {stat.full_pass_calls} full passes "
            "not judged" if stat.full_pass_calls else "")
    return IssueSpec(
        issue_key=f"{stat.capability}:slow_response",
        severity="critical" if stat.judged_avg_response > VERY_SLOW_AVG_MS else "high",
        capability=stat.capability,
        issue_type="slow_response",
        description=(f"Slow response times affecting UX (average "
                     f"{stat.judged_avg_response:.0f}ms, p95 {stat.judged_p95_response:.0f}ms"
                     f"{over})"),
        suggested_fix=f"Optimize the {stat.capability} algorithm or add caching",
        # Consistently slow, not one slow call dragging the average up.
        reproducible=stat.judged_median_response > SLOW_AVG_MS,
    )


def _outlier_issue(stat: CapabilityStats) -> IssueSpec | None:
    if not stat.outliers:
        return None
    count = len(stat.outliers)
    return IssueSpec(
        issue_key=f"{stat.capability}:response_outliers",
        severity="low",
        capability=stat.capability,
        issue_type="response_outliers",
        description=(f"{count} call{'s' if count != 1 else ''} beyond 3 standard deviations "
                     f"(slowest {max(stat.outliers):.0f}ms, average {stat.avg_response:.0f}ms)"),
        suggested_fix=f"Find which inputs make {stat.capability} slow and bound its time per call",
        reproducible=False,
    )


def _degradation_issue(check: DegradationCheck) -> IssueSpec | None:
    if not check.degraded:
        return None
    return IssueSpec(
        issue_key=f"{check.capability}:performance_degradation",
        severity="high" if check.ratio >= DEGRADE_HIGH_RATIO else "medium",
        capability=check.capability,
        issue_type="performance_degradation",
        description=(f"Response time degrades over the session: median "
                     f"{check.first_median_ms:.0f}ms in the first third, "
                     f"{check.last_median_ms:.0f}ms in the last ({check.ratio:.1f}x)"),
        suggested_fix=(f"Look for caches, queues or indexes in {check.capability} "
                       "that grow with the session"),
        reproducible=True,
    )


def _memory_issue(trend: MemoryTrend) -> IssueSpec | None:
    if not trend.leak_suspected:
        return None
    return IssueSpec(
        issue_key=f"{PROCESS_CAPABILITY}:memory_leak",
        severity="high" if trend.slope_mb_per_hour >= LEAK_HIGH_SLOPE_MB_H else "medium",
        capability=PROCESS_CAPABILITY,
        issue_type="memory_leak",
        description=(f"Process memory grows {trend.slope_mb_per_hour:.1f} MB/hour "
                     f"(R² {trend.r_squared:.2f}, {trend.start_mb:.0f} -> {trend.end_mb:.0f} MB "
                     f"over {trend.span_minutes:.0f} minutes)"),
        suggested_fix="Profile allocations (tracemalloc) and bound caches that grow per change",
        reproducible=True,
    )


def _resource_issues(res: ResourceUsage) -> list[IssueSpec]:
    found: list[IssueSpec] = []
    if res.cpu_grade == grades.POOR and res.avg_cpu_percent is not None:
        found.append(IssueSpec(
            issue_key=f"{SYSTEM_CAPABILITY}:high_cpu",
            severity="medium",
            capability=SYSTEM_CAPABILITY,
            issue_type="high_cpu",
            description=f"Average CPU usage {res.avg_cpu_percent:.1f}% is above 90%",
            suggested_fix="Run fewer analyzers at once or lengthen the settle delay",
            reproducible=True,
        ))
    if res.memory_grade == grades.CRITICAL and res.avg_memory_percent is not None:
        found.append(IssueSpec(
            issue_key=f"{SYSTEM_CAPABILITY}:high_memory",
            severity="high",
            capability=SYSTEM_CAPABILITY,
            issue_type="high_memory",
            description=f"Average memory usage {res.avg_memory_percent:.1f}% is above 95%",
            suggested_fix="Lower the memory limit or index fewer files at once",
            reproducible=True,
        ))
    return found


def detect(capabilities: Sequence[CapabilityStats], degradation: Sequence[DegradationCheck],
           trend: MemoryTrend, resources: ResourceUsage) -> tuple[IssueSpec, ...]:
    """The issues these measures show, most severe first (the rules in the module docstring)."""
    found: list[IssueSpec] = []
    checks = {c.capability: c for c in degradation}
    for stat in capabilities:
        for spec in (_success_issue(stat), _slow_issue(stat),
                     _degradation_issue(checks[stat.capability]), _outlier_issue(stat)):
            if spec is not None:
                found.append(spec)
    leak = _memory_issue(trend)
    if leak is not None:
        found.append(leak)
    found.extend(_resource_issues(resources))
    found.sort(key=lambda s: severity_rank(s.severity))
    return tuple(found)


def detect_issues(analysis: SessionAnalysis) -> list[IssueSpec]:
    """The issues the session's numbers show, most severe first, as :func:`detect` found them."""
    return list(analysis.detected_issues)


def issue_id(session_id: str, issue_key: str) -> str:
    """Deterministic, so the same condition in the same session is the same issue."""
    return stable_id(session_id, issue_key)


def merge_issues(session_id: str, recorded: Sequence[Row],
                 detected: Sequence[IssueSpec]) -> tuple[OpenIssue, ...]:
    """Recorded issues plus those just detected, one per issue_id, critical first.

    A detected issue replaces the recorded row with its id (its words are fresher);
    within a severity, recorded issues keep their table order ahead of new ones.
    """
    merged: dict[str, OpenIssue] = {}
    for row in recorded:
        key = str(row.get("issue_id", f"row{len(merged)}"))
        merged[key] = OpenIssue(
            issue_id=row.get("issue_id"),
            severity=str(row.get("severity") or "info"),
            capability=row.get("capability"),
            issue_type=row.get("issue_type"),
            description=row.get("description"),
            suggested_fix=row.get("suggested_fix"),
            reproducible=stored_bool(row.get("reproducible")),
        )
    for spec in detected:
        ident = issue_id(session_id, spec.issue_key)
        merged[ident] = OpenIssue(ident, spec.severity, spec.capability, spec.issue_type,
                                  spec.description, spec.suggested_fix, spec.reproducible)
    return tuple(sorted(merged.values(), key=lambda i: severity_rank(i.severity)))


def top_issues(analysis: SessionAnalysis) -> list[dict[str, Any]]:
    """The session's open issues as the API dict lists them (:func:`merge_issues`)."""
    return [asdict(issue) for issue in analysis.open_issues]

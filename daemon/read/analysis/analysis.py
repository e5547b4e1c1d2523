"""The analysis engine: a session's projection rows in, judgements and the API dict out.

Everything here is a pure function over plain rows (dicts keyed by the projection
tables' column names); reading SQLite and appending events is the caller's business.

Thresholds, and why
-------------------

Grades and the UX quality score come from :mod:`daemon.read.analysis.grades` (boundaries there).

* **Percentages.** Success rate is ``successes / calls * 100``. A session (or a
  capability) with no calls has a success rate of **0.0**, not 100: nothing was shown
  to work, and a quality gate must not pass a session that measured nothing. Averages
  of nothing are 0.0; the grades and UX score of a capability without timed calls are
  ``None``.
* **p95** interpolates linearly between closest ranks
  (:func:`daemon.read.analysis.stats.percentile`).
* **Outliers** are calls farther than 3 population standard deviations from their
  capability's mean (the spec's ">3 std dev").
* **Worked well**: success rate >= 95% *and* average response < 500 ms, the spec's
  "High success rate (100.0%) and fast response (245ms)" (its 95.0% example is
  included, so the bound is inclusive; 500 ms is no longer "Excellent").
* **Worked poorly**: success rate < 80% *or* average response > 2000 ms, the spec's
  "Low success rate (60.0%) or slow response (2134ms)". 2000 ms itself is not slow:
  the UX scale calls only ">2000ms" slow.
* **Memory leak**: least-squares slope of process RSS over time. Samples are the
  ``performance_metrics`` rows of capability ``realworld``, type ``memory_usage``, unit
  ``MB`` (periodic, so unbiased by bursts of work) when there are at least two, else the
  activities' ``memory_after_mb``. A leak is suspected when there are >= 5 samples
  spanning >= 5 minutes, the slope is >= 10 MB/hour, R² >= 0.8 (growth is steady, not
  one step such as an index being loaded) and the fitted growth over the span is
  >= 20 MB (a few MB of warm-up is not worth an issue).
* **Degradation**: per capability (mixing capabilities would confuse a change of
  workload with a slowdown), timed calls in time order, needing >= 9 (three per third).
  Degraded when the median of the last third is > 1.5x the median of the first third
  and at least 50 ms slower (so 2 ms -> 4 ms jitter is not a finding). Medians below
  1 ms count as 1 ms so the ratio stays finite.

Derived judgements
------------------

:func:`detect_issues` (severity from the same thresholds):

==========================  ==========================================================
issue_type                  raised when
==========================  ==========================================================
``low_success_rate``        success < 85%: medium; < 70%: high; < 50% with >= 3 calls:
                            critical
``slow_response``           average > 2000 ms: high; > 5000 ms: critical
``performance_degradation`` degraded (above): medium; last/first >= 3x: high
``response_outliers``       any 3-sigma outlier: low
``memory_leak``             leak suspected: medium; >= 100 MB/hour: high
``high_cpu``                CPU grade poor (> 90%): medium
``high_memory``             memory grade critical (> 95%): high
==========================  ==========================================================

:func:`suggest`: ``reliability`` "Fix error handling in X" below 95% success
(critical < 50% with >= 3 calls, high < 80%, else medium); ``performance`` "Optimize X -
response time is too slow" above 2000 ms (high above 5000 ms, else medium) and one for
degradation; ``resource_optimization`` for a leak, CPU > 90% or memory > 95%;
``bug_fix`` for an error message repeated >= 3 times in one capability. Suggestion
texts carry no numbers (those are in the rationale), so the same advice is recognised
when it is made again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from daemon.log.events import IssueDetected, IssueUpdated, SuggestionMade
from daemon.read.analysis import grades, stats
from daemon.read.analysis.scoring import score_breakdown
from daemon.read.analysis.series import epoch as _epoch
from daemon.types import severity_rank, stable_id

Row = Mapping[str, Any]

WELL_MIN_SUCCESS: Final = 95.0
WELL_MAX_AVG_MS: Final = 500.0  # exclusive
POOR_MIN_SUCCESS: Final = 80.0  # below this is poor
SLOW_AVG_MS: Final = 2000.0  # above this is slow
VERY_SLOW_AVG_MS: Final = 5000.0  # above this is poor / critical
RELIABLE_SUCCESS: Final = 95.0  # below this a reliability suggestion is made

ISSUE_MEDIUM_SUCCESS: Final = 85.0
ISSUE_HIGH_SUCCESS: Final = 70.0
CRITICAL_SUCCESS: Final = 50.0
CRITICAL_MIN_CALLS: Final = 3

OUTLIER_SIGMAS: Final = 3.0

LEAK_MIN_SAMPLES: Final = 5
LEAK_MIN_SPAN_S: Final = 300.0
LEAK_MIN_SLOPE_MB_H: Final = 10.0
LEAK_MIN_R2: Final = 0.8
LEAK_MIN_GROWTH_MB: Final = 20.0
LEAK_HIGH_SLOPE_MB_H: Final = 100.0

DEGRADE_MIN_CALLS: Final = 9
DEGRADE_RATIO: Final = 1.5
DEGRADE_MIN_DELTA_MS: Final = 50.0
DEGRADE_HIGH_RATIO: Final = 3.0

RECURRING_ERROR_MIN: Final = 3

PROCESS_CAPABILITY: Final = "realworld"
SYSTEM_CAPABILITY: Final = "system"



# --- results ----------------------------------------------------------------


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


@dataclass(frozen=True)
class Summary:
    total_activities: int
    total_errors: int
    success_rate: float  # percent
    avg_response_time: float  # ms
    p95_response_time: float
    avg_cpu_usage: float  # percent, activities' cpu_after (as test_sessions)
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
    recorded_issues: tuple[Mapping[str, Any], ...] = field(default=())
    recorded_suggestions: tuple[Mapping[str, Any], ...] = field(default=())

    def issue_severities(self) -> list[str]:
        """Severities of every open issue, recorded or just detected (for scoring)."""
        return [str(issue["severity"]) for issue in top_issues(self)]


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
class SuggestionSpec:
    category: str  # performance, reliability, resource_optimization, bug_fix
    priority: str  # critical, high, medium, low
    suggestion: str
    rationale: str
    estimated_impact: str


# --- row helpers ------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _succeeded(row: Row) -> bool:
    value = row.get("success")
    if value is None:
        # No verdict recorded: an error message is the only evidence of failure.
        return row.get("error_message") is None
    return bool(value)


def _in_session(rows: Iterable[Row], session_id: str) -> list[Row]:
    if not session_id:
        return list(rows)
    return [r for r in rows if r.get("session_id") in (None, session_id)]


def _in_time_order(rows: Sequence[Row]) -> list[Row]:
    # Unparseable timestamps sort last, keeping their given order among themselves.
    keyed = [(_epoch(r.get("timestamp")), i, r) for i, r in enumerate(rows)]
    keyed.sort(key=lambda item: (item[0] is None, item[0] or 0.0, item[1]))
    return [r for _, _, r in keyed]


def _metric_values(metrics: Sequence[Row], capability: str, metric_type: str,
                   unit: str) -> list[tuple[float | None, float]]:
    found: list[tuple[float | None, float]] = []
    for row in metrics:
        if (row.get("capability") == capability and row.get("metric_type") == metric_type
                and row.get("unit") == unit):
            value = _number(row.get("value"))
            if value is not None:
                found.append((_epoch(row.get("timestamp")), value))
    return found


def _pct(part: int, whole: int) -> float:
    return part * 100.0 / whole if whole else 0.0


# --- analysis ---------------------------------------------------------------


def _capability_stats(capability: str, rows: Sequence[Row]) -> CapabilityStats:
    calls = len(rows)
    successes = sum(1 for r in rows if _succeeded(r))
    times = [t for t in (_number(r.get("response_time_ms")) for r in rows) if t is not None]
    rate = _pct(successes, calls)
    avg = stats.mean(times)
    messages = Counter(str(r["error_message"]) for r in rows
                       if not _succeeded(r) and r.get("error_message"))
    return CapabilityStats(
        capability=capability,
        calls=calls,
        successes=successes,
        errors=calls - successes,
        success_rate=rate,
        timed_calls=len(times),
        avg_response=avg,
        p95_response=stats.percentile(times, 95),
        min_response=min(times, default=0.0),
        max_response=max(times, default=0.0),
        median_response=stats.median(times),
        outliers=tuple(stats.outliers(times, OUTLIER_SIGMAS)),
        grade=grades.response_time_grade(avg) if times else None,
        success_grade=grades.success_rate_grade(rate),
        ux_score=stats.mean([grades.ux_quality_score(t) for t in times]) if times else None,
        error_messages=tuple(messages.most_common()),
    )


def _summary(activities: Sequence[Row]) -> Summary:
    total = len(activities)
    errors = sum(1 for r in activities if not _succeeded(r))
    times = [t for t in (_number(r.get("response_time_ms")) for r in activities)
             if t is not None]
    cpu = [v for v in (_number(r.get("cpu_after")) for r in activities) if v is not None]
    memory = [v for v in (_number(r.get("memory_after_mb")) for r in activities)
              if v is not None]
    return Summary(
        total_activities=total,
        total_errors=errors,
        success_rate=_pct(total - errors, total),
        avg_response_time=stats.mean(times),
        p95_response_time=stats.percentile(times, 95),
        avg_cpu_usage=stats.mean(cpu),
        avg_memory_usage=stats.mean(memory),
        ux_score=stats.mean([grades.ux_quality_score(t) for t in times]),
    )


def _resources(activities: Sequence[Row], metrics: Sequence[Row]) -> ResourceUsage:
    # Periodic samples describe the whole session; cpu_after is taken right after
    # work and so runs hot, which is why it is only the fallback.
    cpu = [v for _, v in _metric_values(metrics, SYSTEM_CAPABILITY, "cpu_usage", "percent")]
    cpu_source: str | None = "system_metrics" if cpu else None
    if not cpu:
        cpu = [v for v in (_number(r.get("cpu_after")) for r in activities) if v is not None]
        cpu_source = "activities" if cpu else None
    memory = [v for _, v in _metric_values(metrics, SYSTEM_CAPABILITY, "memory_usage",
                                           "percent")]
    rss = [v for _, v in _metric_values(metrics, PROCESS_CAPABILITY, "memory_usage", "MB")]
    if not rss:
        rss = [v for v in (_number(r.get("memory_after_mb")) for r in activities)
               if v is not None]
    disk = [v for _, v in _metric_values(metrics, SYSTEM_CAPABILITY, "disk_usage", "percent")]
    avg_cpu = stats.mean(cpu) if cpu else None
    avg_memory = stats.mean(memory) if memory else None
    return ResourceUsage(
        cpu_source=cpu_source,
        avg_cpu_percent=avg_cpu,
        peak_cpu_percent=max(cpu) if cpu else None,
        cpu_grade=grades.cpu_grade(avg_cpu) if avg_cpu is not None else None,
        avg_memory_percent=avg_memory,
        peak_memory_percent=max(memory) if memory else None,
        memory_grade=grades.memory_grade(avg_memory) if avg_memory is not None else None,
        avg_process_memory_mb=stats.mean(rss) if rss else None,
        peak_process_memory_mb=max(rss) if rss else None,
        peak_disk_percent=max(disk) if disk else None,
    )


def memory_trend(activities: Sequence[Row], metrics: Sequence[Row]) -> MemoryTrend:
    """Least-squares growth of process RSS over the session (thresholds above)."""
    points = [(t, v) for t, v in _metric_values(metrics, PROCESS_CAPABILITY, "memory_usage",
                                                "MB") if t is not None]
    source: str | None = "process_metrics"
    if len(points) < 2:
        points = [(t, v) for t, v in ((_epoch(r.get("timestamp")),
                                       _number(r.get("memory_after_mb"))) for r in activities)
                  if t is not None and v is not None]
        source = "activities"
    if not points:
        return MemoryTrend(None, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False)
    points.sort(key=lambda p: p[0])
    origin = points[0][0]
    hours = [(t - origin) / 3600.0 for t, _ in points]
    values = [v for _, v in points]
    fit = stats.least_squares(hours, values)
    span_s = points[-1][0] - origin
    growth = fit.slope * span_s / 3600.0
    leak = (len(points) >= LEAK_MIN_SAMPLES and span_s >= LEAK_MIN_SPAN_S
            and fit.slope >= LEAK_MIN_SLOPE_MB_H and fit.r_squared >= LEAK_MIN_R2
            and growth >= LEAK_MIN_GROWTH_MB)
    return MemoryTrend(
        source=source,
        samples=len(points),
        span_minutes=span_s / 60.0,
        start_mb=values[0],
        end_mb=values[-1],
        slope_mb_per_hour=fit.slope,
        r_squared=fit.r_squared,
        growth_mb=growth,
        leak_suspected=leak,
    )


def degradation_check(capability: str, ordered_times: Sequence[float]) -> DegradationCheck:
    """Compare the first and last thirds of a capability's response times (time order)."""
    n = len(ordered_times)
    third = n // 3
    if n < DEGRADE_MIN_CALLS:
        return DegradationCheck(capability, n, 0.0, 0.0, 1.0, False)
    first = stats.median(ordered_times[:third])
    last = stats.median(ordered_times[-third:])
    ratio = max(last, 1.0) / max(first, 1.0)
    degraded = ratio > DEGRADE_RATIO and last - first >= DEGRADE_MIN_DELTA_MS
    return DegradationCheck(capability, n, first, last, ratio, degraded)


def well_reason(stat: CapabilityStats) -> str:
    return (f"High success rate ({stat.success_rate:.1f}%) and fast response "
            f"({stat.avg_response:.0f}ms)")


def poor_reason(stat: CapabilityStats) -> str:
    # The spec's wording names both measures whichever one tripped.
    return (f"Low success rate ({stat.success_rate:.1f}%) or slow response "
            f"({stat.avg_response:.0f}ms)")


def worked_well(stat: CapabilityStats) -> bool:
    return (stat.calls > 0 and stat.success_rate >= WELL_MIN_SUCCESS
            and stat.avg_response < WELL_MAX_AVG_MS)


def worked_poorly(stat: CapabilityStats) -> bool:
    return stat.calls > 0 and (stat.success_rate < POOR_MIN_SUCCESS
                               or stat.avg_response > SLOW_AVG_MS)


def analyze(session: Row, activities: Sequence[Row], metrics: Sequence[Row],
            issues: Sequence[Row], suggestions: Sequence[Row]) -> SessionAnalysis:
    """Analyse one session from its projection rows; rows of other sessions are ignored."""
    session_id = str(session.get("session_id") or "")
    ordered = _in_time_order(_in_session(activities, session_id))
    session_metrics = _in_session(metrics, session_id)
    by_capability: dict[str, list[Row]] = {}
    for row in ordered:
        by_capability.setdefault(str(row.get("capability") or "unknown"), []).append(row)
    capabilities = tuple(_capability_stats(name, rows) for name, rows in by_capability.items())
    degradation = tuple(
        degradation_check(name, [t for t in (_number(r.get("response_time_ms")) for r in rows)
                                 if t is not None])
        for name, rows in by_capability.items()
    )
    return SessionAnalysis(
        session_id=session_id,
        session=dict(session),
        summary=_summary(ordered),
        capabilities=capabilities,
        resources=_resources(ordered, session_metrics),
        memory_trend=memory_trend(ordered, session_metrics),
        degradation=degradation,
        worked_well=tuple(Verdict(s.capability, well_reason(s), s.success_rate, s.avg_response)
                          for s in capabilities if worked_well(s)),
        worked_poorly=tuple(Verdict(s.capability, poor_reason(s), s.success_rate,
                                    s.avg_response)
                            for s in capabilities if worked_poorly(s)),
        recorded_issues=tuple(dict(r) for r in _in_session(issues, session_id)),
        recorded_suggestions=tuple(dict(r) for r in _in_session(suggestions, session_id)),
    )


# --- issues -----------------------------------------------------------------


def _short(message: str, limit: int = 80) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


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
        description += f", most often: {_short(top_message)}"
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
    if stat.timed_calls == 0 or stat.avg_response <= SLOW_AVG_MS:
        return None
    return IssueSpec(
        issue_key=f"{stat.capability}:slow_response",
        severity="critical" if stat.avg_response > VERY_SLOW_AVG_MS else "high",
        capability=stat.capability,
        issue_type="slow_response",
        description=(f"Slow response times affecting UX (average {stat.avg_response:.0f}ms, "
                     f"p95 {stat.p95_response:.0f}ms)"),
        suggested_fix=f"Optimize the {stat.capability} algorithm or add caching",
        # Consistently slow, not one slow call dragging the average up.
        reproducible=stat.median_response > SLOW_AVG_MS,
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


def detect_issues(analysis: SessionAnalysis) -> list[IssueSpec]:
    """The issues the session's numbers show, most severe first (rules in the docstring)."""
    found: list[IssueSpec] = []
    checks = {c.capability: c for c in analysis.degradation}
    for stat in analysis.capabilities:
        for spec in (_success_issue(stat), _slow_issue(stat),
                     _degradation_issue(checks[stat.capability]), _outlier_issue(stat)):
            if spec is not None:
                found.append(spec)
    leak = _memory_issue(analysis.memory_trend)
    if leak is not None:
        found.append(leak)
    found.extend(_resource_issues(analysis.resources))
    found.sort(key=lambda s: severity_rank(s.severity))
    return found


def issue_id(session_id: str, issue_key: str) -> str:
    """Deterministic, so the same condition in the same session is the same issue."""
    return stable_id(session_id, issue_key)


def _stored_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def plan_issue_events(existing_issue_rows: Sequence[Row], specs: Sequence[IssueSpec],
                      session_id: str) -> list[IssueDetected | IssueUpdated]:
    """Events that bring the ``issues`` table in line with ``specs``, and nothing more.

    A key not yet in the table becomes :class:`IssueDetected`; a key already there
    becomes :class:`IssueUpdated` carrying only the fields that changed, or nothing
    when none did. Events are returned bare: the caller wraps them in envelopes with
    its own clock, which keeps this function pure. Issues that no longer hold are
    left as they are (the log has no "resolved" event for issues).
    """
    existing = {str(r.get("issue_id")): r for r in existing_issue_rows}
    planned: list[IssueDetected | IssueUpdated] = []
    seen: set[str] = set()
    for spec in specs:
        ident = issue_id(session_id, spec.issue_key)
        if ident in seen:
            continue
        seen.add(ident)
        row = existing.get(ident)
        if row is None:
            planned.append(IssueDetected(
                session_id, ident, spec.severity, spec.capability, spec.issue_type,
                description=spec.description, suggested_fix=spec.suggested_fix,
                reproducible=spec.reproducible))
            continue
        severity = spec.severity if row.get("severity") != spec.severity else None
        description = spec.description if row.get("description") != spec.description else None
        fix = spec.suggested_fix if row.get("suggested_fix") != spec.suggested_fix else None
        reproducible = (spec.reproducible
                        if _stored_bool(row.get("reproducible")) != spec.reproducible else None)
        if any(v is not None for v in (severity, description, fix, reproducible)):
            planned.append(IssueUpdated(session_id, ident, severity=severity,
                                        description=description, suggested_fix=fix,
                                        reproducible=reproducible))
    return planned


def _spec_as_row(session_id: str, spec: IssueSpec) -> dict[str, Any]:
    return {
        "issue_id": issue_id(session_id, spec.issue_key),
        "severity": spec.severity,
        "capability": spec.capability,
        "issue_type": spec.issue_type,
        "description": spec.description,
        "suggested_fix": spec.suggested_fix,
        "reproducible": spec.reproducible,
    }


def top_issues(analysis: SessionAnalysis) -> list[dict[str, Any]]:
    """Recorded issues plus those just detected, one per issue_id, critical first.

    A detected issue replaces the recorded row with its id (its words are fresher);
    within a severity, recorded issues keep their table order ahead of new ones.
    """
    merged: dict[str, dict[str, Any]] = {}
    for row in analysis.recorded_issues:
        key = str(row.get("issue_id", f"row{len(merged)}"))
        merged[key] = {
            "issue_id": row.get("issue_id"),
            "severity": str(row.get("severity") or "info"),
            "capability": row.get("capability"),
            "issue_type": row.get("issue_type"),
            "description": row.get("description"),
            "suggested_fix": row.get("suggested_fix"),
            "reproducible": _stored_bool(row.get("reproducible")),
        }
    for spec in detect_issues(analysis):
        item = _spec_as_row(analysis.session_id, spec)
        merged[item["issue_id"]] = item
    return sorted(merged.values(), key=lambda i: severity_rank(i["severity"]))


# --- suggestions ------------------------------------------------------------


def _capability_suggestions(stat: CapabilityStats) -> list[SuggestionSpec]:
    made: list[SuggestionSpec] = []
    name = stat.capability
    if stat.calls and stat.success_rate < RELIABLE_SUCCESS:
        if stat.success_rate < CRITICAL_SUCCESS and stat.calls >= CRITICAL_MIN_CALLS:
            priority = "critical"
        elif stat.success_rate < POOR_MIN_SUCCESS:
            priority = "high"
        else:
            priority = "medium"
        made.append(SuggestionSpec(
            "reliability", priority, f"Fix error handling in {name}",
            f"Success rate is only {stat.success_rate:.1f}%",
            "Could improve success rate to 95%+"))
    if stat.timed_calls and stat.avg_response > SLOW_AVG_MS:
        made.append(SuggestionSpec(
            "performance", "high" if stat.avg_response > VERY_SLOW_AVG_MS else "medium",
            f"Optimize {name} - response time is too slow",
            f"Average response time is {stat.avg_response:.0f}ms",
            # The spec's estimate: halving the average is what optimization buys.
            f"Could improve response time by {stat.avg_response / 2:.0f}ms"))
    for message, count in stat.error_messages:
        if count >= RECURRING_ERROR_MIN:
            made.append(SuggestionSpec(
                "bug_fix", "medium", f"Fix the recurring error in {name}: {_short(message)}",
                f"The same error occurred {count} times in {stat.calls} calls",
                f"Could remove {count} failures per session"))
    return made


def suggest(analysis: SessionAnalysis) -> list[SuggestionSpec]:
    """Actionable improvements in the spec's words, highest priority first."""
    made: list[SuggestionSpec] = []
    for stat in analysis.capabilities:
        made.extend(_capability_suggestions(stat))
    for check in analysis.degradation:
        if check.degraded:
            made.append(SuggestionSpec(
                "performance", "medium", f"Find what slows {check.capability} down over time",
                (f"Median response time rose from {check.first_median_ms:.0f}ms to "
                 f"{check.last_median_ms:.0f}ms ({check.ratio:.1f}x)"),
                f"Could keep response time near {check.first_median_ms:.0f}ms in long sessions"))
    trend = analysis.memory_trend
    if trend.leak_suspected:
        made.append(SuggestionSpec(
            "resource_optimization",
            "high" if trend.slope_mb_per_hour >= LEAK_HIGH_SLOPE_MB_H else "medium",
            f"Fix memory growth in the {PROCESS_CAPABILITY} process",
            f"Process memory grows {trend.slope_mb_per_hour:.1f} MB/hour",
            f"Could save {trend.slope_mb_per_hour:.0f} MB per hour of running"))
    res = analysis.resources
    if res.cpu_grade == grades.POOR and res.avg_cpu_percent is not None:
        made.append(SuggestionSpec(
            "resource_optimization", "medium", "Reduce CPU usage during analysis",
            f"Average CPU usage is {res.avg_cpu_percent:.1f}%",
            "Could bring CPU usage below 70%"))
    if res.memory_grade == grades.CRITICAL and res.avg_memory_percent is not None:
        made.append(SuggestionSpec(
            "resource_optimization", "high", "Reduce memory usage during analysis",
            f"Average memory usage is {res.avg_memory_percent:.1f}%",
            "Could bring memory usage below 85%"))
    made.sort(key=lambda s: severity_rank(s.priority))
    return made


def plan_suggestion_events(existing_suggestion_rows: Sequence[Row],
                           specs: Sequence[SuggestionSpec],
                           session_id: str) -> list[SuggestionMade]:
    """A :class:`SuggestionMade` per suggestion text not yet made in this session."""
    made = {str(r.get("suggestion")) for r in _in_session(existing_suggestion_rows, session_id)}
    planned: list[SuggestionMade] = []
    for spec in specs:
        if spec.suggestion in made:
            continue
        made.add(spec.suggestion)
        planned.append(SuggestionMade(session_id, spec.category, spec.priority,
                                      spec.suggestion, rationale=spec.rationale,
                                      estimated_impact=spec.estimated_impact))
    return planned


def all_suggestions(analysis: SessionAnalysis) -> list[dict[str, Any]]:
    """Recorded suggestions plus new ones whose text is not recorded yet, by priority."""
    items: list[dict[str, Any]] = [
        {key: row.get(key) for key in ("category", "priority", "suggestion", "rationale",
                                       "estimated_impact")}
        for row in analysis.recorded_suggestions
    ]
    for event in plan_suggestion_events(analysis.recorded_suggestions, suggest(analysis),
                                        analysis.session_id):
        items.append({"category": event.category, "priority": event.priority,
                      "suggestion": event.suggestion, "rationale": event.rationale,
                      "estimated_impact": event.estimated_impact})
    return sorted(items, key=lambda s: severity_rank(str(s["priority"])))


# --- the API dict -----------------------------------------------------------


def _capability_dict(stat: CapabilityStats) -> dict[str, Any]:
    return {
        "capability": stat.capability,
        "calls": stat.calls,
        "successes": stat.successes,
        "errors": stat.errors,
        "success_rate": stat.success_rate,
        "avg_response": stat.avg_response,
        "p95_response": stat.p95_response,
        "min_response": stat.min_response,
        "max_response": stat.max_response,
        "outliers": len(stat.outliers),
        "grade": stat.grade,
        "success_grade": stat.success_grade,
        "ux_score": stat.ux_score,
    }


def _verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {"capability": verdict.capability, "reason": verdict.reason,
            "success_rate": verdict.success_rate, "avg_response": verdict.avg_response}


def to_api_dict(analysis: SessionAnalysis) -> dict[str, Any]:
    """What ``RealWorldTester.analyze_session_results`` returns; JSON-serialisable.

    ``session.overall_score`` is computed afresh
    (:func:`daemon.read.analysis.scoring.overall_score`) rather than read from the row,
    which stays 0 until a score is recorded.
    ``activities_by_capability`` is slowest first, like the spec's per-capability query.
    """
    s = analysis.summary
    r = analysis.resources
    t = analysis.memory_trend
    breakdown = score_breakdown(analysis)
    session = {**analysis.session, "session_id": analysis.session_id,
               "overall_score": breakdown.overall}
    return {
        "session": session,
        "summary": {
            "total_activities": s.total_activities,
            "total_errors": s.total_errors,
            "success_rate": s.success_rate,
            "avg_response_time": s.avg_response_time,
            "p95_response_time": s.p95_response_time,
            "avg_cpu_usage": s.avg_cpu_usage,
            "avg_memory_usage": s.avg_memory_usage,
            "ux_score": s.ux_score,
        },
        "score": {
            "overall": breakdown.overall,
            "success": breakdown.success,
            "ux_quality": breakdown.ux_quality,
            "resources": breakdown.resources,
            "penalty": breakdown.penalty,
            "critical_issues": breakdown.critical_issues,
            "high_issues": breakdown.high_issues,
        },
        "activities_by_capability": [
            _capability_dict(c) for c in sorted(analysis.capabilities,
                                                key=lambda c: (-c.avg_response, c.capability))
        ],
        "top_issues": top_issues(analysis),
        "worked_well": [_verdict_dict(v) for v in analysis.worked_well],
        "worked_poorly": [_verdict_dict(v) for v in analysis.worked_poorly],
        "suggestions": all_suggestions(analysis),
        "resource_usage": {
            "cpu_source": r.cpu_source,
            "avg_cpu_percent": r.avg_cpu_percent,
            "peak_cpu_percent": r.peak_cpu_percent,
            "cpu_grade": r.cpu_grade,
            "avg_memory_percent": r.avg_memory_percent,
            "peak_memory_percent": r.peak_memory_percent,
            "memory_grade": r.memory_grade,
            "avg_process_memory_mb": r.avg_process_memory_mb,
            "peak_process_memory_mb": r.peak_process_memory_mb,
            "peak_disk_percent": r.peak_disk_percent,
        },
        "memory_trend": {
            "source": t.source,
            "samples": t.samples,
            "span_minutes": t.span_minutes,
            "start_mb": t.start_mb,
            "end_mb": t.end_mb,
            "slope_mb_per_hour": t.slope_mb_per_hour,
            "r_squared": t.r_squared,
            "growth_mb": t.growth_mb,
            "leak_suspected": t.leak_suspected,
        },
        "degradation": {
            "detected": any(c.degraded for c in analysis.degradation),
            "capabilities": [
                {"capability": c.capability, "samples": c.samples,
                 "first_median_ms": c.first_median_ms, "last_median_ms": c.last_median_ms,
                 "ratio": c.ratio, "degraded": c.degraded}
                for c in analysis.degradation
            ],
        },
    }

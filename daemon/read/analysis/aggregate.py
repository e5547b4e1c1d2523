"""A session's projection rows in, its :class:`SessionAnalysis` out.

Pure functions over plain rows (dicts keyed by the projection tables' column names);
reading SQLite and appending events is the caller's business. The rows are reduced to
the measures of :mod:`daemon.read.analysis.model` by the bounds of
:mod:`daemon.read.analysis.thresholds`, and the issue rules
(:mod:`daemon.read.analysis.issues`) are applied to them once, here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from daemon.read.analysis import grades, stats
from daemon.read.analysis.configured_skips import configured_skips
from daemon.read.analysis.issues import detect, merge_issues
from daemon.read.analysis.model import (
    ArchivedCapability,
    ArchivedDetail,
    CapabilityStats,
    DegradationCheck,
    MemoryTrend,
    ResourceUsage,
    SessionAnalysis,
    Summary,
    Verdict,
)
from daemon.read.analysis.rows import (
    PROCESS_CAPABILITY,
    SYSTEM_CAPABILITY,
    Row,
    epoch,
    finite,
    in_session,
    in_time_order,
    is_full_pass,
    metric_values,
    number,
    succeeded,
)
from daemon.read.analysis.thresholds import (
    DEGRADE_MIN_CALLS,
    DEGRADE_MIN_DELTA_MS,
    DEGRADE_RATIO,
    LEAK_MIN_GROWTH_MB,
    LEAK_MIN_R2,
    LEAK_MIN_SAMPLES,
    LEAK_MIN_SLOPE_MB_H,
    LEAK_MIN_SPAN_S,
    OUTLIER_SIGMAS,
    POOR_MIN_SUCCESS,
    SLOW_AVG_MS,
    WELL_MAX_AVG_MS,
    WELL_MIN_SUCCESS,
)
from daemon.types import (
    ACCURACY,
    CPU_USAGE,
    DISK_USAGE,
    MEMORY_USAGE,
    MS_PER_FILE,
    TIME_TO_FIRST_RESULT,
)


def _pct(part: int, whole: int) -> float:
    return part * 100.0 / whole if whole else 0.0


def _times(rows: Sequence[Row]) -> list[float]:
    return [t for t in (number(r.get("response_time_ms")) for r in rows) if t is not None]


def _capability_metrics(capability: str, metrics: Sequence[Row]) -> dict[str, Any]:
    """The means of a capability's per-call ``performance_metrics`` rows."""
    values: dict[tuple[str, str], list[float]] = {}
    for row in metrics:
        value = finite(row.get("value"))
        if row.get("capability") == capability and value is not None:
            key = (str(row.get("metric_type")), str(row.get("context") or ""))
            values.setdefault(key, []).append(value)

    def mean_of(metric_type: str) -> float | None:
        found = [v for (t, _), vs in values.items() if t == metric_type for v in vs]
        return stats.mean(found) if found else None

    return {
        "cpu_percent": mean_of(CPU_USAGE),
        "ms_per_file": mean_of(MS_PER_FILE),
        "time_to_first_result_ms": mean_of(TIME_TO_FIRST_RESULT),
        "accuracy": tuple((context, stats.mean(vs)) for (t, context), vs in values.items()
                          if t == ACCURACY),
    }


def judged_rows(rows: Sequence[Row]) -> list[Row]:
    """The calls the latency rules judge: all but full passes, whose time is the
    workspace's size (a first pass over 1,000 files is not a slow response)."""
    return [r for r in rows if not is_full_pass(r)]


def _capability_stats(capability: str, rows: Sequence[Row],
                      metrics: Sequence[Row] = ()) -> CapabilityStats:
    calls = len(rows)
    successes = sum(1 for r in rows if succeeded(r))
    times = _times(rows)
    judged = _times(judged_rows(rows))
    rate = _pct(successes, calls)
    avg = stats.mean(times)
    messages = Counter(str(r["error_message"]) for r in rows
                       if not succeeded(r) and r.get("error_message"))
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
        outliers=tuple(stats.outliers(judged, OUTLIER_SIGMAS)),
        grade=grades.response_time_grade(avg) if times else None,
        success_grade=grades.success_rate_grade(rate),
        ux_score=stats.mean([grades.ux_quality_score(t) for t in times]) if times else None,
        error_messages=tuple(messages.most_common()),
        **_capability_metrics(capability, metrics),
        full_pass_calls=calls - len(judged_rows(rows)),
        judged_calls=len(judged),
        judged_avg_response=stats.mean(judged),
        judged_p95_response=stats.percentile(judged, 95),
        judged_median_response=stats.median(judged),
    )


def _summary(activities: Sequence[Row]) -> Summary:
    total = len(activities)
    errors = sum(1 for r in activities if not succeeded(r))
    times = _times(activities)
    cpu = [v for v in (number(r.get("cpu_after")) for r in activities) if v is not None]
    memory = [v for v in (number(r.get("memory_after_mb")) for r in activities)
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
    cpu = [v for _, v in metric_values(metrics, SYSTEM_CAPABILITY, CPU_USAGE, "percent")]
    cpu_source: str | None = "system_metrics" if cpu else None
    if not cpu:
        cpu = [v for v in (number(r.get("cpu_after")) for r in activities) if v is not None]
        cpu_source = "activities" if cpu else None
    memory = [v for _, v in metric_values(metrics, SYSTEM_CAPABILITY, MEMORY_USAGE,
                                          "percent")]
    rss = [v for _, v in metric_values(metrics, PROCESS_CAPABILITY, MEMORY_USAGE, "MB")]
    if not rss:
        rss = [v for v in (number(r.get("memory_after_mb")) for r in activities)
               if v is not None]
    disk = [v for _, v in metric_values(metrics, SYSTEM_CAPABILITY, DISK_USAGE, "percent")]
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
    """Least-squares growth of process RSS over the session (bounds in ``thresholds``)."""
    points = [(t, v) for t, v in metric_values(metrics, PROCESS_CAPABILITY, MEMORY_USAGE,
                                               "MB") if t is not None]
    source: str | None = "process_metrics"
    if len(points) < 2:
        points = [(t, v) for t, v in ((epoch(r.get("timestamp")),
                                       number(r.get("memory_after_mb"))) for r in activities)
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
    long_enough = len(points) >= LEAK_MIN_SAMPLES and span_s >= LEAK_MIN_SPAN_S
    leak = (long_enough and fit.slope >= LEAK_MIN_SLOPE_MB_H and fit.r_squared >= LEAK_MIN_R2
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
        long_enough=long_enough,
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


def _unjudged(stat: CapabilityStats) -> str:
    passes = stat.full_pass_calls
    return (f"{passes} full pass{'es' if passes != 1 else ''}, whose time grows with the "
            "workspace, not judged for speed")


def well_reason(stat: CapabilityStats) -> str:
    if not stat.judged_calls:
        return f"High success rate ({stat.success_rate:.1f}%); {_unjudged(stat)}"
    return (f"High success rate ({stat.success_rate:.1f}%) and fast response "
            f"({stat.judged_avg_response:.0f}ms)")


def _slow(stat: CapabilityStats) -> bool:
    return stat.judged_calls > 0 and stat.judged_avg_response > SLOW_AVG_MS


def poor_reason(stat: CapabilityStats) -> str:
    """Names the measure that is poor, with the other as it is."""
    rate, avg = stat.success_rate, stat.judged_avg_response
    low = rate < POOR_MIN_SUCCESS
    if low and _slow(stat):
        return f"Low success rate ({rate:.1f}%) or slow response ({avg:.0f}ms)"  # the spec's
    if low:
        speed = (f"response time fine ({avg:.0f}ms)" if stat.judged_calls
                 else _unjudged(stat))
        return f"Low success rate ({rate:.1f}%); {speed}"
    over = f" over {stat.judged_calls} change batches" if stat.full_pass_calls else ""
    return f"Slow response ({avg:.0f}ms average{over}); success rate fine ({rate:.1f}%)"


def worked_well(stat: CapabilityStats) -> bool:
    return (stat.calls > 0 and stat.success_rate >= WELL_MIN_SUCCESS
            and (not stat.judged_calls or stat.judged_avg_response < WELL_MAX_AVG_MS))


def worked_poorly(stat: CapabilityStats) -> bool:
    return stat.calls > 0 and (stat.success_rate < POOR_MIN_SUCCESS or _slow(stat))


def _archived(session: Row, archived: Row | None,
              capabilities: Sequence[Row]) -> ArchivedDetail | None:
    if archived is None:
        return None
    return ArchivedDetail(
        segment=str(archived.get("segment") or ""),
        events=int(number(archived.get("archived_events")) or 0),
        first_seq=int(number(archived.get("first_seq")) or 0),
        last_seq=int(number(archived.get("last_seq")) or 0),
        total_activities=int(number(session.get("total_activities")) or 0),
        total_errors=int(number(session.get("total_errors")) or 0),
        avg_response_time=number(session.get("avg_response_time")) or 0.0,
        overall_score=number(session.get("overall_score")) or 0.0,
        capabilities=tuple(
            ArchivedCapability(
                capability=str(row.get("capability") or "unknown"),
                calls=int(number(row.get("calls")) or 0),
                errors=int(number(row.get("errors")) or 0),
                avg_response_ms=number(row.get("avg_response_ms")),
                min_response_ms=number(row.get("min_response_ms")),
                max_response_ms=number(row.get("max_response_ms")))
            for row in capabilities),
    )


def analyze(session: Row, activities: Sequence[Row], metrics: Sequence[Row],
            issues: Sequence[Row], suggestions: Sequence[Row], *,
            archived: Row | None = None,
            archived_capabilities: Sequence[Row] = ()) -> SessionAnalysis:
    """Analyse one session from its projection rows; rows of other sessions are ignored.

    ``archived`` (its ``archived_sessions`` row) and ``archived_capabilities`` describe a
    session whose detail ``realworld archive`` moved to a segment."""
    session_id = str(session.get("session_id") or "")
    ordered = in_time_order(in_session(activities, session_id))
    session_metrics = in_session(metrics, session_id)
    by_capability: dict[str, list[Row]] = {}
    for row in ordered:
        by_capability.setdefault(str(row.get("capability") or "unknown"), []).append(row)
    capabilities = tuple(_capability_stats(name, rows, session_metrics)
                         for name, rows in by_capability.items())
    degradation = tuple(degradation_check(name, _times(judged_rows(rows)))
                        for name, rows in by_capability.items())
    resources = _resources(ordered, session_metrics)
    trend = memory_trend(ordered, session_metrics)
    detected = detect(capabilities, degradation, trend, resources)
    recorded_issues = tuple(dict(r) for r in in_session(issues, session_id))
    return SessionAnalysis(
        session_id=session_id,
        session=dict(session),
        summary=_summary(ordered),
        capabilities=capabilities,
        resources=resources,
        memory_trend=trend,
        degradation=degradation,
        worked_well=tuple(Verdict(s.capability, well_reason(s), s.success_rate,
                                  s.judged_avg_response)
                          for s in capabilities if worked_well(s)),
        worked_poorly=tuple(Verdict(s.capability, poor_reason(s), s.success_rate,
                                    s.judged_avg_response)
                            for s in capabilities if worked_poorly(s)),
        detected_issues=detected,
        open_issues=merge_issues(session_id, recorded_issues, detected),
        recorded_issues=recorded_issues,
        recorded_suggestions=tuple(dict(r) for r in in_session(suggestions, session_id)),
        archived=_archived(session, archived, in_session(archived_capabilities, session_id)),
        skipped_by_configuration=configured_skips(ordered),
    )

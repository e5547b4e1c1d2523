"""The suggestion rules: actionable improvements in the spec's words.

* ``reliability`` "Fix error handling in X" below 95% success (critical < 50% with >= 3
  calls, high < 80%, else medium);
* ``performance`` "Optimize X - response time is too slow" above 2000 ms (high above
  5000 ms, else medium), and one for each degraded capability;
* ``resource_optimization`` for a leak, CPU > 90% or memory > 95%;
* ``bug_fix`` for an error message repeated >= 3 times in one capability.

Suggestion texts carry no numbers (those are in the rationale), so the same advice is
recognised when it is made again: a session gets each text once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any, Final

from daemon.read.analysis import grades
from daemon.read.analysis.model import CapabilityStats, SessionAnalysis, SuggestionSpec
from daemon.read.analysis.rows import PROCESS_CAPABILITY, Row, in_session, short_message
from daemon.read.analysis.thresholds import (
    CRITICAL_MIN_CALLS,
    CRITICAL_SUCCESS,
    LEAK_HIGH_SLOPE_MB_H,
    POOR_MIN_SUCCESS,
    RECURRING_ERROR_MIN,
    RELIABLE_SUCCESS,
    SLOW_AVG_MS,
    VERY_SLOW_AVG_MS,
)
from daemon.types import severity_rank

# The improvement_suggestions columns a suggestion is shown with.
SHOWN: Final = tuple(f.name for f in fields(SuggestionSpec))


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
    if stat.judged_calls and stat.judged_avg_response > SLOW_AVG_MS:
        made.append(SuggestionSpec(
            "performance", "high" if stat.judged_avg_response > VERY_SLOW_AVG_MS else "medium",
            f"Optimize {name} - response time is too slow",
            f"Average response time is {stat.judged_avg_response:.0f}ms",
            # The spec's estimate: halving the average is what optimization buys.
            f"Could improve response time by {stat.judged_avg_response / 2:.0f}ms"))
    for message, count in stat.error_messages:
        if count >= RECURRING_ERROR_MIN:
            made.append(SuggestionSpec(
                "bug_fix", "medium",
                f"Fix the recurring error in {name}: {short_message(message)}",
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


def new_suggestions(existing_suggestion_rows: Sequence[Row], specs: Sequence[SuggestionSpec],
                    session_id: str) -> list[SuggestionSpec]:
    """The suggestions whose text is not yet made in this session, each text once."""
    made = {str(r.get("suggestion")) for r in in_session(existing_suggestion_rows, session_id)}
    fresh: list[SuggestionSpec] = []
    for spec in specs:
        if spec.suggestion in made:
            continue
        made.add(spec.suggestion)
        fresh.append(spec)
    return fresh


def all_suggestions(analysis: SessionAnalysis) -> list[dict[str, Any]]:
    """Recorded suggestions plus new ones whose text is not recorded yet, by priority."""
    items: list[dict[str, Any]] = [{key: row.get(key) for key in SHOWN}
                                   for row in analysis.recorded_suggestions]
    items += [asdict(spec) for spec in new_suggestions(analysis.recorded_suggestions,
                                                       suggest(analysis), analysis.session_id)]
    return sorted(items, key=lambda s: severity_rank(str(s["priority"])))

"""The analysis as a JSON-ready dict: what ``RealWorldTester.analyze_session_results`` returns.

The spec's snippets index into it (``analysis['session']['overall_score']``,
``analysis['top_issues']``, ...). Each part is its result dataclass's fields under their
own names (:mod:`daemon.read.analysis.model`); the spec's top-level keys are listed once,
in :func:`to_api_dict`, and a capability leaves out the measures in :data:`CAPABILITY_HIDDEN`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from daemon.read.analysis.issues import top_issues
from daemon.read.analysis.model import CapabilityStats, SessionAnalysis
from daemon.read.analysis.scoring import score_breakdown
from daemon.read.analysis.suggestions import all_suggestions

# Working values of the rules rather than results (the median decides whether a slow
# capability is reproducibly slow, the messages are quoted in issues); the JSON report
# prints this dict, so a new key would change every report.
CAPABILITY_HIDDEN: Final = ("timed_calls", "median_response", "error_messages",
                             "judged_calls", "judged_avg_response", "judged_p95_response",
                             "judged_median_response")


def _capability_dict(stat: CapabilityStats) -> dict[str, Any]:
    shown = asdict(stat)
    shown["outliers"] = len(stat.outliers)  # how many; their values make no column
    for name in CAPABILITY_HIDDEN:
        del shown[name]
    return shown


def to_api_dict(analysis: SessionAnalysis) -> dict[str, Any]:
    """The whole analysis, JSON-serialisable.

    ``session.overall_score`` is computed afresh
    (:func:`daemon.read.analysis.scoring.overall_score`) rather than read from the row,
    which stays 0 until a score is recorded.
    ``activities_by_capability`` is slowest first, like the spec's per-capability query.
    """
    breakdown = score_breakdown(analysis)
    archived = analysis.archived
    # An archived session's calls are in a segment: scoring the rows left would give the
    # score of nothing, so it keeps the one recorded when it ended.
    overall = archived.overall_score if archived is not None else breakdown.overall
    slowest_first = sorted(analysis.capabilities, key=lambda c: (-c.avg_response, c.capability))
    return {
        "session": {**analysis.session, "session_id": analysis.session_id,
                    "overall_score": overall},
        "summary": asdict(analysis.summary),
        "score": asdict(breakdown),
        "activities_by_capability": [_capability_dict(c) for c in slowest_first],
        "top_issues": top_issues(analysis),
        "worked_well": [asdict(v) for v in analysis.worked_well],
        "worked_poorly": [asdict(v) for v in analysis.worked_poorly],
        "suggestions": all_suggestions(analysis),
        "resource_usage": asdict(analysis.resources),
        "memory_trend": asdict(analysis.memory_trend),
        "degradation": {
            "detected": any(c.degraded for c in analysis.degradation),
            "capabilities": [asdict(c) for c in analysis.degradation],
        },
        "archived": None if archived is None else asdict(archived),
        "skipped_by_configuration": [asdict(s) for s in analysis.skipped_by_configuration],
    }

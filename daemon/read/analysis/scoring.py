"""The session's overall quality score, 0-100 (``test_sessions.overall_score``).

Formula::

    quality = (50 * success + 30 * ux + 20 * resources) / (weights of the parts present)
    score   = clamp(100 * quality - 10 * critical_issues - 5 * high_issues, 0, 100)

rounded to one decimal, where

* ``success``   is the session's success rate as a fraction (0-1);
* ``ux``        is the mean UX quality score of every timed call (1.0 / 0.8 / 0.5 / 0.2,
  :func:`daemon.read.analysis.grades.ux_quality_score`), so each slow call costs, not only a
  slow average;
* ``resources`` is the mean of the CPU grade and the memory grade turned into the same
  ladder (excellent 1.0, good 0.8, acceptable 0.5, poor/critical 0.2). A resource that
  was never sampled is left out of the mean; when neither was, the 20% is dropped and
  the other weights are scaled up to 100% rather than guessing a value;
* ``critical_issues`` / ``high_issues`` count the session's open issues, recorded or
  just detected (``SessionAnalysis.open_issues``); each critical costs 10
  points and each high 5, so a session can look fast and still fail a 70-point gate because of them.

A session without activities scores 0.0: nothing was shown to work, and the spec's
CI gate ("score < 70 fails") must not pass an idle run.

Worked example, the spec's example session: 92.9% success -> 46.4; 42 calls, 37 between
100 and 500 ms, one 1923 ms and four over 2000 ms -> UX 0.736 -> 22.1; CPU 25% -> 20;
two high issues detected for security_scanner (slow, 60% success) -> -10; score 78.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from daemon.read.analysis.grades import grade_points
from daemon.read.analysis.model import SessionAnalysis

SUCCESS_WEIGHT: Final = 50.0
UX_WEIGHT: Final = 30.0
RESOURCE_WEIGHT: Final = 20.0
CRITICAL_PENALTY: Final = 10.0
HIGH_PENALTY: Final = 5.0


@dataclass(frozen=True)
class ScoreBreakdown:
    overall: float  # the score, 0-100, one decimal
    success: float  # points from each part before penalties
    ux_quality: float
    resources: float | None  # None when no resource was sampled
    penalty: float
    critical_issues: int
    high_issues: int


def compute(success_rate: float, ux_score: float, resource_grades: list[str],
            critical_issues: int, high_issues: int, activities: int) -> ScoreBreakdown:
    """The formula above over plain numbers; ``success_rate`` in percent."""
    penalty = CRITICAL_PENALTY * critical_issues + HIGH_PENALTY * high_issues
    if activities <= 0:
        return ScoreBreakdown(0.0, 0.0, 0.0, None, penalty, critical_issues, high_issues)
    weight = SUCCESS_WEIGHT + UX_WEIGHT
    resources: float | None = None
    if resource_grades:
        weight += RESOURCE_WEIGHT
        quality = sum(grade_points(g) for g in resource_grades) / len(resource_grades)
        resources = 100.0 * RESOURCE_WEIGHT * quality / weight
    success = 100.0 * SUCCESS_WEIGHT * (success_rate / 100.0) / weight
    ux = 100.0 * UX_WEIGHT * ux_score / weight
    raw = success + ux + (resources or 0.0) - penalty
    overall = round(min(100.0, max(0.0, raw)), 1)
    return ScoreBreakdown(overall, success, ux, resources, penalty, critical_issues, high_issues)


def score_breakdown(analysis: SessionAnalysis) -> ScoreBreakdown:
    """The formula over one analysis, with the points of each part."""
    severities = [issue.severity for issue in analysis.open_issues]
    grades = [g for g in (analysis.resources.cpu_grade, analysis.resources.memory_grade)
              if g is not None]
    return compute(
        success_rate=analysis.summary.success_rate,
        ux_score=analysis.summary.ux_score,
        resource_grades=grades,
        critical_issues=severities.count("critical"),
        high_issues=severities.count("high"),
        activities=analysis.summary.total_activities,
    )


def overall_score(analysis: SessionAnalysis) -> float:
    """0-100, see the module docstring for the formula."""
    return score_breakdown(analysis).overall

"""The spec's quality buckets ("Metrics Collected") as pure functions.

Boundary rule, applied to every scale below:

* Where the spec writes a strict inequality ("Excellent: <500ms", "Poor: >5000ms",
  "0.2: Slow (>2000ms)", "Poor: <70%") it is honoured exactly, so the named value
  itself falls in the neighbouring bucket: 500ms is *good*, 5000ms is *acceptable*,
  2000ms scores 0.5, 70% is *acceptable*.
* Where two ranges share an end ("Good: 500-2000ms", "Acceptable: 2000-5000ms") the
  ranges are half-open, ``[low, high)``: the shared value starts the slower bucket, so
  2000ms is *acceptable* and 500ms scores 0.5.
* Success-rate ranges are written in whole percent with gaps ("85-94%", "95-100%");
  a rate between them (94.5%) belongs to the lower bucket, i.e. *good* is ``[85, 95)``.

| scale               | excellent / 1.0 | good / 0.8  | acceptable / 0.5 | poor / 0.2 |
|---------------------|-----------------|-------------|------------------|------------|
| response time (ms)  | < 500           | [500, 2000) | [2000, 5000]     | > 5000     |
| UX quality (ms)     | < 100           | [100, 500)  | [500, 2000]      | > 2000     |
| CPU (%)             | < 50            | [50, 70)    | [70, 90]         | > 90       |
| memory (%)          | < 70            | [70, 85)    | [85, 95]         | > 95 (*critical*) |
| success rate (%)    | >= 95           | [85, 95)    | [70, 85)         | < 70       |
"""

from __future__ import annotations

from typing import Final, Literal

# Defined beside the metric types: the metrics projection scores each call with it too.
from daemon.types import ux_quality_score as ux_quality_score

Grade = Literal["excellent", "good", "acceptable", "poor"]
MemoryGrade = Literal["excellent", "good", "acceptable", "critical"]

EXCELLENT: Final = "excellent"
GOOD: Final = "good"
ACCEPTABLE: Final = "acceptable"
POOR: Final = "poor"
CRITICAL: Final = "critical"

# The UX ladder, reused to turn any grade into a 0-1 quality for the overall score,
# so "good" is worth the same on every scale.
GRADE_POINTS: Final[dict[str, float]] = {
    EXCELLENT: 1.0,
    GOOD: 0.8,
    ACCEPTABLE: 0.5,
    POOR: 0.2,
    CRITICAL: 0.2,
}


def response_time_grade(ms: float) -> Grade:
    if ms < 500:
        return EXCELLENT
    if ms < 2000:
        return GOOD
    if ms <= 5000:
        return ACCEPTABLE
    return POOR


def cpu_grade(percent: float) -> Grade:
    if percent < 50:
        return EXCELLENT
    if percent < 70:
        return GOOD
    if percent <= 90:
        return ACCEPTABLE
    return POOR


def memory_grade(percent: float) -> MemoryGrade:
    if percent < 70:
        return EXCELLENT
    if percent < 85:
        return GOOD
    if percent <= 95:
        return ACCEPTABLE
    return CRITICAL


def success_rate_grade(percent: float) -> Grade:
    if percent >= 95:
        return EXCELLENT
    if percent >= 85:
        return GOOD
    if percent >= 70:
        return ACCEPTABLE
    return POOR


def grade_points(grade: str) -> float:
    """0-1 worth of a grade from any scale (see ``GRADE_POINTS``)."""
    return GRADE_POINTS[grade]

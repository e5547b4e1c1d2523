"""Every bucket boundary of the spec's quality scales (daemon.read.analysis.grades)."""

from __future__ import annotations

import pytest

from daemon.read.analysis import grades


@pytest.mark.parametrize(("ms", "grade"), [
    (0.0, "excellent"), (499.999, "excellent"),
    (500.0, "good"), (1999.999, "good"),
    (2000.0, "acceptable"), (5000.0, "acceptable"),
    (5000.001, "poor"), (60_000.0, "poor"),
])
def test_response_time_grade(ms: float, grade: str) -> None:
    assert grades.response_time_grade(ms) == grade


@pytest.mark.parametrize(("ms", "score"), [
    (0.0, 1.0), (99.999, 1.0),
    (100.0, 0.8), (499.999, 0.8),
    (500.0, 0.5), (2000.0, 0.5),
    (2000.001, 0.2), (60_000.0, 0.2),
])
def test_ux_quality_score(ms: float, score: float) -> None:
    assert grades.ux_quality_score(ms) == score


@pytest.mark.parametrize(("percent", "grade"), [
    (0.0, "excellent"), (49.99, "excellent"),
    (50.0, "good"), (69.99, "good"),
    (70.0, "acceptable"), (90.0, "acceptable"),
    (90.01, "poor"), (100.0, "poor"),
])
def test_cpu_grade(percent: float, grade: str) -> None:
    assert grades.cpu_grade(percent) == grade


@pytest.mark.parametrize(("percent", "grade"), [
    (0.0, "excellent"), (69.99, "excellent"),
    (70.0, "good"), (84.99, "good"),
    (85.0, "acceptable"), (95.0, "acceptable"),
    (95.01, "critical"), (100.0, "critical"),
])
def test_memory_grade(percent: float, grade: str) -> None:
    assert grades.memory_grade(percent) == grade


@pytest.mark.parametrize(("percent", "grade"), [
    (100.0, "excellent"), (95.0, "excellent"),
    (94.99, "good"), (94.5, "good"), (85.0, "good"),
    (84.99, "acceptable"), (70.0, "acceptable"),
    (69.99, "poor"), (0.0, "poor"),
])
def test_success_rate_grade(percent: float, grade: str) -> None:
    assert grades.success_rate_grade(percent) == grade


def test_grade_points_follow_the_ux_ladder() -> None:
    assert [grades.grade_points(g) for g in
            ("excellent", "good", "acceptable", "poor", "critical")] == [1.0, 0.8, 0.5, 0.2, 0.2]

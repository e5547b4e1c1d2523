"""The overall quality score: weights, every bucket boundary, penalties, clamping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from daemon.read.analysis.aggregate import analyze
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.model import SessionAnalysis
from daemon.read.analysis.scoring import ScoreBreakdown, compute, overall_score, score_breakdown

SID = "s1"
BASE = datetime(2026, 2, 3, 12, 15, tzinfo=timezone.utc)


def ts(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat()


def act(n: int, ms: float, ok: bool = True, capability: str = "c") -> dict[str, Any]:
    return {"activity_id": f"a{n}", "session_id": SID, "timestamp": ts(n), "capability": capability,
            "activity_type": "run", "response_time_ms": ms, "cpu_after": None,
            "memory_after_mb": None, "success": ok, "error_message": None if ok else "x"}


def system(metric_type: str, value: float) -> dict[str, Any]:
    return {"metric_id": metric_type, "session_id": SID, "timestamp": ts(0),
            "capability": "system", "metric_type": metric_type, "value": value,
            "unit": "percent"}


def analysis_of(times: list[float], ok: list[bool] | None = None,
                cpu: float | None = None, memory: float | None = None,
                issues: list[dict[str, Any]] | None = None,
                capabilities: list[str] | None = None) -> SessionAnalysis:
    oks = ok if ok is not None else [True] * len(times)
    names = capabilities if capabilities is not None else ["c"] * len(times)
    metrics = []
    if cpu is not None:
        metrics.append(system("cpu_usage", cpu))
    if memory is not None:
        metrics.append(system("memory_usage", memory))
    rows = [act(i, t, o, c) for i, (t, o, c) in enumerate(zip(times, oks, names, strict=True))]
    return analyze({"session_id": SID}, rows, metrics, issues or [], [])


def test_weights_without_resources_are_rescaled() -> None:
    # No resource samples: success and UX share 100 in the ratio 50:30.
    assert compute(100.0, 1.0, [], 0, 0, 1).overall == 100.0
    assert compute(100.0, 0.0, [], 0, 0, 1).overall == 62.5
    assert compute(0.0, 1.0, [], 0, 0, 1).overall == 37.5


def test_weights_with_resources() -> None:
    b = compute(100.0, 1.0, ["excellent", "excellent"], 0, 0, 10)
    assert b == ScoreBreakdown(100.0, 50.0, 30.0, 20.0, 0.0, 0, 0)
    assert compute(50.0, 0.5, ["acceptable"], 0, 0, 10).overall == 50.0
    assert compute(100.0, 1.0, ["poor", "excellent"], 0, 0, 10).overall == 92.0


def test_penalties_and_clamping() -> None:
    assert compute(100.0, 1.0, ["excellent"], 1, 0, 1).overall == 90.0
    assert compute(100.0, 1.0, ["excellent"], 0, 1, 1).overall == 95.0
    assert compute(100.0, 1.0, ["excellent"], 2, 3, 1).overall == 65.0
    assert compute(10.0, 0.2, ["poor"], 5, 5, 1).overall == 0.0


def test_no_activities_scores_zero() -> None:
    assert compute(100.0, 1.0, ["excellent"], 0, 0, 0).overall == 0.0
    assert overall_score(analysis_of([])) == 0.0


@pytest.mark.parametrize(("ms", "points"), [
    (99.9, 1.0), (100.0, 0.8), (499.9, 0.8), (500.0, 0.5), (2000.0, 0.5), (2000.1, 0.2),
])
def test_ux_boundaries(ms: float, points: float) -> None:
    breakdown = score_breakdown(analysis_of([ms], cpu=10.0))
    assert breakdown.ux_quality == pytest.approx(30.0 * points)


@pytest.mark.parametrize(("successes", "calls", "points"), [
    (19, 20, 47.5), (17, 20, 42.5), (14, 20, 35.0), (0, 20, 0.0),
])
def test_success_boundaries(successes: int, calls: int, points: float) -> None:
    # 95% / 85% / 70% are the success grade edges; the score is linear across them.
    analysis = analysis_of([10.0] * calls, [i < successes for i in range(calls)], cpu=10.0)
    assert score_breakdown(analysis).success == pytest.approx(points)


@pytest.mark.parametrize(("cpu", "points"), [
    (49.9, 1.0), (50.0, 0.8), (69.9, 0.8), (70.0, 0.5), (90.0, 0.5), (90.1, 0.2),
])
def test_cpu_boundaries(cpu: float, points: float) -> None:
    assert score_breakdown(analysis_of([10.0], cpu=cpu)).resources == pytest.approx(
        20.0 * points)


@pytest.mark.parametrize(("memory", "points"), [
    (69.9, 1.0), (70.0, 0.8), (84.9, 0.8), (85.0, 0.5), (95.0, 0.5), (95.1, 0.2),
])
def test_memory_boundaries(memory: float, points: float) -> None:
    breakdown = score_breakdown(analysis_of([10.0], cpu=10.0, memory=memory))
    assert breakdown.resources == pytest.approx(20.0 * (1.0 + points) / 2)


def test_recorded_and_detected_issues_both_cost_points() -> None:
    recorded = [{"issue_id": "r", "session_id": SID, "severity": "critical",
                 "capability": "c", "issue_type": "crash"}]
    assert overall_score(analysis_of([10.0], cpu=10.0, issues=recorded)) == 90.0
    # 6000ms: a critical slow_response is detected, on top of the poor UX score.
    breakdown = score_breakdown(analysis_of([6000.0], cpu=10.0))
    assert (breakdown.critical_issues, breakdown.penalty) == (1, 10.0)
    assert breakdown.overall == pytest.approx(50.0 + 6.0 + 20.0 - 10.0)


def test_spec_example_scores_above_the_ci_gate() -> None:
    times = [245.0] * 17 + [189.0] * 20 + [2345.0, 1923.0, 2134.0, 2100.0, 2168.0]
    ok = [True] * 17 + [i != 7 for i in range(20)] + [True, True, True, False, False]
    names = ["workspace_analyzer"] * 17 + ["code_search"] * 20 + ["security_scanner"] * 5
    analysis = analysis_of(times, ok, cpu=25.3, capabilities=names)
    # 46.4 success + 22.1 UX + 20 resources - 2 high issues (slow and failing scanner)
    assert overall_score(analysis) == pytest.approx(78.5)
    assert to_api_dict(analysis)["session"]["overall_score"] == overall_score(analysis)

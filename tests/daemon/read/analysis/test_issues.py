"""The issue rules, issue ids and the open issues (daemon.read.analysis.issues)."""

from __future__ import annotations

import pytest

from daemon.read.analysis.issues import detect_issues, issue_id, top_issues
from daemon.read.analysis.suggestions import suggest

from sessionrows import SID, Row, act, metric, run, spec_example_rows


def test_spec_example_issues() -> None:
    issues = {(i.capability, i.issue_type): i for i in detect_issues(run(spec_example_rows()))}
    slow = issues[("security_scanner", "slow_response")]
    assert slow.severity == "high"
    assert slow.description.startswith("Slow response times affecting UX (average 2134ms")
    assert slow.issue_key == "security_scanner:slow_response"
    assert slow.reproducible  # median 2134ms: consistently slow
    failing = issues[("security_scanner", "low_success_rate")]
    assert failing.severity == "high"  # 60% < 70%
    assert "2 of 5 calls failed (60.0% success)" in failing.description
    assert ("code_search", "low_success_rate") not in issues  # 95% is excellent


@pytest.mark.parametrize(("success", "calls", "severity"), [
    (85, 20, None), (84, 100, "medium"), (70, 10, "medium"), (69, 100, "high"),
    (50, 10, "high"), (49, 100, "critical"), (0, 3, "critical"), (0, 2, "high"),
])
def test_low_success_severity(success: int, calls: int, severity: str | None) -> None:
    ok_calls = calls * success // 100
    analysis = run([act("cap", 10.0, ok=i < ok_calls) for i in range(calls)])
    found = [i.severity for i in detect_issues(analysis) if i.issue_type == "low_success_rate"]
    assert found == ([severity] if severity else [])


@pytest.mark.parametrize(("ms", "severity"), [
    (2000.0, None), (2000.1, "high"), (5000.0, "high"), (5000.1, "critical"),
])
def test_slow_response_severity(ms: float, severity: str | None) -> None:
    found = [i.severity for i in detect_issues(run([act("cap", ms)]))
             if i.issue_type == "slow_response"]
    assert found == ([severity] if severity else [])


def test_resource_issues_from_system_metrics() -> None:
    metrics = [metric("system", "cpu_usage", 95.0, "percent", 0),
               metric("system", "memory_usage", 97.0, "percent", 0)]
    analysis = run([act("x", 10.0, cpu=10.0)], metrics)
    assert analysis.resources.cpu_source == "system_metrics"
    assert (analysis.resources.cpu_grade, analysis.resources.memory_grade) == ("poor",
                                                                               "critical")
    kinds = {(i.capability, i.issue_type, i.severity) for i in detect_issues(analysis)}
    assert kinds == {("system", "high_cpu", "medium"), ("system", "high_memory", "high")}
    assert {s.category for s in suggest(analysis)} == {"resource_optimization"}


def test_issues_come_most_severe_first() -> None:
    rows = [act("a", 6000.0)] + [act("b", 10.0, ok=i < 8) for i in range(10)]
    severities = [i.severity for i in detect_issues(run(rows))]
    assert severities == sorted(severities, key=["critical", "high", "medium", "low"].index)


def test_issue_ids_are_deterministic_and_per_session() -> None:
    assert issue_id("s1", "a:b") == issue_id("s1", "a:b")
    assert issue_id("s1", "a:b") != issue_id("s2", "a:b")
    assert len(issue_id("s1", "a:b")) == 16


# --- open issues: recorded and detected -------------------------------------------


def test_top_issues_merge_recorded_and_detected() -> None:
    recorded: list[Row] = [
        {"issue_id": "r1", "session_id": SID, "severity": "medium", "capability": "code_search",
         "issue_type": "memory", "description": "Occasional memory spikes",
         "suggested_fix": "Batch", "reproducible": 0},
        {"issue_id": issue_id(SID, "security_scanner:slow_response"), "session_id": SID,
         "severity": "low", "capability": "security_scanner", "issue_type": "slow_response",
         "description": "stale words", "suggested_fix": None, "reproducible": None},
    ]
    issues = top_issues(run(spec_example_rows(), issues=recorded))
    assert [i["severity"] for i in issues] == ["high", "high", "medium"]
    slow = [i for i in issues if i["issue_type"] == "slow_response"]
    assert len(slow) == 1 and slow[0]["description"] != "stale words"
    assert issues[2]["reproducible"] is False

"""The API dict the spec's snippets index into (daemon.read.analysis.api)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from daemon.read.analysis import issues
from daemon.read.analysis.api import CAPABILITY_HIDDEN, to_api_dict
from daemon.read.analysis.issues import detect_issues
from daemon.read.analysis.model import (
    CapabilityStats,
    MemoryTrend,
    OpenIssue,
    ResourceUsage,
    Summary,
    Verdict,
)
from daemon.read.analysis.scoring import ScoreBreakdown

from sessionrows import act, run, spec_example_rows

API_KEYS = {"session", "summary", "score", "activities_by_capability", "top_issues",
            "worked_well", "worked_poorly", "suggestions", "resource_usage", "memory_trend",
            "degradation"}
SUMMARY_KEYS = {"total_activities", "total_errors", "success_rate", "avg_response_time",
                "avg_cpu_usage", "avg_memory_usage", "p95_response_time"}
CAPABILITY_KEYS = {"capability", "calls", "avg_response", "p95_response", "min_response",
                   "max_response", "success_rate", "errors", "grade", "ux_score"}
ISSUE_KEYS = {"severity", "capability", "issue_type", "description", "suggested_fix"}


def test_api_dict_shape() -> None:
    api = to_api_dict(run(spec_example_rows()))
    assert set(api) >= API_KEYS
    assert set(api["summary"]) >= SUMMARY_KEYS
    assert all(set(c) >= CAPABILITY_KEYS for c in api["activities_by_capability"])
    assert all(set(i) >= ISSUE_KEYS for i in api["top_issues"])
    assert [c["capability"] for c in api["activities_by_capability"]] == [
        "security_scanner", "workspace_analyzer", "code_search"]  # slowest first
    assert api["worked_poorly"][0] == {
        "capability": "security_scanner",
        "reason": "Low success rate (60.0%) or slow response (2134ms)",
        "success_rate": 60.0, "avg_response": 2134.0}
    assert api["session"]["overall_score"] == api["score"]["overall"] > 0
    assert {s["category"] for s in api["suggestions"]} == {"reliability", "performance"}


# --- what the spec's snippets read -------------------------------------------------
#
# The snippets themselves run unchanged against the real API in tests/test_spec_snippets.py;
# here, the fields they read, on analyses whose rows are known.


def healthy() -> dict[str, Any]:
    return to_api_dict(run([act("search", 50.0, cpu=20.0) for _ in range(50)]))


def broken() -> dict[str, Any]:
    rows = [act("security_scanner", 7000.0, ok=i < 2, cpu=95.0) for i in range(10)]
    return to_api_dict(run(rows))


def test_the_fields_the_specs_snippets_read() -> None:
    good, bad = healthy(), broken()
    assert good["session"]["overall_score"] == 100.0
    assert [i for i in good["top_issues"] if i["severity"] == "critical"] == []
    assert bad["session"]["overall_score"] == 0.0
    assert bad["summary"]["success_rate"] == 20.0
    assert bad["summary"]["avg_response_time"] == 7000.0
    critical = [i for i in bad["top_issues"] if i["severity"] == "critical"]
    assert len(critical) == 2
    assert any(i["description"].startswith("Frequent failures: 8 of 10 calls failed")
               for i in critical)
    assert [c["capability"] for c in bad["worked_poorly"]] == ["security_scanner"]


# --- derived from the result dataclasses ---------------------------------------------


def test_each_part_is_its_dataclass_fields() -> None:
    analysis = run(spec_example_rows())
    api = to_api_dict(analysis)
    assert list(api["summary"]) == [f.name for f in fields(Summary)]
    assert list(api["score"]) == [f.name for f in fields(ScoreBreakdown)]
    assert list(api["resource_usage"]) == [f.name for f in fields(ResourceUsage)]
    assert list(api["memory_trend"]) == [f.name for f in fields(MemoryTrend)]
    assert list(api["worked_well"][0]) == [f.name for f in fields(Verdict)]
    assert list(api["top_issues"][0]) == [f.name for f in fields(OpenIssue)]
    assert list(api["activities_by_capability"][0]) == [
        f.name for f in fields(CapabilityStats) if f.name not in CAPABILITY_HIDDEN]
    assert all(isinstance(c["outliers"], int) for c in api["activities_by_capability"])


def test_the_issue_rules_run_once_per_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    analysis = run(spec_example_rows())

    def again(*_: object) -> None:
        raise AssertionError("the issue rules ran again")

    monkeypatch.setattr(issues, "detect", again)
    api = to_api_dict(analysis)
    assert api["score"]["high_issues"] == 2
    assert [i["issue_id"] for i in api["top_issues"]] == [
        i.issue_id for i in analysis.open_issues]
    assert detect_issues(analysis) == list(analysis.detected_issues)

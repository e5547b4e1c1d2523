"""The analysis engine over plain rows, the derived judgements, and the API dict."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from daemon.log.events import Envelope, IssueDetected, IssueUpdated, SuggestionMade
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read.analysis.analysis import (
    IssueSpec,
    SessionAnalysis,
    SuggestionSpec,
    analyze,
    detect_issues,
    issue_id,
    plan_issue_events,
    plan_suggestion_events,
    suggest,
    to_api_dict,
    top_issues,
)

from logbuilders import SPEC_SESSION, spec_session_log

SID = "s1"
BASE = datetime(2026, 2, 3, 12, 15, tzinfo=timezone.utc)
Row = dict[str, Any]


def ts(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def session_row(session_id: str = SID, **extra: Any) -> Row:
    row: Row = {"session_id": session_id, "project_path": "/p", "start_time": ts(0),
                "end_time": ts(300), "duration_minutes": 5, "status": "completed",
                "total_activities": 0, "total_errors": 0, "overall_score": 0.0}
    row.update(extra)
    return row


_counter = iter(range(1_000_000))


def act(capability: str, ms: float | None, ok: bool = True, at: float | None = None,
        cpu: float | None = 30.0, mem: float | None = 50.0, error: str | None = None,
        session_id: str = SID) -> Row:
    n = next(_counter)
    return {"activity_id": f"a{n}", "session_id": session_id,
            "timestamp": ts(n if at is None else at), "capability": capability,
            "activity_type": "run", "description": None, "response_time_ms": ms,
            "cpu_before": cpu, "cpu_after": cpu, "memory_before_mb": mem,
            "memory_after_mb": mem, "success": 1 if ok else 0,
            "error_message": None if ok else (error or f"error {n}"), "result_data": None}


def metric(capability: str, metric_type: str, value: float, unit: str, at: float) -> Row:
    n = next(_counter)
    return {"metric_id": f"m{n}", "session_id": SID, "timestamp": ts(at),
            "capability": capability, "metric_type": metric_type, "value": value,
            "unit": unit, "context": None}


def run(activities: Sequence[Row] = (), metrics: Sequence[Row] = (),
        issues: Sequence[Row] = (), suggestions: Sequence[Row] = (),
        session: Row | None = None) -> SessionAnalysis:
    return analyze(session or session_row(), activities, metrics, issues, suggestions)


def spec_example_rows() -> list[Row]:
    """The spec's example report's capabilities: 42 calls, 3 errors."""
    rows = [act("workspace_analyzer", 245.0) for _ in range(17)]
    rows += [act("code_search", 189.0, ok=i != 7) for i in range(20)]
    rows += [act("security_scanner", ms, ok=i < 3)
             for i, ms in enumerate([2345.0, 1923.0, 2134.0, 2100.0, 2168.0])]
    return rows


# --- per capability and summary ---------------------------------------------


def test_capability_statistics() -> None:
    rows = [act("search", float(ms), ok=ms != 40) for ms in (10, 20, 30, 40, 50)]
    rows.append(act("search", None))  # an untimed call counts as a call, not a time
    analysis = run(rows)
    (cap,) = analysis.capabilities
    assert (cap.calls, cap.successes, cap.errors, cap.timed_calls) == (6, 5, 1, 5)
    assert cap.success_rate == pytest.approx(500 / 6)
    assert (cap.avg_response, cap.min_response, cap.max_response) == (30.0, 10.0, 50.0)
    assert cap.p95_response == pytest.approx(48.0)
    assert cap.grade == "excellent"
    assert cap.success_grade == "acceptable"  # 83.3%
    assert cap.ux_score == 1.0
    assert cap.error_messages == (("error " + rows[3]["activity_id"][1:], 1),)


def test_ux_score_is_the_mean_of_each_calls_score() -> None:
    analysis = run([act("x", 50.0), act("x", 3000.0)])
    assert analysis.capabilities[0].ux_score == pytest.approx((1.0 + 0.2) / 2)
    assert analysis.summary.ux_score == pytest.approx(0.6)


def test_outliers_are_counted_per_capability() -> None:
    rows = [act("indexer", 100.0) for _ in range(20)] + [act("indexer", 9000.0)]
    analysis = run(rows)
    assert analysis.capabilities[0].outliers == (9000.0,)
    (issue,) = [i for i in detect_issues(analysis) if i.issue_type == "response_outliers"]
    assert issue.severity == "low"
    assert to_api_dict(analysis)["activities_by_capability"][0]["outliers"] == 1


def test_summary_matches_the_session_projection() -> None:
    rows = [act("a", 100.0, cpu=20.0, mem=40.0), act("b", 300.0, ok=False, cpu=40.0, mem=60.0)]
    summary = run(rows).summary
    assert (summary.total_activities, summary.total_errors) == (2, 1)
    assert summary.success_rate == 50.0
    assert summary.avg_response_time == 200.0
    assert (summary.avg_cpu_usage, summary.avg_memory_usage) == (30.0, 50.0)


def test_capabilities_keep_order_of_first_call_and_rows_of_other_sessions_are_ignored() -> None:
    rows = [act("late", 10.0, at=50), act("early", 10.0, at=5),
            act("other", 10.0, at=1, session_id="elsewhere")]
    analysis = run(rows)
    assert [c.capability for c in analysis.capabilities] == ["early", "late"]


def test_success_column_none_falls_back_to_the_error_message() -> None:
    ok = {**act("x", 10.0), "success": None}
    failed = {**act("x", 10.0), "success": None, "error_message": "boom"}
    assert run([ok, failed]).summary.total_errors == 1


def test_zero_activities_divide_nothing_by_zero() -> None:
    analysis = run()
    summary = analysis.summary
    assert (summary.total_activities, summary.total_errors) == (0, 0)
    assert summary.success_rate == 0.0  # nothing was shown to work
    assert summary.avg_response_time == summary.p95_response_time == summary.ux_score == 0.0
    assert analysis.capabilities == ()
    assert analysis.memory_trend.source is None
    assert detect_issues(analysis) == []
    assert suggest(analysis) == []
    api = to_api_dict(analysis)
    assert api["session"]["overall_score"] == 0.0
    assert api["activities_by_capability"] == [] and api["top_issues"] == []


# --- worked well / poorly -----------------------------------------------------


def test_spec_example_worked_well_and_poorly() -> None:
    analysis = run(spec_example_rows())
    assert [(v.capability, v.reason) for v in analysis.worked_well] == [
        ("workspace_analyzer", "High success rate (100.0%) and fast response (245ms)"),
        ("code_search", "High success rate (95.0%) and fast response (189ms)"),
    ]
    assert [(v.capability, v.reason) for v in analysis.worked_poorly] == [
        ("security_scanner", "Low success rate (60.0%) or slow response (2134ms)"),
    ]
    assert analysis.summary.total_activities == 42
    assert analysis.summary.total_errors == 3
    assert f"{analysis.summary.success_rate:.1f}" == "92.9"


def _one_capability(success_pct: int, ms: float) -> SessionAnalysis:
    # success_pct of 1000 calls succeed, every call takes ms
    return run([act("cap", ms, ok=i < success_pct * 10) for i in range(1000)])


@pytest.mark.parametrize(("success", "ms", "well", "poorly"), [
    (100, 499.9, True, False),
    (95, 499.9, True, False),   # the spec lists 95.0% as working well
    (94, 100.0, False, False),
    (100, 500.0, False, False),  # 500ms is no longer "Excellent"
    (80, 2000.0, False, False),  # neither bound tripped: 80% and 2000ms are not poor
    (79, 100.0, False, True),
    (100, 2000.1, False, True),
])
def test_worked_well_and_poorly_bounds(success: int, ms: float, well: bool,
                                       poorly: bool) -> None:
    analysis = _one_capability(success, ms)
    assert bool(analysis.worked_well) is well
    assert bool(analysis.worked_poorly) is poorly


# --- memory trend -------------------------------------------------------------


def _rss(values: Sequence[float], step_s: float = 60.0) -> list[Row]:
    return [metric("realworld", "memory_usage", v, "MB", i * step_s)
            for i, v in enumerate(values)]


def test_steady_rss_growth_is_a_leak() -> None:
    analysis = run([act("x", 10.0)], _rss([100.0 + i for i in range(31)]))  # 1 MB/min
    trend = analysis.memory_trend
    assert trend.source == "process_metrics"
    assert trend.slope_mb_per_hour == pytest.approx(60.0)
    assert trend.r_squared == pytest.approx(1.0)
    assert trend.growth_mb == pytest.approx(30.0)
    assert trend.leak_suspected
    (issue,) = [i for i in detect_issues(analysis) if i.issue_type == "memory_leak"]
    assert (issue.issue_key, issue.severity) == ("realworld:memory_leak", "medium")
    assert any(s.category == "resource_optimization" for s in suggest(analysis))


@pytest.mark.parametrize("values", [
    [100.0, 101.0, 99.0, 100.0, 100.5, 99.5] * 5,   # flat with noise
    [100.0] * 15 + [160.0] * 16,                     # one step (R² 0.75), not a slope
    [100.0 + i * 0.2 for i in range(31)],            # 12 MB/h but only 6 MB in total
])
def test_flat_noisy_or_stepped_rss_is_not_a_leak(values: list[float]) -> None:
    assert not run([], _rss(values)).memory_trend.leak_suspected


def test_leak_needs_five_samples_over_five_minutes() -> None:
    assert not run([], _rss([100.0, 150.0, 200.0, 250.0])).memory_trend.leak_suspected
    assert not run([], _rss([100.0 + 20 * i for i in range(10)],
                            step_s=30.0)).memory_trend.leak_suspected  # 4.5 minutes
    assert run([], _rss([100.0 + 20 * i for i in range(11)],
                        step_s=30.0)).memory_trend.leak_suspected  # 5 minutes


def test_memory_trend_falls_back_to_activities() -> None:
    rows = [act("x", 10.0, at=i * 60.0, mem=100.0 + 2 * i) for i in range(20)]
    trend = run(rows).memory_trend
    assert trend.source == "activities"
    assert trend.slope_mb_per_hour == pytest.approx(120.0)
    assert trend.leak_suspected
    (issue,) = [i for i in detect_issues(run(rows)) if i.issue_type == "memory_leak"]
    assert issue.severity == "high"  # >= 100 MB/hour


# --- degradation --------------------------------------------------------------


def test_later_calls_slower_is_degradation() -> None:
    times = [100.0, 110.0, 90.0, 150.0, 160.0, 170.0, 300.0, 320.0, 310.0]
    analysis = run([act("search", ms, at=i) for i, ms in enumerate(times)])
    (check,) = analysis.degradation
    assert (check.first_median_ms, check.last_median_ms) == (100.0, 310.0)
    assert check.ratio == pytest.approx(3.1)
    assert check.degraded
    (issue,) = [i for i in detect_issues(analysis) if i.issue_type == "performance_degradation"]
    assert issue.severity == "high"  # >= 3x
    assert to_api_dict(analysis)["degradation"]["detected"] is True


@pytest.mark.parametrize("times", [
    [100.0] * 4 + [400.0] * 4,                  # eight calls: too few to split in thirds
    [2.0, 2.0, 2.0, 5.0, 5.0, 5.0, 10.0, 10.0, 10.0],  # 5x, but only 8ms slower
    [100.0, 100.0, 100.0, 120.0, 130.0, 140.0, 150.0, 150.0, 150.0],  # exactly 1.5x
])
def test_no_degradation(times: list[float]) -> None:
    analysis = run([act("search", ms, at=i) for i, ms in enumerate(times)])
    assert not analysis.degradation[0].degraded


# --- issues -------------------------------------------------------------------


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


# --- suggestions --------------------------------------------------------------


def test_spec_example_suggestions_in_the_specs_words() -> None:
    assert suggest(run(spec_example_rows())) == [
        SuggestionSpec("reliability", "high", "Fix error handling in security_scanner",
                       "Success rate is only 60.0%", "Could improve success rate to 95%+"),
        SuggestionSpec("performance", "medium",
                       "Optimize security_scanner - response time is too slow",
                       "Average response time is 2134ms",
                       "Could improve response time by 1067ms"),
    ]


def test_recurring_error_is_a_bug_fix() -> None:
    rows = [act("scan", 10.0, ok=i >= 3, error="KeyError: 'path'") for i in range(100)]
    made = suggest(run(rows))
    assert [(s.category, s.suggestion) for s in made] == [
        ("bug_fix", "Fix the recurring error in scan: KeyError: 'path'")]
    assert made[0].rationale == "The same error occurred 3 times in 100 calls"


def test_suggestion_priorities() -> None:
    def priority(success: int, calls: int = 100, ms: float = 10.0) -> list[str]:
        ok = calls * success // 100
        rows = [act("c", ms, ok=i < ok, error=f"e{i}") for i in range(calls)]
        return [s.priority for s in suggest(run(rows)) if s.category == "reliability"]

    assert priority(95) == []
    assert priority(94) == ["medium"]
    assert priority(80) == ["medium"]
    assert priority(79) == ["high"]
    assert priority(49) == ["critical"]
    slow = [s.priority for s in suggest(run([act("c", 5000.1)]))]
    assert slow == ["high"]


# --- planning events ------------------------------------------------------------


def _rows_after(events: Sequence[IssueDetected | IssueUpdated],
                rows: dict[str, Row]) -> dict[str, Row]:
    """What the issues projection does with these events (enough for planning)."""
    out = {k: dict(v) for k, v in rows.items()}
    for event in events:
        if isinstance(event, IssueDetected):
            out[event.issue_id] = {"issue_id": event.issue_id, "severity": event.severity,
                                   "capability": event.capability,
                                   "issue_type": event.issue_type,
                                   "description": event.description,
                                   "suggested_fix": event.suggested_fix,
                                   "reproducible": int(bool(event.reproducible))}
        else:
            row = out[event.issue_id]
            for name in ("severity", "description", "suggested_fix"):
                if getattr(event, name) is not None:
                    row[name] = getattr(event, name)
            if event.reproducible is not None:
                row["reproducible"] = int(event.reproducible)
    return out


def test_plan_issue_events_is_idempotent() -> None:
    specs = detect_issues(run(spec_example_rows()))
    first = plan_issue_events([], specs, SID)
    assert [type(e) for e in first] == [IssueDetected] * len(specs)
    assert [e.issue_id for e in first] == [issue_id(SID, s.issue_key) for s in specs]
    rows = _rows_after(first, {})
    assert plan_issue_events(list(rows.values()), specs, SID) == []


def test_a_changed_issue_is_updated_with_only_what_changed() -> None:
    spec = IssueSpec("x:slow_response", "high", "x", "slow_response", "slow", "fix it", True)
    rows = _rows_after(plan_issue_events([], [spec], SID), {})
    worse = IssueSpec("x:slow_response", "critical", "x", "slow_response", "slow", "fix it",
                      True)
    (event,) = plan_issue_events(list(rows.values()), [worse, worse], SID)
    assert event == IssueUpdated(SID, issue_id(SID, "x:slow_response"), severity="critical")


def test_issue_ids_are_deterministic_and_per_session() -> None:
    assert issue_id("s1", "a:b") == issue_id("s1", "a:b")
    assert issue_id("s1", "a:b") != issue_id("s2", "a:b")
    assert len(issue_id("s1", "a:b")) == 16


def test_plan_suggestion_events_skips_texts_already_made() -> None:
    specs = suggest(run(spec_example_rows()))
    existing = [{"session_id": SID, "suggestion": "Fix error handling in security_scanner"},
                {"session_id": "other",
                 "suggestion": "Optimize security_scanner - response time is too slow"}]
    planned = plan_suggestion_events(existing, [*specs, *specs], SID)
    assert planned == [SuggestionMade(
        SID, "performance", "medium", "Optimize security_scanner - response time is too slow",
        rationale="Average response time is 2134ms",
        estimated_impact="Could improve response time by 1067ms")]


# --- top issues and the API dict ------------------------------------------------


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


# --- from a real log ------------------------------------------------------------


def _read(conn: sqlite3.Connection, table: str) -> list[Row]:
    return [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE session_id = ?",
                                          (SPEC_SESSION,))]


def _analyze_log(conn: sqlite3.Connection) -> SessionAnalysis:
    (session,) = _read(conn, "test_sessions")
    return analyze(session, _read(conn, "activities"), _read(conn, "performance_metrics"),
                   _read(conn, "issues"), _read(conn, "improvement_suggestions"))


def test_analysis_of_a_real_session_log(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "x.db")
    conn = db.connect_readonly()
    conn.row_factory = sqlite3.Row
    analysis = _analyze_log(conn)
    session = analysis.session
    summary = analysis.summary
    assert (summary.total_activities, summary.total_errors) == (
        session["total_activities"], session["total_errors"]) == (7, 3)
    assert summary.avg_response_time == pytest.approx(session["avg_response_time"])
    assert summary.avg_cpu_usage == pytest.approx(session["avg_cpu_usage"])
    assert summary.avg_memory_usage == pytest.approx(session["avg_memory_usage"])
    assert analysis.resources.cpu_source == "system_metrics"
    assert [v.capability for v in analysis.worked_well] == ["workspace_analyzer"]
    assert [v.capability for v in analysis.worked_poorly] == ["code_search",
                                                              "security_scanner"]
    api = to_api_dict(analysis)
    assert len(api["top_issues"]) == 4 + len(detect_issues(analysis))
    # The recorded suggestion is not made twice.
    texts = [s["suggestion"] for s in api["suggestions"]]
    assert texts.count("Fix error handling in security_scanner") == 1
    conn.close()


def test_planned_events_projected_then_planned_again_add_nothing(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "x.db")
    reader = db.connect_readonly()
    reader.row_factory = sqlite3.Row
    analysis = _analyze_log(reader)
    issues = plan_issue_events(_read(reader, "issues"), detect_issues(analysis), SPEC_SESSION)
    suggestions = plan_suggestion_events(_read(reader, "improvement_suggestions"),
                                         suggest(analysis), SPEC_SESSION)
    assert issues and suggestions
    with EventStore(db) as store:
        store.append([Envelope(e) for e in [*issues, *suggestions]])
    catch_up(db)
    again = _analyze_log(reader)
    assert plan_issue_events(_read(reader, "issues"), detect_issues(again), SPEC_SESSION) == []
    assert plan_suggestion_events(_read(reader, "improvement_suggestions"), suggest(again),
                                  SPEC_SESSION) == []
    assert len(top_issues(again)) == len(_read(reader, "issues"))
    reader.close()

"""Rows to a session's measures: per capability and summary, verdicts, memory trend,
degradation (daemon.read.analysis.aggregate)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.issues import detect_issues
from daemon.read.analysis.model import SessionAnalysis
from daemon.read.analysis.suggestions import suggest

from logbuilders import spec_session_log
from sessionrows import Row, act, analyze_log, metric, run, spec_example_rows

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


def _full_pass(capability: str, ms: float) -> Row:
    return {**act(capability, ms), "result_data": '{"full_pass": true, "files": 1013}'}


@pytest.mark.parametrize(("success", "ms", "reason"), [
    (100, 7852.0, "Slow response (7852ms average); success rate fine (100.0%)"),
    (60, 120.0, "Low success rate (60.0%); response time fine (120ms)"),
    (60, 2134.0, "Low success rate (60.0%) or slow response (2134ms)"),  # both: the spec's
])
def test_worked_poorly_says_which_measure_is_poor(success: int, ms: float,
                                                  reason: str) -> None:
    (verdict,) = _one_capability(success, ms).worked_poorly
    assert verdict.reason == reason


def test_full_passes_are_not_judged_for_speed() -> None:
    """A first pass over 1,013 files taking 8 s is not three critical slow responses."""
    passes = [_full_pass(name, ms) for name, ms in (("security_scanner", 7852.0),
                                                     ("code_indexer", 6100.0),
                                                     ("pattern_probe", 5300.0))]
    analysis = run(passes)
    assert not [i for i in detect_issues(analysis) if i.issue_type == "slow_response"]
    assert not analysis.worked_poorly
    assert analysis.worked_well[0].reason == (
        "High success rate (100.0%); 1 full pass, whose time grows with the workspace, "
        "not judged for speed")
    scanner = analysis.capabilities[0]
    assert (scanner.avg_response, scanner.full_pass_calls, scanner.judged_calls) == (
        7852.0, 1, 0)  # the table still shows the pass's time
    assert not [s for s in suggest(analysis) if s.category == "performance"]
    # The change batches after it are judged, and only they.
    slow = run([*passes, *(act("security_scanner", 2600.0) for _ in range(4))])
    (issue,) = [i for i in detect_issues(slow) if i.issue_type == "slow_response"]
    assert issue.severity == "high"  # 2600 ms, not the 3549 ms average with the pass
    assert issue.description == ("Slow response times affecting UX (average 2600ms, p95 "
                                 "2600ms over 4 change batches, 1 full passes not judged)")
    (verdict,) = slow.worked_poorly
    assert verdict.reason == ("Slow response (2600ms average over 4 change batches); "
                              "success rate fine (100.0%)")


def test_a_full_pass_is_no_outlier_and_no_degradation() -> None:
    rows = [_full_pass("indexer", 9000.0)] + [act("indexer", 100.0) for _ in range(20)]
    analysis = run(rows)
    assert analysis.capabilities[0].outliers == ()
    assert not analysis.degradation[0].degraded


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


def test_a_trend_over_a_moment_is_not_long_enough() -> None:
    """Half a second of samples is not +8706.7 MB/hour."""
    moment = run([], _rss([100.0, 101.0, 102.4], step_s=0.2)).memory_trend
    assert moment.slope_mb_per_hour > 8000 and not moment.long_enough
    assert not moment.leak_suspected
    assert run([], _rss([100.0] * 6)).memory_trend.long_enough  # 6 samples over 5 minutes


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


# --- from a real log ------------------------------------------------------------


def test_analysis_of_a_real_session_log(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "x.db")
    conn = db.connect_readonly()
    conn.row_factory = sqlite3.Row
    analysis = analyze_log(conn)
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


def test_each_capability_shows_the_means_of_its_per_call_metrics() -> None:
    rows = [act("code_search", 10.0), act("code_search", 30.0), act("code_indexer", 50.0)]
    metrics = [metric("code_search", "cpu_usage", 40.0, "percent", 1),
               metric("code_search", "cpu_usage", 60.0, "percent", 2),
               metric("code_indexer", "ms_per_file", 2.5, "ms/file", 3),
               metric("code_search", "time_to_first_result", 900.0, "ms", 1),
               {**metric("code_search", "accuracy", 0.5, "ratio", 1), "context": "hit@1"},
               {**metric("code_search", "accuracy", 1.0, "ratio", 2), "context": "hit@1"},
               metric("system", "cpu_usage", 99.0, "percent", 2)]  # not a capability's
    by_name = {c.capability: c for c in run(rows, metrics).capabilities}
    search, index = by_name["code_search"], by_name["code_indexer"]
    assert (search.cpu_percent, search.time_to_first_result_ms, search.accuracy) == (
        50.0, 900.0, (("hit@1", 0.75),))
    assert (index.cpu_percent, index.ms_per_file, index.accuracy) == (None, 2.5, ())
    api = {c["capability"]: c for c in to_api_dict(run(rows, metrics))["activities_by_capability"]}
    assert api["code_search"]["cpu_percent"] == 50.0

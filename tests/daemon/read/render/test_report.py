"""The improvement report: the spec's text layout byte for byte, Markdown and JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from daemon.read.analysis.aggregate import analyze
from daemon.read.analysis.api import to_api_dict
from daemon.read.render.html import render_html
from daemon.read.render.report import (
    NO_ACTIVITIES,
    banner,
    duration_text,
    render_json,
    render_markdown,
    render_text,
)

from conftest import REPO_ROOT

# Copied from the spec's "Report Formats" / "Improvement Report" block, unchanged.
SPEC_REPORT = r"""================================================================================
                     REAL-WORLD TESTING - IMPROVEMENT REPORT
================================================================================

Session ID: test_20260203_121500
Project: C:\Users\User\.openclaw\workspace
Duration: 5 minutes
Status: completed

================================== SUMMARY =====================================
Total Activities: 42
Total Errors: 3
Success Rate: 92.9%
Avg Response Time: 341ms

============================== WHAT WORKED WELL ================================

workspace_analyzer:
  High success rate (100.0%) and fast response (245ms)

code_search:
  High success rate (95.0%) and fast response (189ms)

============================= WHAT WORKED POORLY ===============================

security_scanner:
  Low success rate (60.0%) or slow response (2134ms)

========================== TOP ISSUES DISCOVERED ===============================

1. [HIGH] security_scanner
   Slow response times affecting UX
   Fix: Optimize scanning algorithm or add caching

2. [MEDIUM] code_search
   Occasional memory spikes during large file indexing
   Fix: Implement batch processing for large files

========================= ACTIONABLE IMPROVEMENTS ==============================

1. [HIGH] Fix error handling in security_scanner
   Category: reliability
   Why: Success rate is only 60.0%
   Impact: Could improve success rate to 95%+

2. [MEDIUM] Optimize security_scanner - response time is too slow
   Category: performance
   Why: Average response time is 2134ms
   Impact: Could improve response time by 1067ms

================================ END OF REPORT =================================
"""

SPEC_SESSION_ROW = {"session_id": "test_20260203_121500",
                    "project_path": r"C:\Users\User\.openclaw\workspace",
                    "duration_minutes": 5, "status": "completed",
                    "start_time": "2026-02-03T12:15:00+00:00",
                    "end_time": "2026-02-03T12:20:00+00:00"}

SPEC_ISSUES = [
    {"severity": "high", "capability": "security_scanner", "issue_type": "performance",
     "description": "Slow response times affecting UX",
     "suggested_fix": "Optimize scanning algorithm or add caching"},
    {"severity": "medium", "capability": "code_search", "issue_type": "memory",
     "description": "Occasional memory spikes during large file indexing",
     "suggested_fix": "Implement batch processing for large files"},
]

SPEC_DICT: dict[str, Any] = {
    "session": SPEC_SESSION_ROW,
    "summary": {"total_activities": 42, "total_errors": 3, "success_rate": 39 / 42 * 100,
                "avg_response_time": 341.0},
    "worked_well": [
        {"capability": "workspace_analyzer",
         "reason": "High success rate (100.0%) and fast response (245ms)"},
        {"capability": "code_search",
         "reason": "High success rate (95.0%) and fast response (189ms)"},
    ],
    "worked_poorly": [
        {"capability": "security_scanner",
         "reason": "Low success rate (60.0%) or slow response (2134ms)"},
    ],
    "top_issues": SPEC_ISSUES,
    "suggestions": [
        {"category": "reliability", "priority": "high",
         "suggestion": "Fix error handling in security_scanner",
         "rationale": "Success rate is only 60.0%",
         "estimated_impact": "Could improve success rate to 95%+"},
        {"category": "performance", "priority": "medium",
         "suggestion": "Optimize security_scanner - response time is too slow",
         "rationale": "Average response time is 2134ms",
         "estimated_impact": "Could improve response time by 1067ms"},
    ],
}


def spec_block_from_spec_file() -> str | None:
    path = REPO_ROOT.parent / "shared" / "seed" / "000_998fa7e5dcb7c40f.txt"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    start = text.index("```\n", text.index("### Improvement Report")) + 4
    return text[start:text.index("```", start)]


def test_copied_block_is_the_specs() -> None:
    block = spec_block_from_spec_file()
    if block is None:
        pytest.skip("the spec is not beside this checkout")
    assert block == SPEC_REPORT


def test_spec_numbers_render_the_spec_report_byte_for_byte() -> None:
    assert render_text(SPEC_DICT) == SPEC_REPORT


def _act(n: int, capability: str, ms: float, ok: bool) -> dict[str, Any]:
    moment = datetime(2026, 2, 3, 12, 15, tzinfo=timezone.utc) + timedelta(seconds=n)
    return {"activity_id": f"a{n}", "session_id": SPEC_SESSION_ROW["session_id"],
            "timestamp": moment.isoformat(), "capability": capability, "activity_type": "run",
            "response_time_ms": ms, "cpu_after": 25.0, "memory_after_mb": 40.0,
            "success": ok, "error_message": None if ok else f"error {n}"}


def test_analysis_of_the_spec_example_renders_its_sections() -> None:
    # Only the summary's average (the spec's 341ms cannot come from its own per-capability
    # numbers) and the issues (recorded by other means in the spec) are taken from it.
    plan = ([("workspace_analyzer", 245.0, True)] * 17
            + [("code_search", 189.0, i != 7) for i in range(20)]
            + [("security_scanner", ms, i < 3)
               for i, ms in enumerate([2345.0, 1923.0, 2134.0, 2100.0, 2168.0])])
    rows = [_act(n, cap, ms, ok) for n, (cap, ms, ok) in enumerate(plan)]
    api = to_api_dict(analyze(SPEC_SESSION_ROW, rows, [], [], []))
    api["summary"]["avg_response_time"] = 341.0
    api["top_issues"] = SPEC_ISSUES
    assert render_text(api) == SPEC_REPORT


def test_every_banner_is_eighty_columns() -> None:
    banners = [line for line in SPEC_REPORT.splitlines() if line.startswith("=")]
    assert len(banners) == 8
    assert all(len(line) == 80 for line in banners)
    assert banner("SUMMARY") == banners[2]
    assert banner("END OF REPORT") == banners[-1]
    other = banner("CAPABILITIES")
    assert len(other) == 80 and other == " CAPABILITIES ".center(80, "=")


def test_empty_sections_say_none() -> None:
    text = render_text({"session": {"session_id": "s", "project_path": "/p",
                                    "duration_minutes": 1, "status": "running"},
                        "summary": {}})
    assert "Duration: 1 minute\n" in text
    assert f"{banner('SUMMARY')}\n{NO_ACTIVITIES}\n\n" in text
    for title in ("WHAT WORKED WELL", "WHAT WORKED POORLY", "TOP ISSUES DISCOVERED",
                  "ACTIONABLE IMPROVEMENTS"):
        assert f"{banner(title)}\n\n  (none)\n\n" in text
    assert text.endswith(banner("END OF REPORT") + "\n")


def _empty_session_api() -> dict[str, Any]:
    return to_api_dict(analyze(SPEC_SESSION_ROW, [], [], [], []))


def test_a_session_without_activities_says_so_instead_of_zeros() -> None:
    text = render_text(_empty_session_api())
    assert NO_ACTIVITIES.startswith("This session recorded no activities")
    summary = text.split(banner("SUMMARY") + "\n")[1].split("\n\n")[0]
    assert summary == NO_ACTIVITIES
    for measured in ("Total Errors", "Success Rate", "Avg Response Time", "0ms", "0.0%"):
        assert measured not in text
    # The spec's banners, in the spec's order, as for any other session.
    banners = [line for line in SPEC_REPORT.splitlines() if line.startswith("=")]
    assert [line for line in text.splitlines() if line.startswith("=")] == banners


def test_a_session_without_activities_in_markdown_has_no_summary_table() -> None:
    md = render_markdown(_empty_session_api())
    assert f"\n## Summary\n\n{NO_ACTIVITIES}\n" in md
    assert "| Metric | Value |" not in md and "0ms" not in md and "0.0%" not in md
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## What Worked Well", "## What Worked Poorly",
                        "## Top Issues Discovered", "## Actionable Improvements"]


def test_a_session_without_activities_in_json_keeps_its_counts() -> None:
    data = json.loads(render_json(_empty_session_api()))
    assert data["summary"]["total_activities"] == 0
    assert data["summary"]["success_rate"] == 0.0


def test_missing_fields_drop_their_lines_and_long_lists_are_cut() -> None:
    issues = [{"severity": "low", "capability": f"c{i}", "description": None,
               "suggested_fix": None} for i in range(12)]
    suggestion = {"priority": "low", "suggestion": "Do it", "category": "bug_fix"}
    text = render_text({"session": {}, "summary": {}, "top_issues": issues,
                        "suggestions": [suggestion]})
    assert "1. [LOW] c0\n\n2. [LOW] c1\n" in text
    assert "10. [LOW] c9\n\n... and 2 more\n\n" in text
    assert "c10" not in text
    assert "1. [LOW] Do it\n   Category: bug_fix\n\n" in text
    assert "None" not in text


@pytest.mark.parametrize(("session", "expected"), [
    ({"duration_minutes": 5}, "5 minutes"),
    ({"duration_minutes": 1}, "1 minute"),
    ({"duration_minutes": 0.5}, "0:00:30"),
    ({"duration_minutes": 50 / 60}, "0:00:50"),  # not "0.833333 minutes"
    ({"duration_minutes": 0, "start_time": "2026-02-03T12:00:00+00:00",
      "end_time": "2026-02-03T12:12:30+00:00"}, "0:12:30 (elapsed)"),
    ({"duration_minutes": 0, "start_time": "2026-02-03T12:00:00+00:00",
      "end_time": "2026-02-03T12:00:07.4+00:00"}, "0:00:07 (elapsed)"),
    ({"duration_minutes": 0, "start_time": "2026-02-03T12:00:00+00:00", "end_time": None},
     "continuous"),
    ({}, "continuous"),
])
def test_duration_text(session: dict[str, Any], expected: str) -> None:
    assert duration_text(session) == expected


def test_session_analysis_and_its_dict_render_alike() -> None:
    rows = [_act(n, "search", 150.0, n != 3) for n in range(6)]
    analysis = analyze(SPEC_SESSION_ROW, rows, [], [], [])
    api = to_api_dict(analysis)
    assert render_text(analysis) == render_text(api)
    assert render_markdown(analysis) == render_markdown(api)
    assert json.loads(render_json(analysis)) == json.loads(json.dumps(api))


def test_markdown_has_the_same_content() -> None:
    md = render_markdown(SPEC_DICT)
    assert md.startswith("# Real-World Testing - Improvement Report\n")
    for heading in ("## Summary", "## What Worked Well", "## What Worked Poorly",
                    "## Top Issues Discovered", "## Actionable Improvements"):
        assert f"\n{heading}\n" in md
    assert "| Success Rate | 92.9% |" in md
    assert "- **workspace_analyzer**: High success rate (100.0%) and fast response (245ms)" in md
    assert "1. **[HIGH] security_scanner**\n   - Slow response times affecting UX\n" in md
    assert "   - Impact: Could improve response time by 1067ms\n" in md
    assert "\\" in md  # the Windows path's backslashes are escaped, not eaten


def test_markdown_escapes_table_breaking_text() -> None:
    api = {"session": {}, "summary": {},
           "activities_by_capability": [{"capability": "a|b", "calls": 1}],
           "worked_well": [{"capability": "x", "reason": "uses *stars* and `ticks`"}]}
    md = render_markdown(api)
    assert "| a\\|b | 1 |" in md
    assert "uses \\*stars\\* and \\`ticks\\`" in md
    assert md.count("_None._") == 3


def test_json_is_the_whole_dict() -> None:
    out = render_json(SPEC_DICT)
    assert out.endswith("\n")
    assert json.loads(out) == SPEC_DICT


def test_what_configuration_hid_is_one_line_of_the_summary() -> None:
    hidden = [{"rule": "B101", "source": "default", "detail": "**/tests/**",
               "findings": 2571},
              {"rule": "hardcoded-password", "source": "detect-secrets baseline",
               "detail": ".secrets.baseline", "findings": 2}]
    text = render_text({**SPEC_DICT, "skipped_by_configuration": hidden})
    line = ("Skipped by configuration: B101 \N{MULTIPLICATION SIGN}2,571 (**/tests/**, "
            "default); hardcoded-password \N{MULTIPLICATION SIGN}2 (.secrets.baseline, "
            "detect-secrets baseline)")
    lines = text.splitlines()
    assert lines[lines.index("Avg Response Time: 341ms") + 1] == line
    # Nothing hidden, nothing said: the spec's report stays byte for byte.
    assert render_text({**SPEC_DICT, "skipped_by_configuration": []}) == SPEC_REPORT
    assert "Skipped by configuration: B101" in render_markdown(
        {**SPEC_DICT, "skipped_by_configuration": hidden})


def test_the_analysis_reads_what_was_hidden_from_the_scanners_latest_full_pass() -> None:
    def scan(n: int, full: bool, count: int) -> dict[str, Any]:
        data = {"full_pass": full, "skipped_by_configuration": [
            {"rule": "B101", "source": "default", "detail": "**/tests/**", "findings": count}]}
        return {**_act(n, "security_scanner", 50.0, True), "result_data": json.dumps(data)}

    rows = [scan(0, True, 7), scan(1, True, 5), scan(2, False, 1),
            _act(3, "code_search", 10.0, True)]
    api = to_api_dict(analyze(SPEC_SESSION_ROW, rows, [], [], []))
    assert api["skipped_by_configuration"] == [
        {"rule": "B101", "source": "default", "detail": "**/tests/**", "findings": 5}]
    assert "Skipped by configuration: B101 \N{MULTIPLICATION SIGN}5 (**/tests/**, default)" \
        in render_text(api).splitlines()


def test_markdown_html_and_text_show_each_capabilitys_metrics() -> None:
    report = {"session": {"session_id": "s"}, "summary": {"total_activities": 1},
              "activities_by_capability": [{
                  "capability": "code_search", "calls": 1, "cpu_percent": 42.0,
                  "ms_per_file": None, "time_to_first_result_ms": 850.0,
                  "accuracy": [["search probes: mean reciprocal rank", 0.82]]}]}
    markdown = render_markdown(report)
    assert "CPU/call (% of 1 core) | ms/file | First result | Accuracy |" in markdown
    assert "| 42.0 | n/a | 850ms | search probes: mean reciprocal rank 0.82 |" in markdown
    html = render_html(report)
    assert "<td>42.0</td><td>n/a</td><td>850ms</td>" in html
    text = render_text(report)
    assert (f"{banner('METRICS BY CAPABILITY')}\ncode_search: CPU/call (% of 1 core) 42.0, "
            "First result 850ms, Accuracy search probes: mean reciprocal rank 0.82\n\n") in text

"""The self-contained HTML report: structure, escaping, data points, nothing fetched."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analyzers.security.rule_docs import rule_doc
from daemon.read.analysis.aggregate import analyze
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.rows import epoch
from daemon.read.analysis.series import Point, Series, SessionSeries, session_series
from daemon.read.render.html import (
    MAX_FINDINGS,
    MAX_POINTS,
    nice_ceiling,
    render_html,
    svg_chart,
    thin,
    time_ticks,
)
from daemon.read.reporting import load_analysis, load_series

from logbuilders import SPEC_SESSION, spec_session_log


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **match: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags
                if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in match.items())]


def parse(document: str) -> Elements:
    parser = Elements()
    parser.feed(document)
    parser.close()
    return parser


@pytest.fixture
def spec_html(tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    db = spec_session_log(tmp_path / "log.db")
    conn = db.connect_readonly()
    try:
        cursor = conn.execute("SELECT capability, response_time_ms, success FROM activities "
                              "WHERE session_id = ?", (SPEC_SESSION,))
        rows = [dict(zip(("capability", "ms", "success"), r, strict=True)) for r in cursor]
    finally:
        conn.close()
    return render_html(load_analysis(db, SPEC_SESSION), load_series(db, SPEC_SESSION)), rows


def test_document_structure_follows_the_text_report(spec_html: tuple[str, Any]) -> None:
    document, _ = spec_html
    assert document.startswith("<!DOCTYPE html>\n") and document.endswith("</html>\n")
    page = parse(document)
    ids = [a["id"] for t, a in page.tags if t in ("section", "header") and a.get("id")]
    assert ids == ["session", "summary", "charts", "capabilities", "worked-well",
                   "worked-poorly", "issues", "suggestions", "findings", "resources"]
    assert [a["id"] for a in page.all("svg")] == ["chart-response", "chart-cpu", "chart-memory"]
    text = " ".join(page.text)
    for expected in (SPEC_SESSION, "/work/project", "5 minutes", "completed",
                     "Real-World Testing - Improvement Report", "Total Activities",
                     "What Worked Well", "What Worked Poorly", "Top Issues Discovered",
                     "Actionable Improvements", "Fix error handling in security_scanner",
                     "time (UTC)", "response time (ms)"):
        assert expected in text, expected


def test_every_activity_is_a_point_with_its_value(spec_html: tuple[str, Any]) -> None:
    document, rows = spec_html
    page = parse(document)
    points = [a for a in page.all("circle") if a.get("data-capability")]
    assert len(points) == len(rows) == 7
    assert Counter((a["data-capability"], float(a["data-ms"] or "nan")) for a in points) == \
        Counter((r["capability"], r["ms"]) for r in rows)
    assert sum(a["data-ok"] == "false" for a in points) == sum(not r["success"] for r in rows)
    assert all(a.get("data-series") for a in page.all("circle"))  # each belongs to a series


def test_points_are_plotted_where_their_values_say(spec_html: tuple[str, Any]) -> None:
    document, _ = spec_html
    points = [a for a in parse(document).all("circle") if a.get("data-capability")]
    by_value = sorted(points, key=lambda a: float(a["data-ms"] or 0))
    heights = [float(a["cy"] or 0) for a in by_value]
    assert heights == sorted(heights, reverse=True)  # slower is higher up (smaller y)
    by_time = sorted(points, key=lambda a: epoch(a["data-t"]) or 0)
    xs = [float(a["cx"] or 0) for a in by_time]
    assert xs == sorted(xs)


def test_resource_charts_carry_cpu_and_memory(spec_html: tuple[str, Any]) -> None:
    document, _ = spec_html
    page = parse(document)
    cpu_after = page.all("circle", data_series="cpu_after")
    assert sorted(float(a["data-value"] or 0) for a in cpu_after) == \
        sorted([25.0, 27.0, 22.0, 30.0, 60.0, 70.0, 65.0])
    assert [a["data-value"] for a in page.all("circle", data_series="system_cpu")] == ["25.3"]
    rss = page.all("circle", data_series="memory_after")
    assert len(rss) == 7 and {a["data-unit"] for a in rss} == {"MB"}


def test_nothing_is_fetched_from_anywhere(spec_html: tuple[str, Any]) -> None:
    document, _ = spec_html
    page = parse(document)
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
    assert "http://" not in document and "https://" not in document
    assert "url(" not in document and "@import" not in document
    assert "default-src 'none'" in document  # and the browser is told to refuse any fetch


def _hostile_report() -> dict[str, Any]:
    evil = '<script>alert("x")</script>&amp;"\'<'
    return {
        "session": {"session_id": evil, "project_path": "/tmp/<b>", "status": "completed",
                    "duration_minutes": 1, "overall_score": 50.0},
        "summary": {"total_activities": 1, "total_errors": 0, "success_rate": 100.0,
                    "avg_response_time": 5.0},
        "activities_by_capability": [{"capability": evil, "calls": 1, "errors": 0,
                                      "success_rate": 100.0, "avg_response": 5.0,
                                      "grade": evil, "ux_score": 1.0}],
        "worked_well": [{"capability": evil, "reason": evil}],
        "worked_poorly": [],
        "top_issues": [{"severity": evil, "capability": evil, "issue_type": evil,
                        "description": evil, "suggested_fix": evil}],
        "suggestions": [{"priority": "high", "suggestion": evil, "category": evil,
                         "rationale": evil, "estimated_impact": evil}],
    }


def test_every_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>&amp;"\'<'
    point = Point(epoch("2026-02-03T12:00:00Z") or 0.0, 5.0)
    series = SessionSeries(point.t, point.t + 60, (Series(evil, evil, "ms", (point,)),), (), ())
    document = render_html(_hostile_report(), series)
    assert "<script" not in document and "<b>" not in document
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;&quot;&#x27;&lt;" in document
    page = parse(document)  # attributes round-trip to the original text
    [circle] = [a for a in page.all("circle") if a.get("data-capability")]
    assert circle["data-capability"] == evil
    assert evil in " ".join(page.text)


def test_file_names_that_are_not_utf8_still_encode() -> None:
    name = "bad-\udcff.py"
    point = Point(1_700_000_000.0, 3.0)
    report = _hostile_report() | {"worked_well": [{"capability": name, "reason": name}]}
    document = render_html(report, SessionSeries(point.t, point.t, (
        Series(name, name, "ms", (point,)),), (), ()))
    document.encode("utf-8")
    assert "bad-\ufffd" in document


def test_empty_session_says_so_without_dividing_by_zero() -> None:
    session = {"session_id": "s-empty", "project_path": "/p", "status": "completed",
               "duration_minutes": 1, "start_time": "2026-02-03T12:00:00+00:00",
               "end_time": "2026-02-03T12:01:00+00:00"}
    analysis = analyze(session, [], [], [], [])
    document = render_html(analysis, session_series(session, [], []))
    page = parse(document)
    assert page.all("p", id="no-activities")
    text = " ".join(page.text)
    assert "This session recorded no activities" in text
    assert "No timed activities recorded" in text
    assert not page.all("circle")
    assert render_html(to_api_dict(analysis)).count("<svg") == 3  # no series at all: fine


def test_a_single_point_is_centred_not_divided_by_zero() -> None:
    point = Point(1_700_000_000.0, 0.0)
    svg = svg_chart("c", "t", "ms", [Series("a", "a", "ms", (point,))], point.t, point.t)
    [circle] = parse(svg).all("circle")
    assert float(circle["cx"] or 0) == pytest.approx(72 + (960 - 72 - 40) / 2)


def test_long_series_are_thinned_keeping_the_spikes() -> None:
    points = tuple(Point(1_700_000_000.0 + i, 10.0) for i in range(5 * MAX_POINTS))
    spiked = (*points[:777], Point(points[777].t, 9999.0), *points[778:])
    kept = thin(spiked)
    assert len(kept) <= MAX_POINTS
    assert max(p.value for p in kept) == 9999.0
    assert [p.t for p in kept] == sorted(p.t for p in kept)
    assert thin(points[:10]) == points[:10]
    data = SessionSeries(points[0].t, points[-1].t, (Series("a", "a", "ms", spiked),), (), ())
    document = render_html(_hostile_report(), data)
    assert len([a for a in parse(document).all("circle") if a.get("data-capability")]) <= \
        MAX_POINTS
    assert "at most 2000 points per series are drawn" in document


@pytest.mark.parametrize(("value", "expected"), [
    (0.0, 1.0), (-5.0, 1.0), (0.7, 1.0), (1.0, 1.0), (1.2, 2.0), (2.2, 2.5), (2.5, 2.5),
    (3.0, 5.0), (7.0, 10.0), (2345.0, 2500.0), (58.0, 100.0), (float("nan"), 1.0),
])
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


def test_time_ticks_are_round_and_inside() -> None:
    start = epoch("2026-02-03T12:15:00Z") or 0.0
    ticks = time_ticks(start, start + 300)
    assert ticks[0] == start and ticks[-1] == start + 300
    assert all(t % 60 == 0 for t in ticks) and len(ticks) <= 9
    week = time_ticks(start, start + 86400 * 30)
    assert 2 <= len(week) <= 9
    assert len(time_ticks(start, start + 86400 * 3650)) <= 10


def test_an_empty_percent_chart_still_spans_0_to_100() -> None:
    svg = svg_chart("c", "t", "percent", [], None, None, unit="percent")
    ticks = [t for t in parse(svg).text if t.strip()]
    assert ticks[0] == "0" and "100" in ticks and "No data recorded" in ticks


def _finding(rule: str, capability: str = "security_scanner", **extra: Any) -> dict[str, Any]:
    return {"fingerprint": f"f-{rule}", "capability": capability, "rule": rule,
            "path": "pkg/app.py", "line": 3, "severity": "high", "confidence": "high",
            "message": f"{rule} found", "preview": "", "resolved_at": None, **extra}


def test_findings_are_listed_with_severity_place_masked_snippet_and_rule_page() -> None:
    findings = [_finding("B602", severity="high"),
                _finding("aws-access-key-id", severity="critical", path="notes.md",
                         line=7, preview="AKIA************4E"),
                _finding("long_function", capability="pattern_probe", severity="low",
                         message="<script>alert(1)</script>")]
    page = parse(render_html(to_api_dict(analyze({"session_id": "s"}, [], [], [], [])),
                             findings=findings))
    rows = [a for a in page.all("tr") if a.get("class") == "finding"]
    assert len(rows) == 3
    links = {a["href"] for a in page.all("a")}
    assert rule_doc("B602").help_uri in links  # bandit's page of the rule
    assert "b602_subprocess_popen_with_shell_equals_true" in rule_doc("B602").help_uri
    assert "https://cwe.mitre.org/data/definitions/798.html" in links  # a secret rule
    assert len(links) == 2  # a pattern rule has no page
    text = " ".join(page.text)
    assert "notes.md:7" in text and "AKIA************4E" in text
    assert "Open Findings (3)" in text and "CRITICAL" in text
    assert "<script>alert(1)</script>" in text  # as text, escaped in the document
    assert not page.all("script")


def test_the_findings_table_is_bounded_and_says_so() -> None:
    many = [_finding("B101", line=n) for n in range(MAX_FINDINGS + 5)]
    document = render_html(to_api_dict(analyze({"session_id": "s"}, [], [], [], [])),
                           findings=many)
    assert document.count('<tr class="finding">') == MAX_FINDINGS
    assert "5 more; <code>realworld findings SESSION</code> lists them all." in document
    empty = render_html(to_api_dict(analyze({"session_id": "s"}, [], [], [], [])))
    assert '<section id="findings"><h2>Open Findings</h2><p class="none">None.' in empty


def test_a_memory_trend_over_a_moment_is_no_rate() -> None:
    """Three samples 0.2 s apart are not "+8706.7 MB/hour ... no leak suspected"."""
    metrics = [{"session_id": "s", "capability": "realworld", "metric_type": "memory_usage",
                "unit": "MB", "value": 100.0 + i,
                "timestamp": f"2026-02-03T12:00:00.{2 * i}+00:00"}
               for i in range(3)]
    document = render_html(to_api_dict(analyze({"session_id": "s"}, [], metrics, [], [])))
    assert "MB/hour" not in document
    assert "too short to tell (3 samples over 0:00:00)" in document
    hours = [{**m, "value": 100.0 + 0.1 * i, "timestamp": f"2026-02-03T1{i}:00:00+00:00"}
             for i, m in enumerate(metrics * 2)]
    longer = render_html(to_api_dict(analyze({"session_id": "s"}, [], hours, [], [])))
    assert "+0.1 MB/hour" in longer and "no leak suspected (6 samples over 5:00:00)" in longer

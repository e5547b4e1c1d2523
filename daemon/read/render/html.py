"""The improvement report as one self-contained HTML file, with inline SVG charts.

:func:`render_html` takes the analysis (the API dict or a
:class:`~daemon.read.analysis.model.SessionAnalysis`) and the session's time series
(:func:`daemon.read.analysis.series.session_series`) and returns a complete document. Decisions:

* **Self-contained.** CSS is inline and the charts are inline SVG written here, so the
  file opens the same offline, attached to a CI run or mailed; a Content-Security-Policy
  ``default-src 'none'`` makes the browser refuse any fetch should a value ever smuggle
  a URL in. No JavaScript: hover titles (``<title>`` in SVG) give each point's numbers.
* **Same sections as the text report** (:func:`daemon.read.render.report.render_text`), in its
  order, plus the overall score, the per-capability table, the open findings, resources and
  three charts. Lists are not cut at 10 items as in the 80-column text: a browser scrolls
  (findings stop at :data:`MAX_FINDINGS`, saying how many more there are).
* **Findings** come as the rows of the ``findings`` projection (masked previews only,
  invariant 4), passed in by the caller; a rule links to its page (bandit's documentation,
  MITRE's CWE, radon's), from :mod:`daemon.read.render.rule_links` as SARIF has them.
* **Every point is identifiable.** Each drawn point is a ``<circle class="point">``
  carrying ``data-series``, ``data-value``, ``data-unit``, ``data-t`` (ISO-8601, UTC) and
  ``data-ok``; response-time points also carry ``data-capability`` and ``data-ms``.
  Values are written with ``repr`` so they read back as the exact floats stored.
  Failed calls are drawn hollow.
* **Bounded size.** A series with more than :data:`MAX_POINTS` points is thinned to the
  slowest (largest) point of each equal stride, because spikes are what a reader looks
  for; the chart's caption then says how many points it shows.
* **Time axis** is shared by the three charts (the session's span) so they line up, in
  UTC, the zone the log records.
* **Escaping.** Every text and attribute value goes through :func:`html.escape`; lone
  surrogates (file names that are not UTF-8) become U+FFFD so the file can be written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

from daemon.durations import format_clock
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.model import SessionAnalysis
from daemon.read.analysis.series import Point, Series, SessionSeries
from daemon.read.render.report import (
    METRIC_HEADINGS,
    NO_ACTIVITIES,
    RESTORE_HINT,
    archived_rates,
    archived_summary,
    duration_text,
    metric_cells,
)
from daemon.read.render.rule_links import rule_doc
from daemon.version import __version__

Report = Mapping[str, Any]

MAX_POINTS: Final = 2000  # per series; beyond this a series is thinned (module docstring)
MAX_FINDINGS: Final = 1000  # rows of the findings table; the rest are counted

WIDTH: Final = 960
HEIGHT: Final = 300
LEFT: Final = 72
RIGHT: Final = 40  # room for the last time label, centred on its tick
TOP: Final = 16
BOTTOM: Final = 52
PLOT_W: Final = WIDTH - LEFT - RIGHT
PLOT_H: Final = HEIGHT - TOP - BOTTOM

# Tableau 10: distinguishable, and readable by most colour-blind readers.
PALETTE: Final = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                  "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")

# Seconds between time ticks, the first giving at most MAX_TIME_TICKS wins.
TIME_STEPS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                     21600, 43200, 86400, 172800, 604800)
MAX_TIME_TICKS: Final = 8
VALUE_TICKS: Final = 5

SEVERITY_CLASS: Final = {"critical": "sev-critical", "high": "sev-high",
                         "medium": "sev-medium", "low": "sev-low", "info": "sev-info"}

CSS: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1020px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 12px; }
h2 { font-size: 19px; margin: 0 0 12px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
section, header { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 16px 20px; margin: 0 0 18px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.meta dt { font-weight: 600; color: #57606a; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.score { font-size: 30px; font-weight: 700; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; }
.card .label { color: #57606a; font-size: 13px; }
.card .value { font-size: 22px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2;
  overflow-wrap: anywhere; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0 0 20px; }
figcaption { font-weight: 600; margin: 0 0 4px; }
svg.chart { width: 100%; height: auto; display: block; background: #fff; }
svg.chart text { font-size: 12px; fill: #57606a; font-family: inherit; }
svg.chart .axis { stroke: #8c959f; stroke-width: 1; }
svg.chart .grid { stroke: #eaeef2; stroke-width: 1; }
svg.chart .line { fill: none; stroke-width: 1.5; stroke-opacity: 0.7; }
svg.chart .point { stroke-width: 1.5; }
svg.chart .empty { font-size: 15px; fill: #8c959f; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap;
  gap: 4px 18px; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%;
  margin-right: 6px; vertical-align: -1px; }
.swatch.hollow { background: #fff !important; border: 2px solid #57606a; }
.note { color: #57606a; font-size: 13px; margin: 4px 0 0; }
.empty-session { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: 8px 12px; }
ol.items > li { margin: 0 0 10px; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; border-radius: 4px;
  padding: 0 6px; margin-right: 6px; color: #fff; background: #57606a; }
.sev-critical { background: #a40e26; } .sev-high { background: #cf222e; }
.sev-medium { background: #bc4c00; } .sev-low { background: #4d6b8a; }
.sev-info { background: #6e7781; }
.detail { color: #424a53; margin-left: 4px; }
.none { color: #8c959f; font-style: italic; }
footer { color: #8c959f; font-size: 12px; text-align: center; }
"""


# --- small helpers ------------------------------------------------------------


def clean(value: Any) -> str:
    """Text that can be encoded as UTF-8: lone surrogates become U+FFFD."""
    text = str(value)
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def esc(value: Any) -> str:
    return html.escape(clean(value), quote=True)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _opt(value: Any, fmt: str, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    try:
        return format(float(value), fmt) + suffix
    except (TypeError, ValueError):
        return "n/a"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()


def _items(report: Report, key: str) -> list[Mapping[str, Any]]:
    value = report.get(key) or []
    return [v for v in value if isinstance(v, Mapping)]


# --- scales -------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5, 10 x 10^k that is >= value (1 for nothing to show)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * magnitude >= value * (1 - 1e-12):
            return step * magnitude
    return 10.0 * magnitude


def value_range(values: Sequence[float], unit: str) -> tuple[float, float]:
    """(low, high) of a chart's value axis: from 0 (or below, for negatives) to a nice top."""
    highest = max(values, default=0.0)
    lowest = min(values, default=0.0)
    high = nice_ceiling(highest)
    if unit == "percent":
        high = max(high, 100.0)  # percentages read best against their whole scale
    low = 0.0 if lowest >= 0 else -nice_ceiling(-lowest)
    return low, high


def time_range(start: float | None, end: float | None) -> tuple[float, float]:
    if start is None or end is None:
        return 0.0, 1.0
    if end - start < 1.0:
        # One instant (or one point): centre it in a one-second window.
        middle = (start + end) / 2.0
        return middle - 0.5, middle + 0.5
    return start, end


def time_ticks(start: float, end: float) -> list[float]:
    span = end - start
    step = float(next((s for s in TIME_STEPS if span / s <= MAX_TIME_TICKS), 0))
    if not step:
        step = nice_ceiling(span / MAX_TIME_TICKS)
    first = math.ceil(start / step) * step
    ticks: list[float] = []
    tick = first
    while tick <= end + 1e-9 and len(ticks) <= MAX_TIME_TICKS + 1:
        ticks.append(tick)
        tick += step
    return ticks


def time_label(t: float, start: float, end: float) -> str:
    moment = datetime.fromtimestamp(t, tz=timezone.utc)
    first = datetime.fromtimestamp(start, tz=timezone.utc)
    last = datetime.fromtimestamp(end, tz=timezone.utc)
    if first.date() != last.date():
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%H:%M:%S" if end - start < 600 else "%H:%M")


def value_label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == 0 else f"{value:g}"


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> tuple[Point, ...]:
    """At most ``limit`` points: the largest of each equal stride, in time order."""
    if len(points) <= limit:
        return tuple(points)
    stride = math.ceil(len(points) / limit)
    kept = [max(points[i:i + stride], key=lambda p: p.value)
            for i in range(0, len(points), stride)]
    return tuple(kept)


# --- charts -------------------------------------------------------------------


def _x(t: float, start: float, end: float) -> float:
    return LEFT + PLOT_W * (t - start) / (end - start)


def _y(value: float, low: float, high: float) -> float:
    return TOP + PLOT_H * (1.0 - (value - low) / (high - low))


def _point_svg(series: Series, point: Point, color: str, x: float, y: float,
               per_capability: bool) -> str:
    attrs = [f'class="point{"" if point.ok else " failed"}"', f'cx="{x:.2f}"', f'cy="{y:.2f}"',
             f'r="{3.5 if point.ok else 4}"', f'data-series="{esc(series.key)}"',
             f'data-value="{point.value!r}"', f'data-unit="{esc(series.unit)}"',
             f'data-t="{esc(_iso(point.t))}"', f'data-ok="{"true" if point.ok else "false"}"']
    if per_capability:
        attrs += [f'data-capability="{esc(series.key)}"', f'data-ms="{point.value!r}"']
    fill = color if point.ok else "#ffffff"
    attrs += [f'fill="{fill}"', f'stroke="{color}"']
    unit = "ms" if series.unit == "ms" else ("%" if series.unit == "percent" else " MB")
    status = "" if point.ok else " (failed)"
    tip = (f"{series.label} at {datetime.fromtimestamp(point.t, tz=timezone.utc):%H:%M:%S} "
           f"UTC: {point.value:g}{unit}{status}")
    return f'<circle {" ".join(attrs)}><title>{esc(tip)}</title></circle>'


def svg_chart(chart_id: str, title: str, y_label: str, series: Sequence[Series],
              start: float | None, end: float | None, *, unit: str = "",
              per_capability: bool = False, empty_text: str = "No data recorded") -> str:
    """One line-and-points chart with axes, grid and axis labels, as an ``<svg>``."""
    x_start, x_end = time_range(start, end)
    shown = [(s, thin(s.points)) for s in series]
    values = [p.value for _, points in shown for p in points]
    unit = unit or (series[0].unit if series else "")
    low, high = value_range(values, unit)
    parts = [f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{esc(title)}">']
    # Grid and value axis.
    for i in range(VALUE_TICKS + 1):
        value = low + (high - low) * i / VALUE_TICKS
        y = _y(value, low, high)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                     f'y1="{y:.2f}" y2="{y:.2f}"/>')
        parts.append(f'<text class="y-tick" x="{LEFT - 8}" y="{y + 4:.2f}" '
                     f'text-anchor="end">{esc(value_label(value))}</text>')
    # Time axis.
    for tick in time_ticks(x_start, x_end):
        x = _x(tick, x_start, x_end)
        parts.append(f'<line class="axis" x1="{x:.2f}" x2="{x:.2f}" y1="{TOP + PLOT_H}" '
                     f'y2="{TOP + PLOT_H + 5}"/>')
        parts.append(f'<text class="x-tick" x="{x:.2f}" y="{TOP + PLOT_H + 19}" '
                     f'text-anchor="middle">{esc(time_label(tick, x_start, x_end))}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + PLOT_H}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + PLOT_H}" '
                 f'y2="{TOP + PLOT_H}"/>')
    parts.append(f'<text class="x-label" x="{LEFT + PLOT_W / 2:.0f}" y="{HEIGHT - 6}" '
                 'text-anchor="middle">time (UTC)</text>')
    parts.append(f'<text class="y-label" x="14" y="{TOP + PLOT_H / 2:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + PLOT_H / 2:.0f})">{esc(y_label)}</text>')
    if not values:
        parts.append(f'<text class="empty" x="{LEFT + PLOT_W / 2:.0f}" '
                     f'y="{TOP + PLOT_H / 2:.0f}" text-anchor="middle">{esc(empty_text)}</text>')
    # Lines under points, so every point stays visible.
    for index, (item, points) in enumerate(shown):
        color = PALETTE[index % len(PALETTE)]
        if len(points) > 1:
            coords = " ".join(f"{_x(p.t, x_start, x_end):.2f},{_y(p.value, low, high):.2f}"
                              for p in points)
            parts.append(f'<polyline class="line" data-series="{esc(item.key)}" '
                         f'stroke="{color}" points="{coords}"/>')
    for index, (item, points) in enumerate(shown):
        color = PALETTE[index % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{esc(item.key)}">')
        parts.extend(_point_svg(item, p, color, _x(p.t, x_start, x_end),
                                _y(p.value, low, high), per_capability) for p in points)
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(series: Sequence[Series]) -> str:
    entries = [f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}">'
               f'</span>{esc(s.label)} ({len(s.points)})</li>' for i, s in enumerate(series)]
    if any(not p.ok for s in series for p in s.points):
        entries.append('<li><span class="swatch hollow"></span>failed call</li>')
    return f'<ul class="legend">{"".join(entries)}</ul>' if entries else ""


def _figure(chart_id: str, caption: str, y_label: str, series: Sequence[Series],
            data: SessionSeries, *, unit: str, per_capability: bool = False,
            empty_text: str = "No data recorded") -> str:
    thinned = [s for s in series if len(s.points) > MAX_POINTS]
    note = ""
    if thinned:
        note = ('<p class="note">Long series are thinned to the largest value of each run of '
                f"consecutive points: at most {MAX_POINTS} points per series are drawn.</p>")
    return (f'<figure id="{esc(chart_id)}-figure"><figcaption>{esc(caption)}</figcaption>\n'
            + svg_chart(chart_id, caption, y_label, series, data.start, data.end,
                        unit=unit, per_capability=per_capability, empty_text=empty_text)
            + "\n" + _legend(series) + note + "</figure>")


def charts_html(data: SessionSeries) -> str:
    return "\n".join((
        _figure("chart-response", "Response time per capability over time", "response time (ms)",
                data.response_ms, data, unit="ms", per_capability=True,
                empty_text="No timed activities recorded"),
        _figure("chart-cpu", "CPU and system memory over time", "percent", data.percent, data,
                unit="percent", empty_text="No CPU or memory samples recorded"),
        _figure("chart-memory", "Process memory over time", "memory (MB)", data.memory_mb, data,
                unit="MB", empty_text="No process memory samples recorded"),
    ))


# --- sections -----------------------------------------------------------------


def _header(data: Report) -> str:
    session: Mapping[str, Any] = data.get("session") or {}
    rows = [("Session ID", session.get("session_id", "")),
            ("Project", session.get("project_path", "")),
            ("Duration", duration_text(session)),
            ("Status", session.get("status", "")),
            ("Started", session.get("start_time") or "n/a"),
            ("Ended", session.get("end_time") or "n/a")]
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    score = session.get("overall_score")
    score_html = ""
    if score is not None:
        score_html = (f'<p>Overall score: <span class="score" id="overall-score">'
                      f"{_number(score):.1f}</span> / 100</p>")
    return ('<header id="session"><h1>Real-World Testing - Improvement Report</h1>'
            f'<dl class="meta">{meta}</dl>{score_html}</header>')


def _archived_summary(archived: Mapping[str, Any]) -> str:
    total, errors, rate, avg = archived_rates(archived)
    cards = [("Total Activities", f"{total}"), ("Total Errors", f"{errors}"),
             ("Success Rate", f"{rate:.1f}%"), ("Avg Response Time", f"{avg:.0f}ms")]
    body = "".join(f'<div class="card"><div class="label">{esc(k)}</div>'
                   f'<div class="value">{esc(v)}</div></div>' for k, v in cards)
    note = (f'<p class="empty-session" id="archived">Archived: its '
            f'{int(_number(archived.get("events")))} events are in '
            f'<code>{esc(archived.get("segment", ""))}</code>; '
            f'<code>{esc(RESTORE_HINT)}</code> brings the detail back, so the charts are '
            "empty.</p>")
    return f'<section id="summary"><h2>Summary</h2>{note}<div class="cards">{body}</div></section>'


def _summary(data: Report) -> str:
    archived = archived_summary(data)
    if archived is not None:
        return _archived_summary(archived)
    summary: Mapping[str, Any] = data.get("summary") or {}
    total = int(_number(summary.get("total_activities")))
    cards = [("Total Activities", f"{total}"),
             ("Total Errors", f"{int(_number(summary.get('total_errors')))}"),
             ("Success Rate", f"{_number(summary.get('success_rate')):.1f}%"),
             ("Avg Response Time", f"{_number(summary.get('avg_response_time')):.0f}ms")]
    if "p95_response_time" in summary:
        cards.append(("p95 Response Time", f"{_number(summary.get('p95_response_time')):.0f}ms"))
    body = "".join(f'<div class="card"><div class="label">{esc(k)}</div>'
                   f'<div class="value">{esc(v)}</div></div>' for k, v in cards)
    empty = ""
    if total == 0:
        empty = ('<p class="empty-session" id="no-activities">'
                 f"{esc(NO_ACTIVITIES.rstrip('.'))}, so rates and averages show 0 "
                 "and the charts are empty.</p>")
    return f'<section id="summary"><h2>Summary</h2>{empty}<div class="cards">{body}</div></section>'


def _capabilities(data: Report) -> str:
    caps = _items(data, "activities_by_capability")
    if not caps:
        return ('<section id="capabilities"><h2>Capabilities</h2>'
                '<p class="none">No capability was called.</p></section>')
    head = ("<tr><th>Capability</th><th class=num>Calls</th><th class=num>Errors</th>"
            "<th class=num>Success</th><th class=num>Avg</th><th class=num>p95</th>"
            "<th class=num>Min</th><th class=num>Max</th><th>Grade</th><th class=num>UX</th>"
            + "".join(f"<th>{esc(h)}</th>" for h in METRIC_HEADINGS) + "</tr>")
    rows = []
    for cap in caps:
        rows.append(
            f"<tr><td>{esc(cap.get('capability'))}</td>"
            f"<td class=num>{int(_number(cap.get('calls')))}</td>"
            f"<td class=num>{int(_number(cap.get('errors')))}</td>"
            f"<td class=num>{_number(cap.get('success_rate')):.1f}%</td>"
            f"<td class=num>{_number(cap.get('avg_response')):.0f}ms</td>"
            f"<td class=num>{_number(cap.get('p95_response')):.0f}ms</td>"
            f"<td class=num>{_number(cap.get('min_response')):.0f}ms</td>"
            f"<td class=num>{_number(cap.get('max_response')):.0f}ms</td>"
            f"<td>{esc(cap.get('grade') or 'n/a')}</td>"
            f"<td class=num>{esc(_opt(cap.get('ux_score'), '.2f'))}</td>"
            + "".join(f"<td>{esc(cell)}</td>" for cell in metric_cells(cap)) + "</tr>")
    return (f'<section id="capabilities"><h2>Capabilities</h2><table>{head}{"".join(rows)}'
            "</table></section>")


def _verdicts(data: Report, key: str, title: str, section_id: str) -> str:
    verdicts = _items(data, key)
    if not verdicts:
        return (f'<section id="{section_id}"><h2>{esc(title)}</h2>'
                '<p class="none">None.</p></section>')
    items = "".join(f"<li><strong>{esc(v.get('capability'))}</strong>: "
                    f"{esc(v.get('reason', ''))}</li>" for v in verdicts)
    return f'<section id="{section_id}"><h2>{esc(title)}</h2><ul>{items}</ul></section>'


def _badge(level: Any) -> str:
    name = str(level or "").lower()
    return f'<span class="badge {SEVERITY_CLASS.get(name, "")}">{esc(name.upper())}</span>'


def _issues(data: Report) -> str:
    issues = _items(data, "top_issues")
    if not issues:
        return ('<section id="issues"><h2>Top Issues Discovered</h2>'
                '<p class="none">None.</p></section>')
    items = []
    for issue in issues:
        lines = [f"{_badge(issue.get('severity'))}<strong>{esc(issue.get('capability', ''))}"
                 f"</strong>"]
        if issue.get("issue_type"):
            lines.append(f' <span class="detail">({esc(issue["issue_type"])})</span>')
        if issue.get("description"):
            lines.append(f'<div class="detail">{esc(issue["description"])}</div>')
        if issue.get("suggested_fix"):
            lines.append(f'<div class="detail">Fix: {esc(issue["suggested_fix"])}</div>')
        items.append(f'<li class="issue">{"".join(lines)}</li>')
    return (f'<section id="issues"><h2>Top Issues Discovered</h2><ol class="items">'
            f'{"".join(items)}</ol></section>')


def _suggestions(data: Report) -> str:
    suggestions = _items(data, "suggestions")
    if not suggestions:
        return ('<section id="suggestions"><h2>Actionable Improvements</h2>'
                '<p class="none">None.</p></section>')
    items = []
    for item in suggestions:
        lines = [f"{_badge(item.get('priority'))}<strong>{esc(item.get('suggestion', ''))}"
                 "</strong>"]
        for label, key in (("Category", "category"), ("Why", "rationale"),
                           ("Impact", "estimated_impact")):
            if item.get(key):
                lines.append(f'<div class="detail">{label}: {esc(item[key])}</div>')
        items.append(f'<li class="suggestion">{"".join(lines)}</li>')
    return (f'<section id="suggestions"><h2>Actionable Improvements</h2><ol class="items">'
            f'{"".join(items)}</ol></section>')


def _resources(data: Report) -> str:
    res: Mapping[str, Any] = data.get("resource_usage") or {}
    trend: Mapping[str, Any] = data.get("memory_trend") or {}
    if not res and not trend:
        return ""
    rows = [
        ("Average CPU", _opt(res.get("avg_cpu_percent"), ".1f", "%"),
         res.get("cpu_grade") or "n/a"),
        ("Peak CPU", _opt(res.get("peak_cpu_percent"), ".1f", "%"), ""),
        ("Average system memory", _opt(res.get("avg_memory_percent"), ".1f", "%"),
         res.get("memory_grade") or "n/a"),
        ("Peak system memory", _opt(res.get("peak_memory_percent"), ".1f", "%"), ""),
        ("Average process memory", _opt(res.get("avg_process_memory_mb"), ".1f", " MB"), ""),
        ("Peak process memory", _opt(res.get("peak_process_memory_mb"), ".1f", " MB"), ""),
        ("Peak disk", _opt(res.get("peak_disk_percent"), ".1f", "%"), ""),
    ]
    samples = int(_number(trend.get("samples")))
    span = format_clock(_number(trend.get("span_minutes")) * 60)
    if samples and trend.get("long_enough"):
        leak = "leak suspected" if trend.get("leak_suspected") else "no leak suspected"
        rows.append(("Memory trend", _opt(trend.get("slope_mb_per_hour"), "+.1f", " MB/hour"),
                     f"{leak} ({samples} samples over {span})"))
    elif samples:
        # A slope over a moment, extrapolated to an hour, would be a number from noise.
        rows.append(("Memory trend", "n/a",
                     f"too short to tell ({samples} samples over {span})"))
    body = "".join(f"<tr><td>{esc(a)}</td><td class=num>{esc(b)}</td><td>{esc(c)}</td></tr>"
                   for a, b, c in rows)
    source = res.get("cpu_source")
    note = f'<p class="note">CPU from {esc(source)}.</p>' if source else ""
    return ('<section id="resources"><h2>Resources</h2><table><tr><th>Measure</th>'
            f'<th class=num>Value</th><th>Grade</th></tr>{body}</table>{note}</section>')


def _rule_cell(finding: Mapping[str, Any]) -> str:
    rule = str(finding.get("rule") or "")
    doc = rule_doc(str(finding.get("capability") or ""), rule)
    if doc is None:
        return f"<code>{esc(rule)}</code>"
    title = doc.description if doc.name == rule else f"{doc.name}: {doc.description}"
    return (f'<a href="{esc(doc.help_uri)}" rel="noreferrer" title="{esc(title)}">'
            f"<code>{esc(rule)}</code></a>")


def _findings(findings: Sequence[Mapping[str, Any]]) -> str:
    """The open findings, worst first: severity, rule (linked), place, masked snippet."""
    if not findings:
        return ('<section id="findings"><h2>Open Findings</h2>'
                '<p class="none">None.</p></section>')
    head = ("<tr><th>Severity</th><th>Rule</th><th>Where</th><th>What</th>"
            "<th>Snippet (masked)</th></tr>")
    rows = []
    for finding in findings[:MAX_FINDINGS]:
        preview = finding.get("preview")
        rows.append(
            f'<tr class="finding"><td>{_badge(finding.get("severity"))}</td>'
            f"<td>{_rule_cell(finding)}</td>"
            f"<td><code>{esc(finding.get('path', ''))}:{int(_number(finding.get('line')))}"
            f"</code></td><td>{esc(finding.get('message') or '')}</td>"
            f"<td>{f'<code>{esc(preview)}</code>' if preview else ''}</td></tr>")
    more = len(findings) - MAX_FINDINGS
    note = (f'<p class="note">{more} more; <code>realworld findings SESSION</code> lists '
            "them all.</p>" if more > 0 else "")
    return (f'<section id="findings"><h2>Open Findings ({len(findings)})</h2><table>{head}'
            f'{"".join(rows)}</table>{note}</section>')


# --- the document -------------------------------------------------------------


def render_html(report: Report | SessionAnalysis, series: SessionSeries | None = None,
                findings: Sequence[Mapping[str, Any]] = ()) -> str:
    """The whole report as one HTML document (see the module docstring), ending in a newline.

    Without ``series`` the charts say that no data was recorded; ``findings`` are the
    session's open findings, worst first (:func:`daemon.read.queries.load_findings`).
    """
    data = to_api_dict(report) if isinstance(report, SessionAnalysis) else report
    if series is None:
        series = SessionSeries(None, None, (), (), ())
    session: Mapping[str, Any] = data.get("session") or {}
    title = f"Real-World Testing - Improvement Report - {session.get('session_id', '')}"
    body = "\n".join((
        _header(data),
        _summary(data),
        f'<section id="charts"><h2>Charts</h2>\n{charts_html(series)}\n</section>',
        _capabilities(data),
        _verdicts(data, "worked_well", "What Worked Well", "worked-well"),
        _verdicts(data, "worked_poorly", "What Worked Poorly", "worked-poorly"),
        _issues(data),
        _suggestions(data),
        _findings(findings),
        _resources(data),
        f"<footer>Generated by realworld {esc(__version__)}</footer>",
    ))
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="realworld {esc(__version__)}">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{body}\n</main>\n</body>\n</html>\n")

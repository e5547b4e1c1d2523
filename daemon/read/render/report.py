"""The improvement report as text (the spec's layout, line for line), Markdown and JSON.

Each renderer takes the analysis API dict (:func:`daemon.read.analysis.api.to_api_dict`)
or a :class:`~daemon.read.analysis.model.SessionAnalysis`, and reads only the keys it
shows, so a hand-built dict with the spec's numbers renders the spec's example byte for
byte.

Text layout decisions beyond the spec's example:

* The spec's section banners are 80 columns but not consistently centred (SUMMARY has
  34 '=' on the left and 37 on the right, TOP ISSUES DISCOVERED 26 and 31); each known
  title keeps the spec's exact left run, and any other title is centred.
* An empty section prints ``  (none)`` so a reader sees it was considered.
* A session that recorded no activities says so in its SUMMARY (and Markdown Summary) in
  place of the counts, rates and averages: zeros there would read like measurements. The
  wording is the HTML report's, so every format says it alike.
* "Duration" is the planned length; a continuous or single-pass session (planned 0)
  shows the elapsed time with "(elapsed)", or "continuous" while it still runs.
* An issue or suggestion without a description, fix, rationale or impact omits that
  line rather than printing "None".
* The text report shows at most 10 issues and 10 suggestions, then "... and N more";
  the JSON report has them all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from daemon.durations import format_clock
from daemon.read.analysis.api import to_api_dict
from daemon.read.analysis.model import SessionAnalysis

WIDTH: Final = 80
TITLE: Final = "REAL-WORLD TESTING - IMPROVEMENT REPORT"
TITLE_INDENT: Final = 21  # as the spec prints it
MAX_ITEMS: Final = 10
NONE_LINE: Final = "  (none)"
NO_ACTIVITIES: Final = "This session recorded no activities: there is nothing to measure."
RESTORE_HINT: Final = "realworld archive --restore"
TIMES: Final = "\N{MULTIPLICATION SIGN}"  # between a rule and its count: B101 then 2,571

# '=' before each title in the spec's example report.
BANNER_LEFT: Final[dict[str, int]] = {
    "SUMMARY": 34,
    "WHAT WORKED WELL": 30,
    "WHAT WORKED POORLY": 29,
    "TOP ISSUES DISCOVERED": 26,
    "ACTIONABLE IMPROVEMENTS": 25,
    "END OF REPORT": 32,
}

Report = Mapping[str, Any]


def _as_dict(report: Report | SessionAnalysis) -> Report:
    return to_api_dict(report) if isinstance(report, SessionAnalysis) else report


def banner(title: str) -> str:
    """An 80-column '=' line with `` title `` in it, placed as the spec places it."""
    inner = f" {title} "
    left = BANNER_LEFT.get(title, max(0, (WIDTH - len(inner)) // 2))
    return "=" * left + inner + "=" * max(0, WIDTH - left - len(inner))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _minutes(value: float) -> str:
    if float(value).is_integer():
        whole = int(value)
        return f"{whole} minute{'' if whole == 1 else 's'}"
    return format_clock(value * 60)  # 0:00:50, not 0.833333 minutes


def _elapsed_minutes(start: Any, end: Any) -> float | None:
    try:
        began = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        ended = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    if (began.tzinfo is None) != (ended.tzinfo is None):
        return None
    return (ended - began).total_seconds() / 60.0


def duration_text(session: Mapping[str, Any]) -> str:
    planned = _number(session.get("duration_minutes"))
    if planned > 0:
        return _minutes(planned)
    if session.get("start_time") and session.get("end_time"):
        elapsed = _elapsed_minutes(session["start_time"], session["end_time"])
        if elapsed is not None:
            return f"{format_clock(elapsed * 60)} (elapsed)"
    return "continuous"


def _items(report: Report, key: str) -> list[Mapping[str, Any]]:
    value = report.get(key) or []
    return [v for v in value if isinstance(v, Mapping)]


def _more(items: Sequence[object]) -> list[str]:
    hidden = len(items) - MAX_ITEMS
    return [f"... and {hidden} more", ""] if hidden > 0 else []


def recorded_nothing(summary: Mapping[str, Any]) -> bool:
    """True for a session without activities (a missing count is none, as in the HTML)."""
    return _number(summary.get("total_activities")) <= 0


def archived_summary(report: Report) -> Mapping[str, Any] | None:
    """The archive's totals of a session whose activities are no longer in the log."""
    archived = report.get("archived")
    summary = report.get("summary") or {}
    if not isinstance(archived, Mapping) or not recorded_nothing(summary):
        return None
    return archived


def archived_line(archived: Mapping[str, Any], segment: str | None = None) -> str:
    """One sentence: where the detail is and how to get it back (``segment`` as shown)."""
    shown = str(archived.get("segment", "")) if segment is None else segment
    return (f"Archived: its {int(_number(archived.get('events')))} events are in "
            f"{shown}; `{RESTORE_HINT}` brings the detail back.")


def archived_rates(archived: Mapping[str, Any]) -> tuple[int, int, float, float]:
    """Activities, errors, success rate (percent) and average response time (ms)."""
    total = int(_number(archived.get("total_activities")))
    errors = int(_number(archived.get("total_errors")))
    rate = 100.0 * (total - errors) / total if total else 0.0
    return total, errors, rate, _number(archived.get("avg_response_time"))


def skipped_line(report: Report) -> str | None:
    """One sentence on the findings configuration hid (``B101`` TIMES ``2,571 (tests/**,
    default)``), None when it hid none."""
    entries = _items(report, "skipped_by_configuration")
    parts = [f"{entry.get('rule', '')} {TIMES}{int(_number(entry.get('findings'))):,} "
             f"({entry.get('detail', '')}, {entry.get('source', '')})"
             for entry in entries if _number(entry.get("findings")) > 0]
    return f"Skipped by configuration: {'; '.join(parts)}" if parts else None


def skipped_lines(report: Report) -> list[str]:
    line = skipped_line(report)
    return [] if line is None else [line]


#: The headings of :func:`metric_cells`, in its order.
METRIC_HEADINGS: Final = ("CPU/call (% of 1 core)", "ms/file", "First result", "Accuracy")


def metric_cells(cap: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """A capability's per-call metrics as table cells ("n/a" where not measured)."""
    first = cap.get("time_to_first_result_ms")
    accuracy = "; ".join(f"{what} {_number(value):.2f}"
                         for what, value in cap.get("accuracy") or ()) or "n/a"
    return (_opt(cap.get("cpu_percent"), ".1f"), _opt(cap.get("ms_per_file"), ".2f"),
            "n/a" if first is None else _ms(first), accuracy)


# --- text -------------------------------------------------------------------


def _text_summary(summary: Mapping[str, Any],
                  archived: Mapping[str, Any] | None) -> list[str]:
    if archived is not None:
        total, errors, rate, avg = archived_rates(archived)
        return [archived_line(archived), f"Total Activities: {total}",
                f"Total Errors: {errors}", f"Success Rate: {rate:.1f}%",
                f"Avg Response Time: {avg:.0f}ms"]
    if recorded_nothing(summary):
        return [NO_ACTIVITIES]
    return [
        f"Total Activities: {int(_number(summary.get('total_activities')))}",
        f"Total Errors: {int(_number(summary.get('total_errors')))}",
        f"Success Rate: {_number(summary.get('success_rate')):.1f}%",
        f"Avg Response Time: {_number(summary.get('avg_response_time')):.0f}ms",
    ]


def _text_metrics(report: Report) -> list[str]:
    """One line per capability with per-call metrics; nothing for a log without them (the
    spec's report layout then stays exactly as it is)."""
    lines = []
    for cap in _items(report, "activities_by_capability"):
        cells = [f"{heading} {cell}" for heading, cell in zip(METRIC_HEADINGS, metric_cells(cap),
                                                               strict=True) if cell != "n/a"]
        if cells:
            lines.append(f"{cap.get('capability')}: " + ", ".join(cells))
    return [banner("METRICS BY CAPABILITY"), *lines, ""] if lines else []


def render_text(report: Report | SessionAnalysis) -> str:
    """The spec's "Improvement Report", ending with a newline."""
    data = _as_dict(report)
    session: Mapping[str, Any] = data.get("session") or {}
    summary: Mapping[str, Any] = data.get("summary") or {}
    lines = [
        "=" * WIDTH,
        " " * TITLE_INDENT + TITLE,
        "=" * WIDTH,
        "",
        f"Session ID: {session.get('session_id', '')}",
        f"Project: {session.get('project_path', '')}",
        f"Duration: {duration_text(session)}",
        f"Status: {session.get('status', '')}",
        "",
        banner("SUMMARY"),
        *_text_summary(summary, archived_summary(data)),
        *skipped_lines(data),
        "",
        *_text_metrics(data),
    ]
    for title, key in (("WHAT WORKED WELL", "worked_well"),
                       ("WHAT WORKED POORLY", "worked_poorly")):
        lines += [banner(title), ""]
        verdicts = _items(data, key)
        for verdict in verdicts:
            lines += [f"{verdict.get('capability')}:", f"  {verdict.get('reason', '')}", ""]
        if not verdicts:
            lines += [NONE_LINE, ""]

    lines += [banner("TOP ISSUES DISCOVERED"), ""]
    issues = _items(data, "top_issues")
    for number, issue in enumerate(issues[:MAX_ITEMS], 1):
        lines.append(f"{number}. [{str(issue.get('severity', '')).upper()}] "
                     f"{issue.get('capability', '')}")
        if issue.get("description"):
            lines.append(f"   {issue['description']}")
        if issue.get("suggested_fix"):
            lines.append(f"   Fix: {issue['suggested_fix']}")
        lines.append("")
    lines += _more(issues) if issues else [NONE_LINE, ""]

    lines += [banner("ACTIONABLE IMPROVEMENTS"), ""]
    suggestions = _items(data, "suggestions")
    for number, item in enumerate(suggestions[:MAX_ITEMS], 1):
        lines.append(f"{number}. [{str(item.get('priority', '')).upper()}] "
                     f"{item.get('suggestion', '')}")
        for label, key in (("Category", "category"), ("Why", "rationale"),
                           ("Impact", "estimated_impact")):
            if item.get(key):
                lines.append(f"   {label}: {item[key]}")
        lines.append("")
    lines += _more(suggestions) if suggestions else [NONE_LINE, ""]

    lines.append(banner("END OF REPORT"))
    return "\n".join(lines) + "\n"


# --- markdown ---------------------------------------------------------------

_MD_SPECIAL: Final = str.maketrans({c: "\\" + c for c in "\\`*[]<>|"})


def _md(value: Any) -> str:
    """Inline text that Markdown shows as written (underscores in names are left alone)."""
    return " ".join(str(value).split()).translate(_MD_SPECIAL)


def _ms(value: Any) -> str:
    return f"{_number(value):.0f}ms"


def _opt(value: Any, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _markdown_summary(summary: Mapping[str, Any],
                      archived: Mapping[str, Any] | None) -> list[str]:
    if archived is not None:
        total, errors, rate, avg = archived_rates(archived)
        return [archived_line(archived, _md(archived.get("segment", ""))), "",
                "| Metric | Value |", "|---|---|",
                f"| Total Activities | {total} |", f"| Total Errors | {errors} |",
                f"| Success Rate | {rate:.1f}% |", f"| Avg Response Time | {_ms(avg)} |"]
    if recorded_nothing(summary):
        return [NO_ACTIVITIES]
    rows = [
        "| Metric | Value |",
        "|---|---|",
        f"| Total Activities | {int(_number(summary.get('total_activities')))} |",
        f"| Total Errors | {int(_number(summary.get('total_errors')))} |",
        f"| Success Rate | {_number(summary.get('success_rate')):.1f}% |",
        f"| Avg Response Time | {_ms(summary.get('avg_response_time'))} |",
    ]
    if "p95_response_time" in summary:
        rows.append(f"| p95 Response Time | {_ms(summary.get('p95_response_time'))} |")
    return rows


def render_markdown(report: Report | SessionAnalysis) -> str:
    """The same content as :func:`render_text`, plus the score and per-capability table."""
    data = _as_dict(report)
    session: Mapping[str, Any] = data.get("session") or {}
    summary: Mapping[str, Any] = data.get("summary") or {}
    lines = [
        "# Real-World Testing - Improvement Report",
        "",
        f"- **Session ID:** {_md(session.get('session_id', ''))}",
        f"- **Project:** {_md(session.get('project_path', ''))}",
        f"- **Duration:** {_md(duration_text(session))}",
        f"- **Status:** {_md(session.get('status', ''))}",
    ]
    if session.get("overall_score") is not None:
        lines.append(f"- **Overall Score:** {_number(session['overall_score']):.1f} / 100")
    lines += ["", "## Summary", "", *_markdown_summary(summary, archived_summary(data))]
    lines += [line for text in skipped_lines(data) for line in ("", _md(text))]
    capabilities = _items(data, "activities_by_capability")
    if capabilities:
        lines += ["", "## Capabilities", "",
                  "| Capability | Calls | Errors | Success | Avg | p95 | Max | Grade | UX | "
                  + " | ".join(METRIC_HEADINGS) + " |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"]
        for cap in capabilities:
            lines.append(
                f"| {_md(cap.get('capability'))} | {int(_number(cap.get('calls')))} "
                f"| {int(_number(cap.get('errors')))} "
                f"| {_number(cap.get('success_rate')):.1f}% | {_ms(cap.get('avg_response'))} "
                f"| {_ms(cap.get('p95_response'))} | {_ms(cap.get('max_response'))} "
                f"| {_md(cap.get('grade') or 'n/a')} | {_opt(cap.get('ux_score'), '.2f')} | "
                + " | ".join(_md(cell) for cell in metric_cells(cap)) + " |")
    for title, key in (("What Worked Well", "worked_well"),
                       ("What Worked Poorly", "worked_poorly")):
        lines += ["", f"## {title}", ""]
        verdicts = _items(data, key)
        lines += [f"- **{_md(v.get('capability'))}**: {_md(v.get('reason', ''))}"
                  for v in verdicts] or ["_None._"]

    lines += ["", "## Top Issues Discovered", ""]
    issues = _items(data, "top_issues")
    for number, issue in enumerate(issues, 1):
        lines.append(f"{number}. **[{_md(str(issue.get('severity', '')).upper())}] "
                     f"{_md(issue.get('capability', ''))}**")
        if issue.get("description"):
            lines.append(f"   - {_md(issue['description'])}")
        if issue.get("suggested_fix"):
            lines.append(f"   - Fix: {_md(issue['suggested_fix'])}")
    if not issues:
        lines.append("_None._")

    lines += ["", "## Actionable Improvements", ""]
    suggestions = _items(data, "suggestions")
    for number, item in enumerate(suggestions, 1):
        lines.append(f"{number}. **[{_md(str(item.get('priority', '')).upper())}] "
                     f"{_md(item.get('suggestion', ''))}**")
        for label, key in (("Category", "category"), ("Why", "rationale"),
                           ("Impact", "estimated_impact")):
            if item.get(key):
                lines.append(f"   - {label}: {_md(item[key])}")
    if not suggestions:
        lines.append("_None._")
    return "\n".join(lines) + "\n"


# --- json -------------------------------------------------------------------


def render_json(report: Report | SessionAnalysis) -> str:
    """The whole analysis dict as indented JSON, ending with a newline."""
    # default=str: a row read from SQLite may hold a type json does not know (bytes).
    return json.dumps(_as_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"

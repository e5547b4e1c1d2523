"""Performance regression between two sessions: two analysis dicts in, a verdict out.

The spec's ``check_regression`` compares the overall average response time::

    regression = (current - baseline) / baseline * 100      # percent, + is slower
    regression > 20  ->  "REGRESSION: 23.2% slower than baseline"

This module applies the same formula to more measures: average and p95 response time,
overall and per capability. Any one of them beyond the threshold is a regression.
Decisions:

* **Strictly beyond.** Exactly the threshold is not a regression, as the spec's ``>``.
* **No baseline time, no percentage.** A baseline of 0 ms (a capability without timed
  calls; an average of nothing is 0.0 in the analysis) gives no percentage and so can
  never be a regression; it is reported as ``no_baseline``. Both 0 is ``unchanged``.
* **Capabilities in one session only** are reported ``added`` or ``removed``, never a
  regression: there is nothing to compare them with.
* **Minimum slowdown (optional).** ``min_delta_ms`` (default 0, the spec's behaviour)
  also requires the slowdown in milliseconds to reach it, so 3 ms -> 4 ms (+33%) need
  not fail a build.

:func:`to_dict` is the verdict's JSON-ready form; as text it is
:func:`daemon.read.render.comparison.render_text`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_THRESHOLD_PCT: Final = 20.0

REGRESSION: Final = "regression"  # slower by more than the threshold
SLOWER: Final = "slower"  # slower, within the threshold
FASTER: Final = "faster"
UNCHANGED: Final = "unchanged"
ADDED: Final = "added"  # only in the current session
REMOVED: Final = "removed"  # only in the baseline
NO_BASELINE: Final = "no_baseline"  # the baseline has no time to compare with

OVERALL: Final = "overall"
MEASURES: Final = (("avg", "avg_response_time", "avg_response"),
                   ("p95", "p95_response_time", "p95_response"))

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    scope: str  # "overall" or a capability
    measure: str  # "avg" | "p95"
    baseline_ms: float | None  # None: the capability is not in the baseline
    current_ms: float | None  # None: not in the current session
    change_pct: float | None  # the spec's regression %, None when it cannot be computed
    status: str


@dataclass(frozen=True)
class Comparison:
    baseline_id: str
    current_id: str
    threshold_pct: float
    min_delta_ms: float
    changes: tuple[Change, ...] = field(default=())

    @property
    def regressions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.status == REGRESSION)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def change(self, scope: str, measure: str) -> Change | None:
        return next((c for c in self.changes if c.scope == scope and c.measure == measure),
                    None)


def parse_threshold(text: str) -> float:
    """A percentage such as ``20``, ``12.5`` or ``20%``; ValueError with one line if not."""
    raw = str(text).strip()
    number = raw[:-1].strip() if raw.endswith("%") else raw
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"threshold must be a number of percent, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"threshold must be a finite percentage >= 0, got {text!r}")
    return value


def parse_min_delta(text: str) -> float:
    """Milliseconds >= 0 (a trailing ``ms`` is allowed); ValueError with one line if not."""
    raw = str(text).strip()
    number = raw[:-2].strip() if raw.lower().endswith("ms") else raw
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"minimum slowdown must be a number of milliseconds, got {text!r}"
                         ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"minimum slowdown must be finite and >= 0 ms, got {text!r}")
    return value


def regression_pct(baseline_ms: float, current_ms: float) -> float | None:
    """The spec's ``(current - baseline) / baseline * 100``; None without a baseline time."""
    if baseline_ms <= 0:
        return 0.0 if current_ms <= 0 else None
    return (current_ms - baseline_ms) / baseline_ms * 100.0


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def measure_change(scope: str, measure: str, baseline_ms: float, current_ms: float,
                   threshold_pct: float, min_delta_ms: float = 0.0) -> Change:
    pct = regression_pct(baseline_ms, current_ms)
    if pct is None:
        status = NO_BASELINE
    elif pct > threshold_pct and current_ms - baseline_ms >= min_delta_ms:
        status = REGRESSION
    elif pct > 0:
        status = SLOWER
    elif pct < 0:
        status = FASTER
    else:
        status = UNCHANGED
    return Change(scope, measure, baseline_ms, current_ms, pct, status)


def _capabilities(report: Report) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for item in report.get("activities_by_capability") or []:
        if isinstance(item, Mapping) and item.get("capability") is not None:
            found[str(item["capability"])] = item
    return found


def _session_id(report: Report) -> str:
    session = report.get("session") or {}
    return str(session.get("session_id", "")) if isinstance(session, Mapping) else ""


def compare(baseline: Report, current: Report, threshold_pct: float = DEFAULT_THRESHOLD_PCT,
            min_delta_ms: float = 0.0) -> Comparison:
    """Overall first, then capabilities by name; each with its avg and p95 change."""
    changes: list[Change] = []
    base_summary = baseline.get("summary") or {}
    cur_summary = current.get("summary") or {}
    for measure, summary_key, _ in MEASURES:
        changes.append(measure_change(OVERALL, measure, _number(base_summary.get(summary_key)),
                                      _number(cur_summary.get(summary_key)), threshold_pct,
                                      min_delta_ms))
    base_caps = _capabilities(baseline)
    cur_caps = _capabilities(current)
    for name in sorted(base_caps.keys() | cur_caps.keys()):
        for measure, _, cap_key in MEASURES:
            if name not in cur_caps:
                changes.append(Change(name, measure, _number(base_caps[name].get(cap_key)),
                                      None, None, REMOVED))
            elif name not in base_caps:
                changes.append(Change(name, measure, None, _number(cur_caps[name].get(cap_key)),
                                      None, ADDED))
            else:
                changes.append(measure_change(name, measure,
                                              _number(base_caps[name].get(cap_key)),
                                              _number(cur_caps[name].get(cap_key)),
                                              threshold_pct, min_delta_ms))
    return Comparison(_session_id(baseline), _session_id(current), threshold_pct, min_delta_ms,
                      tuple(changes))


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """JSON-ready: every change plus the verdict."""
    return {
        "baseline": comparison.baseline_id,
        "current": comparison.current_id,
        "threshold_pct": comparison.threshold_pct,
        "min_delta_ms": comparison.min_delta_ms,
        "regressed": comparison.regressed,
        "verdict": "regression" if comparison.regressed else "ok",
        "changes": [
            {"scope": c.scope, "measure": c.measure, "baseline_ms": c.baseline_ms,
             "current_ms": c.current_ms, "change_pct": c.change_pct, "status": c.status}
            for c in comparison.changes
        ],
        "regressions": [f"{c.scope} {c.measure}" for c in comparison.regressions],
    }

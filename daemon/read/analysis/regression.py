"""Performance regression between two sessions: their per-call times in, a verdict out.

The spec's ``check_regression`` compares the overall average response time::

    regression = (current - baseline) / baseline * 100      # percent, + is slower
    regression > 20  ->  "REGRESSION: 23.2% slower than baseline"

This module applies the same formula to more measures: average and p95 response time,
overall and per capability. A measure is a regression only when all three hold:

* **Beyond the threshold** (the spec's 20 %, the size of effect): strictly, as the spec's ``>``.
* **Beyond the floor** (``min_delta_ms``, default 5 ms): slower by more than that many
  milliseconds. A sub-millisecond call that goes from 0.7 ms to 2.0 ms is +186 % and
  means nothing; the scheduler's jitter is bigger than the call.
* **Significant**: the Mann-Whitney U test on the two sessions' per-call times of that
  scope says the current calls tend to be slower with a one-sided p below ``alpha``
  (default 0.01; a compare tests several scopes at once, so a strict level keeps the
  chance that any of them trips by luck small). With very few calls nothing is
  significant (one call a side never is): a regression needs calls enough to tell it
  from noise.
* **The typical call too**: the median call is slower beyond the threshold and the floor
  as well. An average or a p95 can be moved by one call (the first call of a session that
  fills a cache can take a hundred times the rest), while a test of ranks can find a
  real but tiny shift of the bulk (0.3 ms to 0.5 ms); each alone is noise, and together
  they must not make a regression. So a slowdown of a few calls only (a longer tail with
  the same median) is reported (``median_within``), not failed.

Each scope's evidence is printed with the verdict: the calls on each side, their medians,
the ratio of medians with a 95 % bootstrap interval (seeded, so the same sessions always
print the same interval) and the p-value (:mod:`daemon.read.analysis.significance`).

Other decisions:

* **No baseline time, no percentage.** A baseline of 0 ms gives no percentage and so can
  never be a regression; it is reported as ``no_baseline``. Both 0 is ``unchanged``.
* **Capabilities in one session only** are reported ``added`` or ``removed``, never a
  regression: there is nothing to compare them with.

:func:`to_dict` is the verdict's JSON-ready form; as text it is
:func:`daemon.read.render.comparison.render_text`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from daemon.read.analysis.significance import (
    RatioInterval,
    mann_whitney_greater,
    ratio_interval,
)
from daemon.read.analysis.stats import mean, median, percentile

DEFAULT_THRESHOLD_PCT: Final = 20.0
DEFAULT_MIN_DELTA_MS: Final = 5.0
DEFAULT_ALPHA: Final = 0.01

REGRESSION: Final = "regression"  # beyond the threshold and the floor, and significant
SLOWER: Final = "slower"  # slower, within the threshold
BELOW_FLOOR: Final = "below_floor"  # beyond the threshold by fewer ms than the floor
NOT_SIGNIFICANT: Final = "not_significant"  # beyond both, but the calls do not show it
MEDIAN_WITHIN: Final = "median_within"  # beyond both and significant; the median call is not
FASTER: Final = "faster"
UNCHANGED: Final = "unchanged"
ADDED: Final = "added"  # only in the current session
REMOVED: Final = "removed"  # only in the baseline
NO_BASELINE: Final = "no_baseline"  # the baseline has no time to compare with
#: Beyond the threshold yet no regression: what the verdict says it spared, and why.
SPARED: Final = (BELOW_FLOOR, NOT_SIGNIFICANT, MEDIAN_WITHIN)

OVERALL: Final = "overall"
MEASURES: Final = ("avg", "p95")

Calls = Sequence[tuple[str, float]]  # (capability, response ms) of one session's timed calls


@dataclass(frozen=True)
class Rule:
    """What counts as a regression."""

    threshold_pct: float = DEFAULT_THRESHOLD_PCT
    min_delta_ms: float = DEFAULT_MIN_DELTA_MS
    alpha: float = DEFAULT_ALPHA


@dataclass(frozen=True)
class Evidence:
    """One scope's per-call times, side by side."""

    scope: str
    baseline_calls: int
    current_calls: int
    baseline_median_ms: float
    current_median_ms: float
    p_value: float  # one-sided: the current calls tend to be slower
    interval: RatioInterval | None  # ratio of medians; None without a baseline median


@dataclass(frozen=True)
class Change:
    scope: str  # "overall" or a capability
    measure: str  # "avg" | "p95"
    baseline_ms: float | None  # None: the capability is not in the baseline
    current_ms: float | None  # None: not in the current session
    change_pct: float | None  # the spec's regression %, None when it cannot be computed
    status: str
    p_value: float | None = None  # the scope's, when both sessions have it

    @property
    def delta_ms(self) -> float | None:
        if self.baseline_ms is None or self.current_ms is None:
            return None
        return self.current_ms - self.baseline_ms


@dataclass(frozen=True)
class Comparison:
    baseline_id: str
    current_id: str
    rule: Rule
    changes: tuple[Change, ...] = field(default=())
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def regressions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.status == REGRESSION)

    @property
    def spared(self) -> tuple[Change, ...]:
        """Beyond the threshold, but under the floor or not significant."""
        return tuple(c for c in self.changes if c.status in SPARED)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def change(self, scope: str, measure: str) -> Change | None:
        return next((c for c in self.changes if c.scope == scope and c.measure == measure),
                    None)


def _non_negative(text: str, suffix: str, what: str) -> float:
    raw = str(text).strip()
    number = raw[:-len(suffix)].strip() if raw.lower().endswith(suffix) else raw
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be finite and >= 0, got {text!r}")
    return value


def parse_threshold(text: str) -> float:
    """A percentage such as ``20``, ``12.5`` or ``20%``; ValueError with one line if not."""
    return _non_negative(text, "%", "threshold (percent)")


def parse_min_delta(text: str) -> float:
    """Milliseconds >= 0 (a trailing ``ms`` is allowed); ValueError with one line if not."""
    return _non_negative(text, "ms", "minimum slowdown (ms)")


def parse_alpha(text: str) -> float:
    """A significance level in (0, 1], such as ``0.01``; ValueError with one line if not."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError(f"significance level must be a number in (0, 1], got {text!r}"
                         ) from None
    if not 0 < value <= 1:
        raise ValueError(f"significance level must be a number in (0, 1], got {text!r}")
    return value


def regression_pct(baseline_ms: float, current_ms: float) -> float | None:
    """The spec's ``(current - baseline) / baseline * 100``; None without a baseline time."""
    if baseline_ms <= 0:
        return 0.0 if current_ms <= 0 else None
    return (current_ms - baseline_ms) / baseline_ms * 100.0


def beyond(rule: Rule, baseline_ms: float, current_ms: float) -> bool:
    """Slower by more than the threshold (or from nothing) and by more than the floor."""
    pct = regression_pct(baseline_ms, current_ms)
    return ((pct is None or pct > rule.threshold_pct)
            and current_ms - baseline_ms > rule.min_delta_ms)


def measure_change(scope: str, measure: str, baseline_ms: float, current_ms: float,
                   rule: Rule, evidence: Evidence) -> Change:
    """One measure's change and its status under ``rule``, given its scope's calls."""
    pct = regression_pct(baseline_ms, current_ms)
    if pct is None:
        status = NO_BASELINE
    elif pct > rule.threshold_pct:
        if not current_ms - baseline_ms > rule.min_delta_ms:
            status = BELOW_FLOOR
        elif not evidence.p_value < rule.alpha:
            status = NOT_SIGNIFICANT
        elif not beyond(rule, evidence.baseline_median_ms, evidence.current_median_ms):
            status = MEDIAN_WITHIN
        else:
            status = REGRESSION
    elif pct > 0:
        status = SLOWER
    elif pct < 0:
        status = FASTER
    else:
        status = UNCHANGED
    return Change(scope, measure, baseline_ms, current_ms, pct, status, evidence.p_value)


def _measure(times: Sequence[float], measure: str) -> float:
    return mean(times) if measure == "avg" else percentile(times, 95)


def evidence(scope: str, baseline: Sequence[float], current: Sequence[float]) -> Evidence:
    return Evidence(scope, len(baseline), len(current), median(baseline), median(current),
                    mann_whitney_greater(baseline, current), ratio_interval(baseline, current))


def _by_capability(calls: Calls) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for capability, ms in calls:
        if math.isfinite(ms):
            found.setdefault(str(capability), []).append(float(ms))
    return found


def compare(baseline_id: str, baseline_calls: Calls, current_id: str, current_calls: Calls,
            rule: Rule | None = None) -> Comparison:
    """Overall first, then capabilities by name; each with its avg and p95 change."""
    rule = rule or Rule()
    base_caps = _by_capability(baseline_calls)
    cur_caps = _by_capability(current_calls)
    scopes = [(OVERALL, [t for ts in base_caps.values() for t in ts],
               [t for ts in cur_caps.values() for t in ts])]
    changes: list[Change] = []
    found: list[Evidence] = []
    for scope, base, cur in scopes:
        found.append(evidence(scope, base, cur))
        changes += [measure_change(scope, m, _measure(base, m), _measure(cur, m), rule,
                                   found[-1]) for m in MEASURES]
    for name in sorted(base_caps.keys() | cur_caps.keys()):
        if name not in cur_caps:
            changes += [Change(name, m, _measure(base_caps[name], m), None, None, REMOVED)
                        for m in MEASURES]
        elif name not in base_caps:
            changes += [Change(name, m, None, _measure(cur_caps[name], m), None, ADDED)
                        for m in MEASURES]
        else:
            found.append(evidence(name, base_caps[name], cur_caps[name]))
            changes += [measure_change(name, m, _measure(base_caps[name], m),
                                       _measure(cur_caps[name], m), rule, found[-1])
                        for m in MEASURES]
    return Comparison(baseline_id, current_id, rule, tuple(changes), tuple(found))


def _evidence_dict(e: Evidence) -> dict[str, Any]:
    interval = e.interval
    return {
        "scope": e.scope, "baseline_calls": e.baseline_calls, "current_calls": e.current_calls,
        "baseline_median_ms": e.baseline_median_ms, "current_median_ms": e.current_median_ms,
        "median_ratio": None if interval is None else interval.ratio,
        "ratio_interval": None if interval is None else [interval.low, interval.high],
        "interval_confidence": None if interval is None else interval.confidence,
        "p_value": e.p_value,
    }


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """JSON-ready: the rule, every change, each scope's evidence, and the verdict."""
    rule = comparison.rule
    return {
        "baseline": comparison.baseline_id,
        "current": comparison.current_id,
        "threshold_pct": rule.threshold_pct,
        "min_delta_ms": rule.min_delta_ms,
        "alpha": rule.alpha,
        "regressed": comparison.regressed,
        "verdict": "regression" if comparison.regressed else "ok",
        "changes": [
            {"scope": c.scope, "measure": c.measure, "baseline_ms": c.baseline_ms,
             "current_ms": c.current_ms, "change_pct": c.change_pct, "status": c.status,
             "p_value": c.p_value}
            for c in comparison.changes
        ],
        "evidence": [_evidence_dict(e) for e in comparison.evidence],
        "regressions": [f"{c.scope} {c.measure}" for c in comparison.regressions],
    }

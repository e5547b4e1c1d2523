"""Metrics and bars -> a scenario's verdict, and its rendering (pure).

A bar is a limit on one metric: ``max`` (the value must not exceed it: latency, error
rate) or ``min`` (the value must reach it: throughput, recall). A metric with no bar is
reported for information. A bar whose metric was not measured fails: a scenario that
could not measure what it promises has not shown it. A metric is never NaN: a scenario
that has no value for it says why (:class:`Unmeasured`), and that reason is printed
beside the failing bar; a stray NaN is turned into one such metric, never passed along.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

Direction = Literal["max", "min"]


class BarError(ValueError):
    """A ``--bar`` override that names no bar of the scenario or has no number (exit 2)."""


@dataclass(frozen=True)
class Bar:
    metric: str
    direction: Direction
    limit: float
    why: str = ""  # what the default rests on, for the README and --help

    def admits(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.limit if self.direction == "max" else value >= self.limit

    def describe(self) -> str:
        return f"{'<=' if self.direction == 'max' else '>='} {_number(self.limit)}"


@dataclass(frozen=True)
class Unmeasured:
    """No value for a metric, and why (e.g. "no search ran"): shown with the metric."""

    reason: str


#: Said of a NaN that reached a metric without a reason of its own.
NAN_REASON = "no value (NaN): the scenario could not compute it"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | None  # None: not measured, and ``reason`` says why
    unit: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        # NaN compares false with everything: as a value it would slip through sums
        # and sorts, so it becomes "not measured" here, where every metric is made.
        if self.value is not None and math.isnan(self.value):
            object.__setattr__(self, "value", None)
            object.__setattr__(self, "reason", self.reason or NAN_REASON)


@dataclass(frozen=True)
class Outcome:
    """What a scenario run measured, before any bar is applied."""

    metrics: tuple[Metric, ...]
    notes: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()

    def value(self, name: str) -> float | None:
        for metric in self.metrics:
            if metric.name == name:
                return metric.value
        return None


@dataclass(frozen=True)
class Check:
    metric: str
    value: float | None
    unit: str
    bar: Bar | None
    reason: str = ""  # why value is None

    @property
    def passed(self) -> bool:
        if self.bar is None:
            return True
        return self.value is not None and self.bar.admits(self.value)


@dataclass(frozen=True)
class Verdict:
    scenario: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed_metrics(self) -> tuple[str, ...]:
        return tuple(check.metric for check in self.checks if not check.passed)


def with_overrides(bars: Sequence[Bar], overrides: Iterable[str]) -> tuple[Bar, ...]:
    """Apply ``NAME=VALUE`` texts to ``bars``; the direction of a bar is not negotiable."""
    by_name = {bar.metric: bar for bar in bars}
    for text in overrides:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BarError(f"--bar {text!r}: use NAME=VALUE, e.g. p95_ms=200")
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise BarError(f"--bar {name}: this scenario has no such bar (its bars: {known})")
        try:
            limit = float(raw)
        except ValueError:
            raise BarError(f"--bar {text!r}: {raw.strip()!r} is not a number") from None
        if math.isnan(limit):
            raise BarError(f"--bar {text!r}: the limit must be a number")
        by_name[name] = replace(by_name[name], limit=limit)
    return tuple(by_name[bar.metric] for bar in bars)


def judge(scenario: str, outcome: Outcome, bars: Sequence[Bar]) -> Verdict:
    """Every measured metric, in order, then any bar whose metric is missing."""
    by_name = {bar.metric: bar for bar in bars}
    checks = [Check(m.name, m.value, m.unit, by_name.get(m.name), m.reason)
              for m in outcome.metrics]
    reported = {m.name for m in outcome.metrics}
    checks += [Check(bar.metric, None, "", bar, "the scenario did not report it")
               for bar in bars if bar.metric not in reported]
    return Verdict(scenario, tuple(checks), outcome.notes, outcome.sessions)


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def render_text(verdict: Verdict) -> str:
    rows = [("metric", "value", "bar", "")]
    for check in verdict.checks:
        value = f"not measured ({check.reason})" if check.value is None else (
            _number(check.value) + (f" {check.unit}" if check.unit else ""))
        bar = check.bar.describe() if check.bar is not None else "-"
        mark = "" if check.bar is None else ("PASS" if check.passed else "FAIL")
        rows.append((check.metric, value, bar, mark))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"scenario {verdict.scenario}"]
    lines += ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
              + f"  {row[3]}".rstrip() for row in rows]
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    if verdict.sessions:
        lines.append(f"  sessions: {', '.join(verdict.sessions)}")
    if verdict.passed:
        lines.append(f"PASS: {verdict.scenario}")
    else:
        lines.append(f"FAIL: {verdict.scenario}: {', '.join(verdict.failed_metrics)} "
                     "not within the bar")
    return "\n".join(lines) + "\n"


def to_json(verdict: Verdict) -> dict[str, Any]:
    def finite(value: float | None) -> float | str | None:
        # JSON has no infinity or NaN: such a value is written as the string.
        return value if value is None or math.isfinite(value) else _number(value)

    return {
        "scenario": verdict.scenario,
        "passed": verdict.passed,
        "failed": list(verdict.failed_metrics),
        "metrics": [
            {"name": c.metric, "value": finite(c.value), "unit": c.unit,
             "bar": None if c.bar is None else {"direction": c.bar.direction,
                                                "limit": finite(c.bar.limit)},
             "passed": c.passed,
             **({"reason": c.reason} if c.value is None else {})}
            for c in verdict.checks],
        "notes": list(verdict.notes),
        "sessions": list(verdict.sessions),
    }


def metrics_of(values: Mapping[str, tuple[float | Unmeasured, str]]) -> tuple[Metric, ...]:
    """``{"name": (value, unit)}`` in insertion order, the way scenarios assemble them."""
    return tuple(Metric(name, None, unit, value.reason) if isinstance(value, Unmeasured)
                 else Metric(name, float(value), unit)
                 for name, (value, unit) in values.items())

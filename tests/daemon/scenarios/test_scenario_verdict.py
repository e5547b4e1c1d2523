"""Metrics and bars -> verdicts, overrides and rendering (pure)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.scenarios.verdict import (
    NAN_REASON,
    Bar,
    BarError,
    Metric,
    Outcome,
    Unmeasured,
    judge,
    metrics_of,
    render_text,
    to_json,
    with_overrides,
)

BARS = (Bar("p95_ms", "max", 500.0), Bar("recall", "min", 0.8))


def outcome(p95: float, recall: float) -> Outcome:
    return Outcome((Metric("p95_ms", p95, "ms"), Metric("recall", recall),
                    Metric("calls", 12.0)), ("a note",), ("s1",))


def test_within_every_bar_passes_and_an_unbarred_metric_is_information() -> None:
    verdict = judge("load", outcome(120.0, 0.9), BARS)
    assert verdict.passed and verdict.failed_metrics == ()
    assert [c.bar for c in verdict.checks if c.metric == "calls"] == [None]


def test_the_failing_metric_is_named() -> None:
    verdict = judge("load", outcome(900.0, 0.9), BARS)
    assert not verdict.passed and verdict.failed_metrics == ("p95_ms",)
    text = render_text(verdict)
    assert "FAIL: load: p95_ms not within the bar" in text
    assert "p95_ms" in text and "<= 500" in text


def test_bars_are_inclusive() -> None:
    assert judge("x", outcome(500.0, 0.8), BARS).passed


def test_a_bar_whose_metric_was_not_measured_fails() -> None:
    verdict = judge("x", Outcome((Metric("p95_ms", 1.0),)), BARS)
    assert verdict.failed_metrics == ("recall",)
    assert "not measured" in render_text(verdict)


def test_a_stray_nan_is_not_measured_and_fails_its_bar_saying_so() -> None:
    verdict = judge("x", outcome(math.nan, 0.9), BARS)
    assert verdict.failed_metrics == ("p95_ms",)
    assert f"not measured ({NAN_REASON})" in render_text(verdict)
    first = to_json(verdict)["metrics"][0]
    assert first["value"] is None and first["reason"] == NAN_REASON
    assert json.loads(json.dumps(to_json(verdict), allow_nan=False))


def test_an_unmeasured_metric_carries_its_reason_to_the_verdict() -> None:
    metrics = metrics_of({"p95_ms": (Unmeasured("no search ran"), "ms"), "recall": (0.9, "")})
    assert metrics[0] == Metric("p95_ms", None, "ms", "no search ran")
    verdict = judge("x", Outcome(metrics), BARS)
    assert verdict.failed_metrics == ("p95_ms",)
    assert "not measured (no search ran)" in render_text(verdict)
    # Without a bar it is information: it cannot fail the run, and still says why.
    assert judge("x", Outcome(metrics), BARS[1:]).passed


def test_overrides_change_the_limit_not_the_direction() -> None:
    bars = with_overrides(BARS, ["p95_ms=100", " recall = 0.95"])
    assert bars == (Bar("p95_ms", "max", 100.0), Bar("recall", "min", 0.95))
    assert judge("x", outcome(120.0, 0.96), bars).failed_metrics == ("p95_ms",)


@pytest.mark.parametrize("text, message", [
    ("p95_ms", "use NAME=VALUE"),
    ("=3", "use NAME=VALUE"),
    ("nope=3", "no such bar"),
    ("p95_ms=fast", "is not a number"),
    ("p95_ms=nan", "must be a number"),
])
def test_bad_overrides_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(BarError, match=message) as caught:
        with_overrides(BARS, [text])
    assert "\n" not in str(caught.value)


def test_json_is_valid_even_with_infinite_bars() -> None:
    bars = with_overrides(BARS, ["p95_ms=inf"])
    data = to_json(judge("x", outcome(1e9, 0.9), bars))
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["passed"] is True and data["metrics"][0]["bar"]["limit"] == "inf"


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_a_max_bar_admits_exactly_the_values_at_or_below_it(value: float, limit: float) -> None:
    assert Bar("m", "max", limit).admits(value) == (value <= limit)
    assert Bar("m", "min", limit).admits(value) == (value >= limit)

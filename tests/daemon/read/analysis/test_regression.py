"""The regression rules: the spec's formula, thresholds, added/removed, parsing, the JSON form."""

from __future__ import annotations

import json

import pytest

from daemon.read.analysis.regression import (
    ADDED,
    FASTER,
    NO_BASELINE,
    REGRESSION,
    REMOVED,
    SLOWER,
    UNCHANGED,
    compare,
    measure_change,
    parse_min_delta,
    parse_threshold,
    regression_pct,
    to_dict,
)

from sessionrows import report


def test_the_specs_formula() -> None:
    # The spec's check_regression: ((current - baseline) / baseline) * 100.
    assert regression_pct(341.0, 420.0) == pytest.approx((420 - 341) / 341 * 100)
    assert regression_pct(200.0, 100.0) == pytest.approx(-50.0)
    assert regression_pct(0.0, 0.0) == 0.0
    assert regression_pct(0.0, 5.0) is None


@pytest.mark.parametrize(("baseline", "current", "status"), [
    (100.0, 120.0, SLOWER),  # exactly the threshold is not beyond it (the spec's ">")
    (100.0, 120.001, REGRESSION),
    (100.0, 101.0, SLOWER),
    (100.0, 100.0, UNCHANGED),
    (100.0, 50.0, FASTER),
    (0.0, 50.0, NO_BASELINE),
    (0.0, 0.0, UNCHANGED),
])
def test_status_at_the_threshold(baseline: float, current: float, status: str) -> None:
    assert measure_change("overall", "avg", baseline, current, 20.0).status == status


def test_min_delta_spares_tiny_slowdowns() -> None:
    assert measure_change("a", "avg", 3.0, 4.0, 20.0).status == REGRESSION
    assert measure_change("a", "avg", 3.0, 4.0, 20.0, min_delta_ms=5.0).status == SLOWER
    assert measure_change("a", "avg", 300.0, 400.0, 20.0, min_delta_ms=5.0).status == REGRESSION


def test_overall_then_capabilities_by_name_with_added_and_removed() -> None:
    baseline = report("base", 100.0, 200.0, search=(50.0, 80.0), gone=(10.0, 10.0))
    current = report("cur", 110.0, 210.0, search=(50.0, 80.0), new=(5.0, 5.0))
    result = compare(baseline, current, 20.0)
    assert (result.baseline_id, result.current_id) == ("base", "cur")
    assert [(c.scope, c.measure) for c in result.changes] == [
        ("overall", "avg"), ("overall", "p95"), ("gone", "avg"), ("gone", "p95"),
        ("new", "avg"), ("new", "p95"), ("search", "avg"), ("search", "p95")]
    statuses = {(c.scope, c.measure): c.status for c in result.changes}
    assert statuses[("gone", "avg")] == REMOVED and statuses[("new", "p95")] == ADDED
    assert statuses[("overall", "avg")] == SLOWER
    assert not result.regressed  # added and removed capabilities are not regressions


def test_a_p95_regression_alone_regresses() -> None:
    result = compare(report("b", 100.0, 200.0), report("c", 100.0, 300.0), 20.0)
    assert [(c.scope, c.measure) for c in result.regressions] == [("overall", "p95")]
    assert result.regressed


def test_a_capability_regression_alone_regresses() -> None:
    result = compare(report("b", 100.0, 200.0, scan=(1000.0, 2000.0)),
                     report("c", 100.0, 200.0, scan=(1500.0, 2000.0)), 20.0)
    assert [(c.scope, c.measure) for c in result.regressions] == [("scan", "avg")]
    assert compare(report("b", 100.0, 200.0, scan=(1000.0, 2000.0)),
                   report("c", 100.0, 200.0, scan=(1500.0, 2000.0)), 50.0).regressed is False


def test_to_dict_is_json() -> None:
    result = compare(report("b", 100.0, 100.0, x=(1.0, 1.0)), report("c", 200.0, 100.0), 20.0)
    data = json.loads(json.dumps(to_dict(result)))
    assert data["regressed"] is True and data["verdict"] == "regression"
    assert data["regressions"] == ["overall avg"]
    assert data["changes"][0] == {"scope": "overall", "measure": "avg", "baseline_ms": 100.0,
                                  "current_ms": 200.0, "change_pct": 100.0,
                                  "status": "regression"}
    assert data["changes"][2]["current_ms"] is None


@pytest.mark.parametrize(("text", "value"), [("20", 20.0), ("12.5", 12.5), (" 20% ", 20.0),
                                             ("0", 0.0)])
def test_parse_threshold(text: str, value: float) -> None:
    assert parse_threshold(text) == value


@pytest.mark.parametrize("text", ["abc", "", "%", "-5", "nan", "inf", "20%%"])
def test_bad_thresholds(text: str) -> None:
    with pytest.raises(ValueError, match="threshold") as info:
        parse_threshold(text)
    assert "\n" not in str(info.value)


def test_parse_min_delta() -> None:
    assert parse_min_delta("5ms") == 5.0 and parse_min_delta("0") == 0.0
    for bad in ("x", "-1", "nan"):
        with pytest.raises(ValueError, match="minimum slowdown"):
            parse_min_delta(bad)

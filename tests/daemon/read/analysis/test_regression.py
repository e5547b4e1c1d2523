"""The regression rules: the spec's formula, threshold, floor and significance,
added/removed, parsing, the JSON form."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.read.analysis.regression import (
    ADDED,
    BELOW_FLOOR,
    DEFAULT_ALPHA,
    DEFAULT_MIN_DELTA_MS,
    DEFAULT_THRESHOLD_PCT,
    FASTER,
    MEDIAN_WITHIN,
    NO_BASELINE,
    NOT_SIGNIFICANT,
    REGRESSION,
    REMOVED,
    SLOWER,
    UNCHANGED,
    Calls,
    Evidence,
    Rule,
    compare,
    measure_change,
    parse_alpha,
    parse_min_delta,
    parse_threshold,
    regression_pct,
    to_dict,
)

SPEC_RULE = Rule(threshold_pct=20.0, min_delta_ms=0.0, alpha=1.0)  # the spec's rule alone


def ev(p_value: float, baseline_median: float, current_median: float) -> Evidence:
    """A scope's evidence with the p-value and the medians given."""
    return Evidence("a", 20, 20, baseline_median, current_median, p_value, None)


def calls(capability: str, times: list[float]) -> Calls:
    return [(capability, t) for t in times]


def jittered(centre: float, n: int = 20, seed: int = 0, spread: float = 0.05) -> list[float]:
    rng = random.Random(seed)
    return [centre * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_the_defaults_are_the_specs_threshold_a_5ms_floor_and_a_strict_level() -> None:
    assert Rule() == Rule(DEFAULT_THRESHOLD_PCT, DEFAULT_MIN_DELTA_MS, DEFAULT_ALPHA)
    assert (DEFAULT_THRESHOLD_PCT, DEFAULT_MIN_DELTA_MS, DEFAULT_ALPHA) == (20.0, 5.0, 0.01)


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
    evidence = ev(0.0, baseline, current)
    assert measure_change("overall", "avg", baseline, current, Rule(), evidence).status == status


def status(baseline: float, current: float, rule: Rule | None = None, p: float = 0.0) -> str:
    """The status of an avg change whose median call changed the same way, at p ``p``."""
    evidence = ev(p, baseline, current)
    return measure_change("a", "avg", baseline, current, rule or Rule(), evidence).status


def test_the_floor_spares_sub_millisecond_calls() -> None:
    # The case: 0.7 ms -> 2.0 ms is +186% and 1.3 ms; noise, not a regression.
    assert status(0.7, 2.0) == BELOW_FLOOR
    assert status(0.7, 2.0, SPEC_RULE) == REGRESSION
    assert status(100.0, 105.0, Rule(threshold_pct=1)) == BELOW_FLOOR  # the floor exactly
    assert status(300.0, 400.0) == REGRESSION


def test_significance_spares_what_the_calls_do_not_show() -> None:
    assert status(300.0, 400.0, p=0.2) == NOT_SIGNIFICANT
    assert status(300.0, 400.0, p=0.01) == NOT_SIGNIFICANT  # below alpha, strictly
    assert status(300.0, 400.0, p=0.0099) == REGRESSION


def test_the_median_call_must_be_slower_too() -> None:
    # Significant, and the average +33% and 100 ms: but the median call is 0.2 ms slower.
    assert measure_change("a", "avg", 300.0, 400.0, Rule(), ev(0.0, 0.3, 0.5)).status \
        == MEDIAN_WITHIN
    assert measure_change("a", "avg", 300.0, 400.0, Rule(), ev(0.0, 300.0, 340.0)).status \
        == MEDIAN_WITHIN  # +13%: within the threshold
    assert measure_change("a", "avg", 300.0, 400.0, Rule(), ev(0.0, 0.0, 50.0)).status \
        == REGRESSION  # from nothing to 50 ms


def test_a_cold_first_call_and_a_tiny_real_shift_do_not_add_up() -> None:
    # Seen on real sessions: the first session's cold call took 130 ms where later ones
    # take 8, and the bulk moved from 0.3 ms to 0.5 ms (a rank test finds that).
    base = calls("scan", [8.0, *[0.3 + i / 1000 for i in range(19)]])
    cur = calls("scan", [130.0, *[0.5 + i / 1000 for i in range(19)]])
    result = compare("b", base, "c", cur)
    [_, scan] = result.evidence
    assert scan.p_value < 0.001
    avg = result.change("scan", "avg")
    assert avg is not None and avg.status == MEDIAN_WITHIN and not result.regressed


def test_a_cold_first_call_that_doubles_the_p95_is_noise() -> None:
    warm = jittered(40.0, n=19, seed=1)
    result = compare("b", calls("scan", [400.0, *warm]), "c",
                     calls("scan", [900.0, *jittered(40.0, n=19, seed=2)]))
    p95 = result.change("scan", "p95")
    assert p95 is not None and p95.change_pct is not None and p95.change_pct > 20
    assert p95.status == NOT_SIGNIFICANT and not result.regressed
    assert [(c.scope, c.measure) for c in result.spared] == [
        ("overall", "avg"), ("overall", "p95"), ("scan", "avg"), ("scan", "p95")]


def test_a_real_slowdown_is_a_regression_with_its_evidence() -> None:
    base = jittered(10.0, seed=3)
    result = compare("b", calls("scan", base), "c", calls("scan", [t + 50.0 for t in base]))
    assert [(c.scope, c.measure) for c in result.regressions] == [
        ("overall", "avg"), ("overall", "p95"), ("scan", "avg"), ("scan", "p95")]
    [_, scan] = result.evidence
    assert (scan.scope, scan.baseline_calls, scan.current_calls) == ("scan", 20, 20)
    assert scan.p_value < 1e-6
    assert scan.interval is not None and 5.0 < scan.interval.low < 6.0 < scan.interval.high


def test_overall_then_capabilities_by_name_with_added_and_removed() -> None:
    baseline = [*calls("search", jittered(50.0)), *calls("gone", jittered(10.0))]
    current = [*calls("search", jittered(50.0, seed=1)), *calls("new", jittered(5.0))]
    result = compare("base", baseline, "cur", current)
    assert (result.baseline_id, result.current_id) == ("base", "cur")
    assert [(c.scope, c.measure) for c in result.changes] == [
        ("overall", "avg"), ("overall", "p95"), ("gone", "avg"), ("gone", "p95"),
        ("new", "avg"), ("new", "p95"), ("search", "avg"), ("search", "p95")]
    statuses = {(c.scope, c.measure): c.status for c in result.changes}
    assert statuses[("gone", "avg")] == REMOVED and statuses[("new", "p95")] == ADDED
    assert [e.scope for e in result.evidence] == ["overall", "search"]
    assert not result.regressed  # added and removed capabilities are not regressions


def test_a_capability_regression_alone_regresses() -> None:
    baseline = [*calls("search", jittered(100.0)), *calls("scan", jittered(1000.0, seed=1))]
    current = [*calls("search", jittered(100.0, seed=2)),
               *calls("scan", jittered(1500.0, seed=3))]
    result = compare("b", baseline, "c", current, Rule(threshold_pct=40))
    regressed = [(c.scope, c.measure) for c in result.regressions]
    assert ("scan", "avg") in regressed and ("scan", "p95") in regressed
    assert not any(scope == "search" for scope, _ in regressed)
    assert not compare("b", baseline, "c", current, Rule(threshold_pct=60)).regressed


def test_to_dict_is_json() -> None:
    base = jittered(100.0)
    result = compare("b", calls("x", base), "c", calls("x", [2 * t for t in base]))
    data = json.loads(json.dumps(to_dict(result)))
    assert data["regressed"] is True and data["verdict"] == "regression"
    assert (data["threshold_pct"], data["min_delta_ms"], data["alpha"]) == (20.0, 5.0, 0.01)
    assert data["regressions"] == ["overall avg", "overall p95", "x avg", "x p95"]
    first = data["changes"][0]
    assert (first["scope"], first["measure"], first["status"]) == ("overall", "avg",
                                                                   "regression")
    assert first["change_pct"] == pytest.approx(100.0) and first["p_value"] < 1e-6
    [overall, x] = data["evidence"]
    assert overall["scope"] == "overall" and x["scope"] == "x"
    assert x["median_ratio"] == pytest.approx(2.0) and x["interval_confidence"] == 0.95
    low, high = x["ratio_interval"]
    assert low < 2.0 < high


# --- noise cannot trip it ---------------------------------------------------------------

samples = st.lists(st.floats(min_value=0.0, max_value=5_000.0), min_size=1, max_size=60)


@given(samples, st.randoms(use_true_random=False))
def test_the_same_calls_in_any_order_are_never_a_regression(values: list[float],
                                                           rng: random.Random) -> None:
    shuffled = list(values)
    rng.shuffle(shuffled)
    assert not compare("b", calls("x", values), "c", calls("x", shuffled)).regressed


@given(samples, st.data())
def test_slower_by_less_than_the_floor_is_never_a_regression(values: list[float],
                                                             data: st.DataObject) -> None:
    # Every call slower by up to the floor: avg and p95 both move by at most the floor.
    shifts = data.draw(st.lists(st.floats(min_value=0.0, max_value=DEFAULT_MIN_DELTA_MS),
                                min_size=len(values), max_size=len(values)))
    slower = [v + s for v, s in zip(values, shifts, strict=True)]
    assert not compare("b", calls("x", values), "c", calls("x", slower)).regressed


@given(st.integers(min_value=0, max_value=10_000))
def test_two_draws_of_one_distribution_pass_at_the_defaults(seed: int) -> None:
    rng = random.Random(seed)
    def draw() -> list[float]:
        return [rng.lognormvariate(0.0, 0.6) for _ in range(30)]  # ~1 ms, skewed
    assert not compare("b", calls("x", draw()), "c", calls("x", draw())).regressed


# --- parsing ----------------------------------------------------------------------------


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


def test_parse_alpha() -> None:
    assert parse_alpha("0.05") == 0.05 and parse_alpha("1") == 1.0
    for bad in ("x", "0", "-0.1", "1.5", "nan", ""):
        with pytest.raises(ValueError, match="significance level"):
            parse_alpha(bad)

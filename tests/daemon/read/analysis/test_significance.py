"""The Mann-Whitney U test and the bootstrap interval of the ratio of medians."""

from __future__ import annotations

import math
import random
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.read.analysis.significance import mann_whitney_greater, ratio_interval

times = st.lists(st.floats(min_value=0.01, max_value=10_000.0), min_size=1, max_size=40)


def exact_greater(baseline: list[float], current: list[float]) -> float:
    """The exact permutation p-value of the rank sum of ``current``: every split counted."""
    pooled = baseline + current
    ranks = {}
    ordered = sorted(pooled)
    for value in set(pooled):
        first = ordered.index(value) + 1
        ranks[value] = first + (ordered.count(value) - 1) / 2
    observed = sum(ranks[v] for v in current)
    splits = list(combinations(range(len(pooled)), len(current)))
    at_least = sum(1 for split in splits if sum(ranks[pooled[i]] for i in split) >= observed)
    return at_least / len(splits)


def test_scipys_documented_example() -> None:
    # scipy.stats.mannwhitneyu's docs: males [19, 22, 16, 29, 24] vs females [20, 11, 17, 12],
    # method="asymptotic" gives the two-sided p 0.11134688653314041; one-sided is half.
    p = mann_whitney_greater([20, 11, 17, 12], [19, 22, 16, 29, 24])
    assert p == pytest.approx(0.11134688653314041 / 2, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_normal_approximation_is_close_to_the_exact_test(seed: int) -> None:
    rng = random.Random(seed)
    shift = seed * 0.3  # from no difference to a clear one
    baseline = [round(rng.lognormvariate(0, 0.5), 1) for _ in range(7)]  # rounding: ties
    current = [round(rng.lognormvariate(shift, 0.5), 1) for _ in range(8)]
    assert mann_whitney_greater(baseline, current) == pytest.approx(
        exact_greater(baseline, current), abs=0.03)


def test_no_evidence_answers_one() -> None:
    assert mann_whitney_greater([], [1.0]) == 1.0
    assert mann_whitney_greater([1.0], []) == 1.0
    assert mann_whitney_greater([5.0] * 10, [5.0] * 10) == 1.0  # every value tied


def test_a_clear_slowdown_is_significant_and_the_other_way_is_not() -> None:
    base = [10.0 + i / 10 for i in range(20)]
    slow = [t + 50.0 for t in base]
    assert mann_whitney_greater(base, slow) < 1e-6
    assert mann_whitney_greater(slow, base) > 0.999


@given(times)
def test_the_same_calls_are_never_significant(values: list[float]) -> None:
    shuffled = list(values)
    random.Random(len(values)).shuffle(shuffled)
    p = mann_whitney_greater(values, shuffled)
    assert 0.5 <= p <= 1.0


@given(times, times)
def test_a_p_value_is_a_probability(baseline: list[float], current: list[float]) -> None:
    assert 0.0 <= mann_whitney_greater(baseline, current) <= 1.0


def test_ratio_interval_of_the_same_calls_holds_one() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(1, 0.4) for _ in range(30)]
    interval = ratio_interval(values, values)
    assert interval is not None
    assert interval.ratio == 1.0 and interval.low < 1.0 < interval.high
    assert interval.confidence == 0.95


def test_ratio_interval_of_doubled_calls_holds_two_and_is_repeatable() -> None:
    rng = random.Random(4)
    values = [rng.lognormvariate(1, 0.4) for _ in range(30)]
    doubled = [2 * v for v in values]
    interval = ratio_interval(values, doubled)
    assert interval is not None and interval.ratio == pytest.approx(2.0)
    assert interval.low < 2.0 < interval.high and interval.low > 1.0
    assert ratio_interval(values, doubled) == interval  # the seed is fixed


def test_ratio_interval_of_big_sessions_still_holds_one() -> None:
    rng = random.Random(5)
    base = [rng.lognormvariate(0, 0.3) for _ in range(20_000)]
    cur = [rng.lognormvariate(0, 0.3) for _ in range(20_000)]
    interval = ratio_interval(base, cur)
    assert interval is not None and interval.low < 1.0 < interval.high


def test_no_ratio_without_a_baseline_median() -> None:
    assert ratio_interval([], [1.0]) is None
    assert ratio_interval([1.0], []) is None
    assert ratio_interval([0.0, 0.0, 0.0], [1.0]) is None


def test_exact_helper_agrees_with_itself() -> None:
    # The oracle above: all current values on top is the single most extreme split.
    assert math.isclose(exact_greater([1.0, 2.0], [3.0, 4.0]), 1 / 6)

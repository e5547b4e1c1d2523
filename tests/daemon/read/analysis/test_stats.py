"""Descriptive statistics behind the analysis (daemon.read.analysis.stats)."""

from __future__ import annotations

import pytest

from daemon.read.analysis import stats


def test_empty_inputs_answer_zero() -> None:
    assert stats.mean([]) == 0.0
    assert stats.median([]) == 0.0
    assert stats.percentile([], 95) == 0.0
    assert stats.outliers([]) == []
    assert stats.least_squares([], []) == stats.LinearFit(0.0, 0.0, 0.0)


def test_outliers_beyond_three_sigma() -> None:
    values = [100.0] * 20 + [10_000.0]
    assert stats.outliers(values) == [10_000.0]
    # n values cannot hold a z-score above (n-1)/sqrt(n): ten values never have one.
    assert stats.outliers([100.0] * 9 + [10_000.0]) == []
    assert stats.outliers([5.0] * 30) == []


def test_least_squares_recovers_a_line() -> None:
    xs = [0.0, 1.0, 2.0, 3.0]
    fit = stats.least_squares(xs, [1.0 + 2.0 * x for x in xs])
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(1.0)
    assert fit.r_squared == pytest.approx(1.0)


def test_least_squares_edge_cases() -> None:
    assert stats.least_squares([1.0, 1.0], [3.0, 5.0]) == stats.LinearFit(0.0, 4.0, 0.0)
    flat = stats.least_squares([0.0, 1.0, 2.0], [4.0, 4.0, 4.0])
    assert (flat.slope, flat.r_squared) == (0.0, 1.0)
    with pytest.raises(ValueError):
        stats.least_squares([1.0], [])

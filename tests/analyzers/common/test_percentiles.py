"""The one percentile (analyzers.common.percentiles): linear between the closest ranks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.common.percentiles import percentile

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 95) == pytest.approx(19.05)
    assert percentile(values, 50) == pytest.approx(10.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0], 100) == 2.0
    assert percentile([], 95) == 0.0


@given(st.lists(finite, min_size=1, max_size=50), st.floats(0, 100), st.floats(0, 100))
def test_a_percentile_lies_within_the_values_and_grows_with_pct(
        values: list[float], low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    assert min(values) <= percentile(values, low) <= max(values)
    assert percentile(values, low) <= percentile(values, high) + 1e-6 * (1 + abs(max(values)))
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)

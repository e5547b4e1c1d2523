"""Error streaks: failing activities in a row, overall and per capability."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.run.streaks import ErrorStreaks


def test_a_success_ends_the_streak_of_its_capability_and_the_overall_one() -> None:
    streaks = ErrorStreaks()
    streaks.record("probe", False)
    streaks.record("probe", False)
    streaks.record("indexer", False)
    assert streaks.overall == 3
    assert streaks.by_capability == {"probe": 2, "indexer": 1}
    streaks.record("indexer", True)
    assert streaks.overall == 0
    assert streaks.by_capability == {"probe": 2, "indexer": 0}  # the probe still fails


def test_the_counts_handed_out_are_a_copy() -> None:
    streaks = ErrorStreaks()
    streaks.record("probe", False)
    counts = streaks.by_capability
    streaks.record("probe", False)
    assert counts == {"probe": 1}


@given(st.lists(st.booleans(), max_size=50))
def test_the_overall_streak_is_the_failures_since_the_last_success(outcomes: list[bool]) -> None:
    streaks = ErrorStreaks()
    for success in outcomes:
        streaks.record("probe", success)
    tail = 0
    for success in reversed(outcomes):
        if success:
            break
        tail += 1
    assert streaks.overall == tail == streaks.by_capability.get("probe", 0)

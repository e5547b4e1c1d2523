"""Error recovery's rules: backoff, isolation, what counts as transient, and quarantine."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.base import TransientFileError, is_transient
from daemon.run.recovery import (
    ISOLATE_SINGLY_AT_MOST,
    Quarantine,
    RetryPolicy,
    split_for_isolation,
)


@given(st.integers(1, 30))
def test_backoff_grows_and_is_capped(failed: int) -> None:
    policy = RetryPolicy(attempts=5, base_delay_s=0.05, factor=4.0, max_delay_s=1.0)
    assert 0 < policy.delay(failed) <= 1.0
    assert policy.delay(failed + 1) >= policy.delay(failed)
    assert policy.may_retry(failed) == (failed < 5)


def test_a_policy_that_cannot_try_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(factor=0.5)


@given(st.lists(st.text(min_size=1, max_size=3), min_size=0, max_size=100, unique=True))
def test_isolation_covers_every_path_once_and_always_narrows(paths: list[str]) -> None:
    parts = split_for_isolation(paths)
    if len(paths) <= 1:
        assert parts == []
        return
    assert [p for part in parts for p in part] == paths
    assert all(0 < len(part) < len(paths) for part in parts)
    if len(paths) <= ISOLATE_SINGLY_AT_MOST:
        assert all(len(part) == 1 for part in parts)


@pytest.mark.parametrize("exc, transient", [
    (BlockingIOError(errno.EAGAIN, "again"), True),
    (OSError(errno.EBUSY, "busy"), True),
    (TransientFileError("changed while read"), True),
    (sqlite3.OperationalError("database is locked"), True),
    (FileNotFoundError(errno.ENOENT, "gone"), False),
    (PermissionError(errno.EACCES, "denied"), False),
    (ValueError("bug"), False),
    (RecursionError("deep"), False),
])
def test_transient_means_a_retry_may_succeed(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_the_second_crash_on_the_same_bytes_quarantines() -> None:
    quarantine = Quarantine()
    assert quarantine.record_crash("probe", "a.py", "h1", "boom") is None
    # Other bytes are another file as far as crashes go.
    assert quarantine.record_crash("probe", "a.py", "h2", "boom") is None
    item = quarantine.record_crash("probe", "a.py", "h1", "boom again")
    assert item is not None and item.crashes == 2 and item.error == "boom again"
    assert quarantine.paths("probe") == {"a.py"} and quarantine.paths("other") == frozenset()
    assert quarantine.release("probe", "a.py") == item
    assert quarantine.crashes("probe", "a.py", "h1") == 0

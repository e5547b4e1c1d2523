"""The spec's safety rules: throttle on a breach, stop after three in a row, resume below."""

from __future__ import annotations

import pytest

from daemon.config import ResourceLimits
from daemon.run.resources import ResourceSample
from daemon.run.safety import (
    STRIKES_BEFORE_STOP,
    SafetyState,
    breaches,
    check_errors,
    check_resources,
)

LIMITS = ResourceLimits(cpu_percent_max=80.0, memory_percent_max=90.0, disk_percent_max=95.0,
                        consecutive_errors_max=3)


def sample(cpu: float = 10.0, memory: float = 10.0, disk: float = 10.0) -> ResourceSample:
    return ResourceSample(cpu_percent=cpu, memory_percent=memory, disk_percent=disk,
                          process_cpu_percent=1.0, process_rss_mb=50.0)


def test_under_every_limit_is_ok() -> None:
    state, decision = check_resources(LIMITS, sample(), SafetyState())
    assert decision.action == "ok" and decision.reason == ""
    assert state == SafetyState()


def test_exactly_at_the_limit_is_not_a_breach() -> None:
    assert breaches(LIMITS, sample(cpu=80.0, memory=90.0, disk=95.0)) == []


def test_every_breached_limit_is_named() -> None:
    over = breaches(LIMITS, sample(cpu=85.5, memory=91.0, disk=99.0))
    assert over == ["CPU 85.5% over the 80.0% limit", "memory 91.0% over the 90.0% limit",
                    "disk 99.0% over the 95.0% limit"]


def test_first_breach_throttles() -> None:
    state, decision = check_resources(LIMITS, sample(cpu=95.0), SafetyState())
    assert decision.action == "throttle"
    assert "CPU 95.0%" in decision.reason
    assert state == SafetyState(strikes=1, throttled=True)


def test_three_breaches_in_a_row_stop() -> None:
    assert STRIKES_BEFORE_STOP == 3
    state = SafetyState()
    actions = []
    for _ in range(3):
        state, decision = check_resources(LIMITS, sample(memory=97.0), state)
        actions.append(decision.action)
    assert actions == ["throttle", "throttle", "stop"]
    assert "memory 97.0%" in decision.reason and "3 samples in a row" in decision.reason


def test_back_under_resumes_and_resets_the_count() -> None:
    state = SafetyState()
    state, _ = check_resources(LIMITS, sample(cpu=99.0), state)
    state, _ = check_resources(LIMITS, sample(cpu=99.0), state)
    state, decision = check_resources(LIMITS, sample(cpu=20.0), state)
    assert decision.action == "resume"
    assert state == SafetyState()
    # The streak starts over: two more breaches only throttle.
    state, decision = check_resources(LIMITS, sample(cpu=99.0), state)
    assert decision.action == "throttle"
    state, decision = check_resources(LIMITS, sample(cpu=99.0), state)
    assert decision.action == "throttle"
    state, decision = check_resources(LIMITS, sample(cpu=20.0), state)
    assert decision.action == "resume"
    state, decision = check_resources(LIMITS, sample(cpu=20.0), state)
    assert decision.action == "ok"


def test_different_limits_in_a_row_still_count() -> None:
    state = SafetyState()
    state, _ = check_resources(LIMITS, sample(cpu=99.0), state)
    state, _ = check_resources(LIMITS, sample(memory=99.0), state)
    state, decision = check_resources(LIMITS, sample(disk=99.0), state)
    assert decision.action == "stop"
    assert decision.reason.startswith("disk 99.0%")


@pytest.mark.parametrize(("errors", "action"), [(0, "ok"), (2, "ok"), (3, "stop"), (9, "stop")])
def test_consecutive_errors(errors: int, action: str) -> None:
    decision = check_errors(LIMITS, errors)
    assert decision.action == action
    if action == "stop":
        assert decision.reason == f"{errors} failing activities in a row (limit 3)"


def test_a_limit_of_one_stops_on_the_first_failure() -> None:
    limits = ResourceLimits(consecutive_errors_max=1)
    assert check_errors(limits, 0).action == "ok"
    assert check_errors(limits, 1).action == "stop"


def test_the_spec_defaults() -> None:
    limits = ResourceLimits()
    assert limits.as_dict() == {"cpu_percent_max": 90.0, "memory_percent_max": 95.0,
                                "disk_percent_max": 98.0, "consecutive_errors_max": 5}
    assert check_resources(limits, sample(cpu=90.0), SafetyState())[1].action == "ok"
    assert check_resources(limits, sample(cpu=90.1), SafetyState())[1].action == "throttle"

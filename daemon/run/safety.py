"""The spec's safety rules as a pure state machine over resource samples and error streaks.

Over a limit: throttle (pause analyzers, record an issue). Still over after
three samples in a row: stop the session with status ``error``. A run of
``consecutive_errors_max`` failing activities stops it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from daemon.config import ResourceLimits
from daemon.run.resources import ResourceSample

STRIKES_BEFORE_STOP = 3

Action = Literal["ok", "throttle", "resume", "stop"]


@dataclass(frozen=True)
class SafetyState:
    strikes: int = 0  # consecutive samples over a limit
    throttled: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""


def breaches(limits: ResourceLimits, sample: ResourceSample) -> list[str]:
    checks = (
        ("CPU", sample.cpu_percent, limits.cpu_percent_max),
        ("memory", sample.memory_percent, limits.memory_percent_max),
        ("disk", sample.disk_percent, limits.disk_percent_max),
    )
    return [f"{name} {value:.1f}% over the {limit:.1f}% limit"
            for name, value, limit in checks if value > limit]


def check_resources(limits: ResourceLimits, sample: ResourceSample,
                    state: SafetyState) -> tuple[SafetyState, Decision]:
    over = breaches(limits, sample)
    if not over:
        if state.throttled:
            return SafetyState(), Decision("resume", "resources back under their limits")
        return SafetyState(), Decision("ok")
    strikes = state.strikes + 1
    reason = "; ".join(over)
    if strikes >= STRIKES_BEFORE_STOP:
        return SafetyState(strikes, True), Decision(
            "stop", f"{reason} for {strikes} samples in a row")
    return SafetyState(strikes, True), Decision("throttle", reason)


def check_errors(limits: ResourceLimits, consecutive_errors: int) -> Decision:
    if consecutive_errors >= limits.consecutive_errors_max:
        return Decision("stop", f"{consecutive_errors} failing activities in a row "
                                f"(limit {limits.consecutive_errors_max})")
    return Decision("ok")

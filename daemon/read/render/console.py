"""The spec's "Console Report": activity lines and periodic update blocks, as pure text."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from daemon.durations import format_clock

RULE = "-" * 80


@dataclass(frozen=True)
class CapabilityCount:
    calls: int
    successes: int

    @property
    def success_rate(self) -> float:
        return 100.0 * self.successes / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class UpdateView:
    number: int
    total: int | None  # None for sessions without an end
    clock: datetime
    session_id: str
    elapsed_s: float
    remaining_s: float | None
    activities: int
    errors: int
    cpu_percent: float
    memory_percent: float
    capabilities: Mapping[str, CapabilityCount]


def update_count(duration_s: float, interval_s: float) -> int:
    """How many updates a timed session prints: one every ``interval_s`` up to and including
    its end (the spec's 5 minutes at 30 s: ``[Update 1/10]`` .. ``10/10``; 25 s at 10 s: 2)."""
    if duration_s <= 0 or interval_s <= 0:
        return 0
    # A hair of slack: 0.3 s / 0.1 s is 2.9999999999999996 in floating point.
    return math.floor(duration_s / interval_s + 1e-9)


def activity_line(session_id: str, description: str) -> str:
    """``[Test-test_20260203_121500] Workspace analysis: 245ms, 7 insights``"""
    return f"[Test-{session_id}] {description}"


def update_block(view: UpdateView) -> str:
    counter = f"{view.number}/{view.total}" if view.total else f"{view.number}"
    remaining = "no end" if view.remaining_s is None else format_clock(view.remaining_s)
    lines = [
        f"[Update {counter}] {view.clock:%H:%M:%S}",
        RULE,
        f"  Session: {view.session_id}",
        f"  Running: {format_clock(view.elapsed_s)} / Remaining: {remaining}",
        f"  Activities: {view.activities} total, {view.errors} errors",
        f"  System: CPU {view.cpu_percent:.1f}%, Memory {view.memory_percent:.1f}%",
        f"  Active Capabilities ({len(view.capabilities)}):",
    ]
    lines += [f"    • {name}: {count.calls} calls, {count.success_rate:.1f}% success"
              for name, count in view.capabilities.items()]
    lines.append(RULE)
    return "\n".join(lines)

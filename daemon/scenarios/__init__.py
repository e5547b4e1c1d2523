"""The spec's five test scenarios: each a real session on a copy of a project, its
metrics, and a verdict against documented bars (:mod:`daemon.scenarios.verdict`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from daemon.scenarios import continuous
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Outcome


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    bars: tuple[Bar, ...]
    run: Callable[[Settings], Outcome]


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        Scenario(continuous.NAME, "watch a copy while a driver edits it for the duration",
                 continuous.BARS, continuous.run),
    )
}

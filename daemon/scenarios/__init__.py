"""The spec's five test scenarios: each a real session on a copy of a project, its
metrics, and a verdict against documented bars (:mod:`daemon.scenarios.verdict`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from daemon.scenarios import continuous, error_recovery, integration, learning, load
from daemon.scenarios.settings import DEFAULT_DURATION_S, Settings
from daemon.scenarios.verdict import Bar, Outcome


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    bars: tuple[Bar, ...]
    run: Callable[[Settings], Outcome]
    # Bars that follow the scale asked for (--files 200 means 200 files must be indexed).
    scaled: Callable[[Settings], Mapping[str, float]] | None = None
    # --duration when none is given: an upper bound on the run's sessions, so a scenario
    # with a fixed amount of work (load, learning) gets room for a big project.
    default_duration_s: float = DEFAULT_DURATION_S

    def bars_for(self, settings: Settings) -> tuple[Bar, ...]:
        limits = self.scaled(settings) if self.scaled is not None else {}
        return tuple(replace(bar, limit=limits.get(bar.metric, bar.limit)) for bar in self.bars)


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        Scenario(continuous.NAME, "watch a copy while a driver edits it for the duration",
                 continuous.BARS, continuous.run),
        Scenario(load.NAME, "index 1,000+ files, then 100+ searches beside edits, 5+ at once",
                 load.BARS, load.run, load.bars_for, load.DEFAULT_DURATION_S),
        Scenario(error_recovery.NAME, "inject faults (an analyzer exception, corrupt files, "
                 "a killed scan worker, a killed daemon): detection, recovery, checkpoints",
                 error_recovery.BARS, error_recovery.run),
        Scenario(learning.NAME, "labelled mistakes fixed as edits, then similar code: "
                 "the learner's precision and recall", learning.BARS, learning.run,
                 default_duration_s=learning.DEFAULT_DURATION_S),
        Scenario(integration.NAME, "index, scan and search the same edits from two writers "
                 "on one log; counts agree; verify passes", integration.BARS, integration.run,
                 default_duration_s=integration.DEFAULT_DURATION_S),
    )
}

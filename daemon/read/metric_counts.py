"""What the metrics textfile counts, as plain data: read by
:func:`daemon.read.queries.metrics_counts`, rendered by :mod:`daemon.read.render.prometheus`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CapabilityCounts:
    """One capability's calls over the whole log."""

    capability: str
    calls: int
    errors: int
    timed: int  # calls with a response time
    total_ms: float
    at_most: tuple[int, ...]  # timed calls within each bound asked for (cumulative)


@dataclass(frozen=True)
class MetricsCounts:
    capabilities: tuple[CapabilityCounts, ...]
    open_findings: dict[str, int]  # severity -> count
    last_score: float | None  # of the latest ended session (0 until it is scored)

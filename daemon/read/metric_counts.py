"""What the metrics textfile counts, as plain data: read by
:func:`daemon.read.queries.metrics_counts`, rendered by :mod:`daemon.read.render.prometheus`."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CapabilityCounts:
    """One capability's calls over the whole log."""

    capability: str
    calls: int
    errors: int
    timed: int  # calls with a response time
    total_ms: float
    at_most: tuple[int, ...]  # timed calls within each bound asked for (cumulative)

    def plus(self, other: CapabilityCounts) -> CapabilityCounts:
        return replace(self, calls=self.calls + other.calls, errors=self.errors + other.errors,
                       timed=self.timed + other.timed, total_ms=self.total_ms + other.total_ms,
                       at_most=tuple(a + b for a, b in zip(self.at_most, other.at_most,
                                                           strict=True)))


@dataclass(frozen=True)
class MetricsCounts:
    capabilities: tuple[CapabilityCounts, ...]
    open_findings: dict[str, int]  # severity -> count
    last_score: float | None  # of the latest ended session (0 until it is scored)
    #: The last ``activities`` row counted: the next count reads only the rows after it.
    last_row: int = 0


def accumulate(before: MetricsCounts | None, new: MetricsCounts) -> MetricsCounts:
    """``new`` (the calls after ``before.last_row``, findings and score as they are now)
    added to ``before``'s calls: counters that only go up, at the cost of the new rows."""
    if before is None:
        return new
    totals = {c.capability: c for c in before.capabilities}
    for counted in new.capabilities:
        known = totals.get(counted.capability)
        totals[counted.capability] = counted if known is None else known.plus(counted)
    return replace(new, capabilities=tuple(totals[name] for name in sorted(totals)))

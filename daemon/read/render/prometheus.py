"""The metrics in Prometheus' text format, for node_exporter's textfile collector.

:func:`metrics_registry` turns the counts read from the projections
(:func:`daemon.read.queries.metrics_counts`) into a private ``CollectorRegistry`` of
``prometheus_client`` metric families, so the client library, not this module, writes
the exposition format; :func:`daemon.service.metrics_file.write_metrics` writes it
to the file atomically (``write_to_textfile``: a temporary file, then a rename).

Metrics (the counters count every call in the log when the daemon starts, then go up
with each new one while it runs):

* ``realworld_calls_total{capability}``, ``realworld_call_errors_total{capability}``;
* ``realworld_call_duration_seconds{capability}``, a histogram of the calls' response
  times (cumulative ``_bucket{le=...}``, ``_sum``, ``_count``) over :data:`BUCKETS_S`;
* ``realworld_open_findings{severity}``, every severity, zero included;
* ``realworld_last_session_score``, the overall score of the latest ended session
  (absent until one is scored).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from daemon.read.metric_counts import MetricsCounts
from daemon.types import SEVERITIES

#: Upper bounds of the response-time buckets: from an index lookup to a first pass.
BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0)
BUCKETS_MS: Final = tuple(b * 1000 for b in BUCKETS_S)


class _Counts(Collector):
    """Collects the same counts each time it is asked: one snapshot."""

    def __init__(self, counts: MetricsCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts
        calls = CounterMetricFamily("realworld_calls", "Analyzer calls measured, per capability",
                                    labels=["capability"])
        errors = CounterMetricFamily("realworld_call_errors",
                                     "Analyzer calls that failed, per capability",
                                     labels=["capability"])
        duration = HistogramMetricFamily("realworld_call_duration_seconds",
                                         "Response time of analyzer calls, per capability",
                                         labels=["capability"])
        for cap in counts.capabilities:
            calls.add_metric([cap.capability], cap.calls)
            errors.add_metric([cap.capability], cap.errors)
            buckets = [(_le(bound), float(n)) for bound, n in zip(BUCKETS_S, cap.at_most,
                                                                  strict=True)]
            buckets.append(("+Inf", float(cap.timed)))
            duration.add_metric([cap.capability], buckets, cap.total_ms / 1000)
        findings = GaugeMetricFamily("realworld_open_findings",
                                     "Open security and pattern findings, per severity",
                                     labels=["severity"])
        for severity in SEVERITIES:
            findings.add_metric([severity], counts.open_findings.get(severity, 0))
        yield from (calls, errors, duration, findings)
        if counts.last_score is not None:
            yield GaugeMetricFamily("realworld_last_session_score",
                                    "Overall score (0-100) of the latest ended session",
                                    value=counts.last_score)


def _le(bound: float) -> str:
    # "0.005", "1.0", "60.0": the client's own histograms write le so (its floatToGoString,
    # untyped, gives repr's text for bounds like these).
    return repr(float(bound))


def metrics_registry(counts: MetricsCounts) -> CollectorRegistry:
    """A private registry (not the process-wide default) holding ``counts``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Counts(counts))
    return registry

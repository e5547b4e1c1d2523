"""A resource sample as plain data, and the ``performance_metrics`` events it becomes (pure).

:class:`~daemon.run.sampler.ResourceSampler` takes the samples (psutil); the safety
rules (:mod:`daemon.run.safety`) judge them.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.log.events import MetricSampled, new_id


@dataclass(frozen=True)
class ResourceSample:
    cpu_percent: float  # system-wide, since the previous sample
    memory_percent: float  # system-wide
    disk_percent: float  # of the filesystem holding the workspace
    process_cpu_percent: float  # this process and its children, of one core
    process_rss_mb: float


def sample_metrics(session_id: str, sample: ResourceSample) -> list[MetricSampled]:
    """One ``performance_metrics`` row per measure, under the capability ``system``."""
    measures = (
        ("system", "cpu_usage", sample.cpu_percent, "percent", "system-wide CPU"),
        ("system", "memory_usage", sample.memory_percent, "percent", "system-wide memory"),
        ("system", "disk_usage", sample.disk_percent, "percent", "workspace filesystem"),
        ("realworld", "cpu_usage", sample.process_cpu_percent, "percent", "daemon process"),
        ("realworld", "memory_usage", sample.process_rss_mb, "MB", "daemon process RSS"),
    )
    return [MetricSampled(session_id, new_id(), capability, metric_type, float(value), unit,
                          context)
            for capability, metric_type, value, unit, context in measures]

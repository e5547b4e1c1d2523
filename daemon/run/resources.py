"""System and process resource samples (psutil), and the metric events they become."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from daemon.log.events import MetricSampled, new_id
from daemon.run.measure import ProcessMemory, SystemCpu


@dataclass(frozen=True)
class ResourceSample:
    cpu_percent: float  # system-wide, since the previous sample
    memory_percent: float  # system-wide
    disk_percent: float  # of the filesystem holding the workspace
    process_cpu_percent: float  # this process and its children, of one core
    process_rss_mb: float


class ResourceSampler:
    """Samples what the spec's resource limits and ``performance_metrics`` need."""

    def __init__(self, disk_path: str | Path = ".") -> None:
        self._disk_path = str(disk_path)
        self._process = psutil.Process(os.getpid())
        # Samples are taken on scheduler threads; SystemCpu keeps one baseline for all.
        self._system_cpu = SystemCpu()
        self._memory = ProcessMemory(include_children=True)
        self._process.cpu_percent(interval=None)  # primes the per-process baseline

    def sample(self) -> ResourceSample:
        try:
            disk = psutil.disk_usage(self._disk_path).percent
        except OSError:
            disk = 0.0  # the workspace vanished; the session notices that elsewhere
        return ResourceSample(
            cpu_percent=self._system_cpu.read(),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            process_cpu_percent=self._process.cpu_percent(interval=None),
            process_rss_mb=self._memory.rss_mb() or 0.0,
        )


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

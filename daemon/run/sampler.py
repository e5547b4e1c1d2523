"""Sampling system and process resources with psutil: the IO edge of the safety rules."""

from __future__ import annotations

from pathlib import Path

import psutil

from daemon.run.measure import ProcessCpu, ProcessMemory, system_cpu
from daemon.run.resources import ResourceSample


class ResourceSampler:
    """Samples what the spec's resource limits and ``performance_metrics`` need."""

    def __init__(self, disk_path: str | Path = ".") -> None:
        self._disk_path = str(disk_path)
        # Samples are taken on scheduler threads; each gauge keeps one baseline for all.
        self._system_cpu = system_cpu()
        self._process_cpu = ProcessCpu()
        self._memory = ProcessMemory(include_children=True)

    def sample(self) -> ResourceSample:
        try:
            disk = psutil.disk_usage(self._disk_path).percent
        except OSError:
            disk = 0.0  # the workspace vanished; the session notices that elsewhere
        return ResourceSample(
            cpu_percent=self._system_cpu.read(),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            process_cpu_percent=self._process_cpu.read(),
            process_rss_mb=self._memory.rss_mb() or 0.0,
        )

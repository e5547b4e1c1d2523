"""psutil samples of the system and this process, for the safety rules."""

from __future__ import annotations

import shutil
from pathlib import Path

from daemon.run.sampler import ResourceSampler


def test_a_sample_holds_plausible_numbers(tmp_path: Path) -> None:
    sampler = ResourceSampler(tmp_path)
    first = sampler.sample()
    bytearray(20_000_000)  # a little work between the two samples
    second = sampler.sample()
    for s in (first, second):
        assert 0.0 <= s.cpu_percent <= 100.0
        assert 0.0 < s.memory_percent <= 100.0
        assert 0.0 < s.disk_percent <= 100.0
        assert s.process_cpu_percent >= 0.0
        assert s.process_rss_mb > 1.0


def test_a_vanished_workspace_reads_as_no_disk(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    sampler = ResourceSampler(workspace)
    shutil.rmtree(workspace)
    sample = sampler.sample()
    assert sample.disk_percent == 0.0
    assert sample.memory_percent > 0.0

"""psutil samples of the system and this process, for the safety rules."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psutil
import pytest

from daemon.run import measure
from daemon.run.resources import ResourceSample
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


def test_the_first_sample_on_a_fresh_thread_covers_a_span_and_the_cpu_bounds_hold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # psutil.cpu_percent(None) keeps a baseline per thread: on a scheduler thread that never
    # called it, it compared two readings microseconds apart (0.0, or 100.0 on a tick).
    monkeypatch.setattr(measure, "_shared", None)  # the process's gauge, not yet begun
    sampler = ResourceSampler(tmp_path)
    taken: list[tuple[float, ResourceSample]] = []

    def sample() -> None:
        began = time.monotonic()
        got = sampler.sample()
        taken.append((time.monotonic() - began, got))

    for _ in range(2):
        worker = threading.Thread(target=sample)
        worker.start()
        worker.join()
    (first_s, first), (_, second) = taken
    assert first_s >= 0.09  # the gauge waited out its first span rather than guess
    for s in (first, second):
        assert 0.0 <= s.cpu_percent <= 100.0
        assert 0.0 <= s.process_cpu_percent <= 100.0 * (psutil.cpu_count() or 1)

"""Peak and trend of resident memory, this process and its children (the scanners' workers)."""

from __future__ import annotations

import threading
import time

import psutil

MB = 1024 * 1024


def tree_rss_mb(process: psutil.Process) -> float:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # a worker that ended between the listing and the reading
    return total / MB


class RssSampler:
    """Samples on its own thread until stopped; a context manager."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self._interval = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="realworld-scenario-rss")
        self.samples: list[tuple[float, float]] = []  # (monotonic s, MB)

    @property
    def peak_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), tree_rss_mb(self._process)))
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), tree_rss_mb(self._process)))

"""Analyzers for tests of the API: real implementations of the protocol with chosen behaviour."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from analyzers.base import AnalysisResult


class BrokenAnalyzer:
    """A capability that always fails."""

    name = "broken_analyzer"
    activity_type = "analysis"

    def applies_to(self, path: str) -> bool:
        return True

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        raise RuntimeError("this analyzer always fails")


class SleepingAnalyzer:
    """Succeeds after ``seconds``; with ``on_changes=False`` it runs on full passes only."""

    activity_type = "analysis"

    def __init__(self, seconds: float, *, name: str = "slow_analyzer",
                 on_changes: bool = True) -> None:
        self.seconds = seconds
        self.name = name
        self.on_changes = on_changes

    def applies_to(self, path: str) -> bool:
        return self.on_changes

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        time.sleep(self.seconds)
        return AnalysisResult(summary=f"{len(paths) or 'all'} paths")

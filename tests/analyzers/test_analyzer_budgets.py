"""Analyzers that work to a time budget: a pass that runs out of time again and again still
finishes, one call after another, which is what the session's follow-up calls rely on."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS, AnalysisResult, Analyzer, Closing
from analyzers.code_index.indexer import CodeIndexer
from analyzers.patterns.probe import PatternProbe
from analyzers.security.scanner import SecurityScanner

FILES = 12
TINY = 1e-6  # seconds: every call is over budget before it starts

MAKERS: dict[str, Callable[[Path], Analyzer]] = {
    "code_indexer": lambda tmp: CodeIndexer(index_path=tmp / "index.db", time_budget_s=TINY,
                                            commit_every=1),
    "pattern_probe": lambda tmp: PatternProbe(budget_s=TINY),
    "security_scanner": lambda tmp: SecurityScanner(
        salt=b"budget-test-salt" * 2, processes=1, budget_s=TINY, cache_path=tmp / "cache.db"),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_repeated_full_passes_over_budget_finish_the_workspace(tmp_path: Path,
                                                               name: str) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for n in range(FILES):
        (root / f"mod_{n:02}.py").write_text(f"def function_{n}(x):\n    return x + {n}\n")
    analyzer = MAKERS[name](tmp_path)
    try:
        remaining: list[int] = []
        for _ in range(FILES + 1):
            result = analyzer.analyze(root, FULL_PASS)
            assert isinstance(result, AnalysisResult)
            remaining.append(result.remaining)
            if result.remaining == 0:
                break
        assert remaining[-1] == 0, remaining
        # Each call moved forward: what is left only ever shrinks.
        assert all(later < earlier for earlier, later in itertools.pairwise(remaining))
    finally:
        if isinstance(analyzer, Closing):
            analyzer.close()

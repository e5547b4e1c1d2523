"""``workspace_analyzer``: the census of the workspace (files, languages, lines, bytes, churn).

A change batch counts the changed files and advances churn; a full pass
(:data:`~analyzers.base.FULL_PASS`) counts every file of the workspace and
leaves churn alone, since nothing changed. A bad file is counted, never raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from analyzers.base import AnalysisResult, is_full_pass
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.filescan import CHUNK_BYTES, MAX_SCAN_BYTES, FileScan, Skipped, scan_file
from analyzers.common.walk import IgnoreRule, default_ignore, list_workspace
from analyzers.workspace.census import take_census
from analyzers.workspace.churn import Churn


class WorkspaceAnalyzer:
    name = "workspace_analyzer"
    activity_type = "workspace_analysis"

    def __init__(self, *, ignore: IgnoreRule = default_ignore,
                 max_scan_bytes: int = MAX_SCAN_BYTES, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._ignore = ignore
        self._max_scan_bytes = max_scan_bytes
        self._chunk_bytes = chunk_bytes
        self.churn = Churn()

    def applies_to(self, path: str) -> bool:
        return not self._ignore(path, False)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        if is_full_pass(paths):
            listing = list_workspace(root, self._ignore)
            census = take_census("full", self._scan(root, listing.files), listing.problems,
                                 listing.ignored)
            churn = self.churn.snapshot()
        else:
            census = take_census("changes", self._scan(root, paths))
            churn = self.churn.record(paths)
        return AnalysisResult(summary=census.summary,
                              data={**census.to_data(), "churn": churn.to_data()})

    def _scan(self, root: Path, paths: Sequence[str]) -> Iterator[tuple[str, FileScan | Skipped]]:
        for path in paths:
            if not is_workspace_relative(path):
                yield path, Skipped("error", "path is outside the workspace")
                continue
            yield path, scan_file(root / path, max_scan_bytes=self._max_scan_bytes,
                                  chunk_bytes=self._chunk_bytes)

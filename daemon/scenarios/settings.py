"""What one scenario run is told: where, how long, how big."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.config import Config

#: The spec's load scenario: "Index large codebase (1000+ files)", "Run 100+ semantic
#: searches", "Concurrent operations (5+ capabilities)".
LOAD_FILES = 1000
LOAD_SEARCHES = 100
LOAD_CONCURRENCY = 5
DEFAULT_DURATION_S = 60.0


@dataclass(frozen=True)
class Settings:
    project: Path  # the user's tree: read (copied), never written
    workdir: Path  # scratch space the scenario owns: copies of the project live here
    db_path: Path  # the event log every session of the run writes to
    config: Config
    duration_s: float = DEFAULT_DURATION_S
    files: int = LOAD_FILES
    searches: int = LOAD_SEARCHES
    concurrency: int = LOAD_CONCURRENCY
    edits: int | None = None  # None: one every few seconds of the duration
    seed: int = 20240601

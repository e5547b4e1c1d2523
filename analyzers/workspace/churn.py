"""How often each path changed during a session: the census's memory between calls."""

from __future__ import annotations

import heapq
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from analyzers.base import safe_text

TOP_PATHS = 5  # named in the data; the counts cover every path


@dataclass(frozen=True)
class ChurnSnapshot:
    changes: int  # every recorded change, counting repeats
    paths: int  # distinct paths changed
    top: tuple[tuple[str, int], ...]  # most changed first, ties by path
    batch: int  # changes recorded by the call that took this snapshot

    def to_data(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "paths": self.paths,
            "batch": self.batch,
            "top": [{"path": safe_text(path), "changes": n} for path, n in self.top],
        }


class Churn:
    """A per-instance counter; one analyzer instance lives for one session."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # cheap insurance should a caller share an instance

    def record(self, paths: Iterable[str], top: int = TOP_PATHS) -> ChurnSnapshot:
        with self._lock:
            batch = 0
            # A path named twice in one batch changed once as far as a settled batch can tell.
            for path in dict.fromkeys(paths):
                self._counts[path] += 1
                batch += 1
            return self._snapshot(batch, top)

    def snapshot(self, top: int = TOP_PATHS) -> ChurnSnapshot:
        with self._lock:
            return self._snapshot(0, top)

    def count(self, path: str) -> int:
        with self._lock:
            return self._counts[path]

    def _snapshot(self, batch: int, top: int) -> ChurnSnapshot:
        ranked = heapq.nsmallest(top, self._counts.items(), key=lambda item: (-item[1], item[0]))
        return ChurnSnapshot(changes=sum(self._counts.values()), paths=len(self._counts),
                             top=tuple(ranked), batch=batch)

"""Error recovery: what the runner does after a call fails, as rules over plain data.

Three mechanisms, each answering one kind of failure:

* **Retry with backoff** for transient failures (a file locked, busy or replaced
  while it was read; SQLite's "database is locked"): the same call a moment later
  usually succeeds. :class:`RetryPolicy` says how often and how long to wait.
* **Isolation** for a change batch whose call crashed: the batch is split (halves,
  then single files) and run again, so one bad file costs itself, not its batch.
* **Quarantine** for a file an analyzer crashed on twice with the same bytes: the
  analyzer skips it (a ``file_quarantined`` event and an issue) until its content
  changes (``file_released``). :class:`Quarantine` keeps the counts and the set.

The rules are pure; :mod:`daemon.run.episodes` applies them to the calls of a batch
and :mod:`daemon.run.records` turns each recovery step into the activity that records it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: Above this many paths a crashed batch is halved rather than split into single files,
#: so a crash in a 1,000-file batch costs about 2*log2(1000) extra calls, not 1,000.
ISOLATE_SINGLY_AT_MOST = 8
#: Crashes on the same bytes before a file is quarantined for that analyzer.
CRASHES_TO_QUARANTINE = 2
#: Follow-up rounds (retries, splits) after one batch; bounds the work a bad batch costs.
MAX_FOLLOW_UP_ROUNDS = 12


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_delay_s * factor**n``, capped, ``attempts`` tries in all."""

    attempts: int = 3
    base_delay_s: float = 0.05
    factor: float = 4.0
    max_delay_s: float = 1.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.factor < 1:
            raise ValueError("delays must be >= 0 and factor >= 1")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * self.factor ** (failed_attempts - 1))

    def may_retry(self, failed_attempts: int) -> bool:
        return failed_attempts < self.attempts


def split_for_isolation(paths: Sequence[str]) -> list[tuple[str, ...]]:
    """The calls that isolate a crash in ``paths``: single files, or halves of a big batch."""
    if len(paths) <= 1:
        return []
    if len(paths) <= ISOLATE_SINGLY_AT_MOST:
        return [(path,) for path in paths]
    middle = len(paths) // 2
    return [tuple(paths[:middle]), tuple(paths[middle:])]


@dataclass(frozen=True)
class Quarantined:
    capability: str
    path: str
    content_hash: str
    error: str
    crashes: int


@dataclass
class Quarantine:
    """Crash counts per (analyzer, file, bytes), and the files each analyzer skips.

    Not thread-safe: the runner touches it from its coordinating thread only.
    """

    held: dict[tuple[str, str], Quarantined] = field(default_factory=dict)
    _crashes: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> Quarantine:
        """From ``quarantined_files`` rows (what earlier sessions quarantined)."""
        quarantine = cls()
        for row in rows:
            item = Quarantined(str(row["capability"]), str(row["path"]),
                               str(row["content_hash"]), str(row["error"]),
                               int(str(row["crashes"])))
            quarantine.held[(item.capability, item.path)] = item
        return quarantine

    def paths(self, capability: str) -> frozenset[str]:
        return frozenset(path for (cap, path) in self.held if cap == capability)

    def get(self, capability: str, path: str) -> Quarantined | None:
        return self.held.get((capability, path))

    def record_crash(self, capability: str, path: str, content_hash: str,
                     error: str) -> Quarantined | None:
        """Count one crash on these bytes; the quarantine entry once it is the second."""
        key = (capability, path, content_hash)
        crashes = self._crashes.get(key, 0) + 1
        self._crashes[key] = crashes
        if crashes < CRASHES_TO_QUARANTINE:
            return None
        item = Quarantined(capability, path, content_hash, error, crashes)
        self.held[(capability, path)] = item
        return item

    def crashes(self, capability: str, path: str, content_hash: str) -> int:
        return self._crashes.get((capability, path, content_hash), 0)

    def release(self, capability: str, path: str) -> Quarantined | None:
        item = self.held.pop((capability, path), None)
        if item is not None:
            self._crashes = {k: v for k, v in self._crashes.items()
                             if (k[0], k[1]) != (capability, path)}
        return item


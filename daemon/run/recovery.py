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

Each recovery step is recorded as an activity of the ``error_recovery`` capability
(:func:`recovery_activity`), so detection, success rate and time to recover are
measured like every other capability, with plain SQL over ``activities``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analyzers.base import safe_text, to_json
from daemon.log.events import ActivityRecorded, new_id
from daemon.watch.snapshot import FileState, read_state

CAPABILITY = "error_recovery"
ACTIVITY_TYPE = "recovery"
ACTIONS = ("retry", "isolate", "quarantine", "release")

#: Above this many paths a crashed batch is halved rather than split into single files,
#: so a crash in a 1,000-file batch costs about 2*log2(1000) extra calls, not 1,000.
ISOLATE_SINGLY_AT_MOST = 8
#: Crashes on the same bytes before a file is quarantined for that analyzer.
CRASHES_TO_QUARANTINE = 2
#: Follow-up rounds (retries, splits) after one batch; bounds the work a bad batch costs.
MAX_FOLLOW_UP_ROUNDS = 12
#: Paths named one by one in a recovery activity's data.
MAX_LISTED = 20


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


def content_digest(root: Path, path: str) -> str | None:
    """SHA-256 of a workspace file's bytes, read the way the watcher reads them; ``None``
    when it cannot be read (gone, a directory or a link now, unreadable): such a file is
    released rather than kept in quarantine."""
    state = read_state(str(root), path, max_hash_bytes=None)
    return state.content_hash if isinstance(state, FileState) else None


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


def recovery_activity(*, session_id: str, action: str, analyzer: str, paths: Sequence[str],
                      recovered: bool, time_to_recover_ms: float, attempts: int = 1,
                      errors: Sequence[str] = (), detail: str = "") -> ActivityRecorded:
    """One recovery step as an ``error_recovery`` activity (pure).

    ``response_time_ms`` is the time from the failure to the outcome of its recovery;
    ``success`` says whether the step recovered (a quarantine succeeds: the analyzer
    goes on without the file).
    """
    listed = [safe_text(p) for p in paths[:MAX_LISTED]]
    what = {"retry": "retried", "isolate": "isolated a crash in",
            "quarantine": "quarantined", "release": "released"}.get(action, action)
    subject = listed[0] if len(paths) == 1 else f"{len(paths)} files"
    outcome = "recovered" if recovered else "not recovered"
    description = (f"Error recovery: {analyzer} {what} {subject}"
                   f"{f' after {attempts} attempts' if attempts > 1 else ''}: {outcome}")
    if detail:
        description += f" ({safe_text(detail)})"
    data = to_json({
        "action": action,
        "analyzer": analyzer,
        "paths": listed,
        "files": len(paths),
        "attempts": attempts,
        "recovered": recovered,
        "time_to_recover_ms": round(time_to_recover_ms, 3),
        "errors": [safe_text(e) for e in errors[:MAX_LISTED]],
    })
    return ActivityRecorded(
        session_id=session_id, activity_id=new_id(), capability=CAPABILITY,
        activity_type=ACTIVITY_TYPE, description=description,
        response_time_ms=round(time_to_recover_ms, 3), cpu_before=None, cpu_after=None,
        memory_before_mb=None, memory_after_mb=None, success=recovered,
        error_message=None if recovered else (safe_text(errors[-1]) if errors else outcome),
        result_data=data if isinstance(data, dict) else {})

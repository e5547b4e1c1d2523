"""The running parts every scenario shares: a tester on the run's log, reading it back,
waiting for the daemon to catch up (within the run's ``--duration``), and asking the
code index what it holds."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from analyzers.code_index.query import search
from analyzers.code_index.store import IndexError_, IndexStore
from analyzers.common.locations import index_path_for_log
from daemon.app.tester import AnalyzerFactory, RealWorldTester
from daemon.log.database import Database
from daemon.log.events import Envelope, MetricSampled, format_ts, new_id
from daemon.log.store import EventStore
from daemon.scenarios.scratch import count_files
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Metric

#: Scenarios measure: a busy machine must not make the session pause or stop itself
#: (the safety stop at 90 % CPU would end the very run that measures the load).
SCENARIO_CPU_MAX = 100.0
SETTLE_S = 0.1
#: How an activity's ``result_data`` says how many files its call left for the next (an
#: analyzer working to a time budget); absent when none. The session calls the analyzer
#: again until none are left.
LEFT_OVER_KEYS = ("remaining",)


@dataclass(frozen=True)
class Deadline:
    """The end of the run's ``--duration``: every wait of a scenario is bounded by it."""

    at: float  # time.monotonic()

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


@dataclass(frozen=True)
class Backlog:
    """Files the analyzers' latest calls left for later calls (a call works to a time
    budget), per capability, only those with some left: empty once the work is done."""

    left: Mapping[str, int]

    @property
    def files(self) -> int:
        return sum(self.left.values())

    @property
    def clear(self) -> bool:
        return not self.left

    def describe(self) -> str:
        return ", ".join(f"{cap} {n}" for cap, n in sorted(self.left.items())) or "none"

    def __add__(self, other: Backlog) -> Backlog:
        merged = dict(self.left)
        for cap, n in other.left.items():
            merged[cap] = merged.get(cap, 0) + n
        return Backlog(merged)


BACKLOG = "analyzer_backlog"
BASELINE = "first pass (not over)"
#: A scenario that needs the analyzers' work done (everything indexed, scanned,
#: profiled) before it measures says how much was still left when it could wait no longer.
BACKLOG_BAR = Bar(BACKLOG, "max", 0.0, "the analyzers got through every file within "
                                       "--duration (raise it for a big project)")
ActivityRow = TypeVar("ActivityRow", bound=Mapping[str, Any])

ERROR_RATE_BAR = Bar("error_rate", "max", 0.05,
                     "the spec's 'good' success rate is 95 % or better")


def analyzer_calls(activities: Sequence[ActivityRow]) -> list[ActivityRow]:
    """The analyzers' own calls: recovery steps are measured apart, not as errors."""
    return [a for a in activities if a.get("capability") != "error_recovery"]


def error_rate(calls: Sequence[Mapping[str, Any]]) -> float:
    return sum(1 for a in calls if not a.get("success")) / len(calls) if calls else 0.0


CATCH_UP_SHARE = 0.25  # of the time left for a driver, kept for the last edits' analysis
CATCH_UP_MAX_S = 15.0


def backlog_note(found: Backlog) -> tuple[str, ...]:
    if found.clear:
        return ()
    return (f"--duration ran out with files the analyzers' time budget had left over: "
            f"{found.describe()}",)


def edit_window(left_s: float) -> float:
    """Of the time left after the first pass, what a driver spreads its edits over: the
    rest is for the analyzers to catch up with the last edits."""
    return max(0.0, left_s - min(CATCH_UP_MAX_S, left_s * CATCH_UP_SHARE))


def open_tester(settings: Settings, *, monitor_interval: float | None = None,
                analyzers: AnalyzerFactory | None = None) -> RealWorldTester:
    tester = RealWorldTester(settings.db_path, config=settings.config, analyzers=analyzers,
                             settle_seconds=SETTLE_S)
    tester.resource_limits["cpu_percent_max"] = SCENARIO_CPU_MAX
    if monitor_interval is not None:
        tester.monitor_interval = monitor_interval
    return tester


def sample_interval(duration_s: float) -> float:
    """About 20 resource samples over the run, one a second at most, one per 30 s at least."""
    return max(1.0, min(30.0, duration_s / 20.0))


def wait_until(ready: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if ready():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def rows(db_path: Path, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
    conn = Database.open(db_path).connect_readonly()
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, tuple(params))]
    finally:
        conn.close()


def scalar(db_path: Path, sql: str, params: Sequence[object] = ()) -> float:
    found = rows(db_path, sql, params)
    value = next(iter(found[0].values())) if found else None
    return float(value or 0)


def index_path(settings: Settings) -> Path:
    return index_path_for_log(settings.db_path)


def defined_in_index(index: Path, workspace: Path, name: str, path: str) -> bool:
    """Whether the code index has ``name`` defined in ``path`` of ``workspace`` yet."""
    try:
        with IndexStore.open(index, readonly=True) as store:
            hits = search(store, name, symbol=True, workspace=str(workspace))
    except (IndexError_, sqlite3.Error):
        return False  # not created yet, or mid-migration: not indexed yet either way
    return any(hit.path == path for hit in hits)


def indexed_paths(index: Path, workspace: Path) -> set[str]:
    try:
        with IndexStore.open(index, readonly=True) as store:
            workspace_id = store.workspace_id(str(workspace))
            if workspace_id is None:
                return set()
            return set(store.known_files(workspace_id))
    except (IndexError_, sqlite3.Error):
        return set()


def files_left(result_data: str | None) -> int:
    """Files one call left for its analyzer's next call, as its ``result_data`` says."""
    try:
        data = json.loads(result_data or "{}")
    except ValueError:
        return 0
    if not isinstance(data, dict):
        return 0
    counts = (data.get(key) for key in LEFT_OVER_KEYS)
    return sum(int(n) for n in counts if isinstance(n, (int, float)) and not isinstance(n, bool))


def backlog(tester: RealWorldTester, session_id: str) -> Backlog:
    """What the latest recorded call of each of the session's analyzers left over: what
    a user sees in the log. A failed call leaves nothing (the runner does not call a
    failing analyzer again at once), so a failure ends the wait and shows as an error."""
    tester.catch_up()
    latest = rows(Path(tester.db_path),
                  "SELECT a.capability, a.result_data FROM activities a WHERE a.session_id = ? "
                  "AND a.rowid = (SELECT MAX(b.rowid) FROM activities b "
                  "WHERE b.session_id = a.session_id AND b.capability = a.capability)",
                  (session_id,))
    left = {str(r["capability"]): files_left(r["result_data"]) for r in latest}
    return Backlog({cap: n for cap, n in left.items() if n > 0})


def drained(tester: RealWorldTester, session_id: str, deadline: Deadline) -> Backlog:
    """Wait (until ``deadline`` at most) for the session's analyzers to have no files
    left: the first pass's baseline call of each recorded, then the calls the session
    makes on its own while one has files over. Returns what was still left (empty: done)."""
    session = tester.session(session_id)
    if session is not None and not session.first_scan.wait(deadline.left()):
        # Not one call of the baseline is known to be over: all of it is left.
        return Backlog({BASELINE: count_files(Path(session.spec.project))})
    found = backlog(tester, session_id)
    while not found.clear and deadline.left() > 0:
        time.sleep(min(0.2, deadline.left()))
        found = backlog(tester, session_id)
    return found


def record_metrics(db_path: Path, session_id: str, scenario: str,
                   metrics: Sequence[Metric]) -> None:
    """The scenario's figures as ``performance_metrics`` rows of its session, written
    through the log like every other fact (a second writer beside the tester's)."""
    events = [Envelope(MetricSampled(session_id, new_id(), f"scenario:{scenario}", m.name,
                                     m.value, m.unit or "count", "realworld scenario"))
              for m in metrics if m.value is not None and math.isfinite(m.value)]
    with EventStore(Database.open(db_path)) as store:
        store.append(events)


def analyzed_since(tester: RealWorldTester, session_id: str, paths: Sequence[str],
                   capability: str, since_ts: str) -> bool:
    """Whether every path has a ``file_changed`` event since ``since_ts`` and
    ``capability`` has recorded a call that ended after the last of them."""
    tester.catch_up()
    db_path = Path(tester.db_path)
    changed = rows(db_path, "SELECT json_extract(payload, '$.path') AS path, ts FROM events "
                            "WHERE session_id = ? AND type = 'file_changed' AND ts >= ?",
                   (session_id, since_ts))
    latest: dict[str, str] = {}
    for row in changed:
        latest[str(row["path"])] = max(latest.get(str(row["path"]), ""), str(row["ts"]))
    if not set(paths) <= set(latest):
        return False
    last = max(latest[p] for p in paths)
    return scalar(db_path, "SELECT COUNT(*) FROM activities WHERE session_id = ? AND "
                           "capability = ? AND timestamp > ?", (session_id, capability, last)) > 0


def now_ts() -> str:
    """The log's timestamp format, to compare with ``ts`` and ``timestamp`` columns."""
    return format_ts(datetime.now(timezone.utc))

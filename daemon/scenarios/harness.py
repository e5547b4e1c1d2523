"""The running parts every scenario shares: a tester on the run's log, reading it back,
waiting for the daemon to catch up, and asking the code index what it holds."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from analyzers.code_search import search
from analyzers.index_location import index_path_for_log
from analyzers.index_store import IndexError_, IndexStore
from daemon.database import Database
from daemon.events import Envelope, MetricSampled, format_ts, new_id
from daemon.eventstore import EventStore
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Metric
from daemon.tester import AnalyzerFactory, RealWorldTester

#: Scenarios measure: a busy machine must not make the session pause or stop itself
#: (the safety stop at 90 % CPU would end the very run that measures the load).
SCENARIO_CPU_MAX = 100.0
SETTLE_S = 0.1


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


def record_metrics(db_path: Path, session_id: str, scenario: str,
                   metrics: Sequence[Metric]) -> None:
    """The scenario's figures as ``performance_metrics`` rows of its session, written
    through the log like every other fact (a second writer beside the tester's)."""
    events = [Envelope(MetricSampled(session_id, new_id(), f"scenario:{scenario}", m.name,
                                     m.value, m.unit or "count", "realworld scenario"))
              for m in metrics if math.isfinite(m.value)]
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

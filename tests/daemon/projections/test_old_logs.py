"""Logs written by earlier releases replay to the tables those releases built (invariant 7).

The fixture is a real log of realworld 0.1.0 (tests/data/logs/README.md): every pass
re-announced every finding and each resource sample was five events. Opening it with
this release replays its projections from its events; every table that release had must
come out row for row as it built them.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from daemon.log.database import Database
from daemon.log.schema import PRIMARY_KEYS, SCHEMA_VERSION
from daemon.projections.projector import catch_up
from daemon.projections.verify import verify
from daemon.types import ACCURACY, MS_PER_FILE, RESPONSE_TIME, TIME_TO_FIRST_RESULT, UX_QUALITY

from conftest import TESTS_ROOT

RELEASE_0_1_0 = TESTS_ROOT / "data" / "logs" / "release-0.1.0.db.gz"
#: The projection tables of 0.1.0 (schema 4), compared row for row after the replay.
TABLES_0_1_0 = ("test_sessions", "activities", "performance_metrics", "issues",
                "improvement_suggestions", "session_stats", "findings", "files",
                "learned_patterns", "quarantined_files")

#: What a call of 0.1.0 gives now: no CPU row, its events have no ``cpu_time_ms``.
PER_CALL_TYPES = (RESPONSE_TIME, UX_QUALITY, MS_PER_FILE, ACCURACY, TIME_TO_FIRST_RESULT)


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        order = ", ".join(PRIMARY_KEYS[table])
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        conn.close()


@pytest.fixture
def old_log(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    with gzip.open(RELEASE_0_1_0, "rb") as packed, path.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    return path


def test_a_log_of_release_0_1_0_replays_to_the_tables_it_built(old_log: Path) -> None:
    before = {table: rows(old_log, table) for table in TABLES_0_1_0}
    assert sum(len(found) for found in before.values()) > 50  # a real log, not an empty one
    db = Database.open(old_log)  # an older schema: its projections are dropped ...
    catch_up(db)  # ... and replayed from its events
    conn = sqlite3.connect(db.path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    after = {table: rows(old_log, table) for table in TABLES_0_1_0}
    # Each call's own figures (response time, UX score, ...) are rows that release did not
    # derive yet; every row it did derive comes out unchanged.
    kept = {row[0] for row in before["performance_metrics"]}
    derived = [r for r in after["performance_metrics"] if r[0] not in kept]
    after["performance_metrics"] = [r for r in after["performance_metrics"] if r[0] in kept]
    assert after == before
    assert derived and {r[4] for r in derived} <= set(PER_CALL_TYPES)
    report = verify(db)
    assert report.ok, report

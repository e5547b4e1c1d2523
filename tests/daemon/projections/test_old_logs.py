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

from conftest import TESTS_ROOT

RELEASE_0_1_0 = TESTS_ROOT / "data" / "logs" / "release-0.1.0.db.gz"
#: The projection tables of 0.1.0 (schema 4), compared row for row after the replay.
TABLES_0_1_0 = ("test_sessions", "activities", "performance_metrics", "issues",
                "improvement_suggestions", "session_stats", "findings", "files",
                "learned_patterns", "quarantined_files")


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
    assert after == before
    report = verify(db)
    assert report.ok, report

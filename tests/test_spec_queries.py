"""The spec's three example queries run unchanged against the projections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from logbuilders import spec_session_log

PERFORMANCE_BY_CAPABILITY = """
SELECT
    capability,
    COUNT(*) as calls,
    AVG(response_time_ms) as avg_time,
    MIN(response_time_ms) as min_time,
    MAX(response_time_ms) as max_time,
    SUM(CASE WHEN success THEN 1 ELSE 0 END) * 100.0 / COUNT(*) as success_rate
FROM activities
WHERE session_id = 'test_20260203_121500'
GROUP BY capability
ORDER BY avg_time DESC;
"""

RESOURCE_USAGE_OVER_TIME = """
SELECT
    strftime('%H:%M', timestamp) as time,
    AVG(cpu_after) as avg_cpu,
    AVG(memory_after_mb) as avg_memory
FROM activities
WHERE session_id = 'test_20260203_121500'
GROUP BY strftime('%H:%M', timestamp)
ORDER BY timestamp;
"""

ISSUES_BY_SEVERITY = """
SELECT
    severity,
    COUNT(*) as count,
    GROUP_CONCAT(capability, ', ') as affected_capabilities
FROM issues
WHERE session_id = 'test_20260203_121500'
GROUP BY severity
ORDER BY CASE severity
    WHEN 'critical' THEN 1
    WHEN 'high' THEN 2
    WHEN 'medium' THEN 3
    WHEN 'low' THEN 4
    ELSE 5
END;
"""


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    db = spec_session_log(tmp_path / "spec.db")
    return db.connect_readonly()


def test_performance_by_capability(conn: sqlite3.Connection) -> None:
    rows = conn.execute(PERFORMANCE_BY_CAPABILITY).fetchall()
    assert [r[0] for r in rows] == ["security_scanner", "workspace_analyzer", "code_search"]
    scanner = rows[0]
    assert scanner[1] == 3
    assert scanner[2] == pytest.approx((2345 + 1923 + 2134) / 3)
    assert (scanner[3], scanner[4]) == (1923.0, 2345.0)
    assert scanner[5] == pytest.approx(100 / 3)
    assert rows[1][5] == 100.0 and rows[2][5] == 50.0


def test_resource_usage_over_time(conn: sqlite3.Connection) -> None:
    rows = conn.execute(RESOURCE_USAGE_OVER_TIME).fetchall()
    assert [r[0] for r in rows] == ["12:15", "12:16", "12:17"]
    assert rows[0][1] == pytest.approx((25 + 22 + 60) / 3)
    assert rows[2][2] == 58.0


def test_issues_by_severity(conn: sqlite3.Connection) -> None:
    rows = conn.execute(ISSUES_BY_SEVERITY).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("high", 2), ("medium", 1), ("low", 1)]
    assert sorted(rows[0][2].split(", ")) == ["code_search", "security_scanner"]


def test_capability_performance_view_matches_the_spec_query(conn: sqlite3.Connection) -> None:
    from_view = conn.execute(
        "SELECT capability, calls, avg_time, min_time, max_time, success_rate "
        "FROM capability_performance WHERE session_id = 'test_20260203_121500' "
        "ORDER BY avg_time DESC").fetchall()
    assert from_view == conn.execute(PERFORMANCE_BY_CAPABILITY).fetchall()

"""Every read of the projections: one function per question, plain rows back.

The callers (the Python API, the sessions, the command line, the reports) catch the
projections up first when they need to; these functions read the tables as they stand,
each on a read-only connection of its own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from analyzers.base import LearnedPattern
from daemon.log.database import Database
from daemon.read.metric_counts import CapabilityCounts, MetricsCounts
from daemon.types import SEVERITIES, path_to_sql

#: The columns of ``test_sessions`` that session listings and the API's figures show.
SESSION_COLUMNS: Final = (
    "session_id", "project_path", "start_time", "end_time", "duration_minutes", "status",
    "total_activities", "total_errors", "avg_response_time", "avg_cpu_usage",
    "avg_memory_usage", "overall_score", "created_at",
)
#: The columns of ``findings`` that the findings command lists.
FINDING_COLUMNS: Final = (
    "fingerprint", "session_id", "capability", "rule", "path", "line", "severity",
    "confidence", "message", "preview", "first_seen", "last_seen", "resolved_at",
)
RECENT_ACTIVITIES: Final = 10
MAX_LEARNED: Final = 2_000  # the learner keeps a bounded number per shape anyway


@dataclass(frozen=True)
class SessionRecords:
    """One session's rows, as the analysis reads them."""

    session: dict[str, Any]
    activities: tuple[dict[str, Any], ...]
    metrics: tuple[dict[str, Any], ...]
    issues: tuple[dict[str, Any], ...]
    suggestions: tuple[dict[str, Any], ...]
    archived: dict[str, Any] | None = None  # its archived_sessions row, once archived
    archived_capabilities: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SeriesRecords:
    """One session's rows, as the HTML report's charts read them."""

    session: dict[str, Any]
    activities: tuple[dict[str, Any], ...]
    metrics: tuple[dict[str, Any], ...]


@contextmanager
def _reading(db: Database) -> Iterator[sqlite3.Connection]:
    with closing(db.connect_readonly()) as conn:
        yield conn


def _dicts(conn: sqlite3.Connection, sql: str,
           params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _decoded(path: object) -> object:
    # A name that is not UTF-8 is stored as its bytes (daemon.types.path_to_sql).
    return os.fsdecode(path) if isinstance(path, bytes) else path


# --- sessions --------------------------------------------------------------------------


def list_sessions(db: Database, limit: int | None = None) -> list[dict[str, Any]]:
    """Newest first, each ``test_sessions`` row with its mode, end reason and process."""
    columns = ", ".join(f"s.{c}" for c in SESSION_COLUMNS)
    sql = (f"SELECT {columns}, x.mode, x.end_reason, x.pid, x.host, x.pid_since "
           "FROM test_sessions AS s LEFT JOIN session_stats AS x USING (session_id) "
           "ORDER BY s.start_time DESC, s.session_id")
    params: tuple[int, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    names = (*SESSION_COLUMNS, "mode", "end_reason", "pid", "host", "pid_since")
    with _reading(db) as conn:
        return [dict(zip(names, row, strict=True)) for row in conn.execute(sql, params)]


def running_sessions(db: Database) -> list[dict[str, Any]]:
    """The rows of :func:`list_sessions` whose status is still ``running``."""
    return [s for s in list_sessions(db) if s["status"] == "running"]


def latest_session_id(db: Database) -> str | None:
    """The session that started last, if there is any."""
    with _reading(db) as conn:
        row = conn.execute("SELECT session_id FROM test_sessions "
                           "ORDER BY start_time DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def session_known(db: Database, session_id: str) -> bool:
    """Whether a session of that id started, or left findings behind."""
    with _reading(db) as conn:
        row = conn.execute("SELECT 1 FROM test_sessions WHERE session_id = ? UNION ALL "
                           "SELECT 1 FROM findings WHERE session_id = ? LIMIT 1",
                           (session_id, session_id)).fetchone()
    return row is not None


def project_path(db: Database, session_id: str) -> str | None:
    """The workspace a session watched, as it recorded it."""
    with _reading(db) as conn:
        row = conn.execute("SELECT project_path FROM test_sessions WHERE session_id = ?",
                           (session_id,)).fetchone()
    return str(row[0]) if row and row[0] else None


def session_issue_fields(db: Database, session_id: str) -> dict[str, tuple[str, str | None]]:
    """``issue_id -> (severity, description)`` of one session's issues: what a resumed
    session already told, so it does not tell it again."""
    with _reading(db) as conn:
        rows = conn.execute("SELECT issue_id, severity, description FROM issues "
                            "WHERE session_id = ?", (session_id,)).fetchall()
    return {str(issue_id): (str(severity), None if description is None else str(description))
            for issue_id, severity, description in rows}


def session_rows(db: Database, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The :data:`SESSION_COLUMNS` of these sessions, in the order they started."""
    if not ids:
        return []
    with _reading(db) as conn:
        return _dicts(conn, f"SELECT {', '.join(SESSION_COLUMNS)} FROM test_sessions "
                            f"WHERE session_id IN ({_marks(ids)}) ORDER BY start_time", ids)


def resumable_sessions(db: Database, project: str) -> list[dict[str, Any]]:
    """The continuous sessions on ``project`` still recorded as running, newest first,
    with the process that ran them."""
    with _reading(db) as conn:
        return _dicts(
            conn,
            "SELECT s.session_id, x.pid_since, x.pid, x.host FROM test_sessions AS s "
            "JOIN session_stats AS x USING (session_id) WHERE s.project_path = ? "
            "AND s.status = 'running' AND x.mode = 'continuous' ORDER BY s.start_time DESC",
            (project,))


def running_processes(db: Database) -> list[dict[str, Any]]:
    """Every session recorded as running, with its mode and the process that runs it."""
    with _reading(db) as conn:
        return _dicts(
            conn,
            "SELECT s.session_id, x.pid_since, x.pid, x.host, x.mode FROM test_sessions AS s "
            "JOIN session_stats AS x USING (session_id) WHERE s.status = 'running'")


def unshipped_by_workspace(db: Database, position: int) -> list[dict[str, Any]]:
    """Per workspace, the events after ``position`` (what a fleet has not received yet)."""
    with _reading(db) as conn:
        return _dicts(
            conn,
            "SELECT COALESCE(s.project_path, '(no session)') AS workspace, COUNT(*) AS events, "
            "MIN(e.ts) AS oldest FROM events AS e LEFT JOIN test_sessions AS s "
            "USING (session_id) WHERE e.seq > ? GROUP BY 1 ORDER BY 1", (position,))


def started_session_ids(db: Database, prefix: str) -> set[str]:
    """Ids of sessions started with this prefix, read from the log itself: an id must be
    new even when its start is not projected yet."""
    with _reading(db) as conn:
        return {str(row[0]) for row in conn.execute(
            "SELECT session_id FROM events WHERE type = 'session_started' "
            "AND session_id LIKE ?", (prefix + "%",))}


# --- activities and metrics ------------------------------------------------------------


def capability_rows(db: Database, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per capability of these sessions: ``calls``, ``successes`` and ``avg_response``."""
    if not ids:
        return []
    with _reading(db) as conn:
        return _dicts(
            conn,
            "SELECT capability, COUNT(*) AS calls, "
            "SUM(CASE WHEN success THEN 1 ELSE 0 END) AS successes, "
            "AVG(response_time_ms) AS avg_response FROM activities "
            f"WHERE session_id IN ({_marks(ids)}) GROUP BY capability ORDER BY capability",
            ids)


def recent_activities(db: Database, ids: Sequence[str],
                      limit: int = RECENT_ACTIVITIES) -> list[dict[str, Any]]:
    """The newest activities of these sessions, newest first."""
    if not ids:
        return []
    with _reading(db) as conn:
        return _dicts(conn, "SELECT timestamp, session_id, capability, description, success "
                            f"FROM activities WHERE session_id IN ({_marks(ids)}) "
                            "ORDER BY timestamp DESC LIMIT ?", (*ids, limit))


def response_times(db: Database, ids: Sequence[str]) -> list[tuple[str, float]]:
    """``(capability, response_time_ms)`` of every measured call of these sessions."""
    if not ids:
        return []
    with _reading(db) as conn:
        rows = conn.execute("SELECT capability, response_time_ms FROM activities "
                            f"WHERE session_id IN ({_marks(ids)}) "
                            "AND response_time_ms IS NOT NULL", tuple(ids)).fetchall()
    return [(str(capability), float(ms)) for capability, ms in rows]


def baseline_problems(db: Database, session_id: str) -> tuple[list[str], list[str]]:
    """What the security scanner's latest call in the session said of the baseline:
    (problems: the baseline is not applied or matched nothing; notices)."""
    with _reading(db) as conn:
        try:
            row = conn.execute(
                "SELECT json_extract(result_data, '$.baseline.problem'), "
                "json_extract(result_data, '$.baseline.notice') FROM activities "
                "WHERE session_id = ? AND capability = 'security_scanner' "
                "AND json_extract(result_data, '$.baseline') IS NOT NULL "
                "ORDER BY timestamp DESC LIMIT 1", (session_id,)).fetchone()
        except sqlite3.OperationalError:
            return [], []
    if row is None:
        return [], []
    return [str(row[0])] if row[0] else [], [str(row[1])] if row[1] else []


def metrics_counts(db: Database, bounds_ms: Sequence[float], after_row: int = 0) -> MetricsCounts:
    """Calls, errors and response times per capability (how many within each of
    ``bounds_ms``) of the ``activities`` rows after ``after_row`` (rows are appended, so a
    long-running writer of counters reads only what is new), open findings per severity and
    the last session's score."""
    within = "".join(", SUM(CASE WHEN response_time_ms <= ? THEN 1 ELSE 0 END)"
                     for _ in bounds_ms)
    with _reading(db) as conn:
        rows = conn.execute(
            "SELECT capability, COUNT(*), SUM(CASE WHEN success = 0 OR (success IS NULL AND "
            "error_message IS NOT NULL) THEN 1 ELSE 0 END), COUNT(response_time_ms), "
            f"COALESCE(SUM(response_time_ms), 0){within} FROM activities WHERE rowid > ? "
            "GROUP BY capability ORDER BY capability", (*bounds_ms, after_row)).fetchall()
        last_row = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM activities"
                                    ).fetchone()[0])
        try:
            severities = dict(conn.execute("SELECT severity, COUNT(*) FROM findings "
                                           "WHERE resolved_at IS NULL GROUP BY severity"))
        except sqlite3.OperationalError:
            severities = {}  # a database from before the findings table
        scored = conn.execute("SELECT overall_score FROM test_sessions WHERE end_time IS NOT "
                              "NULL AND overall_score IS NOT NULL "
                              "ORDER BY end_time DESC LIMIT 1").fetchone()
    return MetricsCounts(
        capabilities=tuple(CapabilityCounts(str(r[0]), int(r[1]), int(r[2] or 0), int(r[3]),
                                            float(r[4]), tuple(int(n or 0) for n in r[5:]))
                           for r in rows),
        open_findings={str(k): int(v) for k, v in severities.items()},
        last_score=float(scored[0]) if scored is not None else None,
        last_row=last_row)


def session_records(db: Database, session_id: str) -> SessionRecords | None:
    """Everything the analysis of one session reads; None for an unknown session."""
    by_session = (session_id,)
    with _reading(db) as conn:
        sessions = _dicts(conn, "SELECT * FROM test_sessions WHERE session_id = ?", by_session)
        if not sessions:
            return None
        return SessionRecords(
            session=sessions[0],
            activities=tuple(_dicts(conn, "SELECT * FROM activities WHERE session_id = ? "
                                          "ORDER BY timestamp", by_session)),
            metrics=tuple(_dicts(conn, "SELECT * FROM performance_metrics "
                                       "WHERE session_id = ? ORDER BY timestamp", by_session)),
            issues=tuple(_dicts(conn, "SELECT * FROM issues WHERE session_id = ?", by_session)),
            suggestions=tuple(_dicts(conn, "SELECT * FROM improvement_suggestions "
                                           "WHERE session_id = ? ORDER BY suggestion_id",
                                     by_session)),
            archived=next(iter(_dicts(conn, "SELECT * FROM archived_sessions "
                                            "WHERE session_id = ?", by_session)), None),
            archived_capabilities=tuple(_dicts(
                conn, "SELECT * FROM archived_capability_stats WHERE session_id = ? "
                      "ORDER BY capability", by_session)))


def series_records(db: Database, session_id: str) -> SeriesRecords | None:
    """What the charts of one session read; None for an unknown session."""
    by_session = (session_id,)
    with _reading(db) as conn:
        sessions = _dicts(conn, "SELECT * FROM test_sessions WHERE session_id = ?", by_session)
        if not sessions:
            return None
        return SeriesRecords(
            session=sessions[0],
            activities=tuple(_dicts(
                conn, "SELECT timestamp, capability, response_time_ms, success, "
                      "error_message, cpu_after, memory_after_mb FROM activities "
                      "WHERE session_id = ? ORDER BY timestamp", by_session)),
            metrics=tuple(_dicts(
                conn, "SELECT timestamp, capability, metric_type, value, unit "
                      "FROM performance_metrics WHERE session_id = ? ORDER BY timestamp",
                by_session)))


# --- findings --------------------------------------------------------------------------


#: The findings a session saw: those of its workspace that appeared before it ended and
#: were not resolved before it began. Findings are announced when they appear or change,
#: not on every pass, so "saw" is the state the log implies during the session (each of
#: its full passes also left a ``finding_summaries`` row with the counts).
_SEEN_BY_SESSION = ("workspace = (SELECT project_path FROM test_sessions WHERE session_id = ?) "
                    "AND first_seen <= COALESCE((SELECT end_time FROM test_sessions "
                    "WHERE session_id = ?), '9999') "
                    "AND (resolved_at IS NULL OR resolved_at >= (SELECT start_time FROM "
                    "test_sessions WHERE session_id = ?))")


def load_findings(db: Database, session_id: str | None, *,
                  include_resolved: bool = False) -> list[dict[str, Any]]:
    """:data:`FINDING_COLUMNS` of the findings (that one session saw, or all), worst first,
    then by path and line; paths that are not UTF-8 decoded as the file system would."""
    where = []
    params: list[str] = []
    if session_id is not None:
        where.append(_SEEN_BY_SESSION)
        params += [session_id] * 3
    if not include_resolved:
        where.append("resolved_at IS NULL")
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES))
    sql = (f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY CASE severity {rank} ELSE {len(SEVERITIES)} END, path, line, rule")
    with _reading(db) as conn:
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # a database from before the findings table
    found = []
    for row in rows:
        item = dict(zip(FINDING_COLUMNS, row, strict=True))
        item["path"] = _decoded(item["path"])
        found.append(item)
    return found


def open_findings(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Every column of the findings this session saw that are still open, by place."""
    with _reading(db) as conn:
        try:
            return _dicts(conn, f"SELECT * FROM findings WHERE {_SEEN_BY_SESSION} "
                                "AND resolved_at IS NULL ORDER BY path, line, rule",
                          (session_id,) * 3)
        except sqlite3.OperationalError:
            # A database from before the findings table: no findings, not an error.
            return []


# --- workspace state -------------------------------------------------------------------


def quarantine_rows(db: Database, workspace: str) -> list[dict[str, Any]]:
    """The ``quarantined_files`` rows of one workspace (what nobody released yet)."""
    with _reading(db) as conn:
        rows = conn.execute("SELECT capability, path, content_hash, error, crashes "
                            "FROM quarantined_files WHERE workspace = ?",
                            (path_to_sql(workspace),)).fetchall()
    return [{"capability": capability, "path": _decoded(path), "content_hash": digest,
             "error": error, "crashes": crashes}
            for capability, path, digest, error, crashes in rows]


def open_finding_rows(db: Database, workspace: str) -> list[dict[str, Any]]:
    """The open ``findings`` of one workspace, with the fields their last announcement had
    (what a session starts its ledger from)."""
    with _reading(db) as conn:
        try:
            rows = _dicts(conn, "SELECT fingerprint, capability, rule, path, line, severity, "
                                "confidence, message, preview FROM findings "
                                "WHERE workspace = ? AND resolved_at IS NULL",
                          (path_to_sql(workspace),))
        except sqlite3.OperationalError:
            return []  # a database from before the findings table
    for row in rows:
        row["path"] = _decoded(row["path"])
    return rows


def file_rows(db: Database, workspace: str) -> list[tuple[Any, ...]]:
    """``(path, size, mtime, content_hash)`` of the ``files`` rows of one workspace, the path
    as stored."""
    with _reading(db) as conn:
        return conn.execute("SELECT path, size, mtime, content_hash FROM files "
                            "WHERE workspace = ?", (path_to_sql(workspace),)).fetchall()


def load_learned(db: Database, project: str | Path, *,
                 limit: int = MAX_LEARNED) -> tuple[LearnedPattern, ...]:
    """The patterns learned on ``project`` (as the session recorded its path), oldest first;
    one per shape and place however many sessions learned it."""
    with _reading(db) as conn:
        rows = conn.execute(
            "SELECT lp.shape, lp.path, lp.line, MIN(lp.fix), MIN(lp.before_excerpt), "
            "MIN(lp.after_excerpt), MIN(lp.first_learned) AS first "
            "FROM learned_patterns AS lp JOIN test_sessions AS s USING (session_id) "
            "WHERE s.project_path = ? GROUP BY lp.shape, lp.path, lp.line "
            "ORDER BY first, lp.shape, lp.line LIMIT ?", (str(project), limit)).fetchall()
    return tuple(
        LearnedPattern(shape=str(shape), fix=str(fix or ""), path=str(_decoded(path)),
                       line=int(line), before_excerpt=str(before or ""),
                       after_excerpt=str(after or ""))
        for shape, path, line, fix, before, after, _first in rows)


def projection_reach(conn: sqlite3.Connection) -> int:
    """The furthest position any projection has applied, on an open connection (a backup
    being checked has no :class:`Database` of its own)."""
    return int(conn.execute("SELECT MAX(position) FROM projection_checkpoints").fetchone()[0]
               or 0)

"""The database layout: the append-only log and the read models projected from it.

The spec's five tables are written exactly as the spec writes them; the
tables and views we add beside them are documented in the README.
"""

from __future__ import annotations

# "RWLD": marks a SQLite file as ours, so we never adopt somebody else's database.
APPLICATION_ID = 0x52574C44
# Bump when a projection's tables or rules change; an older database is then
# brought forward by dropping the projections and replaying the log.
SCHEMA_VERSION = 6  # 2: learned_patterns; 3: quarantined_files; 4: findings per workspace;
#                    5: the log records changes (finding summaries, one event per sample, archives)
#                    6: each measured call's metric rows in performance_metrics

EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    ts TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_events_session ON events(session_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: UPDATE is not allowed');
END;
-- The one DELETE that passes is `realworld archive`'s, of the events it has just sealed in
-- a segment: it inserts an authorization row in its own transaction and removes it before
-- committing. A guard against accidents, not a security boundary (anyone can insert that
-- row): what proves the log is `realworld verify`. Dropped first, so an older log's
-- unconditional trigger gives way to this one.
CREATE TABLE IF NOT EXISTS archive_in_progress (
    up_to_seq INTEGER NOT NULL
);
DROP TRIGGER IF EXISTS events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress WHERE OLD.seq <= up_to_seq)
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: DELETE is not allowed (realworld archive --older-than moves old sessions to sealed segments)');
END;
-- INSERT OR REPLACE deletes the row it collides with without firing DELETE triggers
-- (unless recursive_triggers is on), so a collision is refused before it can happen.
CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq)
  OR EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'events is append-only: a seq or event_id cannot be reused');
END;
-- Retention (`realworld archive`): what the log keeps of the events it moved to segments.
-- Not projections (a rebuild keeps them): the anchor, the hash of the last archived event,
-- which the first event the log keeps chains on; and the archive base, the projection rows
-- that archived events left (sessions, open findings, files, ...), one canonical JSON row
-- each, which a replay starts from. The latest log_archived event holds the base's digest.
CREATE TABLE IF NOT EXISTS archive_anchor (
    anchor_seq INTEGER NOT NULL,       -- the last archived seq; the log goes on from the next
    anchor_hash TEXT NOT NULL          -- its hash
);
CREATE TABLE IF NOT EXISTS archive_base (
    tbl TEXT NOT NULL,                 -- the projection table the row belongs to
    key TEXT NOT NULL,                 -- its primary key, canonical JSON
    row TEXT NOT NULL,                 -- the row, canonical JSON (bytes as {"$bytes": hex})
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS archive_anchor_guard_insert BEFORE INSERT ON archive_anchor
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_anchor is written by realworld archive only');
END;
CREATE TRIGGER IF NOT EXISTS archive_anchor_guard_update BEFORE UPDATE ON archive_anchor
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_anchor is written by realworld archive only');
END;
CREATE TRIGGER IF NOT EXISTS archive_anchor_guard_delete BEFORE DELETE ON archive_anchor
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_anchor is written by realworld archive only');
END;
CREATE TRIGGER IF NOT EXISTS archive_base_guard_insert BEFORE INSERT ON archive_base
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_base is written by realworld archive only');
END;
CREATE TRIGGER IF NOT EXISTS archive_base_guard_update BEFORE UPDATE ON archive_base
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_base is written by realworld archive only');
END;
CREATE TRIGGER IF NOT EXISTS archive_base_guard_delete BEFORE DELETE ON archive_base
WHEN NOT EXISTS (SELECT 1 FROM archive_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'archive_base is written by realworld archive only');
END;
"""

CHECKPOINTS_DDL = """
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection TEXT PRIMARY KEY,
    position INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT
);
"""

# The spec's tables, verbatim, then ours.
PROJECTION_DDL: dict[str, str] = {
    "test_sessions": """
CREATE TABLE test_sessions (
    session_id TEXT PRIMARY KEY,
    project_path TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT,
    duration_minutes INTEGER NOT NULL,
    status TEXT NOT NULL,              -- running, completed, stopped, error
    total_activities INTEGER DEFAULT 0,
    total_errors INTEGER DEFAULT 0,
    avg_response_time REAL DEFAULT 0,
    avg_cpu_usage REAL DEFAULT 0,
    avg_memory_usage REAL DEFAULT 0,
    overall_score REAL DEFAULT 0,      -- 0-100 quality score
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
""",
    "activities": """
CREATE TABLE activities (
    activity_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    capability TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    description TEXT,
    response_time_ms REAL,
    cpu_before REAL,
    cpu_after REAL,
    memory_before_mb REAL,
    memory_after_mb REAL,
    success BOOLEAN,
    error_message TEXT,
    result_data TEXT,                  -- JSON
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES test_sessions(session_id)
);
CREATE INDEX idx_activities_session ON activities(session_id);
CREATE INDEX idx_activities_capability ON activities(capability);
""",
    "performance_metrics": """
CREATE TABLE performance_metrics (
    metric_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    capability TEXT NOT NULL,
    metric_type TEXT NOT NULL,         -- response_time, cpu_usage, memory_usage, accuracy, ux_quality
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    context TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES test_sessions(session_id)
);
CREATE INDEX idx_metrics_session ON performance_metrics(session_id);
""",
    "issues": """
CREATE TABLE issues (
    issue_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    severity TEXT NOT NULL,            -- critical, high, medium, low, info
    capability TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    description TEXT,
    suggested_fix TEXT,
    reproducible BOOLEAN,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES test_sessions(session_id)
);
CREATE INDEX idx_issues_session ON issues(session_id);
CREATE INDEX idx_issues_severity ON issues(severity);
""",
    "improvement_suggestions": """
CREATE TABLE improvement_suggestions (
    suggestion_id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    category TEXT NOT NULL,            -- performance, reliability, resource_optimization, bug_fix
    priority TEXT NOT NULL,            -- critical, high, medium, low
    suggestion TEXT NOT NULL,
    rationale TEXT,
    estimated_impact TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES test_sessions(session_id)
);
""",
    # Running sums behind test_sessions' averages, so each average is an exact
    # sum / count rather than an incrementally drifting float.
    "session_stats": """
CREATE TABLE session_stats (
    session_id TEXT PRIMARY KEY,
    mode TEXT,
    end_reason TEXT,
    pid INTEGER,                       -- the process running the session, on host,
    host TEXT,
    pid_since TEXT,                    -- since this time (a start or a takeover)
    response_count INTEGER NOT NULL DEFAULT 0,
    response_sum REAL NOT NULL DEFAULT 0,
    cpu_count INTEGER NOT NULL DEFAULT 0,
    cpu_sum REAL NOT NULL DEFAULT 0,
    memory_count INTEGER NOT NULL DEFAULT 0,
    memory_sum REAL NOT NULL DEFAULT 0
);
""",
    "findings": """
CREATE TABLE findings (
    workspace TEXT NOT NULL,           -- the watched project (test_sessions.project_path)
    fingerprint TEXT NOT NULL,         -- stable across line moves; never the secret itself
    session_id TEXT NOT NULL,          -- the session that saw it last
    capability TEXT NOT NULL,
    rule TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    severity TEXT NOT NULL,
    confidence TEXT NOT NULL,
    message TEXT,
    preview TEXT,                      -- masked
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_at TEXT,                  -- NULL while the finding is open
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (workspace, fingerprint)
);
CREATE INDEX idx_findings_path ON findings(path);
CREATE INDEX idx_findings_session ON findings(session_id);
CREATE INDEX idx_findings_open ON findings(resolved_at);
""",
    # One row per full pass of a capability that reports findings (FindingsSummarized):
    # what the pass saw, since findings themselves are announced only when they change.
    "finding_summaries": """
CREATE TABLE finding_summaries (
    summary_id TEXT PRIMARY KEY,       -- the event's id
    session_id TEXT NOT NULL,
    workspace TEXT NOT NULL,
    capability TEXT NOT NULL,
    timestamp TEXT NOT NULL,           -- when the pass ended
    open_findings INTEGER NOT NULL,
    critical INTEGER NOT NULL,
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    info INTEGER NOT NULL,
    digest TEXT NOT NULL               -- SHA-256 of the open fingerprints, sorted
);
CREATE INDEX idx_finding_summaries_session ON finding_summaries(session_id, capability);
""",
    "files": """
CREATE TABLE files (
    workspace TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER,
    mtime REAL,
    content_hash TEXT,
    last_change TEXT NOT NULL,         -- created | modified | moved
    changed_at TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (workspace, path)
);
""",
    # The mistake learner's fixes (PatternLearned events); keyed by session because paths
    # are relative to the session's workspace (test_sessions.project_path says which).
    "learned_patterns": """
CREATE TABLE learned_patterns (
    session_id TEXT NOT NULL,          -- the session that learned it
    shape TEXT NOT NULL,               -- the risky shape that was fixed (yaml_load, bare_except, ...)
    path TEXT NOT NULL,                -- where the fix is, relative to the workspace
    line INTEGER NOT NULL,
    fix TEXT NOT NULL,                 -- what the fix did, for a person
    before_excerpt TEXT,               -- built from the code's structure, never its literals
    after_excerpt TEXT,
    times_learned INTEGER NOT NULL,    -- the same fix seen again (a revert and redo)
    first_learned TEXT NOT NULL,
    last_learned TEXT NOT NULL,
    PRIMARY KEY (session_id, shape, path, line)
);
CREATE INDEX idx_learned_patterns_shape ON learned_patterns(shape);
""",
    # Files an analyzer crashed on twice (FileQuarantined), until released (FileReleased).
    # Paths are relative to ``workspace``, as in ``files``.
    "quarantined_files": """
CREATE TABLE quarantined_files (
    workspace TEXT NOT NULL,
    capability TEXT NOT NULL,          -- the analyzer that skips it
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,        -- the bytes it failed on; other bytes release it
    error TEXT NOT NULL,               -- the last failure (type and message)
    crashes INTEGER NOT NULL,
    quarantined_at TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (workspace, capability, path)
);
""",
    # Retention: the segments `realworld archive` sealed (LogArchived events, and the archive
    # base for those whose event was archived in turn), the sessions whose detail is in them,
    # and the per-capability aggregates of their archived calls. Filled from the archive base
    # and the log, so a rebuild gives them back like any projection.
    "archived_segments": """
CREATE TABLE archived_segments (
    segment TEXT PRIMARY KEY,          -- the file in <db>.archive/
    sha256 TEXT NOT NULL,              -- of the file
    bytes INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    events INTEGER NOT NULL,
    sessions INTEGER NOT NULL,         -- sessions with events in it
    first_prev_hash TEXT NOT NULL,     -- prev_hash of event first_seq
    anchor TEXT NOT NULL,              -- hash of event last_seq
    cutoff TEXT NOT NULL,              -- sessions that ended before this were archived
    archived_at TEXT NOT NULL
);
""",
    "archived_sessions": """
CREATE TABLE archived_sessions (
    session_id TEXT PRIMARY KEY,       -- its test_sessions row stays; its detail is archived
    archived_events INTEGER NOT NULL,  -- its events in segments
    first_seq INTEGER NOT NULL,        -- the first and last of them
    last_seq INTEGER NOT NULL,
    segment TEXT NOT NULL              -- the latest segment holding some of them
);
""",
    "archived_capability_stats": """
CREATE TABLE archived_capability_stats (
    session_id TEXT NOT NULL,
    capability TEXT NOT NULL,
    calls INTEGER NOT NULL,            -- archived activities of this capability
    errors INTEGER NOT NULL,
    avg_response_ms REAL,
    min_response_ms REAL,
    max_response_ms REAL,
    response_count INTEGER NOT NULL,   -- the sums behind the average, so archives add up
    response_sum REAL NOT NULL,
    first_call TEXT NOT NULL,
    last_call TEXT NOT NULL,
    PRIMARY KEY (session_id, capability)
);
""",
}

# The spec's tables are projections that never lose a row (checked in daemon/projections:
# none of their handlers deletes one, and a rebuild drops and recreates whole tables), so a
# DELETE on one is somebody following the spec's maintenance advice. It is refused with the
# command that does what they meant; nothing changes.
SPEC_TABLES: tuple[str, ...] = ("test_sessions", "activities", "performance_metrics", "issues",
                                "improvement_suggestions")


def _no_delete(table: str) -> str:
    return f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is a projection of the event log and keeps its rows: to drop old sessions run realworld archive --older-than 30d (it moves their events to sealed segments and keeps their summary)');
END;
"""


for _table in SPEC_TABLES:
    PROJECTION_DDL[_table] += _no_delete(_table)

# Views are derived from projection tables only, so a rebuild recreates them unchanged.
VIEWS_DDL = """
CREATE VIEW IF NOT EXISTS capability_performance AS
SELECT
    session_id,
    capability,
    COUNT(*) AS calls,
    AVG(response_time_ms) AS avg_time,
    MIN(response_time_ms) AS min_time,
    MAX(response_time_ms) AS max_time,
    SUM(CASE WHEN success THEN 1 ELSE 0 END) * 100.0 / COUNT(*) AS success_rate
FROM activities
GROUP BY session_id, capability;

CREATE VIEW IF NOT EXISTS open_findings AS
SELECT * FROM findings WHERE resolved_at IS NULL;

-- capability_performance over the whole history: archived calls (their aggregates) and the
-- calls the log still holds, per session and capability.
CREATE VIEW IF NOT EXISTS capability_history AS
SELECT
    session_id,
    capability,
    SUM(calls) AS calls,
    SUM(errors) AS errors,
    SUM(response_sum) / NULLIF(SUM(response_count), 0) AS avg_time,
    MIN(min_time) AS min_time,
    MAX(max_time) AS max_time,
    (SUM(calls) - SUM(errors)) * 100.0 / SUM(calls) AS success_rate,
    MAX(archived) AS archived
FROM (
    SELECT session_id, capability, calls, errors, response_count, response_sum,
           min_response_ms AS min_time, max_response_ms AS max_time, 1 AS archived
    FROM archived_capability_stats
    UNION ALL
    SELECT session_id, capability, COUNT(*), SUM(CASE WHEN success THEN 0 ELSE 1 END),
           COUNT(response_time_ms), COALESCE(SUM(response_time_ms), 0),
           MIN(response_time_ms), MAX(response_time_ms), 0
    FROM activities GROUP BY session_id, capability
)
GROUP BY session_id, capability;
"""

VIEW_NAMES: tuple[str, ...] = ("capability_performance", "open_findings",
                               "capability_history")

PROJECTION_TABLES: tuple[str, ...] = tuple(PROJECTION_DDL)

# Primary-key columns, used to compare a replay with the live tables row for row.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "test_sessions": ("session_id",),
    "activities": ("activity_id",),
    "performance_metrics": ("metric_id",),
    "issues": ("issue_id",),
    "improvement_suggestions": ("suggestion_id",),
    "session_stats": ("session_id",),
    "findings": ("workspace", "fingerprint"),
    "finding_summaries": ("summary_id",),
    "files": ("workspace", "path"),
    "learned_patterns": ("session_id", "shape", "path", "line"),
    "quarantined_files": ("workspace", "capability", "path"),
    "archived_segments": ("segment",),
    "archived_sessions": ("session_id",),
    "archived_capability_stats": ("session_id", "capability"),
}

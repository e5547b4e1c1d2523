"""The central tables in PostgreSQL: the fleet's log, its projections with a ``machine``
column, the per-machine tracking table, the views, and the schema's version.

The projection tables are derived from the local schema (``daemon.log.schema``), read back
through SQLite's own ``PRAGMA table_info``, so the two can never drift: the same columns,
the same primary key with ``machine`` in front, the same indexes.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from typing import Any

from daemon.fleet.errors import FleetUsageError
from daemon.log.schema import PROJECTION_DDL, PROJECTION_TABLES, SCHEMA_VERSION

#: Bump when the central layout changes (the events table, tracking, views); the projection
#: rules' own version is the local SCHEMA_VERSION, recorded beside it.
CENTRAL_SCHEMA_VERSION = 1

# SQLite's declared types as PostgreSQL's. Timestamps stay text in SQLite's own shapes (ISO
# 8601 for event times, "YYYY-MM-DD HH:MM:SS" for created_at) so a central row is the local
# row exactly; ``timestamp::timestamptz`` reads them as times.
_PG_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision",
             "BOOLEAN": "boolean", "TIMESTAMP": "text"}
_PG_DEFAULTS = {"CURRENT_TIMESTAMP":
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"}


@dataclass(frozen=True)
class Column:
    name: str
    sqlite_type: str
    pg_type: str
    not_null: bool
    default: str | None


@dataclass(frozen=True)
class Table:
    """A projection table as the central database holds it."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the local primary key; centrally ("machine", *key)
    #: The local INTEGER PRIMARY KEY AUTOINCREMENT column, numbered per machine centrally.
    serial: str | None
    indexes: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def kinds(self) -> dict[str, str]:
        return {c.name: c.sqlite_type for c in self.columns}


@functools.cache
def projection_tables() -> tuple[Table, ...]:
    conn = sqlite3.connect(":memory:")
    try:
        tables = []
        for name, ddl in PROJECTION_DDL.items():
            conn.executescript(ddl)
            info = conn.execute(f"PRAGMA table_info({name})").fetchall()
            columns = tuple(Column(row[1], row[2].upper(), _PG_TYPES[row[2].upper()],
                                   bool(row[3]), row[4]) for row in info)
            key = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            serial = key[0] if "AUTOINCREMENT" in ddl.upper() else None
            indexes = []
            for index in conn.execute(f"PRAGMA index_list({name})").fetchall():
                if index[3] != "c":
                    continue  # the primary key's own
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index[1]})"))
                indexes.append((str(index[1]), cols))
            tables.append(Table(name, columns, key, serial, tuple(indexes)))
        return tuple(tables)
    finally:
        conn.close()


@functools.cache
def table(name: str) -> Table:
    for found in projection_tables():
        if found.name == name:
            return found
    raise KeyError(name)


def _table_ddl(spec: Table) -> str:
    columns = ["machine text NOT NULL"]
    for column in spec.columns:
        line = f"{column.name} {column.pg_type}"
        if column.not_null or column.name in spec.key:
            line += " NOT NULL"
        if column.default is not None:
            line += f" DEFAULT {_PG_DEFAULTS.get(column.default.upper(), column.default)}"
        columns.append(line)
    columns.append(f"PRIMARY KEY (machine, {', '.join(spec.key)})")
    statements = [f"CREATE TABLE IF NOT EXISTS {spec.name} (\n    "
                  + ",\n    ".join(columns) + "\n)"]
    for index, cols in spec.indexes:
        statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {spec.name} "
                          f"(machine, {', '.join(cols)})")
    return ";\n".join(statements)


EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS events (
    machine text NOT NULL,
    seq bigint NOT NULL,
    event_id text NOT NULL UNIQUE,
    session_id text NOT NULL,
    type text NOT NULL,
    version integer NOT NULL,
    ts text NOT NULL,
    payload jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    shipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine, seq)
);
CREATE OR REPLACE FUNCTION realworld_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION realworld_events_append_only();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION realworld_events_append_only();
-- Where each machine's projections stand: moved in the transaction that writes the rows,
-- and only forward (eventsourcing's tracking records).
CREATE TABLE IF NOT EXISTS projection_positions (
    machine text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS machines (
    machine text PRIMARY KEY,
    first_shipped timestamptz NOT NULL DEFAULT now(),
    last_shipped timestamptz NOT NULL DEFAULT now(),
    shipped_events bigint NOT NULL DEFAULT 0
);
"""

# The spec's example queries use SQLite's strftime and GROUP_CONCAT; these make them run
# unchanged here (the formats a report uses: %Y %m %d %H %M %S %j %w %%).
COMPAT_DDL = """
CREATE OR REPLACE FUNCTION strftime(format text, value text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(value::timestamp,
        replace(replace(replace(replace(replace(replace(replace(replace(replace(
            '"' || format || '"',
            '%%', '"%"'), '%Y', '"YYYY"'), '%m', '"MM"'), '%d', '"DD"'), '%H', '"HH24"'),
            '%M', '"MI"'), '%S', '"SS"'), '%j', '"DDD"'), '%w', '"D"'))
$$;
CREATE OR REPLACE FUNCTION realworld_concat(state text, value text, separator text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN state WHEN state IS NULL THEN value
                ELSE state || separator || value END
$$;
CREATE OR REPLACE FUNCTION realworld_concat(state text, value text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT realworld_concat(state, value, ',') $$;
CREATE OR REPLACE AGGREGATE group_concat(text, text) (
    SFUNC = realworld_concat, STYPE = text);
CREATE OR REPLACE AGGREGATE group_concat(text) (SFUNC = realworld_concat, STYPE = text);
"""

# The local views with ``machine``: each groups per machine as well.
VIEWS_DDL = """
CREATE OR REPLACE VIEW capability_performance AS
SELECT
    machine,
    session_id,
    capability,
    COUNT(*) AS calls,
    AVG(response_time_ms) AS avg_time,
    MIN(response_time_ms) AS min_time,
    MAX(response_time_ms) AS max_time,
    SUM(CASE WHEN success THEN 1 ELSE 0 END) * 100.0 / COUNT(*) AS success_rate
FROM activities
GROUP BY machine, session_id, capability;

CREATE OR REPLACE VIEW open_findings AS
SELECT * FROM findings WHERE resolved_at IS NULL;

CREATE OR REPLACE VIEW capability_history AS
SELECT
    machine,
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
    SELECT machine, session_id, capability, calls, errors, response_count, response_sum,
           min_response_ms AS min_time, max_response_ms AS max_time, 1 AS archived
    FROM archived_capability_stats
    UNION ALL
    SELECT machine, session_id, capability, COUNT(*), SUM(CASE WHEN success THEN 0 ELSE 1 END),
           COUNT(response_time_ms), COALESCE(SUM(response_time_ms), 0),
           MIN(response_time_ms), MAX(response_time_ms), 0
    FROM activities GROUP BY machine, session_id, capability
) AS calls
GROUP BY machine, session_id, capability;
"""

SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    id integer PRIMARY KEY CHECK (id = 1),
    central_version integer NOT NULL,
    projection_version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

# One migration at a time across the fleet: shippers start together after an upgrade.
_MIGRATION_LOCK = 0x52574C44


def _projection_ddl() -> str:
    return ";\n".join(_table_ddl(t) for t in projection_tables())


def _drop_projections(cursor: Any) -> None:
    cursor.execute("DROP VIEW IF EXISTS capability_performance, open_findings, "
                   "capability_history")
    for name in PROJECTION_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute("UPDATE projection_positions SET position = 0, updated_at = now()")


def stored_versions(conn: Any) -> tuple[int, int] | None:
    """``(central_version, projection_version)`` of the central database, None if it has no
    schema yet."""
    exists = conn.execute("SELECT to_regclass('schema_version')").fetchone()[0]
    if exists is None:
        return None
    row = conn.execute("SELECT central_version, projection_version FROM schema_version "
                       "WHERE id = 1").fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def check_versions(versions: tuple[int, int] | None, where: str) -> None:
    """A central schema newer than this code: refuse rather than write what it cannot read."""
    if versions is None:
        return
    central, projection = versions
    if central > CENTRAL_SCHEMA_VERSION or projection > SCHEMA_VERSION:
        raise FleetUsageError(
            f"fleet {where}: the central schema is version {central}.{projection}, newer than "
            f"this realworld knows ({CENTRAL_SCHEMA_VERSION}.{SCHEMA_VERSION}): upgrade "
            f"realworld on this machine")


def ensure_schema(conn: Any, where: str) -> bool:
    """Create or migrate the central schema in one transaction; True if it changed. Older
    projection rules: the central projections are dropped and replayed from the central log
    on the next apply (the log itself never changes)."""
    versions = stored_versions(conn)
    check_versions(versions, where)
    if versions == (CENTRAL_SCHEMA_VERSION, SCHEMA_VERSION):
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        versions = stored_versions(conn)  # another shipper may have migrated meanwhile
        check_versions(versions, where)
        if versions == (CENTRAL_SCHEMA_VERSION, SCHEMA_VERSION):
            return False
        cursor = conn.cursor()
        cursor.execute(SCHEMA_VERSION_DDL)
        cursor.execute(EVENTS_DDL)
        cursor.execute(COMPAT_DDL)
        if versions is not None and versions[1] != SCHEMA_VERSION:
            _drop_projections(cursor)
        cursor.execute(_projection_ddl())
        cursor.execute(VIEWS_DDL)
        cursor.execute(
            "INSERT INTO schema_version (id, central_version, projection_version) "
            "VALUES (1, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "central_version = excluded.central_version, "
            "projection_version = excluded.projection_version, updated_at = now()",
            (CENTRAL_SCHEMA_VERSION, SCHEMA_VERSION))
    return True


def require_schema(conn: Any, where: str) -> None:
    """For the read commands: the schema must be there and be one this code can read."""
    versions = stored_versions(conn)
    if versions is None:
        raise FleetUsageError(f"fleet {where} holds no realworld data yet: run realworld ship "
                              f"--fleet URL on a machine first")
    check_versions(versions, where)
    if versions[1] != SCHEMA_VERSION:
        raise FleetUsageError(f"fleet {where}: its projections are of rules version "
                              f"{versions[1]}, not {SCHEMA_VERSION}: run realworld ship "
                              f"--fleet URL to migrate them")

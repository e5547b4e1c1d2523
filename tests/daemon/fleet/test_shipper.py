"""Shipping local logs to a real PostgreSQL: exactly once, the same projections, verified."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import psycopg
import pytest

from daemon.cli.main import main
from daemon.fleet.central_schema import projection_tables
from daemon.fleet.shipper import ship, shipments
from daemon.log.database import Database

from logbuilders import history_log, spec_session_log
from postgres_server import PostgresServer

COUNTED = ("events", "test_sessions", "activities", "performance_metrics", "issues",
           "improvement_suggestions", "findings")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def central(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def local_count(db: Database, table: str) -> int:
    conn = db.connect_readonly()
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _normal(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


@pytest.fixture
def two_logs(tmp_path: Path) -> tuple[Database, Database]:
    return (spec_session_log(tmp_path / "laptop.db"),
            history_log(tmp_path / "ci.db", days=4, events=6_000))


def test_two_machines_sum_up_and_shipping_again_adds_nothing(
        fleet_url: str, two_logs: tuple[Database, Database]) -> None:
    laptop, ci = two_logs
    first = ship(laptop, fleet_url, "laptop")
    second = ship(ci, fleet_url, "ci")
    assert first.shipped == local_count(laptop, "events") and first.behind == 0
    assert second.shipped == local_count(ci, "events") and second.applied == second.shipped
    for table in COUNTED:
        total = central(fleet_url, f"SELECT COUNT(*) FROM {table}")[0][0]
        assert total == local_count(laptop, table) + local_count(ci, table), table
    again = [ship(laptop, fleet_url, "laptop"), ship(ci, fleet_url, "ci")]
    assert [r.shipped for r in again] == [0, 0] and [r.applied for r in again] == [0, 0]
    assert central(fleet_url, "SELECT COUNT(*) FROM events")[0][0] == (
        local_count(laptop, "events") + local_count(ci, "events"))


def test_central_rows_are_the_local_rows_with_their_machine(
        fleet_url: str, two_logs: tuple[Database, Database]) -> None:
    laptop, ci = two_logs
    for name, db in (("laptop", laptop), ("ci", ci)):
        ship(db, fleet_url, name)
    for name, db in (("laptop", laptop), ("ci", ci)):
        conn = db.connect_readonly()
        try:
            for spec in projection_tables():
                columns = ", ".join(spec.column_names)
                order = ", ".join(spec.key)
                local = [tuple(map(_normal, row)) for row in conn.execute(
                    f"SELECT {columns} FROM {spec.name} ORDER BY {order}")]
                remote = [tuple(map(_normal, row)) for row in central(
                    fleet_url, f"SELECT {columns} FROM {spec.name} WHERE machine = %s "
                               f"ORDER BY {order}", (name,))]
                assert remote == local, spec.name
        finally:
            conn.close()


def test_ship_command_and_status_say_where_the_fleet_stands(
        fleet_url: str, tmp_path: Path, postgres_server: PostgresServer) -> None:
    db = spec_session_log(tmp_path / "a.db")
    code, out, err = cli("ship", "--db", str(db.path), "--fleet", fleet_url, "--machine", "a")
    assert code == 0, err
    assert "shipped 15 event(s)" in out and postgres_server.password not in out
    code, out, _ = cli("status", "--db", str(db.path))
    assert code == 0 and "(as 'a'): holds seq 1-15" in out and "up to date" in out
    assert postgres_server.password not in out
    [shipment] = shipments(db)
    assert shipment.position == 15 and shipment.last_error is None


def test_verify_fleet_passes_then_names_a_hand_edited_payload(
        fleet_url: str, two_logs: tuple[Database, Database]) -> None:
    laptop, ci = two_logs
    ship(laptop, fleet_url, "laptop")
    ship(ci, fleet_url, "ci")
    code, out, err = cli("verify", "--fleet", fleet_url)
    assert code == 0, out + err
    assert "laptop: chain: ok (15 events)" in out and "ci: projections: ok" in out
    # An administrator edits a central row behind the trigger's back.
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        conn.execute("UPDATE events SET payload = jsonb_set(payload, '{response_time_ms}', "
                     "'1.0') WHERE machine = 'laptop' AND seq = 3")
        conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    code, out, _ = cli("verify", "--fleet", fleet_url)
    assert code == 1
    assert "laptop: chain: broken at seq 3: hash does not match" in out
    assert "ci: chain: ok" in out


def test_central_projection_edits_are_found_by_verify(
        fleet_url: str, two_logs: tuple[Database, Database]) -> None:
    laptop, _ = two_logs
    ship(laptop, fleet_url, "laptop")
    central(fleet_url, "UPDATE test_sessions SET overall_score = 99 WHERE machine = 'laptop'")
    code, out, _ = cli("verify", "--fleet", fleet_url, "--machine", "laptop")
    assert code == 1 and "laptop: projections: test_sessions differs from a replay" in out


def test_the_central_log_is_append_only(fleet_url: str, tmp_path: Path) -> None:
    ship(spec_session_log(tmp_path / "a.db"), fleet_url, "a")
    for statement in ("UPDATE events SET type = 'x' WHERE seq = 1", "DELETE FROM events",
                      "TRUNCATE events"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            central(fleet_url, statement)
    assert central(fleet_url, "SELECT COUNT(*) FROM events")[0][0] == 15


def test_another_log_under_the_same_name_is_refused(fleet_url: str, tmp_path: Path) -> None:
    ship(spec_session_log(tmp_path / "a.db"), fleet_url, "same")
    other = spec_session_log(tmp_path / "b.db")
    code, _, err = cli("ship", "--db", str(other.path), "--fleet", fleet_url, "--machine", "same")
    assert code == 1 and err.count("\n") == 1
    assert "another log ships as 'same'" in err
    assert central(fleet_url, "SELECT COUNT(*) FROM events")[0][0] == 15


def test_an_archived_log_ships_its_segments_first(fleet_url: str, tmp_path: Path) -> None:
    from datetime import timedelta

    from daemon.app.archive import archive
    from daemon.log.events import utc_now

    db = history_log(tmp_path / "old.db", days=30, events=4_000)
    before = local_count(db, "events")
    result = archive(db, utc_now() - timedelta(days=10))
    assert result.segment is not None and local_count(db, "events") < before
    shipped = ship(db, fleet_url, "old")
    assert shipped.shipped == before + 1  # and the archive's own log_archived event
    code, out, err = cli("verify", "--fleet", fleet_url)
    assert code == 0, out + err


def test_read_commands_serve_the_fleet(fleet_url: str, two_logs: tuple[Database, Database],
                                       postgres_server: PostgresServer) -> None:
    laptop, ci = two_logs
    ship(laptop, fleet_url, "laptop")
    ship(ci, fleet_url, "ci")
    code, out, err = cli("sessions", "--fleet", fleet_url, "--limit", "3")
    assert code == 0, err
    assert "machine" in out.splitlines()[0]
    code, local_report, _ = cli("report", "test_20260203_121500", "--db", str(laptop.path))
    code2, fleet_report, err = cli("report", "laptop:test_20260203_121500", "--fleet", fleet_url)
    assert code == code2 == 0, err
    assert fleet_report == local_report
    code, out, err = cli("findings", "--fleet", fleet_url)
    assert code == 0, err
    assert out.startswith("ci: ") and "laptop" not in out
    code, out, err = cli("query", "SELECT machine, COUNT(*) AS n FROM activities "
                                  "GROUP BY machine ORDER BY machine", "--fleet", fleet_url,
                         "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[0] == "machine,n" and out.splitlines()[2] == "laptop,7"


def test_fleet_query_is_read_only(fleet_url: str, tmp_path: Path) -> None:
    ship(spec_session_log(tmp_path / "a.db"), fleet_url, "a")
    code, _, err = cli("query", "DELETE FROM issues", "--fleet", fleet_url)
    assert code == 2 and "read-only" in err and err.count("\n") == 1
    assert central(fleet_url, "SELECT COUNT(*) FROM issues")[0][0] == 4


def test_bad_input_and_faults_are_one_line_each(fleet_url: str, tmp_path: Path,
                                                postgres_server: PostgresServer) -> None:
    db = spec_session_log(tmp_path / "a.db")
    dbname = fleet_url.rsplit("/", 1)[1]
    wrong = postgres_server.url(dbname, password="not-the-password")
    closed = f"postgresql://realworld_admin:{postgres_server.password}@127.0.0.1:1/{dbname}"
    postgres_server.execute("CREATE ROLE weak LOGIN PASSWORD 'weakpw'")
    postgres_server.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC", dbname)
    weak = postgres_server.url(dbname, user="weak", password="weakpw")
    cases = [(wrong, 2, "authentication failed"), (closed, 1, "unreachable"),
             (weak, 2, "permission denied"), ("postgresql://[bad", 2, "invalid fleet URL")]
    for url, expected, words in cases:
        code, _, err = cli("ship", "--db", str(db.path), "--fleet", url, "--machine", "a")
        assert code == expected, (url, err)
        assert words in err and err.count("\n") == 1 and "Traceback" not in err
        assert postgres_server.password not in err and "weakpw" not in err
    assert local_count(db, "events") == 15  # nothing local lost
    failed = [s for s in shipments(db) if s.last_error]
    assert failed and all(postgres_server.password not in str(s) for s in failed)
    # A central schema newer than this code is refused before anything is written.
    assert ship(db, fleet_url, "a").shipped == 15
    central(fleet_url, "UPDATE schema_version SET central_version = 99")
    code, _, err = cli("ship", "--db", str(db.path), "--fleet", fleet_url, "--machine", "a")
    assert code == 2 and "newer than this realworld knows" in err


def test_spec_queries_run_unchanged_on_the_central_tables(fleet_url: str,
                                                           tmp_path: Path) -> None:
    from test_spec_queries import (
        ISSUES_BY_SEVERITY,
        PERFORMANCE_BY_CAPABILITY,
        RESOURCE_USAGE_OVER_TIME,
    )

    db = spec_session_log(tmp_path / "a.db")
    ship(db, fleet_url, "a")
    # PostgreSQL, as the SQL standard, refuses ORDER BY a column the query does not group by
    # (SQLite takes an arbitrary row's); the README gives this form, which both accept.
    resource_usage = RESOURCE_USAGE_OVER_TIME.replace("ORDER BY timestamp",
                                                      "ORDER BY MIN(timestamp)")
    with pytest.raises(psycopg.errors.GroupingError):
        central(fleet_url, RESOURCE_USAGE_OVER_TIME)
    conn = db.connect_readonly()
    try:
        for sql in (PERFORMANCE_BY_CAPABILITY, ISSUES_BY_SEVERITY, resource_usage):
            local = [tuple(map(_normal, r)) for r in conn.execute(sql)]
            remote = [tuple(map(_normal, r)) for r in central(fleet_url, sql)]
            assert remote and _rounded(remote) == _rounded(local), sql
    finally:
        conn.close()


def _rounded(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [tuple(round(float(v), 6) if isinstance(v, float) or type(v).__name__ == "Decimal"
                  else v for v in row) for row in rows]


def test_local_database_keeps_no_password(fleet_url: str, tmp_path: Path,
                                          postgres_server: PostgresServer) -> None:
    db = spec_session_log(tmp_path / "a.db")
    ship(db, fleet_url, "a")
    dump = "\n".join(sqlite3.connect(db.path).iterdump())
    assert postgres_server.password not in dump


def test_the_readme_team_queries_run_on_the_fleet(fleet_url: str,
                                                  two_logs: tuple[Database, Database]) -> None:
    from conftest import REPO_ROOT

    laptop, ci = two_logs
    ship(laptop, fleet_url, "laptop")
    ship(ci, fleet_url, "ci-1")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Fleet", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sql\n", 1)[1].split("```", 1)[0]
    statements = [s.strip() for s in block.split(";") if s.strip()]
    assert len(statements) == 3
    for statement in statements:
        code, out, err = cli("query", statement, "--fleet", fleet_url, "--format", "json")
        assert code == 0, (statement, err)
    code, out, _ = cli("query", statements[0], "--fleet", fleet_url, "--format", "csv")
    assert "ci-1," in out


def test_compare_across_machines(fleet_url: str, tmp_path: Path) -> None:
    from sessionlogs import add_session

    fast = [("code_search", 4.0 + (i % 5) * 0.1, True) for i in range(40)]
    slow = [("code_search", 60.0 + (i % 5) * 0.1, True) for i in range(40)]
    laptop = add_session(tmp_path / "laptop.db", "s_laptop", fast)
    ci = add_session(tmp_path / "ci.db", "s_ci", slow)
    ship(laptop, fleet_url, "laptop")
    ship(ci, fleet_url, "ci")
    code, out, err = cli("compare", "laptop:latest", "ci:s_ci", "--fleet", fleet_url)
    assert code == 1, err
    assert "code_search" in out
    code, out, err = cli("compare", "laptop:s_laptop", "laptop:latest", "--fleet", fleet_url)
    assert code == 0, out + err
    code, _, err = cli("compare", "nowhere:latest", "ci:s_ci", "--fleet", fleet_url)
    assert code == 2 and "no sessions in the fleet yet from machine 'nowhere'" in err


def test_older_projection_rules_are_replayed_from_the_central_log(
        fleet_url: str, two_logs: tuple[Database, Database]) -> None:
    from daemon.log.schema import SCHEMA_VERSION

    laptop, ci = two_logs
    ship(laptop, fleet_url, "laptop")
    ship(ci, fleet_url, "ci")
    central(fleet_url, "UPDATE schema_version SET projection_version = %s",
            (SCHEMA_VERSION - 1,))
    central(fleet_url, "ALTER TABLE test_sessions ADD COLUMN left_by_old_rules text")
    again = ship(laptop, fleet_url, "laptop")
    assert again.shipped == 0 and again.applied == local_count(laptop, "events")
    assert central(fleet_url, "SELECT projection_version FROM schema_version") == [
        (SCHEMA_VERSION,)]
    # The other machine's projections were replayed too, without it shipping again.
    assert central(fleet_url, "SELECT COUNT(*) FROM activities WHERE machine = 'ci'")[0][0] == (
        local_count(ci, "activities"))
    code, out, _ = cli("verify", "--fleet", fleet_url)
    assert code == 0, out


def test_the_python_api_ships(fleet_url: str, tmp_path: Path) -> None:
    from daemon import RealWorldTester

    db = spec_session_log(tmp_path / "api.db")
    tester = RealWorldTester(db_path=db.path)
    try:
        result = tester.ship(fleet_url, "api")
        assert result["machine"] == "api" and result["behind"] == 0
        assert result["shipped"] >= 15 and result["position"] == result["shipped"]
    finally:
        tester.close()

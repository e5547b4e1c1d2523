"""What every command shares: one-line usage errors, the log it opens, projections caught up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from daemon.cli import common
from daemon.cli.backup import BackupUsageError
from daemon.cli.compare import CompareUsageError
from daemon.cli.findings import FindingsUsageError
from daemon.cli.report import ReportUsageError
from daemon.cli.run import RunUsageError
from daemon.cli.scenario import ScenarioUsageError
from daemon.cli.search import SearchUsageError
from daemon.log.database import Database, DatabaseError
from daemon.log.events import Envelope, SessionStarted
from daemon.log.store import EventStore
from daemon.read.queries import list_sessions


def test_parser_errors_are_one_line_usage_errors() -> None:
    parser = common.Parser(prog="realworld", parents=[common.common_options()])
    parser.add_argument("--limit", type=int)
    with pytest.raises(common.UsageError) as caught:
        parser.parse_args(["--limit", "many"])
    assert "\n" not in str(caught.value) and "--limit" in str(caught.value)
    args = parser.parse_args(["--db", "x.db"])
    assert (args.db, args.config) == ("x.db", None)


@pytest.mark.parametrize("error", [BackupUsageError, CompareUsageError, FindingsUsageError,
                                   ReportUsageError, RunUsageError, ScenarioUsageError,
                                   SearchUsageError])
def test_every_commands_bad_input_is_a_usage_error(error: type[Exception]) -> None:
    assert issubclass(error, common.UsageError) and issubclass(error, ValueError)


def unprojected_log(path: Path) -> Database:
    db = Database.open(path, create=True)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("s-1", "/ws", 1.0))])
    return db


def test_fresh_catches_the_projections_up(tmp_path: Path) -> None:
    db = unprojected_log(tmp_path / "log.db")
    assert list_sessions(db) == []
    assert [s["session_id"] for s in list_sessions(common.fresh(db))] == ["s-1"]


def test_a_read_only_log_is_read_as_it_stands(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = unprojected_log(tmp_path / "log.db")
    # As a file the user may not write (root could write a chmod 0400 file anyway).
    monkeypatch.setattr(Database, "is_writable", lambda self: False)
    assert list_sessions(common.fresh(db)) == []


def test_a_full_disk_is_one_warning_and_the_read_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = unprojected_log(tmp_path / "log.db")

    def full(_: Database) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(common, "catch_up", full)
    assert common.fresh(db) is db
    assert capsys.readouterr().err == ("realworld: warning: projections not caught up "
                                       "(disk full); reading them as they stand\n")


def test_other_sqlite_errors_are_not_hidden(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = unprojected_log(tmp_path / "log.db")

    def broken(_: Database) -> None:
        raise sqlite3.OperationalError("no such table: test_sessions")

    monkeypatch.setattr(common, "catch_up", broken)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        common.fresh(db)


def test_open_db_follows_db_and_refuses_a_missing_file(tmp_path: Path) -> None:
    parser = common.Parser(prog="realworld", parents=[common.common_options()])
    missing = parser.parse_args(["--db", str(tmp_path / "none.db")])
    with pytest.raises(DatabaseError, match="no database at"):
        common.open_db(missing)
    assert common.open_db(missing, create=True).path == tmp_path / "none.db"

"""The read-side commands, in-process for speed and as real processes where exit codes matter."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli.main import build_parser, main

from conftest import REPO_ROOT
from logbuilders import SPEC_SESSION, spec_session_log

ROOT = REPO_ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def realworld(*argv: str, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "daemon", *argv], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=60, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    spec_session_log(path)
    return path


def test_sessions_table_and_json(db_path: Path) -> None:
    code, out, _ = run("sessions", "--db", str(db_path))
    assert code == 0
    assert SPEC_SESSION in out and "completed" in out and "(1 row)" in out
    code, out, _ = run("sessions", "--json", "--db", str(db_path))
    [session] = json.loads(out)
    assert session["session_id"] == SPEC_SESSION
    assert session["total_activities"] == 7 and session["total_errors"] == 3
    assert session["end_reason"] == "duration reached"


def test_query_formats(db_path: Path) -> None:
    sql = "SELECT capability, COUNT(*) AS calls FROM activities GROUP BY 1 ORDER BY 1"
    code, out, _ = run("query", sql, "--db", str(db_path), "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["capability", "calls"], ["code_search", "2"], ["security_scanner", "3"],
        ["workspace_analyzer", "2"]]
    code, out, _ = run("query", sql, "--db", str(db_path), "--format", "json")
    assert json.loads(out)[1] == {"capability": "security_scanner", "calls": 3}
    code, out, _ = run("query", sql, "--db", str(db_path))
    lines = out.splitlines()
    assert lines[0].split() == ["capability", "calls"]
    assert lines[-1] == "(3 rows)"


def test_query_sees_events_appended_since_the_last_catch_up(db_path: Path) -> None:
    from daemon.log.database import Database
    from daemon.log.events import Envelope, SessionStarted
    from daemon.log.store import EventStore

    with EventStore(Database.open(db_path)) as store:
        store.append([Envelope(SessionStarted("later", "/elsewhere", 1))])
    code, out, _ = run("query", "SELECT status FROM test_sessions WHERE session_id = 'later'",
                       "--db", str(db_path), "--format", "csv")
    assert (code, out) == (0, "status\nrunning\n")


@pytest.mark.parametrize("sql", [
    "DELETE FROM events",
    "UPDATE test_sessions SET status = 'x'",
    "DROP TABLE activities",
    "INSERT INTO issues (issue_id) VALUES ('x')",
    "PRAGMA query_only = OFF",
    "PRAGMA user_version = 7",
    "CREATE TEMP TABLE scratch (x)",
    "ATTACH DATABASE 'other.db' AS other",
])
def test_query_refuses_every_write_and_changes_nothing(db_path: Path, sql: str) -> None:
    before = digest(db_path)
    result = realworld("query", sql, "--db", str(db_path), cwd=db_path.parent)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("realworld: error:")
    assert "Traceback" not in result.stderr
    assert digest(db_path) == before
    assert not (db_path.parent / "other.db").exists()
    check = realworld("verify", "--db", str(db_path))
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("argv, fragment", [
    (("query", "SELEC nothing"), "SQL error"),
    (("query", "SELECT 1", "--format", "xml"), "invalid choice"),
    (("query", "SELECT 1; SELECT 2"), "one statement"),
    (("sessions", "--bogus"), "unrecognized arguments"),
    (("query", "PRAGMA table_info(nope_table) ; DROP TABLE events"), "one statement"),
])
def test_bad_input_is_one_line_and_exit_2(db_path: Path, argv: tuple[str, ...],
                                          fragment: str) -> None:
    before = digest(db_path)
    code, _, err = run(*argv, "--db", str(db_path))
    assert code == 2
    assert fragment in err and err.count("\n") == 1
    assert digest(db_path) == before


def test_missing_foreign_and_newer_databases(tmp_path: Path) -> None:
    code, _, err = run("sessions", "--db", str(tmp_path / "absent.db"))
    assert code == 2 and "no database at" in err
    assert not (tmp_path / "absent.db").exists()

    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words to fill the header page\n" * 20)
    code, _, err = run("verify", "--db", str(text))
    assert code == 2 and "not a SQLite database" in err

    import sqlite3

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    before = digest(foreign)
    code, _, err = run("query", "SELECT 1", "--db", str(foreign))
    assert code == 2 and "not a realworld one" in err
    assert digest(foreign) == before

    newer = tmp_path / "newer.db"
    spec_session_log(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 999")
    before = digest(newer)
    code, _, err = run("sessions", "--db", str(newer))
    assert code == 2 and "newer than this realworld knows" in err
    assert digest(newer) == before


def test_verify_and_rebuild(db_path: Path) -> None:
    code, out, _ = run("verify", "--db", str(db_path))
    assert code == 0 and "chain: ok (15 events)" in out
    code, out, _ = run("rebuild", "--db", str(db_path))
    assert code == 0 and "from 15 events" in out
    code, out, _ = run("query", "SELECT COUNT(*) AS n FROM activities", "--db", str(db_path),
                       "--format", "csv")
    assert out == "n\n7\n"


def test_verify_names_the_tampered_seq(db_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = replace(payload, '245.0', '246.0') "
                     "WHERE seq = 2")
    result = realworld("verify", "--db", str(db_path))
    assert result.returncode == 1
    assert "chain: broken at seq 2" in result.stdout


def test_db_from_environment_and_config(db_path: Path, tmp_path: Path) -> None:
    empty = tmp_path / "cwd"
    empty.mkdir()
    by_env = realworld("sessions", cwd=empty, env={"REALWORLD_TESTING_DB": str(db_path),
                                                   "XDG_CONFIG_HOME": str(empty)})
    assert by_env.returncode == 0 and SPEC_SESSION in by_env.stdout
    config = tmp_path / "realworld.toml"
    config.write_text(f'db_path = "{db_path}"\n')
    by_config = realworld("sessions", "--config", str(config), cwd=empty,
                          env={"XDG_CONFIG_HOME": str(empty)})
    assert by_config.returncode == 0 and SPEC_SESSION in by_config.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("monitor_interval = -1\n")
    by_bad = realworld("sessions", "--config", str(bad), cwd=empty)
    assert by_bad.returncode == 2 and by_bad.stderr.count("\n") == 1


EXAMPLED = ("run", "report", "findings", "query", "sessions", "status", "daemon", "scenario",
            "verify", "hook")


@pytest.mark.parametrize("command", EXAMPLED)
def test_help_shows_examples_that_parse(command: str) -> None:
    """Each example in a command's --help is a command line the parser takes as written."""
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    _, _, block = help_text.getvalue().partition("\nexamples:\n")
    found = [line.strip() for line in block.splitlines() if line.startswith("  realworld ")]
    assert found, help_text.getvalue()
    for line in found:
        argv = shlex.split(line, comments=True)
        args = build_parser().parse_args(argv[1:])
        assert args.command == command


@pytest.mark.parametrize(("line", "expected"), [
    ("realworld fi", ["findings "]),
    ("realworld report --format ", ["text", "markdown", "json", "html", "sarif"]),
    ("realworld hook --fail-on c", ["critical "]),
])
def test_the_shell_is_answered_completions(tmp_path: Path, line: str,
                                           expected: list[str]) -> None:
    """As bash asks through register-python-argcomplete's function: argcomplete's variables
    set, the answer in the file it names."""
    pytest.importorskip("argcomplete")
    answer = tmp_path / "completions"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "_ARGCOMPLETE": "1",
           "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(answer)}
    done = subprocess.run([sys.executable, "-m", "daemon"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert answer.read_text().split("\n") == expected

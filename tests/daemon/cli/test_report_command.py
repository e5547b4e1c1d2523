"""``realworld report``: every format, --output, latest, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from daemon.cli.report import (
    FORMATS,
    ReportUsageError,
    register,
    render_session_report,
    write_report,
)
from daemon.log.database import Database
from daemon.log.events import FindingDetected
from daemon.read.render.report import NO_ACTIVITIES, render_markdown, render_text
from daemon.read.reporting import load_analysis

from logbuilders import SPEC_SESSION, spec_session_log
from sessionlogs import START, add_session, run_command


def report(*argv: str) -> tuple[int, str, str]:
    return run_command(register, "report", *argv)


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2 and out == ""
    assert err.startswith("realworld: error: ") and err.count("\n") == 1
    return err


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    spec_session_log(path)
    return path


def test_text_report_of_latest_by_default(db_path: Path) -> None:
    code, out, err = report("--db", str(db_path))
    assert (code, err) == (0, "")
    db = Database.open(db_path)
    assert out == render_text(load_analysis(db, SPEC_SESSION))
    assert out.startswith("=" * 80 + "\n" + " " * 21 + "REAL-WORLD TESTING - IMPROVEMENT REPORT")
    assert report(SPEC_SESSION, "--db", str(db_path))[1] == out
    assert report("latest", "--db", str(db_path))[1] == out


def test_latest_is_the_newest_session(db_path: Path) -> None:
    add_session(db_path, "s-newer", [("code_search", 5.0, True)],
                start=START.replace(year=2027))
    code, out, _ = report("--db", str(db_path))
    assert code == 0 and "Session ID: s-newer" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format(db_path: Path, fmt: str) -> None:
    code, out, err = report(SPEC_SESSION, "--format", fmt, "--db", str(db_path))
    assert (code, err) == (0, "")
    if fmt == "json":
        assert json.loads(out)["session"]["session_id"] == SPEC_SESSION
    elif fmt == "sarif":
        assert json.loads(out)["version"] == "2.1.0"
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and out.count("data-capability=") == 7
    elif fmt == "markdown":
        db = Database.open(db_path)
        assert out == render_markdown(load_analysis(db, SPEC_SESSION))
    else:
        assert "END OF REPORT" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_file_holds_what_stdout_would(db_path: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "reports" / "deeper" / f"report.{fmt}"
    code, out, err = report(SPEC_SESSION, "--format", fmt, "--output", str(target),
                            "--db", str(db_path))
    assert (code, err) == (0, "")
    assert out == f"Report saved to {target}\n"
    assert target.read_text(encoding="utf-8") == report(SPEC_SESSION, "--format", fmt,
                                                        "--db", str(db_path))[1]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_output_replaces_an_existing_file(db_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_text("old and much longer than the report " * 1000)
    assert report("-o", str(target), "--db", str(db_path))[0] == 0
    assert target.read_text().startswith("=" * 80)


def test_unwritable_output_is_one_line(db_path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = one_line_error(*report("--output", str(blocker / "r.txt"), "--db", str(db_path)))
    assert "cannot write the report to" in err
    err = one_line_error(*report("--output", str(tmp_path), "--db", str(db_path)))
    assert "cannot write the report to" in err


def test_unknown_session_is_one_line(db_path: Path) -> None:
    err = one_line_error(*report("no-such-session", "--db", str(db_path)))
    assert "unknown session 'no-such-session'" in err


def test_no_sessions_yet_is_one_line(tmp_path: Path) -> None:
    Database.open(tmp_path / "empty.db", create=True)
    err = one_line_error(*report("--db", str(tmp_path / "empty.db")))
    assert "no sessions yet" in err


def test_missing_database_and_bad_format_are_one_line(tmp_path: Path, db_path: Path) -> None:
    one_line_error(*report("--db", str(tmp_path / "missing.db")))
    err = one_line_error(*report("--format", "pdf", "--db", str(db_path)))
    assert "invalid choice" in err


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_session_reports_no_activities(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "log.db"
    add_session(path, "s-empty", [])
    code, out, err = report("s-empty", "--format", fmt, "--db", str(path))
    assert (code, err) == (0, "")
    if fmt in ("text", "markdown"):
        assert f"{NO_ACTIVITIES}\n" in out and "Success Rate" not in out
    elif fmt == "json":
        assert json.loads(out)["summary"]["total_activities"] == 0
    elif fmt == "html":
        # The HTML words it alike, then says why its cards and charts show nothing.
        assert NO_ACTIVITIES.removesuffix(".") + ", " in out
    else:
        assert json.loads(out)["runs"][0]["results"] == []


def test_a_running_session_can_be_reported(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    add_session(path, "s-running", [("code_search", 5.0, True)], status=None)
    code, out, _ = report("s-running", "--db", str(path))
    assert code == 0 and "Status: running" in out


def test_render_session_report_rejects_unknown_formats(db_path: Path) -> None:
    with pytest.raises(ReportUsageError, match="unknown report format"):
        render_session_report(Database.open(db_path), SPEC_SESSION, "pdf")


def test_sarif_report_includes_the_sessions_open_findings(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    add_session(path, "s-f", [("security_scanner", 50.0, True)], findings=[
        FindingDetected("s-f", "fp-1", "security_scanner", "B105", "src/app.py", 9, "high",
                        "medium", "Possible hardcoded password", "password = '****'")])
    code, out, _ = report("s-f", "--format", "sarif", "--db", str(path))
    assert code == 0
    [finding] = [r for r in json.loads(out)["runs"][0]["results"]
                 if r["ruleId"] == "security_scanner/B105"]
    assert finding["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    assert finding["properties"]["maskedPreview"] == "password = '****'"


def test_a_saved_report_is_0600_in_directories_made_0700_under_umask_022(
        tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "report.html"
    (tmp_path / "old.html").write_text("world-readable before")
    os.chmod(tmp_path / "old.html", 0o644)
    previous = os.umask(0o022)
    try:
        write_report(target, "<html></html>")
        write_report(tmp_path / "old.html", "replaced")  # a new private file takes its place
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "old.html").stat().st_mode) == 0o600
    for made in (target.parent, target.parent.parent):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert target.read_text() == "<html></html>"

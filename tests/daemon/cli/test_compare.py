"""``realworld compare``: exit 1 on a regression, 0 otherwise, 2 with one line on bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.cli.compare import register

from sessionlogs import START, Call, add_session, run_command

BASE: list[Call] = [("code_search", 100.0, True), ("code_search", 110.0, True),
                    ("security_scanner", 1000.0, True), ("security_scanner", 1100.0, True)]


def scaled(calls: list[Call], factor: float) -> list[Call]:
    return [(c, ms * factor, ok) for c, ms, ok in calls]


def compare(*argv: str) -> tuple[int, str, str]:
    return run_command(register, "compare", *argv)


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2 and out == ""
    assert err.startswith("realworld: error: ") and err.count("\n") == 1
    return err


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    add_session(path, "base", BASE)
    add_session(path, "same", BASE, start=START + timedelta(hours=1))
    add_session(path, "slower", scaled(BASE, 1.3), start=START + timedelta(hours=2))
    add_session(path, "faster", scaled(BASE, 0.5), start=START + timedelta(hours=3))
    return path


def test_same_workload_passes(db_path: Path) -> None:
    code, out, err = compare("base", "same", "--db", str(db_path))
    assert (code, err) == (0, "")
    assert "Performance: +0.0% vs baseline" in out
    assert out.endswith("Verdict: OK - no measure is more than 20% slower than baseline\n")


def test_thirty_percent_slower_fails_with_the_specs_words(db_path: Path) -> None:
    code, out, _ = compare("base", "slower", "--db", str(db_path))
    assert code == 1
    assert "REGRESSION: 30.0% slower than baseline\n  Current: 751ms\n  Baseline: 578ms\n" in out
    assert "Verdict: REGRESSION - 6 measures more than 20% slower than baseline" in out
    for scope in ("overall", "code_search", "security_scanner"):
        assert any(line.startswith(scope) and line.endswith("REGRESSION")
                   for line in out.splitlines()), scope


def test_threshold_decides(db_path: Path) -> None:
    assert compare("base", "slower", "--threshold", "30.5", "--db", str(db_path))[0] == 0
    assert compare("base", "slower", "--threshold", "29%", "--db", str(db_path))[0] == 1
    assert compare("base", "faster", "--threshold", "0", "--db", str(db_path))[0] == 0
    code, out, _ = compare("faster", "base", "--threshold", "0", "--db", str(db_path))
    assert code == 1 and "+100.0%" in out


def test_min_delta(db_path: Path) -> None:
    assert compare("base", "slower", "--min-delta-ms", "1000", "--db", str(db_path))[0] == 0
    assert compare("base", "slower", "--min-delta-ms", "300ms", "--db", str(db_path))[0] == 1


def test_json(db_path: Path) -> None:
    code, out, _ = compare("base", "slower", "--json", "--db", str(db_path))
    data = json.loads(out)
    assert code == 1 and data["regressed"] is True and data["threshold_pct"] == 20.0
    assert (data["baseline"], data["current"]) == ("base", "slower")
    assert "overall avg" in data["regressions"]
    code, out, _ = compare("base", "same", "--json", "--db", str(db_path))
    assert code == 0 and json.loads(out)["verdict"] == "ok"


def test_latest_is_the_newest_session(db_path: Path) -> None:
    code, out, _ = compare("base", "latest", "--db", str(db_path))
    assert code == 0 and "Current:   faster" in out


def test_added_and_removed_capabilities_are_reported_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    add_session(path, "a", [("code_search", 100.0, True), ("old_thing", 5.0, True)])
    add_session(path, "b", [("code_search", 100.0, True), ("new_thing", 500.0, True)],
                start=START + timedelta(hours=1), step_s=10.0)
    code, out, _ = compare("a", "b", "--threshold", "1000", "--db", str(path))
    lines = out.splitlines()
    assert any(line.startswith("old_thing") and line.endswith("removed") for line in lines)
    assert any(line.startswith("new_thing") and line.endswith("added") for line in lines)
    assert code == 0


@pytest.mark.parametrize("threshold", ["abc", "-5", "nan", "", "ten"])
def test_threshold_not_a_number_is_one_line(db_path: Path, threshold: str) -> None:
    err = one_line_error(*compare("base", "same", "--threshold", threshold,
                                  "--db", str(db_path)))
    assert "threshold" in err


def test_bad_threshold_is_reported_before_the_database_is_opened(tmp_path: Path) -> None:
    err = one_line_error(*compare("a", "b", "--threshold", "x", "--db",
                                  str(tmp_path / "missing.db")))
    assert "threshold" in err


def test_unknown_session_is_one_line(db_path: Path) -> None:
    err = one_line_error(*compare("base", "nope", "--db", str(db_path)))
    assert "current" in err and "unknown session 'nope'" in err
    err = one_line_error(*compare("nope", "base", "--db", str(db_path)))
    assert "baseline" in err


def test_running_session_is_one_line(db_path: Path) -> None:
    add_session(db_path, "live", BASE, status=None, start=START + timedelta(hours=5))
    err = one_line_error(*compare("base", "live", "--db", str(db_path)))
    assert "'live' is still running" in err


def test_empty_session_is_one_line(db_path: Path) -> None:
    add_session(db_path, "idle", [], start=START + timedelta(hours=6))
    err = one_line_error(*compare("idle", "base", "--db", str(db_path)))
    assert "'idle' recorded no activities" in err


def test_missing_arguments_and_database_are_one_line(db_path: Path, tmp_path: Path) -> None:
    one_line_error(*compare("base", "--db", str(db_path)))
    one_line_error(*compare("base", "same", "--db", str(tmp_path / "missing.db")))

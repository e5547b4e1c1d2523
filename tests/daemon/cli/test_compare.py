"""``realworld compare``: exit 1 on a regression, 0 otherwise, 2 with one line on bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from itertools import permutations
from pathlib import Path

import pytest

from analyzers.base import Analyzer
from daemon import RealWorldTester
from daemon.app.tester import session_analyzers
from daemon.cli.compare import register
from daemon.config import Config, ResourceLimits

from sessionlogs import START, Call, add_session, run_command
from testanalyzers import SleepingAnalyzer

# Twelve calls of each: enough for the significance test to tell a 30% slowdown.
BASE: list[Call] = ([("code_search", 100.0 + i, True) for i in range(12)]
                    + [("security_scanner", 1000.0 + 10 * i, True) for i in range(12)])


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
    assert out.endswith("Verdict: OK - no measure is more than 20% slower than baseline, by "
                        "more than 5.0ms, with p < 0.01\n")


def test_thirty_percent_slower_fails_with_the_specs_words(db_path: Path) -> None:
    code, out, _ = compare("base", "slower", "--db", str(db_path))
    assert code == 1
    assert "REGRESSION: 30.0% slower than baseline\n  Current: 754ms\n  Baseline: 580ms\n" in out
    assert "Verdict: REGRESSION - 6 measures more than 20% slower than baseline" in out
    assert "ratio of medians [95% CI]" in out
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


def test_sub_millisecond_calls_are_below_the_floor(tmp_path: Path) -> None:
    # The case: workspace_analyzer from 0.7 ms to 2.0 ms was called a regression.
    path = tmp_path / "log.db"
    add_session(path, "a", [("workspace_analyzer", 0.7 + i / 100, True) for i in range(10)])
    add_session(path, "b", [("workspace_analyzer", 2.0 + i / 100, True) for i in range(10)],
                start=START + timedelta(hours=1))
    code, out, _ = compare("a", "b", "--db", str(path))
    assert code == 0 and "under the 5.0ms floor" in out
    assert compare("a", "b", "--min-delta-ms", "0", "--db", str(path))[0] == 1


def test_too_few_calls_cannot_show_a_regression(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    add_session(path, "a", [("scan", 100.0, True), ("scan", 110.0, True)])
    add_session(path, "b", [("scan", 300.0, True), ("scan", 330.0, True)],
                start=START + timedelta(hours=1))
    code, out, _ = compare("a", "b", "--db", str(path))
    assert code == 0 and "not significant" in out
    assert compare("a", "b", "--alpha", "0.5", "--db", str(path))[0] == 1


def test_the_config_files_compare_table_sets_the_rule(db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "compare.toml"
    config.write_text("[compare]\nthreshold = 35\nmin_delta_ms = 1\nalpha = 0.05\n")
    code, out, _ = compare("base", "slower", "--config", str(config), "--db", str(db_path))
    assert code == 0 and "more than 35% slower than baseline, by more than 1.0ms, " \
                         "with p < 0.05" in out
    # A flag beats the file.
    assert compare("base", "slower", "--config", str(config), "--threshold", "25",
                   "--db", str(db_path))[0] == 1


def test_json(db_path: Path) -> None:
    code, out, _ = compare("base", "slower", "--json", "--db", str(db_path))
    data = json.loads(out)
    assert code == 1 and data["regressed"] is True
    assert (data["threshold_pct"], data["min_delta_ms"], data["alpha"]) == (20.0, 5.0, 0.01)
    assert (data["baseline"], data["current"]) == ("base", "slower")
    assert "overall avg" in data["regressions"]
    scan = next(e for e in data["evidence"] if e["scope"] == "security_scanner")
    assert (scan["baseline_calls"], scan["current_calls"]) == (12, 12)
    assert scan["median_ratio"] == pytest.approx(1.3) and scan["p_value"] < 0.001
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


@pytest.mark.parametrize("alpha", ["abc", "0", "2", "nan"])
def test_alpha_not_a_level_is_one_line(db_path: Path, alpha: str) -> None:
    err = one_line_error(*compare("base", "same", "--alpha", alpha, "--db", str(db_path)))
    assert "significance level" in err


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


# --- real sessions ----------------------------------------------------------------------
#
# Short sessions of every installed analyzer on one small unchanged workspace, plus a test
# analyzer that sleeps a known time per call. A full pass every 0.1 s gives each capability
# a dozen calls or so per session.

SESSION_S = 1.5
STEADY_S = 0.005
SLOWED_S = STEADY_S + 0.050  # the same analyzer, 50 ms slower per call
UNCHANGED_SESSIONS = 5  # 5 * 4 = 20 ordered pairs


def real_session(db_path: Path, project: Path, sleep_s: float) -> str:
    config = replace(Config(), probe_interval=0.1, resource_limits=ResourceLimits(
        cpu_percent_max=100.0, memory_percent_max=100.0, disk_percent_max=100.0))
    def analyzers() -> list[Analyzer]:
        # Without the code assistant: starting jedi takes most of a 1.5 s session, leaving
        # the other capabilities a call or two each (its own tests measure it).
        return [*(a for a in session_analyzers(project, db_path, config)
                  if a.name != "code_assistant"),
                SleepingAnalyzer(sleep_s, name="steady_analyzer")]
    tester = RealWorldTester(db_path, config=config, analyzers=analyzers, settle_seconds=0.05)
    try:
        session_id = tester.start_test_session(project, SESSION_S / 60)
        final = tester.wait(session_id, timeout=60)
        assert final["status"] == "completed", final
        return session_id
    finally:
        tester.close()


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    root = tmp_path_factory.mktemp("compare-real")
    project = root / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "core.py").write_text(
        "import subprocess\n\n\ndef add(a, b):\n    return a + b\n\n\n"
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    (project / "README.md").write_text("# demo\n\nA small workspace.\n")
    db_path = root / "log.db"
    unchanged = [real_session(db_path, project, STEADY_S) for _ in range(UNCHANGED_SESSIONS)]
    slowed = real_session(db_path, project, SLOWED_S)
    return db_path, unchanged, slowed


def test_twenty_pairs_of_unchanged_sessions_never_regress(
        real_log: tuple[Path, list[str], str]) -> None:
    db_path, unchanged, _ = real_log
    pairs = list(permutations(unchanged, 2))
    assert len(pairs) == 20
    for baseline, current in pairs:
        code, out, err = compare(baseline, current, "--db", str(db_path))
        assert (code, err) == (0, ""), out
        assert "Verdict: OK - no measure is" in out


def test_an_analyzer_50ms_slower_per_call_is_a_regression(
        real_log: tuple[Path, list[str], str]) -> None:
    db_path, unchanged, slowed = real_log
    for baseline in unchanged[:2]:
        code, out, _ = compare(baseline, slowed, "--json", "--db", str(db_path))
        data = json.loads(out)
        assert code == 1 and data["verdict"] == "regression", out
        assert {"steady_analyzer avg", "steady_analyzer p95"} <= set(data["regressions"])
        steady = next(e for e in data["evidence"] if e["scope"] == "steady_analyzer")
        assert steady["baseline_calls"] >= 5 and steady["current_calls"] >= 5
        assert steady["p_value"] < 0.001
        low, _ = steady["ratio_interval"]
        assert low > 3.0  # 55 ms against about 5 ms a call
        # The same session the other way is no regression: it got faster.
        assert compare(slowed, baseline, "--db", str(db_path))[0] == 0

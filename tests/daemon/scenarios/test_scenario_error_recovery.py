"""``realworld scenario error-recovery``: real faults on a copy, and what the log shows of them."""

from __future__ import annotations

import ast
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from analyzers.common.pyparse import parse_python
from daemon.cli.main import main
from daemon.config import Config
from daemon.scenarios import error_recovery
from daemon.scenarios.error_recovery import (
    BARS,
    INJECTOR_NAME,
    Fault,
    Logged,
    corrupt_handled,
    poison_fault,
    summarize,
    worker_kill,
)
from daemon.scenarios.faults import (
    FAULT_DIR,
    MARKER,
    FaultInjector,
    InjectedFault,
    corrupt_files,
    poison_source,
    slow_scan_source,
)
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Outcome, Unmeasured, judge, metrics_of

POISON = f"{FAULT_DIR}/poison_at_start.py"


def make_project(root: Path) -> Path:
    for number in range(6):
        module = root / "pkg" / f"mod_{number}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(f"import os\n\n\ndef helper_{number}(value):\n"
                          f"    return os.path.join(value, '{number}')\n")
    (root / "README.md").write_text("# a small project\n")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[int, dict[str, Any], Path, dict[str, str], dict[str, str]]:
    tmp = tmp_path_factory.mktemp("error_recovery")
    project = make_project(tmp / "project")
    before = tree_digest(project)
    out = io.StringIO()
    # No run reuses more than every checkpointed file: it must fail on that metric alone.
    code = main(["scenario", "error-recovery", "--project", str(project), "--db",
                 str(tmp / "log.db"), "--duration", "20s", "--json",
                 "--bar", "checkpoint_effectiveness=1.5"], out=out)
    return code, json.loads(out.getvalue()), tmp / "log.db", before, tree_digest(project)


def test_a_bar_out_of_reach_fails_the_run_naming_that_metric(
        ran: tuple[int, dict[str, Any], Path, dict[str, str], dict[str, str]]) -> None:
    code, data, *_ = ran
    assert code == 1 and data["failed"] == ["checkpoint_effectiveness"], data


def test_every_fault_is_detected_and_recovered_within_the_default_bars(
        ran: tuple[int, dict[str, Any], Path, dict[str, str], dict[str, str]]) -> None:
    _, data, db, before, after = ran
    values = {m["name"]: m["value"] for m in data["metrics"]}
    assert values["faults_injected"] == 4
    assert values["detection_rate"] == 1 and values["recovery_rate"] == 1, data["notes"]
    assert values["corrupt_files_handled"] == 1, data["notes"]
    assert values["checkpoint_rows"] >= 1 and values["checkpoint_effectiveness"] >= 0.9
    assert values["session_resumed"] == 1 and values["edit_while_down_analyzed"] == 1
    assert values["analyzer_backlog"] == 0
    outcome = Outcome(metrics_of({m["name"]: (float(m["value"]), m["unit"])
                                  for m in data["metrics"]}))
    assert judge(error_recovery.NAME, outcome, BARS).passed
    assert len(set(data["sessions"])) == 2
    # The faults went into copies: the user's tree is as it was.
    assert after == before
    # What the scenario saw is in the log like any session's: quarantines, a resume.
    assert main(["verify", "--db", str(db)], out=io.StringIO()) == 0
    out = io.StringIO()
    main(["query", "--db", str(db), "--format", "json",
          "SELECT capability, path FROM quarantined_files ORDER BY path"], out=out)
    assert not [r for r in json.loads(out.getvalue()) if r["capability"] != INJECTOR_NAME]


def test_a_fault_an_edit_cannot_cure_shows_as_not_recovered(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    settings = Settings(project=project, workdir=tmp_path / "work",
                        db_path=tmp_path / "log.db", config=Config(), duration_s=8.0)
    settings.workdir.mkdir()
    outcome = error_recovery.run(settings, stubborn=True, kill_daemon=False)
    assert outcome.value("detection_rate") == 1.0
    # Both fixed files fail again: 2 of the 3 faults (the killed worker recovers).
    assert outcome.value("recovery_rate") == pytest.approx(1 / 3)
    assert any("NOT recovered (quarantined, quarantined again after the fix)" in note
               for note in outcome.notes), outcome.notes
    assert "recovery_rate" in judge(error_recovery.NAME, outcome, BARS).failed_metrics


@pytest.mark.parametrize("argv", [
    ["--project", "/nonexistent/realworld-project"],
    ["--project", ".", "--bar", "no_such_metric=1"],
    ["--project", ".", "--bar", "recovery_rate=high"],
])
def test_bad_input_is_exit_2(argv: list[str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scenario", "error-recovery", "--db", str(tmp_path / "log.db"), *argv],
                out=io.StringIO())
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- the parts, on their own -----------------------------------------------------------

def test_the_injector_raises_on_the_marker_and_reports_it_on_a_full_pass(
        tmp_path: Path) -> None:
    (tmp_path / FAULT_DIR).mkdir()
    (tmp_path / POISON).write_text(poison_source("p", poisoned=True))
    (tmp_path / FAULT_DIR / "fine.py").write_text(poison_source("f", poisoned=False))
    injector = FaultInjector()
    assert injector.applies_to(POISON) and not injector.applies_to("pkg/mod_1.py")
    with pytest.raises(InjectedFault):
        injector.analyze(tmp_path, [POISON])
    full = injector.analyze(tmp_path, ())
    assert [f.path for f in full.failures] == [POISON]
    assert full.data["analyzed"] == [f"{FAULT_DIR}/fine.py"]
    injector.exclude(frozenset({POISON}))
    assert not injector.analyze(tmp_path, ()).failures
    # Stubborn: the name, not the bytes, so the fix does not cure it.
    (tmp_path / POISON).write_text(poison_source("p", poisoned=False))
    assert injector.analyze(tmp_path, [POISON]).data["analyzed"] == [POISON]
    with pytest.raises(InjectedFault):
        FaultInjector(stubborn=True).analyze(tmp_path, [POISON])


def test_fault_files_are_what_they_claim() -> None:
    slow = slow_scan_source(50, 1)
    ast.parse(slow)
    assert slow != slow_scan_source(50, 2) and "shell=True" in slow
    corrupt = {c.what: c.data for c in corrupt_files(7)}
    assert corrupt == {c.what: c.data for c in corrupt_files(7)}
    with pytest.raises(UnicodeDecodeError):
        corrupt["invalid UTF-8"].decode()
    assert b"\x00" in corrupt["a binary blob named .py"]
    with pytest.raises(SyntaxError):
        ast.parse(corrupt["truncated"])
    with pytest.raises((RecursionError, SyntaxError, MemoryError)):
        parse_python(corrupt["deeply nested"])  # what every analyzer parses with
    assert MARKER in poison_source("x", poisoned=True)
    assert MARKER not in poison_source("x", poisoned=False)


def event(seq: int, kind: str, **payload: Any) -> Logged:
    return Logged(seq, kind, payload)


def recovery(seq: int, analyzer: str, path: str, *, recovered: bool = True,
             action: str = "retry") -> Logged:
    return event(seq, "activity_recorded", capability="error_recovery", success=recovered,
                 result_data={"action": action, "analyzer": analyzer, "paths": [path],
                              "recovered": recovered, "time_to_recover_ms": 12.0})


def test_a_poisoned_file_recovers_only_when_released_and_analyzed_without_a_new_quarantine(
        ) -> None:
    quarantined = [recovery(1, INJECTOR_NAME, POISON, action="quarantine"),
                   event(2, "file_quarantined", capability=INJECTOR_NAME, path=POISON)]
    released = event(5, "file_released", capability=INJECTOR_NAME, path=POISON)
    analyzed = event(6, "activity_recorded", capability=INJECTOR_NAME, success=True,
                     result_data={"analyzed": [POISON]})
    again = event(6, "file_quarantined", capability=INJECTOR_NAME, path=POISON)
    assert poison_fault([*quarantined, released, analyzed], POISON, 4).recovered
    assert not poison_fault([*quarantined, released], POISON, 4).recovered
    assert not poison_fault([*quarantined, released, again], POISON, 4).recovered
    assert not poison_fault([released, analyzed], POISON, 4).detected


def test_a_corrupt_file_is_handled_when_every_real_analyzer_went_on_past_it() -> None:
    path = f"{FAULT_DIR}/blob.py"
    changed = event(1, "file_changed", path=path)
    calls = [event(2 + n, "activity_recorded", capability=c, success=True)
             for n, c in enumerate(error_recovery.REAL_CAPABILITIES)]
    assert corrupt_handled([changed, *calls], path)
    assert not corrupt_handled([changed, *calls[:-1]], path)
    assert not corrupt_handled([*calls, event(8, "file_changed", path=path)], path)
    assert not corrupt_handled([changed, *calls, event(9, "file_quarantined",
                                                        capability="pattern_probe", path=path)],
                               path)


def test_a_killed_worker_counts_once_the_scan_completed_after_its_recovery() -> None:
    slow = error_recovery.SLOW_PATH
    crash = event(2, "activity_recorded", capability="security_scanner", success=True,
                  result_data={"error_files": [{"path": slow, "kind": "crashed"}]})
    found = event(3, "finding_detected", path=slow, rule="B602")
    kill = worker_kill([crash, found], 1)
    assert kill.crashed and not kill.settled and not kill.recovered
    kill = worker_kill([crash, found, recovery(4, "security_scanner", slow)], 1)
    assert kill.settled and kill.recovered and kill.completed
    assert not worker_kill([found], 1).crashed and worker_kill([found], 1).settled


def test_the_summary_rates_and_times() -> None:
    faults = [Fault("a", True, True), Fault("b", True, False), Fault("c", False, False)]
    values = summarize(faults, [10.0, 30.0, 20.0], (2, 3), [True, False], None, [True])
    assert values["detection_rate"][0] == pytest.approx(2 / 3)
    assert values["recovery_rate"][0] == pytest.approx(1 / 3)
    assert values["time_to_recover_max_ms"][0] == 30.0
    assert values["recovery_steps_succeeded"][0] == pytest.approx(2 / 3)
    assert values["corrupt_files_handled"][0] == 0.5
    assert "checkpoint_effectiveness" not in values
    # Nothing to divide by is said, not a NaN that compares false with every bar.
    empty = summarize([], [], (0, 0), [], None, [])
    assert isinstance(empty["detection_rate"][0], Unmeasured)
    assert isinstance(empty["time_to_recover_p95_ms"][0], Unmeasured)

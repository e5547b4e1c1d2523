"""``realworld scenario continuous`` on a small generated project, a few seconds long."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.main import main
from daemon.scenarios.continuous import BARS, Edit, default_edits, plan_edits
from daemon.scenarios.verdict import Metric, Outcome, judge


def small_project(root: Path, files: int = 8) -> Path:
    for number in range(files):
        module = root / "pkg" / f"mod_{number}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(f"import os\n\n\ndef helper_{number}(path):\n"
                          f"    return os.path.join(path, '{number}')\n", encoding="utf-8")
    (root / "README.md").write_text("# small\n", encoding="utf-8")
    return root


def scenario(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["scenario", *argv, "--db", str(tmp_path / "log.db"), "--json"],
                out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def test_the_plan_alternates_appends_and_new_modules_and_plants_risky_calls() -> None:
    plan = plan_edits(["a.py", "b.py"], 6, seed=1)
    assert [e.create for e in plan] == [False, True] * 3
    assert [e.risky for e in plan] == [False, False, True] * 2
    assert len({e.symbol for e in plan}) == 6
    assert plan == plan_edits(["a.py", "b.py"], 6, seed=1)
    assert all(e.create for e in plan_edits([], 3, seed=1))  # nothing to append to
    assert "shell=True" in Edit(2, "x.py", "f", False, True).text()
    assert default_edits(1.0) == 3 and default_edits(60.0) == 12


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path, str]:
    tmp = tmp_path_factory.mktemp("continuous")
    project = small_project(tmp / "project")
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    # Raised beyond reach on purpose: the run must fail on this one metric and no other.
    code, data, err = scenario(tmp, "continuous", "--project", str(project),
                               "--duration", "8s", "--edits", "3",
                               "--bar", "edits_analyzed=1.5")
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert before == after, "the user's tree was modified"
    return code, data, tmp, err


def test_a_bar_out_of_reach_fails_the_run_for_that_metric(
        ran: tuple[int, dict[str, Any], Path, str]) -> None:
    code, data, _, err = ran
    assert err == ""
    assert code == 1 and data["passed"] is False
    assert data["failed"] == ["edits_analyzed"]


def test_with_the_default_bars_the_same_run_passes(
        ran: tuple[int, dict[str, Any], Path, str]) -> None:
    _, data, _, _ = ran
    values = {m["name"]: m["value"] for m in data["metrics"]}
    assert values["edits"] == 3 and values["edits_analyzed"] == 1.0
    assert values["planted_findings_found"] == 1.0 and values["findings"] >= 1
    assert values["files_indexed_per_minute"] > 0
    outcome = Outcome(tuple(Metric(m["name"], float(m["value"])) for m in data["metrics"]))
    assert judge("continuous", outcome, BARS).passed


def test_the_session_is_in_the_log_like_any_other(
        ran: tuple[int, dict[str, Any], Path, str]) -> None:
    _, data, tmp, _ = ran
    (session_id,) = data["sessions"]
    out = io.StringIO()
    assert main(["query", "--db", str(tmp / "log.db"), "--format", "json",
                 f"SELECT status, total_activities FROM test_sessions "
                 f"WHERE session_id = '{session_id}'"], out=out) == 0
    (row,) = json.loads(out.getvalue())
    assert row["status"] == "stopped" and row["total_activities"] > 5
    assert main(["verify", "--db", str(tmp / "log.db")], out=io.StringIO()) == 0

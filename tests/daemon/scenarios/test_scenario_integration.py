"""``realworld scenario integration``: two writers on one log, the parts agree."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.main import main
from daemon.scenarios.integration import BARS
from daemon.scenarios.verdict import Metric, Outcome, judge


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("integration")
    project = tmp / "project"
    for number in range(6):
        module = project / f"mod_{number}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(f"def helper_{number}(x):\n    return x + {number}\n")
    out = io.StringIO()
    # No run can have fewer than zero mismatches: it must fail on that metric alone.
    code = main(["scenario", "integration", "--project", str(project), "--db",
                 str(tmp / "log.db"), "--duration", "10s", "--edits", "3", "--json",
                 "--bar", "count_mismatches=-1"], out=out)
    return code, json.loads(out.getvalue()), tmp / "log.db"


def test_a_bar_out_of_reach_fails_the_run_for_that_metric(
        ran: tuple[int, dict[str, Any], Path]) -> None:
    code, data, _ = ran
    assert code == 1 and data["failed"] == ["count_mismatches"]


def test_two_writers_agree_and_the_log_verifies(ran: tuple[int, dict[str, Any], Path]) -> None:
    _, data, db = ran
    values = {m["name"]: m["value"] for m in data["metrics"]}
    assert values["writers"] == 2 and len(set(data["sessions"])) == 2
    assert values["files_with_findings"] >= 2 and values["count_mismatches"] == 0
    assert values["verify_failures"] == 0
    outcome = Outcome(tuple(Metric(m["name"], float(m["value"])) for m in data["metrics"]))
    assert judge("integration", outcome, BARS).passed
    assert main(["verify", "--db", str(db)], out=io.StringIO()) == 0

"""``realworld scenario load`` at a small scale: replication, overlap, and the verdict."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from analyzers.registry import discover
from daemon.cli.main import main
from daemon.config import Config
from daemon.scenarios import SCENARIOS
from daemon.scenarios.load import active_in, peak_overlap
from daemon.scenarios.scratch import count_files, replicate, scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Metric, Outcome, judge


def small_project(root: Path, files: int = 8) -> Path:
    for number in range(files):
        module = root / "pkg" / f"mod_{number}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(f"import os\n\n\nclass Thing{number}:\n    def method_{number}(self):\n"
                          f"        return os.getcwd()\n", encoding="utf-8")
    return root


def test_peak_overlap_counts_what_runs_at_one_instant() -> None:
    assert peak_overlap([]) == 0
    assert peak_overlap([(0, 2, "a"), (1, 3, "b"), (2, 4, "c")]) == 2  # 2 ends as 2 starts
    assert peak_overlap([(0, 10, "a")] + [(i, i + 0.5, "b") for i in range(5)]) == 2
    assert peak_overlap([(0, 5, "x")] * 6) == 6
    assert active_in([(0, 1, "a"), (2, 3, "b"), (4, 5, "c")], 0.5, 2.5) == {"a", "b"}


def test_replicas_fill_the_copy_up_to_the_count(tmp_path: Path) -> None:
    copy = scratch_copy(small_project(tmp_path / "p", files=3), tmp_path / "copy")
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert count_files(copy) == 3
    assert replicate(copy, 10) == (12, 4)
    assert (copy / "replica_4" / "pkg" / "mod_2.py").read_text() == (
        copy / "pkg" / "mod_2.py").read_text()
    assert replicate(copy, 5) == (12, 1)  # already enough: nothing added


def test_the_scale_asked_for_sets_the_bars_that_follow_it(tmp_path: Path) -> None:
    settings = Settings(tmp_path, tmp_path, tmp_path / "x.db", Config(), files=40,
                        searches=30, concurrency=6)
    limits = {b.metric: b.limit for b in SCENARIOS["load"].bars_for(settings)}
    assert limits["files_indexed"] == 40 and limits["searches"] == 30
    assert limits["peak_concurrent_ops"] == 6 and limits["search_p95_ms"] == 500


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("load")
    project = small_project(tmp / "project")
    out, err = io.StringIO(), io.StringIO()
    # A p95 bar no search can meet: the run must fail on it alone.
    code = main(["scenario", "load", "--project", str(project), "--db", str(tmp / "log.db"),
                 "--files", "40", "--searches", "30", "--concurrency", "5", "--json",
                 "--bar", "search_p95_ms=0.0001"], out=out, err=err)
    return code, json.loads(out.getvalue()), err.getvalue()


def test_a_lowered_latency_bar_fails_the_run_for_that_metric(
        ran: tuple[int, dict[str, Any], str]) -> None:
    code, data, err = ran
    assert err == "" and code == 1
    assert data["failed"] == ["search_p95_ms"]


def test_with_the_default_bars_the_same_run_passes(ran: tuple[int, dict[str, Any], str]) -> None:
    _, data, _ = ran
    values = {m["name"]: m["value"] for m in data["metrics"]}
    assert values["files_indexed"] >= 40 and values["searches"] >= 30
    # Every capability, though the code assistant's first call (jedi starting) may end
    # after the load does.
    installed = len(discover().names())
    assert installed - 1 <= values["capabilities_under_load"] <= installed
    assert values["peak_concurrent_ops"] >= 5
    assert any("replicated" in note for note in data["notes"])
    outcome = Outcome(tuple(Metric(m["name"], float(m["value"])) for m in data["metrics"]))
    bars = SCENARIOS["load"].bars
    scaled = {"files_indexed": 40.0, "searches": 30.0}
    assert judge("load", outcome, [replace(b, limit=scaled.get(b.metric, b.limit))
                                   for b in bars]).passed


def test_the_figures_are_in_the_log_as_the_sessions_metrics(
        ran: tuple[int, dict[str, Any], str], tmp_path_factory: pytest.TempPathFactory) -> None:
    _, data, _ = ran
    (session_id,) = data["sessions"]
    db = next(tmp_path_factory.getbasetemp().glob("load*/log.db"))
    out = io.StringIO()
    assert main(["query", "--db", str(db), "--format", "json",
                 "SELECT metric_type, value FROM performance_metrics WHERE session_id = "
                 f"'{session_id}' AND capability = 'scenario:load'"], out=out) == 0
    recorded = {r["metric_type"]: r["value"] for r in json.loads(out.getvalue())}
    assert recorded["searches"] >= 30

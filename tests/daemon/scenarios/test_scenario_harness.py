"""What scenarios wait for: the analyzers' left-over files as the log shows them, within
the run's ``--duration``; a real session whose indexer works to a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.code_index.indexer import CodeIndexer
from daemon.config import Config
from daemon.scenarios import harness
from daemon.scenarios.settings import Settings


@pytest.mark.parametrize("data, left", [
    ({"remaining": 3, "pending": 3, "files_indexed": 9}, 3),  # what every activity says
    ({"remaining": 2, "deferred": 2}, 2),
    ({"pending": 4, "deferred": 4}, 0),  # an analyzer's own words do not count: the runner's do
    ({"files_indexed": 9}, 0),  # none left: no key
    ({"remaining": True}, 0),  # not a count
    ([1, 2], 0),
])
def test_files_left_reads_what_the_call_recorded(data: object, left: int) -> None:
    assert harness.files_left(json.dumps(data)) == left


def test_no_data_or_broken_data_leaves_nothing() -> None:
    assert harness.files_left(None) == 0 and harness.files_left("{oops") == 0


def test_backlogs_add_up_and_say_what_is_left() -> None:
    total = harness.Backlog({"code_indexer": 4}) + harness.Backlog({"code_indexer": 1,
                                                                     "pattern_probe": 2})
    assert total.files == 7 and not total.clear
    assert total.describe() == "code_indexer 5, pattern_probe 2"
    assert harness.Backlog({}).clear and harness.Backlog({}).describe() == "none"


def test_the_edit_window_keeps_a_share_for_catching_up() -> None:
    assert harness.edit_window(8.0) == 6.0
    assert harness.edit_window(600.0) == 600.0 - harness.CATCH_UP_MAX_S
    assert harness.edit_window(0.0) == 0.0


def _settings(tmp_path: Path, files: int, functions: int = 1) -> Settings:
    project = tmp_path / "ws"
    project.mkdir()
    for number in range(files):
        (project / f"m{number}.py").write_text("".join(
            f"def f{number}_{n}(x):\n    return x + {n}\n\n\n" for n in range(functions)))
    return Settings(project, tmp_path, tmp_path / "log.db", Config())


def test_a_budgeted_first_pass_is_waited_for_until_nothing_is_left(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 40, functions=300)
    # A few files per call: the session must call the indexer again and again by itself.
    # (Not one file per call: a full-pass call starts over at the first file, so a budget
    # below one check of the files already done would never get further.)
    indexer = CodeIndexer(index_path=harness.index_path(settings), time_budget_s=0.02,
                          commit_every=1)
    tester = harness.open_tester(settings, analyzers=lambda: [indexer])
    try:
        session_id = tester.start_test_session(settings.project, 0, mode="continuous")
        left = harness.drained(tester, session_id, harness.Deadline.after(30.0))
        assert left.clear, left.describe()
        assert len(harness.indexed_paths(harness.index_path(settings), settings.project)) == 40
        calls = harness.rows(settings.db_path, "SELECT result_data FROM activities "
                                               "WHERE session_id = ? ORDER BY rowid",
                             (session_id,))
        left_by_call = [harness.files_left(r["result_data"]) for r in calls]
        assert left_by_call[0] > 0 and left_by_call[-1] == 0  # the wait was needed
        tester.stop_session(session_id)
    finally:
        tester.close()


def test_a_deadline_already_past_reports_what_is_left_instead_of_waiting(
        tmp_path: Path) -> None:
    settings = _settings(tmp_path, 3)
    tester = harness.open_tester(settings)
    try:
        session_id = tester.start_test_session(settings.project, 0, mode="continuous")
        left = harness.drained(tester, session_id, harness.Deadline.after(0.0))
        # Either the baseline had not even finished (all three files left), or it had.
        assert left.clear or left.left == {harness.BASELINE: 3}
        tester.stop_session(session_id)
    finally:
        tester.close()

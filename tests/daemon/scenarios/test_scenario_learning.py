"""``realworld scenario learning``: the labelled set through a real session, and its scoring."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from daemon.cli.main import main
from daemon.scenarios.labelled import LEARNING_SET, cases, score
from daemon.scenarios.learning import BARS
from daemon.scenarios.verdict import Metric, Outcome, judge

from conftest import REPO_ROOT


def test_the_labelled_set_ships_inside_the_package() -> None:
    assert LEARNING_SET.is_dir() and (LEARNING_SET / "README.md").is_file()
    assert len(cases()) >= 13
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"learning-set/*/*.py"' in pyproject


def test_scoring_counts_only_the_labelled_files() -> None:
    labelled = [("o/a.py", "x = 1  # expect: eval\ny = 2  # expect: none\n")]
    accuracy = score({("s.py", 3, "eval")}, [("s.py", 3, "eval"), ("s.py", 9, "exec")],
                     labelled, [("o/a.py", 1, "learned:eval"), ("o/a.py", 2, "learned:eval"),
                                ("s.py", 1, "learned:eval")])
    assert (accuracy.learning_recall, accuracy.learning_precision) == (1.0, 0.5)
    assert (accuracy.true_positives, accuracy.false_positives) == (1, 1)
    assert accuracy.false_positive_rate == 1.0 and accuracy.recall == 1.0


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("learning")
    project = tmp / "project"
    project.mkdir()
    (project / "app.py").write_text("def main():\n    return 0\n", encoding="utf-8")
    out = io.StringIO()
    # Recall above 1 cannot be reached: the run must fail on it alone.
    code = main(["scenario", "learning", "--project", str(project), "--db",
                 str(tmp / "log.db"), "--json", "--bar", "recall=1.01"], out=out)
    return code, json.loads(out.getvalue())


def test_a_bar_out_of_reach_fails_the_run_for_that_metric(
        ran: tuple[int, dict[str, Any]]) -> None:
    code, data = ran
    assert code == 1 and data["failed"] == ["recall"]


def test_the_learner_learns_the_marked_fixes_and_warns_on_similar_code(
        ran: tuple[int, dict[str, Any]]) -> None:
    _, data = ran
    values = {m["name"]: m["value"] for m in data["metrics"]}
    assert values["fixes_learned"] == values["fixes_expected"] >= 10
    assert values["warnings_before_learning"] == 0 and values["true_positives"] >= 20
    outcome = Outcome(tuple(Metric(m["name"], float(m["value"])) for m in data["metrics"]))
    assert judge("learning", outcome, BARS).passed

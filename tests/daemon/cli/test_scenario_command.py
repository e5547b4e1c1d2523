"""``realworld scenario``: bad input is one line and exit 2; nothing runs."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.scenarios import SCENARIOS

from conftest import REPO_ROOT

ROOT = REPO_ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_every_scenario_of_the_spec_is_there() -> None:
    assert set(SCENARIOS) >= {"continuous"}
    for scenario in SCENARIOS.values():
        assert scenario.bars, f"{scenario.name} has no bars"
        assert len({b.metric for b in scenario.bars}) == len(scenario.bars)


@pytest.mark.parametrize("argv, message", [
    (["scenario", "nope"], "invalid choice"),
    (["scenario", "continuous", "--project", "{missing}"], "does not exist"),
    (["scenario", "continuous", "--project", "{file}"], "is not a directory"),
    (["scenario", "continuous", "--project", "{tmp}", "--bar", "nope=1"], "no such bar"),
    (["scenario", "continuous", "--project", "{tmp}", "--bar", "error_rate"], "NAME=VALUE"),
    (["scenario", "continuous", "--project", "{tmp}", "--duration", "soon"],
     "invalid duration"),
    (["scenario", "continuous", "--project", "{tmp}", "--edits", "0"], "at least 1"),
    (["scenario", "continuous", "--project", "{tmp}", "--workdir", "{tmp}/inside"],
     "inside the project"),
])
def test_bad_input_is_exit_2_with_one_line(tmp_path: Path, argv: list[str],
                                           message: str) -> None:
    (tmp_path / "file").write_text("x")
    names = {"missing": str(tmp_path / "missing"), "file": str(tmp_path / "file"),
             "tmp": str(tmp_path)}
    argv = [a.format(**names) for a in argv] + ["--db", str(tmp_path.parent / "x.db")]
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.startswith("realworld: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "inside").exists()


def test_help_lists_the_bars() -> None:
    result = subprocess.run([sys.executable, "-m", "daemon", "scenario", "--help"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "edits_analyzed >= 1" in text
    # --duration means one thing for every scenario, with a default of its own each.
    assert "the longest each scenario session may run" in text and "load 10 min" in text

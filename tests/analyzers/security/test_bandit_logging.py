"""bandit's and stevedore's logging stays out of ours, whichever of our modules loads bandit.

Each check runs in a fresh interpreter (bandit loads its plugins once per process) where
``sarif_om``, an optional package of bandit's SARIF formatter, cannot be imported: as on a
user's machine without it, where stevedore logs an error while loading bandit's plugins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PRELUDE = """\
import logging, sys
sys.modules["sarif_om"] = None  # import sarif_om raises ImportError, as when not installed
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
"""


def stderr_of(code: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(REPO_ROOT)},
                          timeout=120, check=True)
    return done.stderr


def test_loading_bandit_unquieted_does_log_the_missing_formatter(tmp_path: Path) -> None:
    # The condition the other tests guard against, shown to happen.
    assert "sarif" in stderr_of("import bandit.core.config\n", tmp_path)


@pytest.mark.parametrize("code", [
    "from analyzers.security.rule_docs import bandit_rule_docs\nbandit_rule_docs()\n",
    "from pathlib import Path\n"
    "from analyzers.security.workspace_config import read_bandit_settings\n"
    "read_bandit_settings(Path('.'))\n",
    "from analyzers.security.file_scan import FileScanner\nFileScanner(b'salt')\n",
], ids=["rule docs (SARIF)", "workspace bandit config", "scan worker"])
def test_our_loading_of_bandit_logs_nothing(code: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B101"]\n')
    (tmp_path / ".bandit").write_text("[bandit]\nskips = B101\n")
    assert stderr_of(code, tmp_path) == ""

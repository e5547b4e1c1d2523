"""The test run itself: it keeps out of the user's own state, cache and config dirs."""

from __future__ import annotations

import os
import subprocess
import sys

from analyzers.common.locations import cache_dir
from analyzers.security.fingerprint import default_salt_path
from daemon.config import default_config_path, default_state_db

from conftest import REPO_ROOT, run_home

CHILD_PATHS = ("from analyzers.security.fingerprint import default_salt_path; "
               "from analyzers.common.locations import cache_dir; "
               "from daemon.config import default_config_path, default_state_db; import os; "
               "print(default_salt_path(), cache_dir(), default_config_path(os.environ), "
               "default_state_db(), sep='\\n')")


def test_tests_keep_out_of_the_users_own_dirs() -> None:
    home = run_home()
    paths = [default_salt_path(), cache_dir(), default_config_path(os.environ),
             default_state_db()]
    assert [p for p in paths if home not in p.parents] == []
    # Subprocesses the tests start inherit the same private dirs.
    child = subprocess.run([sys.executable, "-c", CHILD_PATHS], capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                           timeout=60, check=True)
    assert child.stdout.splitlines() == [str(p) for p in paths]

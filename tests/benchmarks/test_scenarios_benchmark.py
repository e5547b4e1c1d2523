"""Every ``realworld scenario`` on a copy of the standard library, with its figures printed.

Run on demand only (marked ``benchmark``; skipped unless ``REALWORLD_BENCHMARKS=1`` or
``-m benchmark``)::

    REALWORLD_BENCHMARKS=1 pytest tests/benchmarks/test_scenarios_benchmark.py -s

Corpus: the running interpreter's standard library (``sysconfig``'s ``stdlib``) without
``test``, ``tests``, ``idlelib``, ``site-packages`` and caches (about 730 files). The
scenarios copy it again themselves; nothing outside ``tmp_path`` is written.
"""

from __future__ import annotations

import io
import shutil
import sysconfig
import time
from pathlib import Path

import pytest

from analyzers.common.walk import DEFAULT_IGNORED_DIRS
from daemon.cli.main import main
from daemon.scenarios import SCENARIOS

EXCLUDED_DIRS = frozenset({"test", "tests", "idlelib", "site-packages"}) | DEFAULT_IGNORED_DIRS
# --duration bounds each session, first pass included: continuous and integration edit
# for what is left of it, load and learning end when done (their defaults suffice).
# error-recovery: the first pass of its in-process session, then each fault's wait.
ARGS = {"continuous": ["--duration", "2m"], "integration": ["--duration", "4m"],
        "error-recovery": ["--duration", "2m"]}

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def stdlib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("corpus") / "stdlib"
    shutil.copytree(sysconfig.get_paths()["stdlib"], destination, symlinks=True,
                    ignore=shutil.ignore_patterns(*EXCLUDED_DIRS))
    return destination


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_on_the_standard_library(name: str, stdlib: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    started = time.monotonic()
    argv = ["scenario", name, "--project", str(stdlib), "--db", str(tmp_path / "log.db"),
            *ARGS.get(name, [])]
    code = main(argv, out=out)
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\n$ realworld {' '.join(argv[:2])} --project <stdlib copy> "
              f"{' '.join(ARGS.get(name, []))}  ({seconds:.0f} s, exit {code})\n"
              f"{out.getvalue()}")
    assert code == 0, out.getvalue()

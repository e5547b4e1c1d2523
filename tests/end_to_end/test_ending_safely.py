"""Sessions ended at random moments of a first pass, in every way a user ends one.

Real processes on a workspace of 1,000 real Python files (the standard library's),
one log for all of them: the duration reached, Ctrl-C in ``realworld run``, SIGTERM
to ``realworld daemon`` and ``stop_session`` from Python. Before the orderly stop
every one of these crashed with SIGSEGV during a first pass (the index's connection
closed under the indexer's running call).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO_ROOT

FILES = 1_000
#: Rows the result cache holds once both of its analyzers (scanner, probe) saw every file.
CACHED_WHEN_DONE = 2 * FILES
RUNS_PER_WAY = 5
#: What a service gets to stop in, first pass or not (the issue's bound).
SIGTERM_EXIT_S = 5.0
#: In any log we print: what would mean a crash, or a cache thrown away and rebuilt.
BAD_SIGNS = ("Traceback", "Fatal Python error", "Segmentation fault", "cache_rebuilt",
             "is not a realworld")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1,000 Python files of the standard library, tests included, as they are."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    root = tmp_path_factory.mktemp("ending") / "workspace"
    copied = 0
    for source in sorted(stdlib.rglob("*.py")):
        relative = source.relative_to(stdlib)
        if "site-packages" in relative.parts or not source.is_file():
            continue
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += 1
        if copied == FILES:
            break
    assert copied == FILES
    return root


@dataclass(frozen=True)
class Ended:
    way: str
    returncode: int
    seconds_to_exit: float
    output: str


class Lines:
    """A child's merged output, read on a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: list[str] = []
        self._seen = threading.Condition()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            with self._seen:
                self._lines.append(line)
                self._seen.notify_all()

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        with self._seen:
            assert self._seen.wait_for(lambda: any(needle in ln for ln in self._lines),
                                       timeout), f"no {needle!r} in {''.join(self._lines)}"

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self._lines)


def realworld(*args: str) -> list[str]:
    return [sys.executable, "-m", "daemon", *args]


def start(argv: list[str]) -> tuple[subprocess.Popen[str], Lines]:
    process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    return process, Lines(process)


def signalled(argv: list[str], ready: str, signum: int, pause: float, way: str) -> Ended:
    """Start ``argv``, wait for its ``ready`` line (the pass is under way), then ``pause``
    seconds into the pass, the signal."""
    process, lines = start(argv)
    try:
        lines.wait_for(ready)
        time.sleep(pause)
        sent = time.monotonic()
        process.send_signal(signum)
        returncode = process.wait(30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Ended(way, returncode, took, lines.text())


def timed(workspace: Path, db: Path, seconds: float) -> Ended:
    process, lines = start(realworld("run", "--project", str(workspace), "--db", str(db),
                                     "--duration", f"{seconds:.2f}s", "--quiet",
                                     "--no-report"))
    returncode = process.wait(60)
    return Ended("duration", returncode, 0.0, lines.text())


STOP_FROM_PYTHON = """
import sys, time
from daemon import RealWorldTester
tester = RealWorldTester(sys.argv[1])
session_id = tester.start_test_session(sys.argv[2], 10)
time.sleep(float(sys.argv[3]))
print(tester.stop_session(session_id)["status"])
tester.close()
"""


def stopped_from_python(workspace: Path, db: Path, pause: float) -> Ended:
    process, lines = start([sys.executable, "-c", STOP_FROM_PYTHON, str(db), str(workspace),
                            f"{pause:.2f}"])
    returncode = process.wait(60)
    return Ended("stop_session", returncode, 0.0, lines.text())


def rows_in(cache: Path, table: str) -> int:
    """Rows of ``table`` in a cache file beside the log; 0 while it is not made yet."""
    if not cache.exists():
        return 0
    conn = sqlite3.connect(f"{cache.as_uri()}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) \
            if table in tables else 0
    finally:
        conn.close()


def test_sessions_ended_at_random_moments_of_a_first_pass_end_cleanly(
        workspace: Path, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    rng = random.Random(int(os.environ.get("REALWORLD_TEST_SEED", "20261206")))
    ways = ["duration", "sigint", "sigterm", "stop_session"] * RUNS_PER_WAY
    rng.shuffle(ways)
    ended: list[Ended] = []
    indexed = results = mid_pass = 0
    for way in ways:
        pause = rng.uniform(0.0, 2.5)
        if way == "duration":
            outcome = timed(workspace, db, 1.0 + pause)
        elif way == "sigint":
            # Not --quiet: the first activity line says the pass is under way.
            outcome = signalled(realworld("run", "--project", str(workspace), "--db", str(db),
                                          "--continuous", "--no-report"),
                                "] ", signal.SIGINT, pause, way)
        elif way == "sigterm":
            outcome = signalled(realworld("daemon", "--workspace", str(workspace),
                                          "--db", str(db)),
                                '"watching"', signal.SIGTERM, pause, way)
        else:
            outcome = stopped_from_python(workspace, db, 0.5 + pause)
        ended.append(outcome)
        assert outcome.returncode == 0, (way, outcome.returncode, outcome.output[-3000:])
        for sign in BAD_SIGNS:
            assert sign not in outcome.output, (way, sign, outcome.output[-3000:])
        if way == "sigterm":
            assert outcome.seconds_to_exit < SIGTERM_EXIT_S, outcome
        # The next session goes on from the caches: they only grow (the workspace does
        # not change), so none was thrown away.
        now_indexed = rows_in(db.with_name(f"{db.stem}.index.db"), "files")
        now_results = rows_in(db.with_name(f"{db.stem}.results.db"), "results")
        assert now_indexed >= indexed and now_results >= results, (way, outcome.output[-3000:])
        indexed, results = now_indexed, now_results
        mid_pass += now_results < CACHED_WHEN_DONE

    assert len(ended) >= 20
    # The premise: these were ends in the middle of the first pass, not after it (on this
    # machine all but the last one or two are).
    assert mid_pass >= 5, mid_pass
    check = subprocess.run(realworld("verify", "--db", str(db)), cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert indexed > 0 and results > 0

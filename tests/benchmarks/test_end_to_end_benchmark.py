"""The commands users run, end to end, beside the peers they would run instead.

Run on demand only::

    REALWORLD_BENCHMARKS=1 pytest tests/benchmarks/test_end_to_end_benchmark.py -s

On a copy of the standard library (``sysconfig``'s ``stdlib`` without ``test``, ``tests``,
``idlelib``, ``site-packages``; about 700 files) and on four copies of it side by side, in
one run and alternating, so a noisy shared machine slows every command alike:

* ``realworld run --once`` cold (no log, no index, no caches), warm (again after a
  one-line edit of :data:`EDITED`, an ordinary module: the first file ``rglob`` met could be
  one jedi crashes on) and again with nothing changed;
* ``bandit -r``, ``ruff check --select S`` (bandit's rules in Rust), ``radon cc -s -j``,
  ``detect-secrets scan --all-files`` (when installed: ``pip install detect-secrets``).

Printed per command and tree: wall time (median of the rounds), CPU time of the process
and every child it waited for, peak RSS of the whole process tree (sampled every 50 ms),
and the ratio of wall time to ``bandit -r`` on the same tree; then how the cold run's time
splits between the analyzers (from ``activities``) and whether it found every one of
bandit's MEDIUM and HIGH findings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from analyzers.common.walk import DEFAULT_IGNORED_DIRS

pytestmark = pytest.mark.benchmark

EXCLUDED_DIRS = frozenset({"test", "tests", "idlelib", "site-packages"}) | DEFAULT_IGNORED_DIRS
ROUNDS = int(os.environ.get("REALWORLD_BENCHMARK_ROUNDS", "2"))
SAMPLE_S = 0.05
EDITED = "colorsys.py"  # small, plain, in every CPython's stdlib


def edited_file(tree: Path) -> Path:
    """The module the warm run edits: :data:`EDITED` in the first copy of the tree."""
    return min(tree.rglob(EDITED), key=lambda p: (len(p.parts), str(p)))


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int


def measure(argv: Sequence[str], *, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Measured:
    """Run ``argv`` to its end: wall, CPU of it and its waited-for children, peak tree RSS."""
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:  # a measurement, not the code under test: polling is the method
        try:
            root = psutil.Process(process.pid)
            while not done.wait(SAMPLE_S):
                tree = [root, *root.children(recursive=True)]
                total = 0
                for member in tree:
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_info().rss
                peak[0] = max(peak[0], total / 2**20)
        except psutil.Error:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall, usage.ru_utime + usage.ru_stime,
                    max(peak[0], usage.ru_maxrss / 1024), process.returncode)


def copy_stdlib(destination: Path) -> Path:
    shutil.copytree(sysconfig.get_paths()["stdlib"], destination, symlinks=True,
                    ignore=shutil.ignore_patterns(*EXCLUDED_DIRS))
    return destination


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("e2e")
    one = copy_stdlib(base / "stdlib")
    four = base / "stdlib-x4"
    for copy in range(4):
        shutil.copytree(one, four / f"copy{copy}", symlinks=True)
    return {"1x": one, "4x": four}


def tool(name: str, module: str) -> list[str] | None:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found:
        return [found]
    try:
        __import__(module)
    except ImportError:
        return None
    return [sys.executable, "-m", module]


def medium_high_of_bandit(tree: Path, bandit: list[str], out: Path) -> set[tuple[str, int, str]]:
    subprocess.run([*bandit, "-r", str(tree), "-q", "-f", "json", "-o", str(out)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    results = json.loads(out.read_text())["results"]
    return {(str(Path(r["filename"]).relative_to(tree)), int(r["line_number"]), r["test_id"])
            for r in results if r["issue_severity"] in ("MEDIUM", "HIGH")}


def ours(db: Path, rule_prefix: str = "B") -> set[tuple[str, int, str]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT path, line, rule FROM findings WHERE resolved_at IS NULL "
                            "AND capability = 'security_scanner' "
                            "AND severity IN ('medium', 'high')").fetchall()
    finally:
        conn.close()
    return {(str(path), int(line), str(rule)) for path, line, rule in rows
            if str(rule).startswith(rule_prefix)}


def split(db: Path) -> dict[str, float]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT capability, ROUND(SUM(response_time_ms) / 1000.0, 2) "
                                 "FROM activities GROUP BY capability ORDER BY capability"))
    finally:
        conn.close()


def test_commands_end_to_end_beside_the_peers(trees: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    realworld = [sys.executable, "-m", "daemon"]
    peers: dict[str, list[str] | None] = {
        "bandit -r": tool("bandit", "bandit"),
        "ruff check --select S": tool("ruff", "ruff"),
        "radon cc -s -j": tool("radon", "radon"),
        "detect-secrets scan": tool("detect-secrets", "detect_secrets"),
    }
    args: dict[str, Callable[[Path], list[str]]] = {
        "bandit -r": lambda t: ["-r", str(t), "-q", "-f", "json", "-o", os.devnull],
        "ruff check --select S": lambda t: ["check", "--select", "S", "--no-cache",
                                            "--exit-zero", "--quiet", str(t)],
        "radon cc -s -j": lambda t: ["cc", "-s", "-j", str(t)],
        # Run from the tree's root, as its users do: given a path outside the working
        # directory, detect-secrets 1.5 skips nearly every file (0.2 s instead of 20 s).
        "detect-secrets scan": lambda t: ["scan", "--all-files"],
    }
    results: dict[tuple[str, str], list[Measured]] = {}
    splits: dict[str, dict[str, float]] = {}
    coverage: dict[str, tuple[int, int]] = {}
    for name, tree in trees.items():
        for round_ in range(ROUNDS):
            home = tmp_path / f"{name}-{round_}"
            env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"),
                   "XDG_STATE_HOME": str(home / "state"),
                   "XDG_CONFIG_HOME": str(home / "config")}
            # Users' Pythons write bytecode; without it every run compiles our modules
            # again (0.15 s of a 0.7 s warm run on this machine).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            db = home / "log.db"
            home.mkdir()
            order = ["cold", *peers] if round_ % 2 == 0 else [*reversed(peers), "cold"]
            for command in order:
                if command == "cold":
                    results.setdefault(("realworld run --once (cold)", name), []).append(
                        measure([*realworld, "run", "--once", "--quiet", "--no-report",
                                 "--project", str(tree), "--db", str(db)], env=env))
                    with edited_file(tree).open("a") as handle:
                        handle.write(f"\n# benchmark edit {round_}\n")
                    once = [*realworld, "run", "--once", "--quiet", "--no-report",
                            "--project", str(tree), "--db", str(db)]
                    results.setdefault(("realworld run --once (warm)", name), []).append(
                        measure(once, env=env))
                    results.setdefault(("realworld run --once (unchanged)", name), []
                                       ).append(measure(once, env=env))
                    splits[name] = split(db)
                    continue
                peer = peers[command]
                if peer is None:
                    continue
                results.setdefault((command, name), []).append(
                    measure([*peer, *args[command](tree)], env=env,
                            cwd=tree if command == "detect-secrets scan" else home))
            bandit = peers["bandit -r"]
            if bandit is not None and round_ == 0:
                theirs = medium_high_of_bandit(tree, bandit, home / "bandit.json")
                coverage[name] = (len(theirs & ours(db)), len(theirs))

    lines = ["", f"end to end, {ROUNDS} rounds alternating; median wall", "",
             f"{'command':34} {'tree':4} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} "
             f"{'/bandit':>8}"]
    for name in trees:
        bandit_wall = statistics.median(m.wall_s for m in results.get(("bandit -r", name), [])
                                        ) if ("bandit -r", name) in results else None
        for (command, tree_name), runs in results.items():
            if tree_name != name:
                continue
            wall = statistics.median(m.wall_s for m in runs)
            ratio = f"{wall / bandit_wall:8.3f}" if bandit_wall else f"{'-':>8}"
            lines.append(f"{command:34} {name:4} {wall:8.2f} "
                         f"{statistics.median(m.cpu_s for m in runs):8.2f} "
                         f"{max(m.peak_rss_mb for m in runs):8.1f} {ratio}")
        lines.append(f"  cold run, per analyzer (s, summed call time): {splits.get(name)}")
        if name in coverage:
            found, total = coverage[name]
            lines.append(f"  bandit's MEDIUM/HIGH findings also found: {found} of {total}")
    with capsys.disabled():
        print("\n".join(lines))
    for (command, _), runs in results.items():
        if command.startswith("realworld"):
            assert all(m.returncode == 0 for m in runs), command

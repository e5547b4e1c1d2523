"""How fast a quiet daemon's log grows, and what retention leaves of it.

Run on demand (``REALWORLD_BENCHMARKS=1 pytest tests/benchmarks/test_log_growth_benchmark.py
-s``). A real ``realworld daemon`` watches a copy of this repository (its tracked files:
a few hundred, thousands of findings, mostly asserts in ``tests/``) and nobody edits it. The
clock is the only thing shortened: every period of the defaults (a probe pass every 300 s,
a resource sample every 30 s) is divided by ``REALWORLD_BENCH_SCALE`` (288: a simulated day
takes 300 s), and the run lasts ``REALWORLD_BENCH_SECONDS`` (300). Sessions rotate six times
in the run (the default is once a day, so the figure is an upper bound: every rotation
starts a session and rescans).

Printed: passes, samples and rotations seen (each at least five), events and MB of log per
simulated day from the events after the first pass (that one is work, not time), the
daemon's RSS and CPU over the run, then ``verify`` and ``rebuild`` on the result (events per
second), and the log's size after ``realworld archive`` moved every ended session out.
Aim: at most 5 MB of log a day (the log wrote about 500 MB a day before findings became
changes).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import daemonprocess
from conftest import REPO_ROOT
from daemonprocess import DaemonProcess, daemon_env

SCALE = float(os.environ.get("REALWORLD_BENCH_SCALE", "288"))
RUN_S = float(os.environ.get("REALWORLD_BENCH_SECONDS", "300"))
DAY_S = 86_400.0
PROBE_INTERVAL_S = 300.0
MONITOR_INTERVAL_S = 30.0
ROTATIONS = 6
AIM_MB_PER_DAY = 5.0
MB = 1024 * 1024

pytestmark = pytest.mark.benchmark
launch = daemonprocess.launch


def copy_tracked_files(source: Path, target: Path) -> int:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=source, capture_output=True,
                            check=True).stdout.split(b"\0")
    copied = 0
    for raw in filter(None, listed):
        rel = Path(os.fsdecode(raw))
        if not (source / rel).is_file():
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, target / rel)
        copied += 1
    return copied


def log_bytes(db: Path) -> int:
    """The log as it would be at rest: the main file after a checkpoint of its WAL."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                       for p in ("page_count", "page_size"))
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * size)


def counts(db: Path, after: int = 0) -> Counter[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return Counter(dict(conn.execute(
            "SELECT type, count(*) FROM events WHERE seq > ? GROUP BY type", (after,))))
    finally:
        conn.close()


def full_passes(db: Path, after: int) -> int:
    """Full passes of the security scanner: each ends with one summary of its findings."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(
            "SELECT count(*) FROM events WHERE seq > ? AND type = 'findings_summarized' "
            "AND json_extract(payload, '$.capability') = 'security_scanner'",
            (after,)).fetchone()[0])
    finally:
        conn.close()


def last_seq(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    finally:
        conn.close()


def timed(db: Path, *argv: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "daemon", *argv, "--db", str(db)],
                          capture_output=True, text=True, env=daemon_env(db.parent))
    assert done.returncode == 0, done.stdout + done.stderr
    return time.perf_counter() - started


def test_a_quiet_daemon_writes_its_log_with_work_not_time(
        tmp_path: Path, launch: Callable[..., DaemonProcess],
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    files = copy_tracked_files(REPO_ROOT, workspace)
    daemon = launch(probe_interval=PROBE_INTERVAL_S / SCALE,
                    monitor_interval=MONITOR_INTERVAL_S / SCALE,
                    session_rotation=f"{RUN_S / ROTATIONS:.0f}s")
    time.sleep(PROBE_INTERVAL_S / SCALE)  # the first pass's findings land
    start_seq, start_bytes = last_seq(daemon.db), log_bytes(daemon.db)
    first_pass = counts(daemon.db)

    process = psutil.Process(daemon.pid)
    cpu_start = process.cpu_times()
    rss: list[float] = []
    done = threading.Event()

    def sample() -> None:  # the measurement's own clock: one RSS reading a second
        while not done.wait(1.0):
            try:
                rss.append(process.memory_info().rss / MB)
            except psutil.Error:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    done.wait(RUN_S)
    cpu_end = process.cpu_times()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    assert daemon.stop() == 0, daemon.tail()

    grown = counts(daemon.db, start_seq)
    events = sum(grown.values())
    grown_bytes = log_bytes(daemon.db) - start_bytes
    simulated_days = wall * SCALE / DAY_S
    logged = [e.get("event") for e in daemon.log_events()]
    passes = full_passes(daemon.db, start_seq)
    samples = grown["resources_sampled"]
    rotations = logged.count("session_rotated")
    cpu = (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) / wall * 100

    total = last_seq(daemon.db)
    verify_s = timed(daemon.db, "verify")
    rebuild_s = timed(daemon.db, "rebuild")
    before_archive = log_bytes(daemon.db)
    archive_s = timed(daemon.db, "archive", "--before",
                      time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
    after_archive = log_bytes(daemon.db)
    verify_after_s = timed(daemon.db, "verify")
    segments = sorted(daemon.db.with_name(daemon.db.name + ".archive").glob("seg-*"))

    per_day_mb = grown_bytes / MB / simulated_days
    lines = [
        f"workspace: {files} files; first pass: {sum(first_pass.values()):,} events "
        f"({first_pass['finding_detected']:,} findings)",
        f"run: {wall:.0f} s = {simulated_days:.2f} simulated days at 1/{SCALE:.0f} "
        f"(probe every {PROBE_INTERVAL_S / SCALE:.2f} s, sample every "
        f"{MONITOR_INTERVAL_S / SCALE:.3f} s)",
        f"periodic work seen: {passes} probe passes, {samples} samples, {rotations} rotations",
        f"growth: {events:,} events ({events / simulated_days:,.0f} a day), "
        f"{grown_bytes / MB:.2f} MB ({per_day_mb:.2f} MB a day; aim <= {AIM_MB_PER_DAY})",
        "by type: " + ", ".join(f"{k} {v}" for k, v in grown.most_common()),
        f"daemon: CPU {cpu:.1f} % of a core, RSS {min(rss):.0f}-{max(rss):.0f} MB "
        f"(first {rss[0]:.0f}, last {rss[-1]:.0f})",
        f"verify: {total:,} events in {verify_s:.2f} s ({total / verify_s:,.0f}/s, process "
        f"start included); rebuild {rebuild_s:.2f} s ({total / rebuild_s:,.0f}/s)",
        f"archive of every ended session: {archive_s:.2f} s, {len(segments)} segment(s) of "
        f"{sum(p.stat().st_size for p in segments) / MB:.2f} MB; log {before_archive / MB:.2f}"
        f" -> {after_archive / MB:.2f} MB; verify after {verify_after_s:.2f} s",
    ]
    with capsys.disabled():
        print()
        for line in lines:
            print("  " + line)
    assert passes >= 5 and samples >= 5 and rotations >= 5, lines
    assert per_day_mb <= AIM_MB_PER_DAY, lines

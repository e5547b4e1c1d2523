"""Acceptance tests of the watcher daemon, end to end: real processes, real directories.

Each test starts ``python -m daemon daemon --workspace WS --db DB --config CFG`` as a
subprocess on a fresh temporary workspace, changes files with the ordinary OS calls an
editor or a build would use, and compares the ``files`` projection with the disk: the
same paths, sizes and SHA-256 content hashes (what :mod:`daemon.watch.snapshot` stores). The
projection is read as ``realworld query`` reads it: catch the projections up, then a
read-only SQLite connection; the first test also reads it through the CLI itself.

The config raises every resource limit to 100 % so that a busy test machine never trips
the daemon's safety stop, which would end the session and invalidate the measurement.

Covered (issue "Watcher daemon runtime"):

1. 200 files created, modified, deleted, renamed (also across directories, onto existing
   files, and a whole directory), with editor-style atomic saves (write a temporary file,
   ``os.replace`` it over the target): the projection equals the disk within 2 s of the
   last change.
2. A storm of 5,000 files written in one burst: nothing lost, and the daemon's RSS stays
   under 150 MB, sampled every 100 ms. With ``max_pending`` lowered in the config, the
   same kind of storm overflows the coalescer: the log gets a ``workspace_rescanned``
   event with reason ``overflow`` and still nothing is lost.
3. SIGKILL in the middle of a storm, more changes while it is down, a restart: the
   projection equals the disk again and ``realworld verify`` exits 0.

The speed and idle-cost figures are in ``tests/benchmarks/test_daemon_benchmark.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import daemonprocess
from daemonprocess import (
    OVERFLOW_MAX_PENDING,
    RSS_SAMPLE_S,
    SETTLE_LIMIT_S,
    STORM_FILES,
    STORM_RSS_LIMIT_MB,
    DaemonProcess,
    RssSampler,
    atomic_save,
    cli_files,
    daemon_env,
    disk_files,
    logged_events,
    pause,
    projected_files,
    report,
    text,
    wait_until_equal,
    write,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(signal, "SIGKILL"),
    reason="needs Linux (inotify, /proc) and SIGKILL")

launch = daemonprocess.launch  # the fixture: pytest finds it by its name in the module

def edit_200_files(workspace: Path, rng: random.Random) -> dict[str, int]:
    """Creates, modifies, atomically saves, deletes and renames files; returns counts."""
    counts = dict.fromkeys(("created", "modified", "atomic_saves", "deleted", "renamed",
                            "renamed_over", "transient", "directory_renamed"), 0)
    directories = [workspace / f"pkg{i}" for i in range(5)]
    for directory in directories:
        directory.mkdir()
    alive: list[Path] = []
    for i in range(200):
        path = directories[i % 5] / f"module_{i:03d}.py"
        write(path, text(rng, 0 if i % 50 == 0 else rng.randint(1, 4000)))
        alive.append(path)
        counts["created"] += 1
        if i % 25 == 24:
            pause(rng)

    for path in rng.sample(alive, 60):  # in place: same size new bytes, or appended
        old = path.read_bytes()
        if old and rng.random() < 0.5:
            new = bytes((b + 1) % 256 for b in old[:1]) + old[1:]  # same size, same mtime tick
        else:
            new = old + text(rng, rng.randint(1, 300))
        write(path, new)
        counts["modified"] += 1
        pause(rng)

    for n, path in enumerate(rng.sample(alive, 40)):  # editor saves
        temporary = f".{path.name}.swp" if n % 2 else f"{path.name}.tmp{n}~"
        atomic_save(path, text(rng, rng.randint(1, 3000)), temporary)
        counts["atomic_saves"] += 1
        pause(rng)

    for path in rng.sample(alive, 30):
        path.unlink()
        alive.remove(path)
        counts["deleted"] += 1
        pause(rng)

    for n, path in enumerate(rng.sample(alive, 30)):
        if n < 10:  # onto another existing file, which it replaces
            target = rng.choice([p for p in alive if p != path])
            alive.remove(target)
            counts["renamed_over"] += 1
        else:  # to a new name, every third one into another directory
            directory = rng.choice(directories) if n % 3 == 0 else path.parent
            target = directory / f"renamed_{n:02d}_{path.name}"
        os.replace(path, target)
        alive[alive.index(path)] = target
        counts["renamed"] += 1
        pause(rng)

    for n in range(5):  # created and gone again within one settle window
        scratch = directories[n] / f"scratch_{n}.tmp"
        write(scratch, b"scratch")
        scratch.unlink()
        counts["transient"] += 1

    (workspace / "pkg4").rename(workspace / "pkg4_renamed")  # a whole directory
    counts["directory_renamed"] += 1
    fresh = workspace / "pkg4_renamed" / "sub"
    fresh.mkdir()
    for n in range(10):
        write(fresh / f"new_{n}.py", text(rng, rng.randint(1, 500)))
        counts["created"] += 1
    atomic_save(workspace / "pkg4_renamed" / "sub" / "new_0.py", b"saved last\n", "new_0.py.tmp")
    counts["atomic_saves"] += 1
    return counts


def storm(directory: Path, count: int, rng: random.Random, *, subdirectories: int = 50,
          start: int = 0, on_file: Callable[[int], None] | None = None) -> None:
    """``count`` files as fast as Python writes them, spread over new subdirectories."""
    made: set[Path] = set()
    for i in range(start, start + count):
        parent = directory / f"storm{i % subdirectories:02d}" if i % 5 else directory
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        write(parent / f"file_{i:05d}.txt", text(rng, 64 + i % 512))
        if on_file is not None:
            on_file(i)


# --- 1. everyday editing -------------------------------------------------------------------


def test_projection_equals_disk_within_2s_after_edits_of_200_files(
        tmp_path: Path, launch: Callable[..., DaemonProcess],
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    (workspace / "README.md").write_text("# a workspace\n", encoding="utf-8")
    daemon = launch()
    rng = random.Random(1)

    started = time.monotonic()
    counts = edit_200_files(workspace, rng)
    last_change = time.monotonic()
    expected = disk_files(workspace)
    elapsed = wait_until_equal(daemon.db, workspace, expected, last_change, SETTLE_LIMIT_S)

    assert cli_files(daemon.db, workspace) == expected
    assert not any(p.endswith((".swp", "~", ".tmp")) for p in projected_files(daemon.db,
                                                                              workspace))
    assert daemon.process is not None and daemon.process.poll() is None
    report(capsys, f"edits: {counts}",
           f"driver ran {last_change - started:.2f} s; {len(expected)} files on disk; "
           f"projection equal {elapsed * 1000:.0f} ms after the last change "
           f"(limit {SETTLE_LIMIT_S * 1000:.0f} ms)")
    assert daemon.stop() == 0


# --- 2. storms ---------------------------------------------------------------------------------


def test_storm_of_5000_files_loses_nothing_and_stays_under_150mb(
        tmp_path: Path, launch: Callable[..., DaemonProcess],
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    (workspace / "existing.py").write_text("x = 1\n", encoding="utf-8")
    daemon = launch()
    rng = random.Random(2)

    with RssSampler(daemon.pid) as rss:
        time.sleep(0.3)  # a baseline before the storm
        baseline = rss.peak_mb
        started = time.monotonic()
        storm(workspace, STORM_FILES, rng)
        last_change = time.monotonic()
        expected = disk_files(workspace)
        elapsed = wait_until_equal(daemon.db, workspace, expected, last_change, 30.0)
        time.sleep(1.0)  # the analyzers' pass over the storm runs after the files are logged

    rescans = [e["reason"] for e in logged_events(daemon.db, "workspace_rescanned")]
    report(capsys,
           f"storm: {STORM_FILES} files written in {last_change - started:.2f} s; projection "
           f"equal {elapsed:.2f} s after the last write; rescans {rescans}",
           f"daemon RSS: {baseline:.1f} MB before, peak {rss.peak_mb:.1f} MB over "
           f"{len(rss.samples_mb)} samples every {RSS_SAMPLE_S * 1000:.0f} ms "
           f"(limit {STORM_RSS_LIMIT_MB:.0f} MB)")
    assert len(expected) == STORM_FILES + 1
    assert len(rss.samples_mb) >= 10
    assert rss.peak_mb < STORM_RSS_LIMIT_MB
    assert daemon.process is not None and daemon.process.poll() is None
    assert daemon.stop() == 0


def test_storm_beyond_max_pending_overflows_then_rescans_and_loses_nothing(
        tmp_path: Path, launch: Callable[..., DaemonProcess],
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    rng = random.Random(3)
    before = [workspace / f"old_{i:03d}.py" for i in range(100)]
    for path in before:
        write(path, text(rng, 200))
    # A path stays pending for a settle window after its last event, so about write rate x
    # settle paths are pending at once: with a 1 s window, any rate above 100 files/s
    # (a loaded machine still writes several hundred) overflows a limit of 100.
    daemon = launch(max_pending=OVERFLOW_MAX_PENDING, settle_ms=1000)

    started = time.monotonic()
    storm(workspace, 2_000, rng)
    for path in before[:40]:  # changes of known files inside the storm: must not be lost
        write(path, text(rng, 300))
    for path in before[40:60]:
        path.unlink()
    for path in before[60:80]:
        os.replace(path, path.with_name("moved_" + path.name))
    last_change = time.monotonic()
    expected = disk_files(workspace)
    elapsed = wait_until_equal(daemon.db, workspace, expected, last_change, 30.0)

    rescans = logged_events(daemon.db, "workspace_rescanned")
    overflows = [e for e in rescans if e["reason"] == "overflow"]
    report(capsys,
           f"overflow storm: 2000 files + 80 changes in {last_change - started:.2f} s with "
           f"max_pending={OVERFLOW_MAX_PENDING}, settle 1 s; projection equal {elapsed:.2f} s "
           "after the last change",
           "rescans: " + ", ".join(f"{e['reason']} ({e['files_changed']} changed of "
                                   f"{e['files_seen']})" for e in rescans))
    assert overflows, f"no overflow rescan in the log; rescans: {rescans}"
    warnings = [e for e in daemon.log_events() if e.get("event") == "rescan"]
    assert any(e.get("reason") == "overflow" for e in warnings), daemon.tail()
    assert daemon.stop() == 0


# --- 3. kill -9 ---------------------------------------------------------------------------------


def test_sigkill_mid_storm_then_restart_misses_nothing_and_verifies(
        tmp_path: Path, launch: Callable[..., DaemonProcess],
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    rng = random.Random(4)
    before = [workspace / "src" / f"keep_{i:03d}.py" for i in range(300)]
    before[0].parent.mkdir()
    for path in before:
        write(path, text(rng, rng.randint(10, 2000)))
    daemon = launch()

    def kill_halfway(i: int) -> None:
        if i == STORM_FILES // 2:
            daemon.kill()

    started = time.monotonic()
    storm(workspace, STORM_FILES, rng, on_file=kill_halfway)
    killed_status = daemon.process.returncode if daemon.process is not None else None
    # While it is down: every kind of change to files it already knew.
    for path in before[:100]:
        write(path, text(rng, rng.randint(10, 2000)))
    for path in before[100:150]:
        path.unlink()
    for path in before[150:200]:
        os.replace(path, path.with_name("renamed_" + path.name))
    for path in before[200:220]:
        atomic_save(path, text(rng, 100), f".{path.name}.swp")
    last_change = time.monotonic()
    expected = disk_files(workspace)

    daemon.start()
    ready = daemon.wait_ready()
    elapsed = wait_until_equal(daemon.db, workspace, expected, last_change, 60.0)
    status = daemon.stop()
    verified = subprocess.run(
        [sys.executable, "-m", "daemon", "verify", "--db", str(daemon.db)],
        capture_output=True, text=True, env=daemon_env(daemon.db.parent), timeout=120)

    resumed = logged_events(daemon.db, "session_resumed")
    report(capsys,
           f"kill -9 after {STORM_FILES // 2} of {STORM_FILES} storm files (exit "
           f"{killed_status}); 220 more changes while down; restart ready in {ready:.2f} s; "
           f"projection equal {elapsed:.2f} s after the last change "
           f"(driver ran {last_change - started:.2f} s); sessions resumed: {len(resumed)}",
           "verify: " + verified.stdout.strip().replace("\n", "; "))
    assert killed_status == -signal.SIGKILL
    assert status == 0
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert projected_files(daemon.db, workspace) == expected

"""The daemon keeps its log bounded by itself: sessions rotate, retention archives the ended
ones on its schedule, and the whole history still verifies and comes back.

Real processes on a real workspace, with the periods shortened (rotation every 2 s,
retention of 1 s, looked at every second) so that both have happened at least five times.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import daemonprocess
from daemonprocess import DaemonProcess, daemon_env
from waiting import wait_for

ROUNDS = 5
launch = daemonprocess.launch  # the fixture, found by its name in the module


def segments(db: Path) -> list[Path]:
    """The sealed segments (each archive seals the one event the archive before it left)."""
    return sorted(db.with_name(db.name + ".archive").glob("seg-*.jsonl.zst"))


def realworld(db: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *argv, "--db", str(db)],
                          capture_output=True, text=True, env=daemon_env(db.parent), timeout=120)


def test_rotation_and_retention_keep_the_log_bounded_and_the_history_whole(
        launch: Callable[..., DaemonProcess], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for i in range(5):
        (workspace / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    daemon = launch(session_rotation="2s", retention="1s")
    for round_ in range(ROUNDS):
        # Work for each session to do, so there is something to archive every time.
        (workspace / f"m{round_}.py").write_text(f"def g(x):\n    return x * {round_}\n")
        wait_for(lambda n=round_: len(segments(daemon.db)) > n, timeout=60, step=0.2)
    assert daemon.stop() == 0, daemon.tail()
    logged = [e.get("event") for e in daemon.log_events()]
    assert logged.count("session_rotated") >= ROUNDS, daemon.tail()
    assert "retention_failed" not in logged, daemon.tail()
    assert logged.count("retention_archived") == len(segments(daemon.db)) >= ROUNDS

    checked = realworld(daemon.db, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    conn = sqlite3.connect(daemon.db)
    try:
        kept_sessions = conn.execute("SELECT count(*) FROM test_sessions").fetchone()[0]
        first_kept = conn.execute("SELECT min(seq) FROM events").fetchone()[0]
    finally:
        conn.close()
    assert first_kept > 1  # the start of the log is in segments now
    assert kept_sessions >= ROUNDS + 1  # archived sessions keep their summary row

    history = tmp_path / "history.db"
    restored = realworld(daemon.db, "archive", "--restore", "--output", str(history))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    conn = sqlite3.connect(history)
    try:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        started = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'session_started'").fetchone()[0]
        history_sessions = conn.execute("SELECT count(*) FROM test_sessions").fetchone()[0]
    finally:
        conn.close()
    assert seqs[0] == 1 and len(seqs) == seqs[-1]  # every event from the first, none missing
    assert history_sessions == kept_sessions == started
    assert realworld(history, "verify").returncode == 0

"""`realworld daemon` under a stand-in for systemd: a real notify socket, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daemon.service.daemon import Daemon, DaemonOptions, DaemonUsageError

from conftest import REPO_ROOT
from waiting import wait_for

ROOT = REPO_ROOT


def write_config(path: Path, workspaces: list[Path]) -> None:
    listed = ", ".join(json.dumps(str(w)) for w in workspaces)
    path.write_text(f"workspaces = [{listed}]\nmonitor_interval = 0.5\nsettle_ms = 50\n"
                    "[resource_limits]\ncpu_percent_max = 100.0\nmemory_percent_max = 100.0\n"
                    "disk_percent_max = 100.0\n")


def make_workspace(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "main.py").write_text("def main():\n    return 1\n")
    return path


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


@dataclass
class Systemd:
    """The notify socket a unit's main process talks to, and the messages it got."""

    sock: socket.socket
    address: str
    messages: list[str] = field(default_factory=list)

    def drain(self) -> list[str]:
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return self.messages

    def wait(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.drain():
                if message.startswith(prefix):
                    return message
            left = deadline - time.monotonic()
            assert left > 0, f"no {prefix!r} in {self.messages}"
            self.sock.settimeout(min(left, 0.5))
            with contextlib.suppress(TimeoutError):
                self.messages.append(self.sock.recv(4096).decode())


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[Systemd]:
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    try:
        yield Systemd(sock, address)
    finally:
        sock.close()


class DaemonProcess:
    def __init__(self, tmp_path: Path, systemd: Systemd, config: Path, db: Path,
                 **env: str) -> None:
        child_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("REALWORLD_", "WATCHDOG_", "NOTIFY_"))}
        child_env.update(PYTHONPATH=str(ROOT), NOTIFY_SOCKET=systemd.address,
                         XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
                         XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
                         XDG_STATE_HOME=str(tmp_path / "xdg-state"), **env)
        self.stderr_path = tmp_path / f"daemon-stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon", "daemon", "--config", str(config),
                 "--db", str(db)], stdout=subprocess.PIPE, stderr=err, text=True, env=child_env)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> tuple[int, float, str]:
        """Signal it; (exit status, seconds it took, its stdout)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f"not stopped within {timeout} s: {self.stderr}") from None
        return self.proc.returncode, time.monotonic() - started, out

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def test_ready_watchdog_status_reload_and_stop(tmp_path: Path, systemd: Systemd) -> None:
    one = make_workspace(tmp_path / "one")
    two = make_workspace(tmp_path / "two")
    config, db = tmp_path / "config.toml", tmp_path / "state" / "realworld.db"
    write_config(config, [one])
    daemon = DaemonProcess(tmp_path, systemd, config, db, WATCHDOG_USEC="6000000")
    try:
        ready = systemd.wait("READY=1")
        # Ready only once the first scan is in the log.
        assert rows(db, "SELECT COUNT(*) FROM events WHERE type = 'activity_recorded'")[0][0] >= 1
        status = re.fullmatch(r"READY=1\nSTATUS=watching 1 workspace\(s\); (\d+) activities, "
                              r"\d+ errors", ready)
        assert status is not None and int(status.group(1)) >= 1, ready
        # WatchdogSec=6s: a ping every 3 s, half the interval, although the loop wakes
        # every second.
        before = len(systemd.drain())
        time.sleep(4.0)
        pings = systemd.drain()[before:].count("WATCHDOG=1")
        assert 1 <= pings <= 2, pings

        write_config(config, [one, two])
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: rows(db, "SELECT status FROM test_sessions WHERE project_path = ?",
                              (str(two.resolve()),)) == [("running",)])
        assert rows(db, "SELECT COUNT(*) FROM test_sessions") == [(2,)]
        # A workspace taken out of the config ends its session.
        write_config(config, [two])
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: rows(db, "SELECT status FROM test_sessions WHERE project_path = ?",
                              (str(one.resolve()),)) == [("stopped",)])

        code, took, out = daemon.stop(signal.SIGTERM)
    finally:
        daemon.kill()
    assert code == 0, daemon.stderr
    assert took < 5.0
    assert systemd.drain()[-1] == "STOPPING=1"
    # JSON lines on stdout when it is not a terminal (journald).
    logged = [json.loads(line) for line in out.splitlines()]
    events = [entry["event"] for entry in logged]
    for expected in ("watching", "ready", "reloaded", "stopping", "stopped"):
        assert expected in events
    assert all({"event", "level", "timestamp"} <= set(entry) for entry in logged)
    # Suspended, not ended: the next start takes the session over.
    assert rows(db, "SELECT s.project_path, s.status, x.mode FROM test_sessions AS s JOIN "
                    "session_stats AS x USING (session_id) ORDER BY s.project_path") == [
        (str(one.resolve()), "stopped", "continuous"),
        (str(two.resolve()), "running", "continuous")]
    assert rows(db, "SELECT COUNT(*) FROM events WHERE type = 'session_ended'") == [(1,)]


def test_a_restart_resumes_the_session_and_catches_up(tmp_path: Path, systemd: Systemd) -> None:
    workspace = make_workspace(tmp_path / "ws")
    config, db = tmp_path / "config.toml", tmp_path / "realworld.db"
    write_config(config, [workspace])

    first = DaemonProcess(tmp_path, systemd, config, db)
    try:
        systemd.wait("READY=1")
        code, _, _ = first.stop()
    finally:
        first.kill()
    assert code == 0, first.stderr
    [(session_id,)] = rows(db, "SELECT session_id FROM test_sessions")

    # While it is down:
    (workspace / "main.py").write_text("def main():\n    return 'edited while down'\n")
    (workspace / "added.py").write_text("NEW = True\n")

    systemd.messages.clear()
    second = DaemonProcess(tmp_path, systemd, config, db)
    try:
        systemd.wait("READY=1")
        status = subprocess.run(
            [sys.executable, "-m", "daemon", "status", "--json", "--db", str(db)],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60, check=False)
        code, _, _ = second.stop()
    finally:
        second.kill()
    assert code == 0, second.stderr
    assert rows(db, "SELECT session_id FROM test_sessions") == [(session_id,)]
    types = [t for (t,) in rows(db, "SELECT type FROM events WHERE session_id = ? "
                                    "AND type LIKE 'session_%' ORDER BY seq", (session_id,))]
    assert types == ["session_started", "session_resumed"]
    changed = rows(db, "SELECT json_extract(payload, '$.path'), json_extract(payload, '$.change') "
                       "FROM events WHERE type = 'file_changed' AND seq > (SELECT seq FROM events "
                       "WHERE type = 'session_resumed')")
    assert set(changed) == {("main.py", "modified"), ("added.py", "created")}
    [running] = json.loads(status.stdout)["running"]
    assert running["session_id"] == session_id
    assert running["pid"] == second.proc.pid and running["process"] == "alive"


def test_no_workspace_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("monitor_interval = 30\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "daemon", "daemon", "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("realworld: error: no workspaces to watch")
    assert done.stdout == ""
    with pytest.raises(DaemonUsageError, match="workspace does not exist"):
        Daemon(DaemonOptions(str(config), str(tmp_path / "x.db"), (str(tmp_path / "gone"),)))


def test_the_daemon_keeps_a_metrics_textfile(tmp_path: Path, systemd: Systemd) -> None:
    """[metrics] textfile: written at start and after each refresh, parsed as Prometheus
    reads it."""
    from prometheus_client.parser import text_string_to_metric_families

    workspace = make_workspace(tmp_path / "ws")
    config, db = tmp_path / "config.toml", tmp_path / "state" / "realworld.db"
    textfile = tmp_path / "node" / "realworld.prom"
    textfile.parent.mkdir()
    write_config(config, [workspace])
    config.write_text(config.read_text() + f"[metrics]\ntextfile = {json.dumps(str(textfile))}\n"
                      "interval = 1\n")
    daemon = DaemonProcess(tmp_path, systemd, config, db)

    def calls() -> dict[str, float]:
        if not textfile.exists():
            return {}
        return {s.labels["capability"]: s.value
                for f in text_string_to_metric_families(textfile.read_text())
                for s in f.samples if s.name == "realworld_calls_total"}

    try:
        systemd.wait("READY=1")
        wait_for(lambda: calls().get("workspace_analyzer", 0) >= 1)
        first = calls()["workspace_analyzer"]
        (workspace / "more.py").write_text("def more():\n    return 2\n")
        # Refreshed: at most every [metrics] interval (1 s here), at the next refresh after.
        wait_for(lambda: calls().get("workspace_analyzer", 0) > first, timeout=45.0)
        code, _, _ = daemon.stop(signal.SIGTERM)
    finally:
        daemon.kill()
    assert code == 0, daemon.stderr
    assert sorted(p.name for p in textfile.parent.iterdir()) == ["realworld.prom"]

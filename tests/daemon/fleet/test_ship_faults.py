"""Shipping through faults, with real processes: a shipper SIGKILLed at random moments while
the log grows, and a central server that goes away while a daemon runs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from daemon.log.database import Database

from daemonprocess import DaemonProcess, daemon_env
from logbuilders import history_log
from postgres_server import PostgresServer
from waiting import wait_for

KILLS = 24

APPENDER = textwrap.dedent("""
    import sys, time
    from daemon.log.database import Database
    from daemon.log.events import ActivityRecorded, Envelope, SessionStarted, new_id
    from daemon.log.store import EventStore

    db = Database.open(sys.argv[1])
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("appender", "/work/appended", 5))])
        while True:
            store.append([Envelope(ActivityRecorded(
                "appender", new_id(), "code_search", "run", description="search: 3ms",
                response_time_ms=3.0, cpu_before=1.0, cpu_after=2.0, memory_before_mb=40.0,
                memory_after_mb=40.5, success=True, error_message=None)) for _ in range(20)])
            time.sleep(0.01)
""")


def _env(tmp_path: Path) -> dict[str, str]:
    return daemon_env(tmp_path)


def _log_rows(db: Database) -> list[tuple[int, str, str]]:
    conn = db.connect_readonly()
    try:
        return [tuple(r) for r in conn.execute("SELECT seq, event_id, hash FROM events "
                                               "ORDER BY seq")]
    finally:
        conn.close()


def _central_rows(url: str, machine: str) -> list[tuple[int, str, str]]:
    """The machine's central events; none while the server is away or has no schema yet."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return [tuple(r) for r in conn.execute(
                "SELECT seq, event_id, hash FROM events WHERE machine = %s ORDER BY seq",
                (machine,)).fetchall()]
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return []


@pytest.fixture
def appender(tmp_path: Path) -> Iterator[Database]:
    db = history_log(tmp_path / "busy.db", days=3, events=30_000)
    process = subprocess.Popen([sys.executable, "-c", APPENDER, str(db.path)],
                               env=_env(tmp_path), stderr=subprocess.PIPE)
    try:
        yield db
    finally:
        process.kill()
        process.wait()


def test_a_shipper_killed_at_random_moments_loses_and_doubles_nothing(
        fleet_url: str, appender: Database, tmp_path: Path) -> None:
    rng = random.Random(14)
    command = [sys.executable, "-m", "daemon", "ship", "--db", str(appender.path), "--fleet",
               fleet_url, "--machine", "busy"]
    killed_mid_ship = 0
    for _ in range(KILLS):
        process = subprocess.Popen(command, env=_env(tmp_path), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.2, 1.2))
        if process.poll() is None:
            killed_mid_ship += 1
        process.send_signal(signal.SIGKILL)
        process.wait()
    # A ship of what the appender added since the last is quick: a kill lands in it (from
    # start-up to the central commit) a quarter of the time or more, and the first
    # shipments, 30,000 events, are long.
    assert killed_mid_ship >= KILLS // 4
    finished = subprocess.run(command, env=_env(tmp_path), capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    central = _central_rows(fleet_url, "busy")
    local = _log_rows(appender)
    # The appender went on meanwhile: the fleet holds exactly the log's first events.
    assert central == local[:len(central)] and len(central) >= 30_000
    assert [row[0] for row in central] == list(range(1, len(central) + 1))
    code = subprocess.run([sys.executable, "-m", "daemon", "verify", "--fleet", fleet_url],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert code.returncode == 0, code.stdout + code.stderr


@pytest.fixture
def own_server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """The session's server, restarted after the test stops it."""
    yield postgres_server
    if subprocess.run([str(postgres_server.bindir / "pg_ctl"), "-D",
                       str(postgres_server.datadir), "status"], capture_output=True,
                      user=postgres_server.user).returncode != 0:
        postgres_server.start()


def test_the_daemon_ships_around_a_server_that_goes_away(
        own_server: PostgresServer, tmp_path: Path) -> None:
    outage_s = float(os.environ.get("REALWORLD_FLEET_OUTAGE_S", "10"))
    url = own_server.url(own_server.new_database())
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("x = 1\n")
    db = tmp_path / "d.db"
    config = tmp_path / "c.toml"
    config.write_text(f"probe_interval = 300\n[fleet]\nurl = {url!r}\nmachine = \"dev\"\n"
                      f"ship_interval = 0.5\n[resource_limits]\ncpu_percent_max = 100\n"
                      f"memory_percent_max = 100\ndisk_percent_max = 100\n")
    daemon = DaemonProcess(workspace, db, config, tmp_path / "daemon.log")
    daemon.start()
    try:
        daemon.wait_ready()
        local = Database.open(db)
        wait_for(lambda: len(_central_rows(url, "dev")) >= len(_log_rows(local)) > 0, 30, 0.2)
        own_server.stop()
        stopped = time.monotonic()
        before = len(_log_rows(local))
        for i in range(3):
            (workspace / f"b{i}.py").write_text(f"y = {i}\n")
            time.sleep(outage_s / 3)
        # Local work went on while the fleet was away.
        wait_for(lambda: len(_log_rows(local)) > before, 20, 0.2)
        assert daemon.process is not None and daemon.process.poll() is None
        status = subprocess.run([sys.executable, "-m", "daemon", "status", "--db", str(db)],
                                env=_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert "behind" in status.stdout and "failed" in status.stdout, status.stdout
        assert own_server.password not in status.stdout
        own_server.start()
        back = time.monotonic()
        wait_for(lambda: _central_rows(url, "dev") == _log_rows(local)[:len(
            _central_rows(url, "dev"))] and len(_central_rows(url, "dev")) > before, 120, 0.2)
        caught_up_s = time.monotonic() - back
        assert time.monotonic() - stopped >= outage_s
        # The line comes once the run that shipped has applied the projections too.
        wait_for(lambda: "ship_caught_up" in [e.get("event") for e in daemon.log_events()], 60,
                 0.2)
        logged = [e.get("event") for e in daemon.log_events()]
        assert "ship_failed" in logged, daemon.tail()
        assert logged.count("ship_failed") <= 3, "one line per new reason, not per try"
        print(f"outage {outage_s:.0f}s: caught up {caught_up_s:.1f}s after the server came back")
    finally:
        daemon.stop()

"""Fleet benchmark: ``realworld ship`` of a large log against a plain ``COPY`` of the same rows,
central projection catch-up, and many machines shipping at once.

Run on demand::

    REALWORLD_BENCHMARKS=1 pytest tests/benchmarks/test_fleet_benchmark.py -s

``REALWORLD_FLEET_EVENTS`` sets the log's size (default 1,000,000), ``REALWORLD_FLEET_MACHINES``
how many ship at once (default 20). Shipping and the plain ``COPY`` run in turn, twice each,
into fresh databases of one server, so both meet the same machine; the ratio is of the best
of each. Shipping is timed without the central projections (``--no-apply``), which are then
timed on their own as the catch-up rate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from daemon.fleet.applier import apply_machine
from daemon.fleet.connection import session
from daemon.fleet.shipper import ship
from daemon.log.database import Database
from daemon.log.store import read_rows

from daemonprocess import daemon_env
from logbuilders import history_log
from postgres_server import PostgresServer

pytestmark = pytest.mark.benchmark

EVENTS = int(os.environ.get("REALWORLD_FLEET_EVENTS", "1000000"))
MACHINES = int(os.environ.get("REALWORLD_FLEET_MACHINES", "20"))

PLAIN_TABLE = """
CREATE TABLE plain_events (machine text, seq bigint, event_id text, session_id text,
    type text, version integer, ts text, payload jsonb, prev_hash text, hash text)
"""


def plain_copy(url: str, db: Database) -> float:
    """Seconds to COPY every row of the log into a table with no keys, triggers or checks."""
    local = db.connect_readonly()
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(PLAIN_TABLE)
        with conn.cursor().copy("COPY plain_events FROM STDIN") as copy:
            after = 0
            while rows := read_rows(local, after, 5_000):
                for row in rows:
                    copy.write_row(("bench", *row))
                after = rows[-1][0]
    local.close()
    return time.perf_counter() - began


def test_shipping_against_plain_copy(postgres_server: PostgresServer, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    built = time.perf_counter()
    db = history_log(tmp_path / "big.db", days=90, events=EVENTS)
    conn = db.connect_readonly()
    count = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    conn.close()
    lines = [f"log: {count:,} events (built in {time.perf_counter() - built:.0f} s)"]
    ship_s: list[float] = []
    copy_s: list[float] = []
    last_url = ""
    for _ in range(2):
        url = postgres_server.url(postgres_server.new_database())
        copy_s.append(plain_copy(url, db))
        last_url = postgres_server.url(postgres_server.new_database())
        began = time.perf_counter()
        result = ship(db, last_url, "bench", apply=False)
        ship_s.append(time.perf_counter() - began)
        assert result.shipped == count
    best_ship, best_copy = min(ship_s), min(copy_s)
    lines.append(f"realworld ship --no-apply: {count / best_ship:,.0f} events/s "
                 f"({', '.join(f'{s:.1f}' for s in ship_s)} s)")
    lines.append(f"plain COPY:                {count / best_copy:,.0f} events/s "
                 f"({', '.join(f'{s:.1f}' for s in copy_s)} s)")
    lines.append(f"ratio ship/COPY (throughput): {best_copy / best_ship:.2f} (aim >= 0.5)")
    with session(last_url, autocommit=True) as central:
        began = time.perf_counter()
        applied = apply_machine(central, "bench")
        seconds = time.perf_counter() - began
    lines.append(f"central projection catch-up: {applied:,} events in {seconds:.1f} s, "
                 f"{applied / seconds:,.0f} events/s")
    with capsys.disabled():
        print("\n  " + "\n  ".join(lines))


def test_many_machines_ship_at_once(postgres_server: PostgresServer, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres_server.url(postgres_server.new_database())
    logs = [history_log(tmp_path / f"m{i}.db", days=5, events=10_000, seed=i)
            for i in range(MACHINES)]
    env = daemon_env(tmp_path)
    began = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "daemon", "ship", "--db", str(db.path),
                                   "--fleet", url, "--machine", f"m{i}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i, db in enumerate(logs)]
    codes = [p.wait(timeout=1800) for p in processes]
    seconds = time.perf_counter() - began
    assert codes == [0] * MACHINES, [p.stderr.read() for p in processes if p.stderr]
    with psycopg.connect(url) as conn:
        central = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        sessions = int(conn.execute("SELECT COUNT(*) FROM test_sessions").fetchone()[0])
    local = 0
    for db in logs:
        conn2 = db.connect_readonly()
        local += int(conn2.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        conn2.close()
    assert central == local
    verify = subprocess.run([sys.executable, "-m", "daemon", "verify", "--fleet", url], env=env,
                            capture_output=True, text=True, timeout=1800)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with capsys.disabled():
        print(f"\n  {MACHINES} machines at once: {central:,} events and {sessions} sessions "
              f"shipped and projected in {seconds:.1f} s ({central / seconds:,.0f} events/s); "
              f"verify --fleet ok")

"""kill -9 at random moments never loses an acknowledged event nor applies one twice.

A child process appends batches and runs the projector in a loop until it is killed; the
parent kills it with SIGKILL again and again, each time on the same file, and checks the
log and the projections against each other with SQL that shares no code with them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.log.database import Database
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.projector import catch_up
from daemon.projections.verify import verify

from conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KILLS = 24

CHILD = r'''
import os
import random
import sys

from daemon.log import events as ev
from daemon.log.database import Database
from daemon.log.store import EventStore
from daemon.projections.projector import Projector

db = Database.open(sys.argv[1])
ack = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
rng = random.Random(int(sys.argv[3]))
store = EventStore(db)
projector = Projector(db, batch_size=rng.randint(1, 40))
session = None
n = 0
while True:
    batch = []
    if session is None:
        session = ev.new_id()
        batch.append(ev.SessionStarted(session, "/project", 0, "continuous"))
    for _ in range(rng.randint(1, 8)):
        n += 1
        roll = rng.random()
        if roll < 0.6:
            batch.append(ev.ActivityRecorded(
                session, ev.new_id(), rng.choice(("code_indexer", "code_search")), "probe",
                response_time_ms=rng.uniform(0.1, 500.0) if rng.random() < 0.9 else None,
                cpu_after=rng.uniform(0, 100), memory_after_mb=rng.uniform(10, 900),
                success=rng.random() < 0.8))
        elif roll < 0.7:
            batch.append(ev.ActivityRecorded("never-started", ev.new_id(), "code_search", "probe"))
        elif roll < 0.8:
            batch.append(ev.MetricSampled(session, ev.new_id(), "code_search", "cpu_usage",
                                          rng.uniform(0, 100), "%"))
        elif roll < 0.9:
            batch.append(ev.SuggestionMade(session, "performance", "low", f"idea {n}"))
        elif roll < 0.95:
            batch.append(ev.FindingDetected(session, f"fp-{rng.randint(1, 20)}", "security_scanner",
                                            "secret", "a.py", n, "high", "high"))
        else:
            batch.append(ev.FileChanged(session, "/w", f"f{rng.randint(1, 10)}.py",
                                        rng.choice(("created", "modified", "deleted"))))
    rows = store.append([ev.Envelope(e) for e in batch])
    # Acknowledged: the append returned, so this seq must survive the kill.
    os.write(ack, f"{rows[-1][0]}\n".encode())
    if rng.random() < 0.02:
        store.append([ev.Envelope(ev.SessionEnded(session, "stopped"))])
        session = None
    if rng.random() < 0.1:
        projector.close()
        projector = Projector(db, batch_size=rng.randint(1, 40))
    projector.catch_up(max_batches=rng.choice((1, 2, 3, None)))
'''


def _last_acknowledged(path: Path) -> int:
    if not path.exists():
        return 0
    lines = path.read_bytes().split(b"\n")
    complete = [line for line in lines[:-1] if line]  # the last piece may be cut short
    return max((int(line) for line in complete), default=0)


def _check_log_against_projections(db: Database) -> None:
    """Counts the log implies, computed straight from the events' JSON."""
    conn = db.connect_readonly()
    try:
        def one(sql: str) -> object:
            return conn.execute(sql).fetchone()[0]

        for event_type, table in (("activity_recorded", "activities"),
                                  ("suggestion_made", "improvement_suggestions")):
            logged = one(f"SELECT COUNT(*) FROM events WHERE type = '{event_type}'")
            assert one(f"SELECT COUNT(*) FROM {table}") == logged, table
        # A sample is its row; a measured call has its response_time row (and others).
        sampled = one("SELECT COUNT(*) FROM events WHERE type = 'metric_sampled'")
        assert one("SELECT COUNT(*) FROM performance_metrics WHERE metric_id IN (SELECT "
                   "json_extract(payload, '$.metric_id') FROM events "
                   "WHERE type = 'metric_sampled')") == sampled
        timed = one("SELECT COUNT(*) FROM events WHERE type = 'activity_recorded' "
                    "AND json_extract(payload, '$.response_time_ms') >= 0")
        assert one("SELECT COUNT(*) FROM performance_metrics "
                   "WHERE metric_type = 'response_time'") == timed
        started = one("SELECT COUNT(*) FROM events WHERE type = 'session_started'")
        assert one("SELECT COUNT(*) FROM test_sessions") == started
        per_session = conn.execute("""
            SELECT s.session_id, s.total_activities, s.total_errors, s.avg_response_time,
                   COUNT(e.seq),
                   COALESCE(SUM(json_extract(e.payload, '$.success') = 0), 0),
                   COALESCE(AVG(json_extract(e.payload, '$.response_time_ms')), 0)
            FROM test_sessions s
            LEFT JOIN events e ON e.session_id = s.session_id AND e.type = 'activity_recorded'
            GROUP BY s.session_id""").fetchall()
        for session_id, total, errors, avg, logged, logged_errors, logged_avg in per_session:
            assert (total, errors) == (logged, logged_errors), session_id
            assert avg == pytest.approx(logged_avg, rel=1e-9, abs=1e-9), session_id
        last = one("SELECT COALESCE(MAX(seq), 0) FROM events")
        positions = dict(conn.execute("SELECT projection, position FROM projection_checkpoints"))
        assert positions == {p.name: last for p in PROJECTIONS} or last == 0
    finally:
        conn.close()


def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("REALWORLD_CRASH_SEED", "20240501"))
    db = Database.open(tmp_path / "crash.db", create=True)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ack = tmp_path / "ack.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    deadline = time.monotonic() + 60
    acknowledged = 0
    behind = 0  # kills that caught the projector with work left to do

    for kill in range(KILLS):
        child = subprocess.Popen([sys.executable, str(script), str(db.path), str(ack),
                                  str(rng.getrandbits(32))], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # Most kills land in the busy loop; a few while the child is still starting.
            if rng.random() < 0.85:
                while _last_acknowledged(ack) <= acknowledged and child.poll() is None:
                    assert time.monotonic() < deadline, "the child never got going"
                    time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.12))
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            if child.stderr is not None:
                child.stderr.close()
        assert child.returncode == -signal.SIGKILL

        acknowledged = _last_acknowledged(ack)
        conn = db.connect_readonly()
        last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        reached = conn.execute("SELECT MIN(position) FROM projection_checkpoints").fetchone()[0]
        conn.close()
        assert last >= acknowledged, f"kill {kill}: acknowledged seq {acknowledged} is gone"
        behind += (reached or 0) < last

        report = verify(db)  # catches up first, then replays into a scratch database
        assert report.ok, (kill, report)
        _check_log_against_projections(db)

    assert acknowledged > KILLS  # the children did real work between kills
    assert behind > 0
    catch_up(db)
    _check_log_against_projections(db)

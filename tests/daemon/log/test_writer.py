"""The batching writer thread: batches, flush durability, close, failures."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from daemon.log.database import Database
from daemon.log.events import Envelope, MetricSampled, SessionStarted
from daemon.log.hashchain import GENESIS_HASH
from daemon.log.store import EventStore, StoredRow
from daemon.log.writer import EventWriter, WriterClosed

from conftest import REPO_ROOT

ROOT = REPO_ROOT


def metric(i: int) -> Envelope:
    return Envelope(MetricSampled("s-1", f"m-{i}", "system", "cpu_usage", float(i), "percent"))


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "log.db", create=True)


def test_flush_makes_rows_visible_to_another_connection(db: Database) -> None:
    store = EventStore(db)
    writer = EventWriter(store)
    try:
        writer.put([Envelope(SessionStarted("s-1", "/ws", 5))])
        writer.put(metric(i) for i in range(10))
        assert writer.flush(5.0) is True
        conn = sqlite3.connect(db.path)  # not ours: a plain reader
        rows = conn.execute("SELECT seq, type, prev_hash, hash FROM events ORDER BY seq").fetchall()
        conn.close()
        assert [r[0] for r in rows] == list(range(1, 12))
        assert rows[0][1] == "session_started"
        assert {r[1] for r in rows[1:]} == {"metric_sampled"}
        assert rows[0][2] == GENESIS_HASH
        assert all(rows[i][2] == rows[i - 1][3] for i in range(1, len(rows)))
    finally:
        writer.close()
        store.close()


def test_events_queued_together_are_written_in_batches(db: Database) -> None:
    batches: list[int] = []

    def written(rows: Sequence[StoredRow]) -> None:
        batches.append(len(rows))

    store = EventStore(db)
    writer = EventWriter(store, max_batch=100, on_written=written)
    blocker = sqlite3.connect(db.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the writer waits on SQLite's lock meanwhile
        writer.put(metric(i) for i in range(1000))
        time.sleep(0.1)
        blocker.execute("COMMIT")
        assert writer.flush(10.0)
    finally:
        blocker.close()
        writer.close()
        store.close()
    assert sum(batches) == 1000
    assert max(batches) == 100
    assert len(batches) <= 2 + 1000 // 100  # one early single, then full batches
    assert count(db.path) == 1000


def test_close_writes_what_is_queued_and_refuses_more(db: Database) -> None:
    store = EventStore(db)
    writer = EventWriter(store)
    writer.put(metric(i) for i in range(500))
    writer.close()
    store.close()
    assert count(db.path) == 500
    with pytest.raises(WriterClosed):
        writer.put([metric(999)])
    assert writer.flush(1.0) is True  # nothing is queued
    writer.close()  # twice is fine


def test_a_flush_racing_close_does_not_wait_out_its_timeout(db: Database) -> None:
    store = EventStore(db)
    writer = EventWriter(store)
    blocker = sqlite3.connect(db.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer.put([metric(0)])
    writer.put([metric(1)])
    closing = threading.Thread(target=writer.close)
    closing.start()
    time.sleep(0.1)  # the stop marker is queued ahead of the flush below
    result: list[bool] = []
    flushing = threading.Thread(target=lambda: result.append(writer.flush(10.0)))
    flushing.start()
    time.sleep(0.1)
    blocker.execute("COMMIT")
    blocker.close()
    started = time.monotonic()
    flushing.join(10.0)
    closing.join(10.0)
    store.close()
    assert result == [True]
    assert time.monotonic() - started < 3.0
    assert count(db.path) == 2


def test_a_failed_write_is_reported_not_hidden(db: Database) -> None:
    store = EventStore(db)
    writer = EventWriter(store)
    try:
        first = Envelope(SessionStarted("s-1", "/ws", 5), event_id="same-id")
        writer.put([first])
        assert writer.flush(5.0) is True
        writer.put([Envelope(SessionStarted("s-2", "/ws", 5), event_id="same-id")])
        assert writer.flush(5.0) is False  # not durable: flush must not claim it is
        assert writer.failure is not None
        assert isinstance(writer.failure.__cause__, sqlite3.IntegrityError)
        assert writer.failure.reason.startswith("IntegrityError: events is append-only")
        with pytest.raises(WriterClosed, match="cannot be written"):
            writer.put([metric(1)])
    finally:
        writer.close()
        store.close()
    assert count(db.path) == 1


def test_a_failing_on_written_callback_does_not_stop_the_writer(db: Database) -> None:
    def broken(rows: Sequence[StoredRow]) -> None:
        raise RuntimeError("listener bug")

    store = EventStore(db)
    writer = EventWriter(store, on_written=broken)
    try:
        writer.put([metric(1)])
        assert writer.flush(5.0)
        writer.put([metric(2)])
        assert writer.flush(5.0)
        assert writer.failure is None
    finally:
        writer.close()
        store.close()
    assert count(db.path) == 2


def test_flushed_events_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    child = textwrap.dedent(f"""
        import os, signal, sys
        from daemon.log.database import Database
        from daemon.log.events import Envelope, MetricSampled
        from daemon.log.store import EventStore
        from daemon.log.writer import EventWriter
        writer = EventWriter(EventStore(Database.open({str(path)!r}, create=True)))
        writer.put(Envelope(MetricSampled("s", f"m-{{i}}", "system", "cpu_usage", 1.0, "%"))
                   for i in range(250))
        assert writer.flush(10.0)
        print("flushed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    # (structlog, unconfigured in the child, prints its debug lines on stdout too)
    assert done.stdout.splitlines()[-1:] == ["flushed"], done.stderr
    assert done.returncode == -9
    assert count(path) == 250


def fill(directory: Path) -> Path:
    """Fill the file system ``directory`` is on; the filler, to delete and free it again."""
    filler = directory / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_named_and_the_writer_takes_writes_again_once_freed(
        small_disk: Path) -> None:
    db = Database.open(small_disk / "log.db", create=True)
    store = EventStore(db)
    writer = EventWriter(store)
    try:
        writer.put([metric(1)])
        assert writer.flush(5.0)
        filler = fill(small_disk)
        writer.put([metric(n) for n in range(2, 3000)])  # more pages than are left
        assert writer.flush(10.0) is False
        assert writer.failure is not None
        assert writer.failure.reason == "disk full"
        with pytest.raises(WriterClosed) as refused:
            writer.put([metric(3001)])
        assert refused.value.reason == writer.failure.reason
        writer.put_eventually([Envelope(SessionStarted("s-owed", "/ws", 5))])  # kept
        filler.unlink()
        assert writer.resume() is True
        assert writer.flush(10.0) is True
        assert writer.resume() is False  # nothing to resume from
    finally:
        writer.close()
        store.close()
    conn = db.connect_readonly()
    try:
        types = [t for (t,) in conn.execute("SELECT type FROM events ORDER BY seq")]
    finally:
        conn.close()
    assert types[0] == "metric_sampled"
    assert types[-1] == "session_started"  # the owed event, once the disk had room

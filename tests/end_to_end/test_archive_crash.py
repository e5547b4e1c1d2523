"""kill -9 at random moments during ``realworld archive``: the log verifies after each, and
no acknowledged event is lost.

A log of 20,000 events (two months of two daemon workspaces, ``logbuilders.history_log``)
is archived again and again by ``realworld archive`` processes, each a day further, and
each SIGKILLed at a random moment of its run (calibrated on a first, whole run), while
another process keeps appending to a running session and writes down each seq it was
told is durable. After every kill: ``verify`` passes (the chain from genesis through the
segments to the log, the archive base, the projections against a replay), and every
event there ever was, byte for byte, is either in the log or in a segment that an archive
event of the log refers to. A segment no event refers to (a kill between its rename and
the transaction) is allowed, and the next archive removes or reuses it.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from daemon.log.anchor import segment_records
from daemon.log.database import Database
from daemon.log.events import LogArchived
from daemon.log.segments import archive_dir, read_segment
from daemon.projections.verify import verify

from conftest import REPO_ROOT
from logbuilders import history_log

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KILLS = 20
EVENTS = 20_000  # each of the 20 kills is followed by a verify, a replay of the log
DAYS = 60

WRITER = r'''
import os
import sys
import time

from daemon.log import events as ev
from daemon.log.database import Database
from daemon.log.store import EventStore

db = Database.open(sys.argv[1])
ack = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
store = EventStore(db)
store.append([ev.Envelope(ev.SessionStarted("writer", "/ws/writer", 0, "continuous"))])
n = 0
while True:
    n += 1
    rows = store.append([ev.Envelope(ev.ActivityRecorded(
        "writer", ev.new_id(), "code_search", "probe", response_time_ms=float(n)))])
    # Acknowledged: the append returned, so this seq must survive whatever the archive does.
    os.write(ack, f"{rows[-1][0]}\n".encode())
    time.sleep(0.02)
'''


def _fingerprint(row: Iterable[object]) -> str:
    return hashlib.sha256(repr(tuple(row)).encode("utf-8", "surrogateescape")).hexdigest()


def _rows(db: Database) -> dict[int, str]:
    conn = db.connect_readonly()
    try:
        return {int(r[0]): _fingerprint(r) for r in conn.execute("SELECT * FROM events")}
    finally:
        conn.close()


def _everything(db: Database, rows: dict[int, str],
                seen: dict[tuple[str, str], dict[int, str]]) -> dict[int, str]:
    """seq -> fingerprint of every event the log holds (``rows``) or names in a segment it
    refers to; a segment is read once (``seen``), as it never changes once referred to
    (verify has just checked its SHA-256)."""
    found = dict(rows)
    conn = db.connect_readonly()
    try:
        records = segment_records(conn)
    finally:
        conn.close()
    where = archive_dir(db.path)
    for record in records:
        key = (record.name, record.sha256)
        if key not in seen:
            seen[key] = {int(r[0]): _fingerprint(r) for r in read_segment(where / record.name)}
        for seq, digest in seen[key].items():
            assert seq not in found, f"seq {seq} is both archived and in the log"
            found[seq] = digest
    return found


def _acknowledged(path: Path) -> set[int]:
    if not path.exists():
        return set()
    lines = path.read_bytes().split(b"\n")
    return {int(line) for line in lines[:-1] if line}  # the last piece may be cut short


def _first_seq(db: Database) -> int:
    conn = db.connect_readonly()
    try:
        return int(conn.execute("SELECT MIN(seq) FROM events").fetchone()[0])
    finally:
        conn.close()


def _wait_for_moment(db: Database, child: subprocess.Popen[bytes], rng: random.Random,
                     took: float, first: int) -> None:
    """Sleep until the moment to kill: mostly a random time of a whole run; else just
    after the segment appears (between its rename and the transaction), or just after the
    commit (catching up, reclaiming space), which random times seldom hit."""
    mode = rng.choices(("any time", "segment written", "committed"), (2, 1, 1))[0]
    if mode == "any time":
        time.sleep(rng.uniform(0.0, took))
        return
    where = archive_dir(db.path)
    before = set(os.listdir(where)) if where.is_dir() else set()
    deadline = time.monotonic() + took * 3
    while child.poll() is None and time.monotonic() < deadline:
        if mode == "segment written":
            now = set(os.listdir(where)) if where.is_dir() else set()
            if any(n.endswith(".jsonl.zst") for n in now - before):
                break
        elif _first_seq(db) != first:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.3))


def _archive(db: Database, days: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "daemon", "archive", "--db", str(db.path),
                             "--older-than", f"{days}d"], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_during_archives_loses_no_acknowledged_event(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("REALWORLD_CRASH_SEED", "20261206"))
    db = history_log(tmp_path / "log.db", days=DAYS, events=EVENTS)
    original = _rows(db)
    assert len(original) >= EVENTS
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    ack = tmp_path / "ack.txt"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writer = subprocess.Popen([sys.executable, str(script), str(db.path), str(ack)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outcomes = {"finished": 0, "unchanged": 0, "archived": 0, "killed_after_commit": 0,
                "orphan": 0}
    seen: dict[tuple[str, str], dict[int, str]] = {}
    try:
        # One whole run first: how long an archive takes here, to kill within it.
        days = DAYS - 2
        began = time.monotonic()
        done = _archive(db, days, env)
        assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""
        took = time.monotonic() - began
        assert verify(db).ok
        after = _rows(db)

        for kill in range(KILLS):
            days -= 1
            before = after
            child = _archive(db, days, env)
            _wait_for_moment(db, child, rng, took, min(before))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            if child.stderr is not None:
                child.stderr.close()
            if child.returncode == 0:
                outcomes["finished"] += 1

            report = verify(db)
            assert report.ok, (kill, report)
            acknowledged = _acknowledged(ack)  # first: each is in the log before it is here
            after = _rows(db)
            if min(after) == min(before):
                outcomes["unchanged"] += 1
                assert {s: after[s] for s in before} == before, f"kill {kill}: log changed"
            else:
                outcomes["archived"] += 1
                outcomes["killed_after_commit"] += child.returncode == -signal.SIGKILL
            assert report.archive is not None
            outcomes["orphan"] += bool(report.archive.orphans)
            everything = _everything(db, after, seen)
            lost = [seq for seq, digest in original.items() if everything.get(seq) != digest]
            assert not lost, f"kill {kill}: {len(lost)} events lost or changed, first {lost[0]}"
            missing = acknowledged - set(everything)
            assert not missing, f"kill {kill}: acknowledged seqs gone: {sorted(missing)[:5]}"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)

    print(f"\narchive took {took:.1f} s whole; after {KILLS} kills: {outcomes}")
    # The kills landed in every phase: before the segment, between it and the transaction
    # (an orphan), after the commit; and archiving went on through them.
    assert outcomes["unchanged"] >= 3 and outcomes["archived"] >= 3, outcomes
    assert outcomes["orphan"] >= 1 and outcomes["killed_after_commit"] >= 1, outcomes
    final = subprocess.run([sys.executable, "-m", "daemon", "archive", "--db", str(db.path),
                            "--older-than", f"{days - 1}d"], env=env, cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300, check=False)
    assert final.returncode == 0, final.stderr
    report = verify(db)
    assert report.ok and report.archive is not None and not report.archive.orphans
    assert all(s.status == "ok" for s in report.archive.segments)
    conn = db.connect_readonly()
    try:
        kinds = {r[0] for r in conn.execute("SELECT DISTINCT type FROM events")}
    finally:
        conn.close()
    assert LogArchived.TYPE in kinds

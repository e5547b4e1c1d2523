"""The projector: incremental catch-up equals a full replay, exactly once (invariant 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.log import events as ev
from daemon.log.database import Database
from daemon.log.events import Recorded, UnknownEventType
from daemon.log.hashchain import canonical_json
from daemon.log.schema import PROJECTION_DDL
from daemon.log.store import EventStore
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.model import Change, Projection, Put, State
from daemon.projections.projector import Projector, UnitOfWork, catch_up
from daemon.projections.replay import rebuild

from conftest import (
    EVENT_STRATEGIES,
    REPO_ROOT,
    append_all,
    append_raw,
    envelopes,
    event_lists,
    snapshot,
)


def checkpoints(db: Database) -> dict[str, int]:
    conn = db.connect_readonly()
    try:
        return dict(conn.execute("SELECT projection, position FROM projection_checkpoints"))
    finally:
        conn.close()


def scalar(db: Database, sql: str, *params: Any) -> Any:
    conn = db.connect_readonly()
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_lists(max_size=40), data=st.data())
def test_any_batching_gives_the_rows_of_one_full_replay(events: list[ev.Event],
                                                       data: st.DataObject) -> None:
    stamped = envelopes(events)
    with tempfile.TemporaryDirectory(prefix="rw-replay-") as tmp:
        incremental = Database.open(Path(tmp) / "incremental.db", create=True)
        kept: Projector | None = None
        with EventStore(incremental) as store:
            done = 0
            while done < len(stamped):
                chunk = data.draw(st.integers(1, 8), label="append")
                store.append(stamped[done:done + chunk])
                done += chunk
                for _ in range(data.draw(st.integers(0, 2), label="catch-ups")):
                    batch = data.draw(st.integers(1, 7), label="batch_size")
                    batches = data.draw(st.none() | st.integers(1, 3), label="max_batches")
                    # Sometimes a long-lived projector, sometimes a fresh one per call.
                    if data.draw(st.booleans(), label="fresh"):
                        with Projector(incremental, batch_size=batch) as projector:
                            projector.catch_up(max_batches=batches)
                    else:
                        kept = kept or Projector(incremental, batch_size=batch)
                        kept.catch_up(max_batches=batches)
        if kept is not None:
            kept.close()
        catch_up(incremental)

        full = Database.open(Path(tmp) / "full.db", create=True)
        with EventStore(full) as store:
            store.append(stamped)
        result = catch_up(full)
        assert result.applied == len(stamped)

        expected = snapshot(full)
        assert snapshot(incremental) == expected
        assert set(checkpoints(incremental).values()) <= {len(stamped)}
        rebuild(incremental)
        assert snapshot(incremental) == expected


# Mostly activities, between starts, ends and the events that read a session's row.
_activity_heavy = st.lists(st.one_of(
    *[EVENT_STRATEGIES[ev.ActivityRecorded]] * 6,
    *(EVENT_STRATEGIES[t] for t in (ev.SessionStarted, ev.SessionEnded, ev.SessionScored,
                                    ev.FindingDetected, ev.FindingResolved,
                                    ev.MetricSampled))), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_activity_heavy)
def test_runs_folded_at_once_give_the_rows_of_one_event_at_a_time(
        events: list[ev.Event]) -> None:
    stamped = envelopes(events)
    with tempfile.TemporaryDirectory(prefix="rw-fold-") as tmp:
        rows = []
        for batch_size in (1, 10_000):  # a run of one is the per-event handler
            db = Database.open(Path(tmp) / f"batch-{batch_size}.db", create=True)
            with EventStore(db) as store:
                store.append(stamped)
            with Projector(db, batch_size=batch_size) as projector:
                projector.catch_up()
            rows.append(snapshot(db))
        assert rows[0] == rows[1]


def test_a_deferred_run_is_folded_in_order_before_its_tables_are_read(db: Database) -> None:
    folded: list[list[int]] = []

    def fold(records: Sequence[Recorded], state: State) -> Sequence[Change]:
        folded.append([r.seq for r in records])
        return [Put("test_sessions", ("s",), {"runs": len(folded)})]

    owner = Projection("owner", ("test_sessions",), handlers={})
    events = [ev.SessionScored("s", 1.0)] * 3 + [ev.SessionEnded("s", "completed")]
    conn = db.connect()
    try:
        work = UnitOfWork(conn)
        for seq, event in enumerate(events, 1):
            work.defer(owner, type(event), fold, Recorded(seq, f"e{seq}", "t", event, "", ""))
        assert folded == [[1, 2, 3]]  # a new event type closed the first run
        assert work.get("issues", ("x",)) is None and folded == [[1, 2, 3]]
        assert work.get("test_sessions", ("s",)) == {"runs": 2}
        assert folded == [[1, 2, 3], [4]]
    finally:
        conn.close()


def test_catch_up_reports_progress_and_stops_at_max_batches(db: Database) -> None:
    append_all(db, [ev.SessionStarted("s", "/p", 1)]
               + [ev.SessionScored("s", float(i)) for i in range(9)])
    with Projector(db, batch_size=4) as projector:
        first = projector.catch_up(max_batches=1)
        assert (first.applied, first.position) == (4, 4)
        assert set(checkpoints(db).values()) == {4}
        rest = projector.catch_up()
        assert (rest.applied, rest.position) == (6, 10)
        idle = projector.catch_up()
        assert (idle.applied, idle.position) == (0, 10)
    assert set(checkpoints(db)) == {p.name for p in PROJECTIONS}
    assert scalar(db, "SELECT overall_score FROM test_sessions") == 8.0


def test_catch_up_on_an_empty_log_does_nothing(db: Database) -> None:
    result = catch_up(db)
    assert (result.applied, result.position) == (0, 0)
    assert checkpoints(db) == {}


def test_a_lagging_projection_catches_up_without_the_others_repeating(db: Database) -> None:
    append_all(db, [ev.SessionStarted("s", "/p", 1),
                    ev.ActivityRecorded("s", "a1", "c", "t", response_time_ms=1.0)])
    catch_up(db)
    # A projection added in a later release starts at 0 while the rest are at the end.
    conn = db.connect()
    conn.execute("DELETE FROM projection_checkpoints WHERE projection = 'activities'")
    # A new table, as a release that adds it creates it (its rows cannot be DELETEd).
    conn.execute("DROP TABLE activities")
    conn.executescript(PROJECTION_DDL["activities"])
    conn.close()
    append_all_after(db, [ev.ActivityRecorded("s", "a2", "c", "t", response_time_ms=3.0)])
    catch_up(db)
    assert scalar(db, "SELECT COUNT(*) FROM activities") == 2
    assert scalar(db, "SELECT total_activities FROM test_sessions") == 2
    assert scalar(db, "SELECT avg_response_time FROM test_sessions") == 2.0


def append_all_after(db: Database, events: list[ev.Event]) -> None:
    with EventStore(db) as store:
        store.append(envelopes(events, start=store.last_seq()))


def test_foreign_event_types_are_skipped_and_known_unreadable_ones_stop_the_batch(
        db: Database) -> None:
    append_all(db, [ev.SessionStarted("s", "/p", 1)])
    append_raw(db, "another_tool_event", 1, canonical_json({"x": 1}))
    append_all_after(db, [ev.SessionScored("s", 10.0)])
    result = catch_up(db)
    assert (result.applied, result.position) == (3, 3)
    assert scalar(db, "SELECT overall_score FROM test_sessions") == 10.0

    # A known type from a newer release: projecting past it would be wrong, so nothing moves.
    bad = append_raw(db, ev.SessionScored.TYPE, 99, canonical_json({"overall_score": 1.0}))
    with pytest.raises(UnknownEventType):
        catch_up(db)
    assert set(checkpoints(db).values()) == {bad - 1}
    assert scalar(db, "SELECT overall_score FROM test_sessions") == 10.0


def test_batches_share_a_transaction_and_an_unreadable_event_keeps_those_before_it(
        db: Database) -> None:
    append_all(db, [ev.SessionStarted("s", "/p", 1)]
               + [ev.SessionScored("s", float(i)) for i in range(5)])
    bad = append_raw(db, ev.SessionScored.TYPE, 99, canonical_json({"overall_score": 1.0}))
    append_all_after(db, [ev.SessionScored("s", 50.0)])
    # Batches of two, all in one transaction: the fourth holds the unreadable event.
    with (Projector(db, batch_size=2, commit_after=60.0) as projector,
          pytest.raises(UnknownEventType)):
        projector.catch_up()
    assert set(checkpoints(db).values()) == {bad - 1}
    assert scalar(db, "SELECT overall_score FROM test_sessions") == 4.0


# --- concurrency ----------------------------------------------------------------------

SESSIONS = ("c-1", "c-2", "c-3")


def _workload(rounds: int) -> list[list[ev.Event]]:
    batches: list[list[ev.Event]] = [[ev.SessionStarted(s, "/p", 0) for s in SESSIONS]]
    for r in range(rounds):
        batch: list[ev.Event] = []
        for s in SESSIONS:
            batch.append(ev.ActivityRecorded(s, f"{s}-{r}", "code_search", "search",
                                              response_time_ms=float(r), success=r % 3 != 0))
            batch.append(ev.SuggestionMade(s, "performance", "low", f"idea {r}"))
        batches.append(batch)
    return batches


def _assert_applied_exactly_once(db: Database, rounds: int) -> None:
    conn = db.connect_readonly()
    try:
        assert conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0] == 3 * rounds
        # Suggestions get fresh autoincrement ids, so a replayed event would show as a copy.
        assert conn.execute(
            "SELECT COUNT(*) FROM improvement_suggestions").fetchone()[0] == 3 * rounds
        totals = conn.execute(
            "SELECT total_activities, total_errors, avg_response_time FROM test_sessions")
        errors = sum(1 for r in range(rounds) if r % 3 == 0)
        assert totals.fetchall() == [(rounds, errors, (rounds - 1) / 2)] * 3
        last = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        positions = conn.execute("SELECT DISTINCT position FROM projection_checkpoints")
        assert positions.fetchall() == [(last,)]
    finally:
        conn.close()


def test_two_projectors_in_threads_apply_each_event_once(db: Database) -> None:
    rounds = 60
    writing = threading.Event()
    writing.set()
    errors: list[BaseException] = []

    def project(batch_size: int) -> None:
        try:
            with Projector(db, batch_size=batch_size) as projector:
                while writing.is_set():
                    projector.catch_up(max_batches=2)
                projector.catch_up()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=project, args=(n,)) for n in (3, 5)]
    for thread in threads:
        thread.start()
    with EventStore(db) as store:
        for batch in _workload(rounds):
            store.append([ev.Envelope(e) for e in batch])
    writing.clear()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    _assert_applied_exactly_once(db, rounds)
    expected = snapshot(db)
    rebuild(db)
    assert snapshot(db) == expected


PROJECTOR_PROCESS = """
import sys
from daemon.log.database import Database
from daemon.projections.projector import Projector

db = Database.open(sys.argv[1])
with Projector(db, batch_size=int(sys.argv[2])) as projector:
    for _ in range(200):
        projector.catch_up(max_batches=1)
    projector.catch_up()
"""


def test_two_projector_processes_apply_each_event_once(db: Database) -> None:
    rounds = 40
    with EventStore(db) as store:
        for batch in _workload(rounds):
            store.append([ev.Envelope(e) for e in batch])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", PROJECTOR_PROCESS, str(db.path), n],
                                 env=env) for n in ("2", "3")]
    for child in children:
        assert child.wait(timeout=60) == 0
    _assert_applied_exactly_once(db, rounds)

"""Events: registry, payload round trips, versions and upcasting (invariant 7)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import given, settings

from daemon import types
from daemon.log import events as ev
from daemon.log.database import Database
from daemon.log.events import (
    Event,
    Payload,
    UnknownEventType,
    format_ts,
    from_payload,
    register,
    to_payload,
    upcaster,
)
from daemon.log.hashchain import canonical_json
from daemon.log.store import read_events
from daemon.projections.projector import catch_up
from daemon.projections.verify import verify

from conftest import EVENT_STRATEGIES, any_event, append_all, append_raw, plain_connect


def _declared_event_classes() -> list[type[Event]]:
    return [
        obj for _, obj in inspect.getmembers(ev, inspect.isclass)
        if issubclass(obj, Event) and obj is not Event and obj.__module__ == ev.__name__
    ]


def test_every_declared_event_is_registered_and_generated_by_the_tests() -> None:
    # The replay property tests are only as good as their coverage of event types.
    declared = _declared_event_classes()
    assert declared
    assert {cls.TYPE: cls for cls in declared} == dict(
        (t, c) for t, c in ev.event_types().items() if c.__module__ == ev.__name__)
    assert set(declared) == set(EVENT_STRATEGIES)


@settings(max_examples=150, deadline=None)
@given(any_event)
def test_payload_round_trips_through_canonical_json(event: Event) -> None:
    payload = to_payload(event)
    assert "session_id" not in payload
    stored = json.loads(canonical_json(payload))
    assert from_payload(event.TYPE, event.VERSION, event.session_id, stored) == event


def test_register_refuses_a_second_class_for_a_type_and_a_class_without_type() -> None:
    @dataclass(frozen=True)
    class Impostor(Event):
        TYPE: ClassVar[str] = ev.SessionStarted.TYPE

    @dataclass(frozen=True)
    class Nameless(Event):
        pass

    with pytest.raises(TypeError, match="already registered"):
        register(Impostor)
    with pytest.raises(TypeError, match="no TYPE"):
        register(Nameless)
    assert ev.event_types()[ev.SessionStarted.TYPE] is ev.SessionStarted
    # Registering the same class again is harmless (a module imported twice).
    assert register(ev.SessionStarted) is ev.SessionStarted


def test_unknown_type_and_newer_version_are_refused() -> None:
    with pytest.raises(UnknownEventType, match="unknown event type"):
        from_payload("never_heard_of_it", 1, "s", {})
    with pytest.raises(UnknownEventType, match="newer than this code"):
        from_payload(ev.SessionScored.TYPE, ev.SessionScored.VERSION + 1, "s",
                     {"overall_score": 1.0})


def test_session_can_only_end_with_an_ended_status() -> None:
    with pytest.raises(ValueError, match="running"):
        ev.SessionEnded("s", status="running")
    for status in types.ENDED_STATUSES:
        assert ev.SessionEnded("s", status=status).status == status


def test_timestamps_are_utc_with_microseconds_and_must_be_aware() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert format_ts(moment) == "2024-01-02T01:04:05.000006+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ts(datetime(2024, 1, 2))


def test_envelopes_get_distinct_ids() -> None:
    first, second = ev.Envelope(ev.SessionScored("s", 1.0)), ev.Envelope(ev.SessionScored("s", 1.0))
    assert first.event_id != second.event_id


# --- upcasting -----------------------------------------------------------------

PROBE_TYPE = "test_only_probe_renamed"


@dataclass(frozen=True)
class ProbeV2(Event):
    """Version 2 renamed ``name`` to ``target`` and added ``attempts``."""

    TYPE: ClassVar[str] = PROBE_TYPE
    VERSION: ClassVar[int] = 2

    target: str
    attempts: int


def _probe_v1_to_v2(payload: Payload) -> Payload:
    lifted = {key: value for key, value in payload.items() if key != "name"}
    return {**lifted, "target": payload["name"], "attempts": 1}


@pytest.fixture
def probe_type() -> Iterator[type[ProbeV2]]:
    """Registered for one test only, so no other test sees a type it does not expect."""
    register(ProbeV2)
    upcaster(PROBE_TYPE, 1)(_probe_v1_to_v2)
    try:
        yield ProbeV2
    finally:
        # The registry has no public way to forget a type; tests alone need one.
        ev._REGISTRY.pop(PROBE_TYPE, None)
        ev._FIELD_NAMES.pop(ProbeV2, None)
        ev._UPCASTERS.pop((PROBE_TYPE, 1), None)


def test_a_stored_version_1_event_is_read_upcast_and_never_rewritten(
        db: Database, probe_type: type[ProbeV2]) -> None:
    append_all(db, [ev.SessionStarted("s-raw", "/p", 1)])
    old_payload = canonical_json({"name": "search"})
    seq = append_raw(db, PROBE_TYPE, 1, old_payload)
    append_raw(db, PROBE_TYPE, 2, canonical_json({"target": "index", "attempts": 3}))
    conn = plain_connect(db.path)
    before = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()

    read = {r.seq: r.event for r in read_events(conn)}
    assert read[seq] == probe_type("s-raw", target="search", attempts=1)
    assert read[seq + 1] == probe_type("s-raw", target="index", attempts=3)
    # Reading, projecting and verifying leave the stored rows exactly as they were.
    catch_up(db)
    assert verify(db).ok
    assert conn.execute("SELECT * FROM events ORDER BY seq").fetchall() == before
    assert conn.execute("SELECT version, payload FROM events WHERE seq = ?",
                        (seq,)).fetchone() == (1, old_payload)
    conn.close()


def test_a_version_without_an_upcaster_is_refused(probe_type: type[ProbeV2]) -> None:
    with pytest.raises(UnknownEventType, match="no upcaster"):
        from_payload(PROBE_TYPE, 0, "s", {})


def test_a_stored_event_newer_than_the_code_is_refused(db: Database) -> None:
    append_all(db, [ev.SessionStarted("s-raw", "/p", 1)])
    append_raw(db, ev.SessionScored.TYPE, ev.SessionScored.VERSION + 1,
               canonical_json({"overall_score": 5.0, "grade": "A"}))
    conn = db.connect_readonly()
    try:
        with pytest.raises(UnknownEventType, match="newer than this code"):
            list(read_events(conn))
    finally:
        conn.close()


def test_a_version_1_activity_is_upcast_with_its_cpu_time_unknown() -> None:
    payload = {"activity_id": "a", "capability": "code_search", "activity_type": "search",
               "response_time_ms": 5.0, "success": True}
    event = from_payload("activity_recorded", 1, "s", payload)
    assert isinstance(event, ev.ActivityRecorded)
    assert event.cpu_time_ms is None and event.response_time_ms == 5.0
    assert ev.ActivityRecorded.VERSION == 2

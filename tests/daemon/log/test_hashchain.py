"""The hash chain: canonical JSON, the event hash, and detection of every edit (invariant 1)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.log.events import SessionScored, to_payload
from daemon.log.hashchain import GENESIS_HASH, ChainRow, canonical_json, event_hash, first_break
from daemon.log.store import encode

from conftest import any_event, envelopes, event_lists

CHAIN_FIELDS = tuple(f.name for f in dataclasses.fields(ChainRow))
INT_FIELDS = ("seq", "version")


def chain(events: list[Any]) -> list[ChainRow]:
    return [ChainRow(*row) for row in encode(envelopes(events), 0, GENESIS_HASH)]


def test_canonical_json_is_sorted_compact_ascii() -> None:
    assert canonical_json({"b": 1, "a": [1.5, None, True], "é": "ü"}) == (
        '{"a":[1.5,null,true],"b":1,"\\u00e9":"\\u00fc"}')
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            canonical_json({"v": bad})


@settings(max_examples=100, deadline=None)
@given(any_event, st.integers(1, 2**62), st.text(max_size=20))
def test_event_hash_is_sha256_of_prev_and_the_canonical_event(
        event: Any, seq: int, ts: str) -> None:
    # The hash is assembled around the stored payload text; for a canonical payload it must
    # be the hash of the canonical document, so any tool can recompute it from the spec.
    payload = to_payload(event)
    document = {"event_id": "e-1", "payload": payload, "seq": seq,
                "session_id": event.session_id, "ts": ts, "type": event.TYPE,
                "version": event.VERSION}
    expected = hashlib.sha256((GENESIS_HASH + canonical_json(document)).encode()).hexdigest()
    assert event_hash(GENESIS_HASH, seq, "e-1", event.session_id, event.TYPE, event.VERSION,
                      ts, canonical_json(payload)) == expected


def test_equivalent_but_different_payload_text_hashes_differently() -> None:
    # Whitespace a JSON parser ignores is still an edit of the stored bytes.
    args = (GENESIS_HASH, 1, "e", "s", "t", 1, "ts")
    assert event_hash(*args, '{"a":1}') != event_hash(*args, '{"a": 1}')


@settings(max_examples=30, deadline=None)
@given(event_lists(max_size=15))
def test_an_untouched_chain_holds(events: list[Any]) -> None:
    rows = chain(events)
    assert first_break(rows) is None
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    if rows:
        assert rows[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


def _mutated(value: object, data: st.DataObject) -> object:
    """``value`` with one byte changed; text that stops being UTF-8 is kept as bytes, as
    SQLite would keep a BLOB written over the column."""
    if isinstance(value, int):
        return data.draw(st.integers(-(2**63), 2**63 - 1).filter(lambda v: v != value))
    assert isinstance(value, str)
    raw = bytearray(value.encode("utf-8"))
    index = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[index] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]), label="to")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(raw)


@settings(max_examples=300, deadline=None)
@given(event_lists(min_size=1, max_size=12), st.data())
def test_changing_any_byte_of_any_column_breaks_the_chain_at_that_row(
        events: list[Any], data: st.DataObject) -> None:
    rows = chain(events)
    index = data.draw(st.integers(0, len(rows) - 1), label="row")
    column = data.draw(st.sampled_from(CHAIN_FIELDS), label="column")
    # Any: an edited column may no longer hold the type ChainRow declares.
    edit: dict[str, Any] = {column: _mutated(getattr(rows[index], column), data)}
    edited = dataclasses.replace(rows[index], **edit)
    rows[index] = edited
    broken = first_break(rows)
    assert broken is not None
    assert broken.seq == edited.seq


@settings(max_examples=100, deadline=None)
@given(event_lists(min_size=2, max_size=12), st.data())
def test_deleting_a_row_breaks_the_chain_at_the_next_one(
        events: list[Any], data: st.DataObject) -> None:
    rows = chain(events)
    # The last row is excluded: a cut-off tail still links, which verify catches by
    # comparing the log's end with the projections' checkpoints.
    index = data.draw(st.integers(0, len(rows) - 2), label="row")
    deleted = rows.pop(index)
    broken = first_break(rows)
    assert broken is not None
    assert broken.seq == deleted.seq + 1


@settings(max_examples=100, deadline=None)
@given(event_lists(min_size=2, max_size=12), st.data())
def test_swapping_two_rows_breaks_the_chain_at_the_first(
        events: list[Any], data: st.DataObject) -> None:
    rows = chain(events)
    first = data.draw(st.integers(0, len(rows) - 2), label="first")
    second = data.draw(st.integers(first + 1, len(rows) - 1), label="second")
    # A reorder in the table: each position keeps its seq and gets the other's content.
    a, b = rows[first], rows[second]
    rows[first] = dataclasses.replace(b, seq=a.seq)
    rows[second] = dataclasses.replace(a, seq=b.seq)
    broken = first_break(rows)
    assert broken is not None
    assert broken.seq == a.seq


def test_a_row_read_back_in_another_order_breaks_at_the_first_out_of_place() -> None:
    rows = chain([SessionScored("s", float(i)) for i in range(5)])
    rows[1], rows[3] = rows[3], rows[1]
    broken = first_break(rows)
    assert broken is not None and broken.seq == 4 and "gap" in broken.reason


def test_a_chain_that_does_not_start_at_genesis_is_broken() -> None:
    rows = chain([SessionScored("s", 1.0), SessionScored("s", 2.0)])
    broken = first_break(rows[1:])
    assert broken is not None and broken.seq == 2


def test_unhashable_payload_is_a_break_not_a_crash() -> None:
    rows = chain([SessionScored("s", 1.0)])
    blob: Any = rows[0].payload.encode()  # what SQLite returns for a BLOB written over it
    as_blob = dataclasses.replace(rows[0], payload=blob)
    broken = first_break([as_blob])
    assert broken is not None and broken.seq == 1
    assert json.loads(rows[0].payload) == {"overall_score": 1.0}

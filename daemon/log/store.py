"""The append-only event log: one writer appends batches, readers read by position."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from daemon.log.database import Database, transaction
from daemon.log.events import Envelope, Event, Recorded, event_types, from_payload, to_payload
from daemon.log.hashchain import GENESIS_HASH, ChainRow, canonical_json, event_hash

_COLUMNS = "seq, event_id, session_id, type, version, ts, payload, prev_hash, hash"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

StoredRow = tuple[int, str, str, str, int, str, str, str, str]


def encode(envelopes: Sequence[Envelope], last_seq: int, last_hash: str) -> list[StoredRow]:
    """Turn envelopes into chained rows following ``(last_seq, last_hash)``; pure."""
    rows: list[StoredRow] = []
    prev_hash = last_hash
    seq = last_seq
    for envelope in envelopes:
        seq += 1
        event = envelope.event
        payload = canonical_json(to_payload(event))
        digest = event_hash(prev_hash, seq, envelope.event_id, event.session_id, event.TYPE,
                            event.VERSION, envelope.ts, payload)
        rows.append((seq, envelope.event_id, event.session_id, event.TYPE, event.VERSION,
                     envelope.ts, payload, prev_hash, digest))
        prev_hash = digest
    return rows


# 2**63 has 19 digits. orjson keeps integers exact only within 64 bits and returns a
# float beyond them, where json returns the int, so a run of 19 digits goes to json.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19


def load_payload(text: str) -> Any:
    """``json.loads(text)``, parsed by orjson where that gives the same value.

    Parsing the payloads is the largest cost of a replay after SQLite's own, and orjson
    parses them in under half the time. What it refuses that ``json`` reads (NaN and
    Infinity, escaped lone surrogates, numbers out of range) and what it would read
    differently (integers beyond 64 bits) goes through ``json.loads``, for its exact
    value or its error.
    """
    if type(text) is str:
        try:
            data = text.encode()
            if _LONG_DIGIT_RUN not in data.translate(_DIGITS_AS_ZERO):
                return orjson.loads(data)
        except (UnicodeEncodeError, orjson.JSONDecodeError):
            pass  # a lone surrogate, or what only json reads or rejects exactly
    return json.loads(text)


@dataclass(frozen=True)
class _Shape:
    """How to rebuild a current-version event of one class straight from its fields."""

    payload_keys: frozenset[str]  # every field but ``session_id``: a complete payload
    post_init: bool


_SHAPES: dict[type[Event], _Shape | None] = {}


def _shape(cls: type[Event]) -> _Shape | None:
    try:
        return _SHAPES[cls]
    except KeyError:
        shape = _SHAPES[cls] = _find_shape(cls)
        return shape


def _find_shape(cls: type[Event]) -> _Shape | None:
    """A :class:`_Shape` when ``cls(session_id=s, **payload)`` with a complete payload does
    nothing but fill the instance's ``__dict__`` and call ``__post_init__``: a frozen
    dataclass with no slots, no ``__new__`` of its own, and the ``__init__`` dataclasses
    wrote for it, taking exactly its fields. Anything else (and any partial payload) goes
    through :func:`from_payload`."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or cls.__new__ is not object.__new__:
        return None
    if any("__slots__" in vars(klass) for klass in cls.__mro__):
        return None
    # The __init__ dataclasses writes for a frozen class sets each field through this name;
    # a hand-written one does not (and should a Python release change it, all events simply
    # take the general path).
    code = getattr(cls.__init__, "__code__", None)
    if code is None or "__dataclass_builtins_object__" not in code.co_freevars + code.co_names:
        return None
    names = tuple(f.name for f in dataclasses.fields(cls))
    try:
        arguments = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if (tuple(a.name for a in arguments) != names
            or any(a.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for a in arguments)):
        return None  # an InitVar, an init=False field or a hand-written __init__
    return _Shape(frozenset(names) - {"session_id"}, hasattr(cls, "__post_init__"))


class Decoder:
    """Rebuilds stored rows as :class:`Recorded` events, with the event types registered
    when it was made; one decoder serves a batch of rows.

    An event of its class's current version whose payload holds exactly its fields is
    rebuilt the way ``pickle`` rebuilds a dataclass, by setting its ``__dict__`` and then
    running its ``__post_init__`` checks, which gives the same object as
    calling the class at a fraction of the cost of a frozen dataclass's ``__init__``.
    Everything else goes through :func:`from_payload`: upcasting, defaults, and errors.
    """

    def __init__(self) -> None:
        self._types = event_types()

    def knows(self, event_type: str) -> bool:
        return event_type in self._types

    def __call__(self, row: StoredRow) -> Recorded:
        seq, event_id, session_id, event_type, version, ts, payload, prev_hash, digest = row
        data = load_payload(payload)
        cls = self._types.get(event_type)
        if cls is not None and version == cls.VERSION and type(data) is dict:
            shape = _shape(cls)
            if shape is not None and data.keys() == shape.payload_keys:
                # The parsed dict, freshly made and ours, becomes the instance's __dict__;
                # its key order is the payload's, which nothing reads (fields() is the order).
                data["session_id"] = session_id
                event = object.__new__(cls)
                object.__setattr__(event, "__dict__", data)
                if shape.post_init:
                    event.__post_init__()  # type: ignore[attr-defined]
                return Recorded(seq, event_id, ts, event, prev_hash, digest, payload)
        event = from_payload(event_type, version, session_id, data)
        return Recorded(seq, event_id, ts, event, prev_hash, digest)


def decode(row: StoredRow) -> Recorded:
    """One stored row as a :class:`Recorded` event (a :class:`Decoder` is quicker for many)."""
    return Decoder()(row)


def append_in(conn: sqlite3.Connection, envelopes: Sequence[Envelope]) -> list[StoredRow]:
    """Chain ``envelopes`` onto the log's tail and insert them, inside the caller's write
    transaction (the archive appends its event in the one that deletes what it sealed)."""
    tail = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    last_seq, last_hash = tail if tail is not None else (0, GENESIS_HASH)
    rows = encode(envelopes, last_seq, last_hash)
    conn.executemany(_INSERT, rows)
    return rows


class EventStore:
    """Appends are serialised by a lock and by SQLite's write lock, so the chain never forks
    even when several processes share one log."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn = db.connect()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, envelopes: Sequence[Envelope]) -> list[StoredRow]:
        """Append a batch in one transaction; when this returns, the events are durable."""
        if not envelopes:
            return []
        with self._lock, transaction(self._conn) as conn:
            return append_in(conn, envelopes)

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)


_SELECT_AFTER = f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq"
_SELECT_AFTER_LIMIT = _SELECT_AFTER + " LIMIT ?"


def select_rows(conn: sqlite3.Connection, after_seq: int = 0,
                limit: int | None = None) -> sqlite3.Cursor:
    """A cursor over the rows after ``after_seq`` in order, to stream them; close it."""
    if limit is None:
        return conn.execute(_SELECT_AFTER, (after_seq,))
    return conn.execute(_SELECT_AFTER_LIMIT, (after_seq, limit))


def read_rows(conn: sqlite3.Connection, after_seq: int = 0,
              limit: int | None = None) -> list[StoredRow]:
    return list(select_rows(conn, after_seq, limit))


def _paged(conn: sqlite3.Connection, after_seq: int, page: int) -> Iterator[StoredRow]:
    """Every row after ``after_seq`` in order, a page at a time so a large log stays on disk."""
    while True:
        rows = read_rows(conn, after_seq, page)
        if not rows:
            return
        yield from rows
        after_seq = rows[-1][0]


def chain_rows(conn: sqlite3.Connection, page: int = 10_000) -> Iterator[ChainRow]:
    for row in _paged(conn, 0, page):
        yield ChainRow(*row)


def read_events(conn: sqlite3.Connection, after_seq: int = 0,
                session_id: str | None = None) -> Iterator[Recorded]:
    decode = Decoder()
    if session_id is None:
        yield from map(decode, _paged(conn, after_seq, 10_000))
        return
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
        (session_id, after_seq))
    yield from map(decode, cursor)

"""The log's hash chain: canonical JSON and SHA-256 links, pure functions only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

GENESIS_HASH = "0" * 64


# Built once: json.dumps with these options would build a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                              allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII, no NaN: the same text for the same value everywhere."""
    return _CANONICAL.encode(value)


def _quoted(text: str) -> str:
    if isinstance(text, str):
        return encode_basestring_ascii(text)  # what json.dumps does with a string
    return json.dumps(text, ensure_ascii=True)


def event_hash(prev_hash: str, seq: int, event_id: str, session_id: str, event_type: str,
               version: int, ts: str, payload_json: str) -> str:
    """SHA-256 over ``prev_hash`` and the canonical JSON of the whole event.

    The canonical document is assembled around the stored payload text rather
    than re-serialised from a parsed payload, so the hash covers every byte the
    log holds: an edit that leaves the JSON equivalent is still an edit.
    """
    # Keys in sorted order, exactly as canonical_json would write them.
    document = (
        '{"event_id":' + _quoted(event_id)
        + ',"payload":' + payload_json
        + ',"seq":' + str(int(seq))
        + ',"session_id":' + _quoted(session_id)
        + ',"ts":' + _quoted(ts)
        + ',"type":' + _quoted(event_type)
        + ',"version":' + str(int(version))
        + "}"
    )
    return hashlib.sha256((prev_hash + document).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    """One stored row of ``events`` exactly as read, the input of chain checks."""

    seq: int
    event_id: str
    session_id: str
    type: str
    version: int
    ts: str
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainStart:
    """Where a chain that does not begin at genesis must go on from: the last ``seq`` and
    ``hash`` before its first row (an archive's anchor; ``(0, GENESIS_HASH)``: seq 1)."""

    seq: int
    hash: str


def first_break(rows: Iterable[ChainRow], start: ChainStart | None = None) -> ChainBreak | None:
    """Walk rows in ``seq`` order; return the first one whose links do not hold.

    Without ``start`` the first row must link to the genesis hash; with it, the first row
    must be ``start.seq + 1`` and link to ``start.hash``.
    """
    expected_prev = GENESIS_HASH if start is None else start.hash
    expected_seq: int | None = None if start is None else start.seq + 1
    for row in rows:
        if expected_seq is not None and row.seq != expected_seq:
            return ChainBreak(row.seq, f"gap: expected seq {expected_seq}, found {row.seq}")
        if row.prev_hash != expected_prev:
            return ChainBreak(row.seq, "prev_hash does not match the previous event's hash")
        try:
            actual = event_hash(row.prev_hash, row.seq, row.event_id, row.session_id, row.type,
                                row.version, row.ts, row.payload)
        except (TypeError, ValueError) as exc:
            return ChainBreak(row.seq, f"row cannot be hashed: {exc}")
        if actual != row.hash:
            return ChainBreak(row.seq, "hash does not match the event's content")
        expected_prev = row.hash
        expected_seq = row.seq + 1
    return None

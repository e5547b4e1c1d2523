"""Findings as plain JSON data and back: what the analyzers put in their result-cache rows.

A finding is a JSON list in the field order of :class:`~analyzers.base.Finding` (its text is
already masked, so the row holds nothing the log does not); a set of fingerprints is a
list of strings. Reading back refuses what does not have that shape (a row another
version wrote): the caller then looks at the file again.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from analyzers.base import Finding

_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def finding_to_data(finding: Finding) -> list[Any]:
    """A finding as a JSON list, in field order (its text is already masked)."""
    return [getattr(finding, name) for name in _FINDING_FIELDS]


def finding_from_data(data: object) -> Finding | None:
    """The finding back, or ``None`` for a row that is not one (another version's)."""
    if not isinstance(data, list) or len(data) != len(_FINDING_FIELDS):
        return None
    values = dict(zip(_FINDING_FIELDS, data, strict=True))
    if not isinstance(values["line"], int) or not all(
            isinstance(v, str) for k, v in values.items() if k != "line"):
        return None
    return Finding(**values)


def findings_from_data(data: object) -> tuple[Finding, ...] | None:
    """A list of findings back, or ``None`` if any is malformed (the row is then ignored)."""
    if not isinstance(data, list):
        return None
    found = [finding_from_data(item) for item in data]
    return None if any(f is None for f in found) else tuple(f for f in found if f is not None)


def strings_from_data(data: object) -> frozenset[str] | None:
    """A set of strings (fingerprints) back, or ``None`` when ``data`` is not a list of them."""
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        return None
    return frozenset(data)

"""A learner's :class:`~analyzers.patterns.profile.Profile` of one file as plain JSON data
and back.

The pattern probe keeps it in the result cache (:mod:`analyzers.common.result_cache`) so a
restarted daemon still knows each file's "before". A profile holds shapes, lines,
qualified names and excerpts rebuilt from the tree, never the file's text, so it is
as safe to store as the events the learner already produces.
"""

from __future__ import annotations

from typing import Any

from analyzers.patterns.matcher import Occurrence
from analyzers.patterns.profile import Pending, Profile


def profile_to_data(profile: Profile) -> dict[str, Any]:
    return {
        "parsed": profile.parsed,
        "occurrences": [[o.shape, o.line, o.context, o.excerpt] for o in profile.occurrences],
        "fix_counts": [[context, shape, count]
                       for (context, shape), count in profile.fix_counts.items()],
        "pending": [[p.shape, p.context, p.line, p.excerpt, p.remaining]
                    for p in profile.pending],
    }


def profile_from_data(data: object) -> Profile | None:
    """The profile back, or ``None`` when ``data`` is not one (another version's row)."""
    if not isinstance(data, dict) or not isinstance(data.get("parsed"), bool):
        return None
    occurrences = _rows(data.get("occurrences"), (str, int, str, str))
    fix_counts = _rows(data.get("fix_counts"), (str, str, int))
    pending = _rows(data.get("pending"), (str, str, int, str, int))
    if occurrences is None or fix_counts is None or pending is None:
        return None
    return Profile(
        parsed=data["parsed"],
        occurrences=tuple(Occurrence(*row) for row in occurrences),
        fix_counts={(row[0], row[1]): row[2] for row in fix_counts},
        pending=tuple(Pending(*row) for row in pending))


def _rows(value: object, types: tuple[type, ...]) -> list[list[Any]] | None:
    if not isinstance(value, list):
        return None
    for row in value:
        if not isinstance(row, list) or len(row) != len(types) or not all(
                isinstance(item, kind) and not (kind is int and isinstance(item, bool))
                for item, kind in zip(row, types, strict=True)):
            return None
    return value

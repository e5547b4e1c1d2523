"""Reading projection rows: the coercions every analysis of them shares, defined once.

A row is a dict keyed by a projection table's column names, as SQLite returned it, so
any value may be missing, ``None`` or of an unexpected type; these functions say what
such a value counts as.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

Row = Mapping[str, Any]

# The capabilities the periodic samples are recorded under in performance_metrics.
PROCESS_CAPABILITY: Final = "realworld"  # the daemon's own process
SYSTEM_CAPABILITY: Final = "system"  # the whole machine


def epoch(value: Any) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp; naive ones are taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def number(value: Any) -> float | None:
    """A column's value as a float; None for NULL, booleans and text that is no number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def finite(value: Any) -> float | None:
    """As :func:`number`, and None for NaN and infinities too."""
    found = number(value)
    return found if found is not None and math.isfinite(found) else None


def succeeded(row: Row) -> bool:
    """Whether an activity row records a success."""
    value = row.get("success")
    if value is None:
        # No verdict recorded: an error message is the only evidence of failure.
        return row.get("error_message") is None
    return bool(value)


def short_message(message: str, limit: int = 80) -> str:
    """An error message on one line of at most ``limit`` characters, for quoting it."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def result_data(row: Row) -> dict[str, Any] | None:
    """An activity's ``result_data`` (stored as JSON text) as a dict; None if it is none."""
    text = row.get("result_data")
    if isinstance(text, dict):
        return text
    if not isinstance(text, (str, bytes)):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def is_full_pass(row: Row) -> bool:
    """Whether an activity was a call over the whole workspace (the runner marks those)."""
    text = row.get("result_data")
    if isinstance(text, str) and "full_pass" not in text:
        return False  # most calls are change batches: no need to parse their data
    data = result_data(row)
    return data is not None and data.get("full_pass") is True


def stored_bool(value: Any) -> bool | None:
    """A boolean column (SQLite stores 0/1) as a bool, keeping NULL as None."""
    return None if value is None else bool(value)


def in_session(rows: Iterable[Row], session_id: str) -> list[Row]:
    """The rows of ``session_id`` and those without a session; every row when it is empty."""
    if not session_id:
        return list(rows)
    return [r for r in rows if r.get("session_id") in (None, session_id)]


def in_time_order(rows: Sequence[Row]) -> list[Row]:
    """Rows by ``timestamp``, stable among equal times."""
    # Unparseable timestamps sort last, keeping their given order among themselves.
    keyed = [(epoch(r.get("timestamp")), i, r) for i, r in enumerate(rows)]
    keyed.sort(key=lambda item: (item[0] is None, item[0] or 0.0, item[1]))
    return [r for _, _, r in keyed]


def metric_values(metrics: Sequence[Row], capability: str, metric_type: str,
                  unit: str) -> list[tuple[float | None, float]]:
    """(epoch, value) of the numeric ``performance_metrics`` rows of one kind, in row order."""
    found: list[tuple[float | None, float]] = []
    for row in metrics:
        if (row.get("capability") == capability and row.get("metric_type") == metric_type
                and row.get("unit") == unit):
            value = number(row.get("value"))
            if value is not None:
                found.append((epoch(row.get("timestamp")), value))
    return found

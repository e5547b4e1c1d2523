"""Durations as people type them: ``10`` (minutes, as in the spec), ``30s``, ``5m``, ``1h``."""

from __future__ import annotations

import re

_UNITS = {"s": 1 / 60, "m": 1.0, "h": 60.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", re.IGNORECASE)
# Past this, datetime and the scheduler overflow; for no end at all there is --continuous.
MAX_MINUTES = 10 * 366 * 24 * 60.0


def parse_minutes(text: str) -> float:
    """Minutes in ``text``; a bare number is minutes. Raises ValueError with a clear message."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: use minutes (10) or 30s, 5m, 1h")
    value = float(match.group(1)) * _UNITS[(match.group(2) or "m").lower()]
    if value <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero")
    if value > MAX_MINUTES:
        raise ValueError(f"invalid duration {text!r}: at most 10 years (or use --continuous)")
    return value


def parse_seconds(text: str) -> float:
    """Seconds in ``text``; a bare number is seconds (the spec's --monitor-interval)."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"invalid interval {text!r}: use seconds (30) or 30s, 5m, 1h")
    unit = (match.group(2) or "s").lower()
    value = float(match.group(1)) * _UNITS[unit] * 60
    if value <= 0:
        raise ValueError(f"invalid interval {text!r}: it must be longer than zero")
    if value > MAX_MINUTES * 60:
        raise ValueError(f"invalid interval {text!r}: at most 10 years")
    return value


def format_clock(seconds: float) -> str:
    """``0:04:30``, the spec's console clock."""
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

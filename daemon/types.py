"""The daemon's shared vocabulary, each word defined once: severities and confidences,
session statuses, stable ids, how paths are stored, what a percentile is.

What the analyzers share with the daemon is defined in the analyzers package (the
lower one) and named here, so daemon code has one place to import vocabulary from.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from analyzers.base import CONFIDENCE_RANK, CONFIDENCES, SEVERITIES, SEVERITY_RANK, severity_rank
from analyzers.common.percentiles import percentile
from analyzers.common.sqlpaths import path_from_sql, path_to_sql

__all__ = [
    "CONFIDENCES",
    "CONFIDENCE_RANK",
    "ENDED_STATUSES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "SessionStatus",
    "path_from_sql",
    "path_to_sql",
    "percentile",
    "severity_rank",
    "stable_id",
]

SessionStatus = Literal["running", "completed", "stopped", "error", "expired"]
ENDED_STATUSES: frozenset[str] = frozenset({"completed", "stopped", "error", "expired"})


def stable_id(*parts: str) -> str:
    """The same id for the same parts: a condition that recurs names the same row (an
    issue per session and condition, a quarantine per file and content)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]

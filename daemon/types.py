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
    "METRIC_TYPES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "SessionStatus",
    "path_from_sql",
    "path_to_sql",
    "percentile",
    "severity_rank",
    "stable_id",
    "ux_quality_score",
]

SessionStatus = Literal["running", "completed", "stopped", "error", "expired"]
ENDED_STATUSES: frozenset[str] = frozenset({"completed", "stopped", "error", "expired"})


def stable_id(*parts: str) -> str:
    """The same id for the same parts: a condition that recurs names the same row (an
    issue per session and condition, a quarantine per file and content)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


# The ``metric_type`` values of ``performance_metrics``: the spec's five, then the speed and
# latency measures its "UX Quality Metrics" name. Scenarios add their own figures' names.
RESPONSE_TIME = "response_time"  # ms, one row per call
CPU_USAGE = "cpu_usage"  # percent (system-wide; of one core for a process or a call)
MEMORY_USAGE = "memory_usage"  # percent (system) or MB (a process's RSS)
DISK_USAGE = "disk_usage"  # percent of the workspace's filesystem
ACCURACY = "accuracy"  # ratio 0-1; the context names the figure
UX_QUALITY = "ux_quality"  # the spec's 0-1 quality score of one call's response time
MS_PER_FILE = "ms_per_file"  # indexing and scanning speed
TIME_TO_FIRST_RESULT = "time_to_first_result"  # ms from the session's start
METRIC_TYPES: tuple[str, ...] = (RESPONSE_TIME, CPU_USAGE, MEMORY_USAGE, DISK_USAGE, ACCURACY,
                                 UX_QUALITY, MS_PER_FILE, TIME_TO_FIRST_RESULT)


def ux_quality_score(ms: float) -> float:
    """The spec's 0-1 "Quality Score" of one response time (boundaries as in
    :mod:`daemon.read.analysis.grades`)."""
    if ms < 100:
        return 1.0
    if ms < 500:
        return 0.8
    if ms <= 2000:
        return 0.5
    return 0.2

"""Learned patterns back from the log: what the Mistake Learner knew before this process.

An analyzer is built by a zero-argument factory and cannot read the log, so the
session hands it what it learned earlier: an analyzer with a ``seed(patterns)``
method gets the ``learned_patterns`` rows of sessions on the same workspace (paths
in them are relative to it), oldest first, so its warnings keep citing the first
fix seen. Seeding is best effort: a failure is logged and the session goes on
with a learner that starts empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from analyzers.base import Analyzer, Seeding
from daemon.log.database import Database
from daemon.projections.projector import catch_up
from daemon.read.queries import load_learned

log = structlog.get_logger("realworld.learned")


def seed_analyzers(db: Database, project: str | Path, analyzers: Sequence[Analyzer]) -> int:
    """Give every analyzer that has ``seed`` the patterns learned on ``project``; how many
    patterns were read. Never raises: a session starts with an empty learner rather than
    not at all."""
    seedable = [a for a in analyzers if isinstance(a, Seeding)]
    if not seedable:
        return 0
    try:
        catch_up(db)  # patterns the previous process appended but did not project yet
        patterns = load_learned(db, project)
    except Exception as exc:
        log.warning("learned_patterns_unreadable", error=f"{type(exc).__name__}: {exc}")
        return 0
    for analyzer in seedable:
        try:
            analyzer.seed(patterns)
        except Exception as exc:
            log.warning("seed_failed", capability=analyzer.name,
                        error=f"{type(exc).__name__}: {exc}")
    return len(patterns)

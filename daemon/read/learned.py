"""Learned patterns back from the log: what the Mistake Learner knew before this process.

An analyzer is built by a zero-argument factory and cannot read the log, so the
session hands it what it learned earlier: an analyzer with a ``seed(patterns)``
method gets the ``learned_patterns`` rows of sessions on the same workspace (paths
in them are relative to it), oldest first, so its warnings keep citing the first
fix seen. Seeding is best effort: a failure is logged and the session goes on
with a learner that starts empty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import structlog

from analyzers.base import Analyzer, LearnedPattern, Seeding
from daemon.log.database import Database
from daemon.projections.projector import catch_up

log = structlog.get_logger("realworld.learned")

MAX_SEEDED = 2_000  # the learner keeps a bounded number per shape anyway

_QUERY = """
SELECT lp.shape, lp.path, lp.line, MIN(lp.fix), MIN(lp.before_excerpt), MIN(lp.after_excerpt),
       MIN(lp.first_learned) AS first
FROM learned_patterns AS lp JOIN test_sessions AS s USING (session_id)
WHERE s.project_path = ?
GROUP BY lp.shape, lp.path, lp.line
ORDER BY first, lp.shape, lp.line
LIMIT ?
"""


def load_learned(db: Database, project: str | Path, *,
                 limit: int = MAX_SEEDED) -> tuple[LearnedPattern, ...]:
    """The patterns learned on ``project`` (as the session recorded its path), oldest first;
    one per shape and place however many sessions learned it."""
    conn = db.connect_readonly()
    try:
        rows = conn.execute(_QUERY, (str(project), limit)).fetchall()
    finally:
        conn.close()
    return tuple(
        LearnedPattern(shape=str(shape), fix=str(fix or ""), path=_path(path), line=int(line),
                       before_excerpt=str(before or ""), after_excerpt=str(after or ""))
        for shape, path, line, fix, before, after, _first in rows)


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


def _path(stored: object) -> str:
    # A name that is not UTF-8 is stored as its bytes (daemon.watch.snapshot.path_to_sql).
    return os.fsdecode(stored) if isinstance(stored, bytes) else str(stored)

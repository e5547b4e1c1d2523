"""Recovering from failed calls: retries within a call, and episodes of follow-up calls.

A call that raises a transient error is tried again at once, after a backoff
(:func:`analyze_with_retries`, on the call's own thread). Anything else a finished
call's outcome calls for is decided by :class:`Recovery` on the runner's coordinating
thread, by the rules of :mod:`daemon.run.recovery`: files that failed transiently are
retried, a crashed change batch is split to isolate the file that broke it, and a file
that crashes its analyzer twice with the same bytes is quarantined until its content
changes. The follow-up calls of one failure form an :class:`Episode`, recorded as one
``error_recovery`` activity once the last of them is done.

:class:`Recovery` emits nothing: each method returns the records (batches of events
appended together, see :mod:`daemon.run.records`) in the order they happened, and the
runner appends them. It reads the files it judges (their digests) and the clock.

Kept apart from :mod:`daemon.run.recovery`, whose rules are pure: an episode is state
that lives across calls and rounds, and it needs the workspace and the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from analyzers.base import AnalysisResult, Analyzer, FileFailure, is_transient, safe_text
from daemon.log.events import Event
from daemon.run.records import (
    Failure,
    Outcome,
    error_message,
    outcome_error,
    quarantine_events,
    recovery_activity,
    release_events,
)
from daemon.run.recovery import Quarantine, Quarantined, RetryPolicy, split_for_isolation
from daemon.watch.scan import read_state
from daemon.watch.snapshot import FileState

log = structlog.get_logger("realworld.recovery")

#: Events appended together, in one transaction.
Record = tuple[Event, ...]


def content_digest(root: Path, path: str) -> str | None:
    """SHA-256 of a workspace file's bytes, read the way the watcher reads them; ``None``
    when it cannot be read (gone, a directory or a link now, unreadable): such a file is
    released rather than kept in quarantine."""
    state = read_state(str(root), path, max_hash_bytes=None)
    return state.content_hash if isinstance(state, FileState) else None


@dataclass(frozen=True)
class Attempts:
    """What a call came to after its retries: the outcome, the tries it took, and the
    errors of the tries that were retried."""

    outcome: Outcome
    attempts: int
    retry_errors: tuple[str, ...] = ()


def analyze_with_retries(analyzer: Analyzer, root: Path, paths: Sequence[str],
                         retry: RetryPolicy, given_up: Callable[[], bool]) -> Attempts:
    """Call the analyzer, again after a backoff while it fails transiently (a locked or
    busy file, a database lock) and the call has not been given up on."""
    errors: list[str] = []
    attempts = 0
    while True:
        attempts += 1
        try:
            value = analyzer.analyze(root, paths)
        except BaseException as exc:  # even SystemExit: here it would only end this thread
            if not (is_transient(exc) and retry.may_retry(attempts) and not given_up()):
                return Attempts(exc, attempts, tuple(errors))
            errors.append(error_message(exc))
            time.sleep(retry.delay(attempts))
            continue
        if isinstance(value, AnalysisResult):
            return Attempts(value, attempts, tuple(errors))
        return Attempts(Failure("invalid_result", f"analyze returned {type(value).__name__}, "
                                                  "not an AnalysisResult"),
                        attempts, tuple(errors))


@dataclass
class Episode:
    """One failure and the follow-up calls recovering from it, recorded as one activity
    once the last of them is done."""

    action: str  # retry | isolate
    analyzer: str
    paths: tuple[str, ...]
    failed_at: float
    errors: list[str]
    outstanding: int = 1  # the call that failed is its first step
    recovered: bool = True
    attempts: int = 1
    quarantined: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FollowUp:
    """A call recovery asks for: the same analyzer on ``paths``, after ``delay_s``."""

    paths: tuple[str, ...]
    episode: Episode
    delay_s: float = 0.0


@dataclass(frozen=True)
class Plan:
    """What a call's outcome calls for: the follow-up calls, and what to record now."""

    calls: tuple[FollowUp, ...] = ()
    records: tuple[Record, ...] = ()


class Recovery:
    """The episodes of one runner, and the quarantine its analyzers' files are held in.

    Not thread-safe: the runner calls it from its coordinating thread only.
    """

    def __init__(self, *, session_id: str, workspace: str, root: Path, retry: RetryPolicy,
                 quarantine: Quarantine) -> None:
        self._session_id = session_id
        self._workspace = workspace
        self._root = root
        self._retry = retry
        self.quarantine = quarantine

    # --- the quarantine gate --------------------------------------------------

    def admit(self, capability: str, paths: tuple[str, ...]) -> tuple[tuple[str, ...],
                                                                       list[Record]]:
        """``paths`` less the files quarantined for ``capability`` whose bytes are the ones
        it failed on; a quarantined file with other bytes (or gone) is released."""
        kept: list[str] = []
        records: list[Record] = []
        for path in paths:
            item = self.quarantine.get(capability, path)
            if item is None:
                kept.append(path)
                continue
            digest = content_digest(self._root, path)
            if digest == item.content_hash:
                continue
            records.append(self._release(
                item, "its content changed" if digest is not None else "it is gone"))
            kept.append(path)
        return tuple(kept), records

    def release_changed(self) -> list[Record]:
        """Release every quarantined file whose bytes changed (or that is gone)."""
        records: list[Record] = []
        for item in list(self.quarantine.held.values()):
            records += self.admit(item.capability, (item.path,))[1]
        return records

    def _release(self, item: Quarantined, reason: str) -> Record:
        self.quarantine.release(item.capability, item.path)
        return tuple(release_events(self._session_id, self._workspace, item, reason))

    # --- episodes -------------------------------------------------------------

    def follow_ups(self, capability: str, paths: tuple[str, ...], episode: Episode | None,
                   outcome: Outcome) -> Plan:
        """What recovering from a call's outcome takes; closes the episodes whose last
        step this call was. ``episode`` is the one the call was made for, if any."""
        records: list[Record] = []
        follow: list[FollowUp] = []
        if isinstance(outcome, AnalysisResult):
            follow = self._after_file_failures(capability, episode, outcome.failures, records)
        elif paths:  # a change batch (or a follow-up) failed as a whole
            error = outcome_error(outcome)
            transient = isinstance(outcome, BaseException) and is_transient(outcome)
            if len(paths) > 1 and not transient:
                isolating = episode or self._open("isolate", capability, paths, error)
                follow = [FollowUp(part, isolating) for part in split_for_isolation(paths)]
            elif len(paths) == 1 and not transient:
                follow = self._after_crash(capability, episode, paths[0], error, records)
            elif episode is not None:
                episode.recovered = False  # a transient failure its retries did not cure
        # An episode opened here counts this call as its first step; one it carried on
        # from counts this call already. Either way this call's step is now done.
        episodes: dict[int, Episode] = {}
        for follow_up in follow:
            follow_up.episode.outstanding += 1
            episodes[id(follow_up.episode)] = follow_up.episode
        if episode is not None:
            episodes[id(episode)] = episode
        for each in episodes.values():
            records += self._step_done(each)
        if follow:
            log.info("recovering", analyzer=capability, follow_ups=len(follow))
        return Plan(tuple(follow), tuple(records))

    def give_up(self, episode: Episode) -> list[Record]:
        """A step of ``episode`` that could not be taken (its analyzer was still busy, or
        the rounds ran out): the episode did not recover."""
        episode.recovered = False
        return self._step_done(episode)

    def _after_file_failures(self, capability: str, episode: Episode | None,
                             failures: Sequence[FileFailure],
                             records: list[Record]) -> list[FollowUp]:
        follow: list[FollowUp] = []
        transient = tuple(dict.fromkeys(f.path for f in failures if f.kind == "transient"))
        if transient:
            retrying = episode if episode is not None and episode.action == "retry" else None
            attempts = retrying.attempts if retrying is not None else 1
            if self._retry.may_retry(attempts):
                errors = [f.error for f in failures if f.kind == "transient"]
                if retrying is None:
                    retrying = self._open("retry", capability, transient, errors[0])
                else:
                    retrying.errors += errors
                retrying.attempts = attempts + 1
                follow.append(FollowUp(transient, retrying, self._retry.delay(attempts)))
            elif retrying is not None:
                retrying.recovered = False
        for failure in failures:
            if failure.kind != "transient" and failure.path not in transient:
                follow += self._after_crash(capability, episode, failure.path, failure.error,
                                            records)
        return follow

    def _after_crash(self, capability: str, episode: Episode | None, path: str, error: str,
                     records: list[Record]) -> list[FollowUp]:
        """One file made the analyzer fail: count it; the second time, quarantine."""
        digest = content_digest(self._root, path)
        if digest is None:
            return []  # gone or unreadable now: nothing left to protect the analyzer from
        item = self.quarantine.record_crash(capability, path, digest, error)
        if item is not None:
            records.append(tuple(quarantine_events(self._session_id, self._workspace, item)))
            # Info, not warning: the issue and the console line already tell the user; the
            # daemon's journal (info) still gets it.
            log.info("file_quarantined", path=safe_text(path), capability=capability,
                     crashes=item.crashes, error=item.error)
            if episode is not None:
                episode.quarantined.append(path)
            started = episode.failed_at if episode is not None else time.monotonic()
            records.append((recovery_activity(
                session_id=self._session_id, action="quarantine", analyzer=capability,
                paths=(path,), recovered=True,
                time_to_recover_ms=(time.monotonic() - started) * 1000.0,
                attempts=item.crashes, errors=(error,)),))
            return []
        # Once is not proof: a worker killed by its neighbour's memory, a race with an edit.
        # The file alone, at once, tells an accident from a file that breaks the analyzer.
        return [FollowUp((path,), episode or self._open("retry", capability, (path,), error))]

    @staticmethod
    def _open(action: str, capability: str, paths: tuple[str, ...], error: str) -> Episode:
        return Episode(action, capability, paths, time.monotonic(), [error])

    def _step_done(self, episode: Episode) -> list[Record]:
        episode.outstanding -= 1
        if episode.outstanding > 0:
            return []
        if set(episode.paths) <= set(episode.quarantined):
            return []  # every file of it was quarantined: those activities tell the story
        detail = f"{len(episode.quarantined)} quarantined" if episode.quarantined else ""
        return [(recovery_activity(
            session_id=self._session_id, action=episode.action, analyzer=episode.analyzer,
            paths=episode.paths, recovered=episode.recovered,
            time_to_recover_ms=(time.monotonic() - episode.failed_at) * 1000.0,
            attempts=episode.attempts, errors=episode.errors, detail=detail),)]

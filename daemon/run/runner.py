"""Running the analyzers on a settled batch: bounded, with a deadline per call, every call recorded.

Each call becomes exactly one ``ActivityRecorded`` handed to ``emit`` (with the
call's findings in the same batch, so they land in one transaction). A call that
raises, times out or returns nonsense is an error activity; the session goes on.

Why a thread per call rather than a ``ThreadPoolExecutor`` or processes:

* Threads, because analyzers keep state between calls (churn counters, index
  connections) and their results come back without pickling; their work is
  mostly file and SQLite IO, which releases the GIL.
* Our own daemon threads, because a thread cannot be killed: a call that times
  out is abandoned and keeps running. A pool's worker would stay occupied by it
  (two hung calls would stall every later batch) and ``ThreadPoolExecutor`` joins
  its workers at interpreter exit, so one hung analyzer would hang ``realworld``'s
  exit too. Here a timed-out call frees its slot at once, its daemon thread dies
  with the process, and the analyzer is skipped (an error activity) until that
  call returns, so calls to one analyzer never overlap and the number of threads
  stays bounded by ``max_workers`` plus one per hung analyzer.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analyzers.base import (
    FULL_PASS,
    AnalysisResult,
    Analyzer,
    Closing,
    Excluding,
    FileFailure,
    Interruptible,
    Probing,
    is_transient,
    safe_text,
)
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    Event,
    FileQuarantined,
    FileReleased,
    FindingDetected,
    FindingResolved,
    IssueDetected,
    IssueUpdated,
    PatternLearned,
)
from daemon.run.measure import (
    Failure,
    Measurement,
    Meter,
    Outcome,
    Started,
    activity_event,
    error_message,
)
from daemon.run.recovery import (
    MAX_FOLLOW_UP_ROUNDS,
    Quarantine,
    Quarantined,
    RetryPolicy,
    content_digest,
    recovery_activity,
    split_for_isolation,
)
from daemon.types import stable_id

log = logging.getLogger(__name__)

Emit = Callable[[Sequence[Envelope]], None]
OnActivity = Callable[[ActivityRecorded], None]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WORKERS = 2
#: How long an ending session waits for running calls to reach a file boundary. Well
#: inside the 5 s a service gets to stop, with the log's own flush after it.
STOP_GRACE_S = 2.5


@dataclass
class _Episode:
    """One failure and the follow-up calls recovering from it, recorded as one activity
    once the last of them is done."""

    action: str  # retry | isolate
    analyzer: str
    paths: tuple[str, ...]
    failed_at: float
    errors: list[str]
    outstanding: int = 0
    recovered: bool = True
    attempts: int = 1
    quarantined: list[str] = field(default_factory=list)


@dataclass
class _Call:
    """One call's bookkeeping, shared by the coordinator and its worker under the runner's lock."""

    analyzer: Analyzer
    paths: tuple[str, ...]
    episode: _Episode | None = None  # set on a follow-up call made to recover
    delay_s: float = 0.0  # a retry's backoff, waited by its worker before the call
    launched_at: float = 0.0
    attempts: int = 0  # tries of this call, retries of transient failures included
    retry_errors: tuple[str, ...] = ()
    measurement: Measurement | None = None
    outcome: Outcome | None = None
    started: Started | None = None  # set by the worker once it has taken its readings
    finished: bool = False
    abandoned: bool = False


class Runner:
    """Calls the analyzers on each batch and records every call.

    ``run_batch`` and ``run_full_pass`` block until each call of the batch has
    finished or timed out; batches run one at a time (a second caller waits).
    ``emit`` is called on the calling thread, once per call, with the activity
    first; if it raises, the exception propagates (the log is the source of truth,
    so a session that cannot write it cannot go on).
    """

    def __init__(self, analyzers: Sequence[Analyzer], emit: Emit, session_id: str, root: Path,
                 *, timeout_s: float = DEFAULT_TIMEOUT_S, max_workers: int = DEFAULT_MAX_WORKERS,
                 on_activity: OnActivity | None = None, meter: Meter | None = None,
                 retry: RetryPolicy | None = None, quarantine: Quarantine | None = None,
                 workspace: str | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        names = [a.name for a in analyzers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"analyzers with the same name: {', '.join(duplicates)}")
        self._analyzers = tuple(analyzers)
        self._emit = emit
        self._session_id = session_id
        self._root = Path(root)
        self._timeout_s = timeout_s
        self._max_workers = max_workers
        self._on_activity = on_activity
        self._meter = meter if meter is not None else Meter()
        self._lock = threading.Lock()  # guards _busy, _running, _closing and _Call flags
        self._settled = threading.Condition(self._lock)  # notified as each call returns
        self._batch_lock = threading.Lock()
        self._busy: set[str] = set()
        self._running: list[_Call] = []  # launched and not yet returned, abandoned included
        self._stopping = threading.Event()
        self._stop_deadline = 0.0
        self._outbox: queue.SimpleQueue[_Call | None] | None = None  # the batch's, if any
        self._closing: set[str] = set()  # closed by their call's thread when it returns
        self._closed = False
        self._consecutive_errors = 0
        self._errors_by_capability: dict[str, int] = {}
        self._retry = retry if retry is not None else RetryPolicy()
        self.quarantine = quarantine if quarantine is not None else Quarantine()
        self._workspace = workspace if workspace is not None else str(self._root)
        self._unfinished: set[str] = set()

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        return self._analyzers

    @property
    def consecutive_errors(self) -> int:
        """Error activities since the last successful one, across all analyzers."""
        return self._consecutive_errors

    @property
    def consecutive_errors_by_capability(self) -> Mapping[str, int]:
        return dict(self._errors_by_capability)

    @property
    def busy(self) -> frozenset[str]:
        """Capabilities whose timed-out call is still running (they are skipped meanwhile)."""
        with self._lock:
            return frozenset(self._busy)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Begin the end without waiting: no new call starts, running ones are interrupted
        (see :class:`~analyzers.base.Interruptible`) and have ``grace_s`` from the first
        request to return. Many runners asked first wind down together."""
        with self._lock:
            first = not self._stopping.is_set()
            if first:
                self._stop_deadline = time.monotonic() + grace_s
                self._stopping.set()
            outbox = self._outbox
        if outbox is not None:
            outbox.put(None)  # wakes a batch waiting on its calls to see the deadline
        if not first:
            return
        for analyzer in self._analyzers:
            if isinstance(analyzer, Interruptible):
                try:
                    analyzer.interrupt()
                except Exception:  # a broken hook costs the early stop, not the others'
                    log.exception("%s.interrupt failed", analyzer.name)

    def stop(self, grace_s: float = STOP_GRACE_S) -> frozenset[str]:
        """:meth:`request_stop`, then wait for the calls until the grace is over. The
        analyzers whose call still runs after that are returned; nothing is closed."""
        self.request_stop(grace_s)
        with self._lock:
            self._settled.wait_for(lambda: not self._running,
                                   timeout=max(0.0, self._stop_deadline - time.monotonic()))
            return frozenset(c.analyzer.name for c in self._running)

    def close(self, grace_s: float = STOP_GRACE_S) -> frozenset[str]:
        """Stop, then release what the analyzers hold (``close()``, where they have it).

        An analyzer whose call outlived the grace is closed by that call's own thread
        once it returns, never under it: a connection closed while another thread steps
        through a statement is a use after free in the sqlite3 module (SIGSEGV). Returns
        those analyzers."""
        self.stop(grace_s)
        with self._lock:
            if self._closed:
                return frozenset(self._closing)
            self._closed = True
            still = {c.analyzer.name for c in self._running}
            self._closing |= still
        for analyzer in self._analyzers:
            if analyzer.name not in still:
                self._close_analyzer(analyzer)
        return frozenset(still)

    @staticmethod
    def _close_analyzer(analyzer: Analyzer) -> None:
        if isinstance(analyzer, Closing):
            try:
                analyzer.close()
            except Exception as exc:
                log.warning("closing %s failed: %s", analyzer.name, exc)

    def run_batch(self, paths: Sequence[str]) -> list[ActivityRecorded]:
        """Call each analyzer that applies to any of ``paths`` (relative, ``/``-separated)
        with the paths it applies to."""
        # An empty path would read as a full pass to the analyzer; a repeat adds nothing.
        batch = tuple(dict.fromkeys(p for p in paths if p))
        if not batch:
            return []
        calls: list[_Call] = []
        refused: list[tuple[Analyzer, BaseException]] = []
        for analyzer in self._analyzers:
            try:
                matching = tuple(p for p in batch if analyzer.applies_to(p))
            except Exception as exc:
                refused.append((analyzer, exc))
                continue
            matching = self._without_quarantined(analyzer.name, matching)
            if matching:
                calls.append(_Call(analyzer, matching))
        return self._in_waves(calls, refused)

    def run_full_pass(self, only: Collection[str] | None = None) -> list[ActivityRecorded]:
        """Call every analyzer (or those named in ``only``) on the whole workspace."""
        # Files changed while nobody watched (or between passes) leave quarantine first.
        for item in list(self.quarantine.held.values()):
            self._without_quarantined(item.capability, (item.path,))
        return self._in_waves([_Call(analyzer, FULL_PASS) for analyzer in self._analyzers
                               if only is None or analyzer.name in only], [])

    @property
    def unfinished(self) -> frozenset[str]:
        """Analyzers whose last call left files for the next (it ran out of its budget)."""
        return frozenset(self._unfinished)

    # --- quarantine -----------------------------------------------------------

    def _without_quarantined(self, capability: str, paths: tuple[str, ...]) -> tuple[str, ...]:
        """``paths`` less the files quarantined for ``capability`` whose bytes are the ones
        it failed on; a quarantined file with other bytes (or gone) is released."""
        kept: list[str] = []
        for path in paths:
            item = self.quarantine.get(capability, path)
            if item is None:
                kept.append(path)
                continue
            digest = content_digest(self._root, path)
            if digest == item.content_hash:
                continue
            self._release(item, "its content changed" if digest is not None else "it is gone")
            kept.append(path)
        return tuple(kept)

    def _release(self, item: Quarantined, reason: str) -> None:
        self.quarantine.release(item.capability, item.path)
        self._emit_recovery(
            recovery_activity(session_id=self._session_id, action="release",
                              analyzer=item.capability, paths=(item.path,), recovered=True,
                              time_to_recover_ms=0.0, detail=reason),
            FileReleased(self._session_id, self._workspace, item.capability, item.path, reason),
            IssueUpdated(self._session_id, self._quarantine_issue_id(item), severity="info",
                         description=f"{safe_text(item.path)}: released from quarantine for "
                                     f"{item.capability} ({reason})"))

    def _emit_recovery(self, activity: ActivityRecorded, *events: Event) -> None:
        """Record a recovery step (with the events it caused) and show it like any call."""
        self._emit([Envelope(activity), *(Envelope(e) for e in events)])
        self._tell(activity)

    def _quarantine_issue_id(self, item: Quarantined) -> str:
        return stable_id(self._workspace, "quarantine", item.capability, item.path,
                         item.content_hash)

    def _quarantine(self, item: Quarantined) -> None:
        path = safe_text(item.path)
        self._emit([
            Envelope(FileQuarantined(self._session_id, self._workspace, item.capability,
                                     item.path, item.content_hash, safe_text(item.error),
                                     item.crashes)),
            Envelope(IssueDetected(
                self._session_id, self._quarantine_issue_id(item), "medium", item.capability,
                "file_quarantined",
                description=f"{path}: {item.capability} failed on it {item.crashes} times "
                            f"({safe_text(item.error)}); it is skipped until its content "
                            "changes",
                suggested_fix=f"Reproduce with the file alone and fix {item.capability}'s "
                              "handling of it, or ignore the file in .gitignore",
                reproducible=True)),
        ])
        # Info, not warning: the issue and the console line already tell the user; the
        # daemon's journal (info) still gets it.
        log.info("quarantined %s for %s after %d failures: %s", path, item.capability,
                    item.crashes, item.error)

    def _in_waves(self, calls: list[_Call],
                  refused: list[tuple[Analyzer, BaseException]]) -> list[ActivityRecorded]:
        """Probes (``runs_after_others = True``, e.g. code_search) measure what the other
        analyzers just produced, so they run once those calls are done."""
        later = [c for c in calls if _runs_after_others(c.analyzer)]
        first = [c for c in calls if not _runs_after_others(c.analyzer)]
        done = self._recovering(first, refused)
        return done + self._recovering(later, []) if later else done

    def _recovering(self, calls: list[_Call],
                    refused: list[tuple[Analyzer, BaseException]]) -> list[ActivityRecorded]:
        """Run the calls, then the follow-ups their failures call for, round after round."""
        recorded, finished = self._run(calls, refused)
        for _ in range(MAX_FOLLOW_UP_ROUNDS):
            follow_ups: list[_Call] = []
            for call, outcome in finished:
                follow_ups += self._follow_ups(call, outcome)
            if not follow_ups:
                break
            more, finished = self._run(follow_ups, [])
            recorded += more
        else:  # out of rounds: whatever is still outstanding did not recover
            for call, _outcome in finished:
                if call.episode is not None:
                    call.episode.recovered = False
                    self._episode_step_done(call.episode)
        return recorded

    # --- recovery ----------------------------------------------------------------

    def _follow_ups(self, call: _Call, outcome: Outcome) -> list[_Call]:
        """What recovering from this call's outcome takes; closes its episode when done."""
        follow: list[_Call] = []
        name = call.analyzer.name
        if isinstance(outcome, AnalysisResult):
            follow = self._after_file_failures(call, outcome.failures)
        elif call.paths:  # a change batch (or a follow-up) failed as a whole
            error = (error_message(outcome) if isinstance(outcome, BaseException)
                     else outcome.message)
            transient = isinstance(outcome, BaseException) and is_transient(outcome)
            if len(call.paths) > 1 and not transient:
                episode = call.episode or self._open_episode("isolate", call, error)
                for part in split_for_isolation(call.paths):
                    follow.append(_Call(call.analyzer, part, episode=episode))
            elif len(call.paths) == 1 and not transient:
                follow = self._after_crash(call, call.paths[0], error)
            elif call.episode is not None:
                call.episode.recovered = False  # a transient failure its retries did not cure
        # An episode opened here counts this call as its first step; one it carried on
        # from counts this call already. Either way this call's step is now done.
        episodes: dict[int, _Episode] = {}
        for follow_up in follow:
            if follow_up.episode is not None:
                follow_up.episode.outstanding += 1
                episodes[id(follow_up.episode)] = follow_up.episode
        if call.episode is not None:
            episodes[id(call.episode)] = call.episode
        for episode in episodes.values():
            self._episode_step_done(episode)
        if follow:
            log.info("recovering %s: %d follow-up calls", name, len(follow))
        return follow

    def _after_file_failures(self, call: _Call, failures: Sequence[FileFailure]) -> list[_Call]:
        follow: list[_Call] = []
        transient = tuple(dict.fromkeys(f.path for f in failures if f.kind == "transient"))
        if transient:
            episode = call.episode if call.episode is not None and call.episode.action == "retry" \
                else None
            attempts = episode.attempts if episode is not None else 1
            if self._retry.may_retry(attempts):
                if episode is None:
                    episode = self._open_episode(
                        "retry", _Call(call.analyzer, transient),
                        next(f.error for f in failures if f.kind == "transient"))
                else:
                    episode.errors += [f.error for f in failures if f.kind == "transient"]
                episode.attempts = attempts + 1
                follow.append(_Call(call.analyzer, transient, episode=episode,
                                    delay_s=self._retry.delay(attempts)))
            elif episode is not None:
                episode.recovered = False
        for failure in failures:
            if failure.kind != "transient" and failure.path not in transient:
                follow += self._after_crash(call, failure.path, failure.error)
        return follow

    def _after_crash(self, call: _Call, path: str, error: str) -> list[_Call]:
        """One file made ``call``'s analyzer fail: count it; the second time, quarantine."""
        digest = content_digest(self._root, path)
        if digest is None:
            return []  # gone or unreadable now: nothing left to protect the analyzer from
        name = call.analyzer.name
        item = self.quarantine.record_crash(name, path, digest, error)
        if item is not None:
            self._quarantine(item)
            if call.episode is not None:
                call.episode.quarantined.append(path)
            started = call.episode.failed_at if call.episode is not None else time.monotonic()
            self._emit_recovery(recovery_activity(
                session_id=self._session_id, action="quarantine", analyzer=name, paths=(path,),
                recovered=True, time_to_recover_ms=(time.monotonic() - started) * 1000.0,
                attempts=item.crashes, errors=(error,)))
            return []
        # Once is not proof: a worker killed by its neighbour's memory, a race with an edit.
        # The file alone, at once, tells an accident from a file that breaks the analyzer.
        episode = call.episode or self._open_episode("retry", _Call(call.analyzer, (path,)),
                                                      error)
        return [_Call(call.analyzer, (path,), episode=episode)]

    def _open_episode(self, action: str, call: _Call, error: str) -> _Episode:
        return _Episode(action, call.analyzer.name, call.paths, time.monotonic(), [error],
                        outstanding=1)

    def _episode_step_done(self, episode: _Episode) -> None:
        episode.outstanding -= 1
        if episode.outstanding > 0:
            return
        if set(episode.paths) <= set(episode.quarantined):
            return  # every file of it was quarantined: those activities tell the story
        detail = f"{len(episode.quarantined)} quarantined" if episode.quarantined else ""
        self._emit_recovery(recovery_activity(
            session_id=self._session_id, action=episode.action, analyzer=episode.analyzer,
            paths=episode.paths, recovered=episode.recovered,
            time_to_recover_ms=(time.monotonic() - episode.failed_at) * 1000.0,
            attempts=episode.attempts, errors=episode.errors, detail=detail))

    # --- coordination -------------------------------------------------------

    def _run(self, calls: list[_Call], refused: list[tuple[Analyzer, BaseException]]
             ) -> tuple[list[ActivityRecorded], list[tuple[_Call, Outcome]]]:
        with self._batch_lock:
            recorded: list[ActivityRecorded] = []
            finished: list[tuple[_Call, Outcome]] = []
            for analyzer, exc in refused:
                recorded.append(self._record(analyzer, None, exc))
            outbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
            self._outbox = outbox
            waiting = deque(calls)
            running: list[_Call] = []
            try:
                while waiting or running:
                    if self._stopping.is_set():
                        waiting.clear()  # the session ends: what was not started waits for
                        #                  the next one (the caches make that cheap)
                        if not running or time.monotonic() >= self._stop_deadline:
                            break
                    while waiting and len(running) < self._max_workers:
                        call = waiting.popleft()
                        if self._is_busy(call.analyzer.name):
                            recorded.append(self._record(call.analyzer, None, Failure(
                                "skipped", "skipped: its previous call is still running")))
                            if call.episode is not None:
                                call.episode.recovered = False
                                self._episode_step_done(call.episode)
                            continue
                        self._tell_quarantined(call.analyzer)
                        if not self._launch(call, outbox):
                            waiting.clear()  # stop() came first
                            break
                        running.append(call)
                    if not running:
                        break
                    deadline = min(c.launched_at for c in running) + self._timeout_s
                    if self._stopping.is_set():
                        deadline = min(deadline, self._stop_deadline)
                    try:
                        done = outbox.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        pass
                    else:
                        if done is None:
                            continue  # stop() woke us: look at its deadline
                        running.remove(done)
                        assert done.outcome is not None
                        recorded.append(self._record(done.analyzer, done.measurement,
                                                     done.outcome, done))
                        finished.append((done, done.outcome))
                    for call in self._expired(running):
                        running.remove(call)
                        timeout = Failure("timeout", self._timeout_message())
                        recorded.append(self._record(call.analyzer, self._measure_abandoned(call),
                                                     timeout, call))
                        finished.append((call, timeout))
            finally:
                self._outbox = None
                # Emit raised, or the session ends: calls still out there are left to finish
                # on their own, unrecorded, and never overlap another call to their analyzer.
                for call in running:
                    self._abandon(call)
            return recorded, finished

    def _tell_quarantined(self, analyzer: Analyzer) -> None:
        if isinstance(analyzer, Excluding):
            try:
                analyzer.exclude(self.quarantine.paths(analyzer.name))
            except Exception:  # a broken hook costs the exclusion, not the call
                log.exception("%s.exclude failed", analyzer.name)

    def _launch(self, call: _Call, outbox: queue.SimpleQueue[_Call | None]) -> bool:
        """Start the call's thread; False once the runner is stopping (checked under the
        lock ``close`` takes, so no call starts on an analyzer being closed)."""
        call.launched_at = time.monotonic()
        with self._lock:
            if self._stopping.is_set():
                return False
            self._running.append(call)
        thread = threading.Thread(target=self._work, args=(call, outbox), daemon=True,
                                  name=f"realworld-{call.analyzer.name}")
        thread.start()
        return True

    def _expired(self, running: list[_Call]) -> list[_Call]:
        now = time.monotonic()
        expired = []
        for call in running:
            if now - call.launched_at >= self._timeout_s and self._abandon(call):
                expired.append(call)
        return expired

    def _abandon(self, call: _Call) -> bool:
        """Give up on a call; False when it finished meanwhile (its outcome is in the outbox)."""
        with self._lock:
            if call.finished:
                return False
            call.abandoned = True
            self._busy.add(call.analyzer.name)
            return True

    def _is_busy(self, name: str) -> bool:
        with self._lock:
            return name in self._busy

    def _timeout_message(self) -> str:
        return f"timed out after {self._timeout_s:g}s"

    def _measure_abandoned(self, call: _Call) -> Measurement:
        """Readings for a call given up on; its time is how long the runner waited."""
        started = call.started
        if started is None:  # the worker never got as far as its readings
            started = self._meter.start()
        measurement = self._meter.stop(started)
        waited_ms = round((time.monotonic() - call.launched_at) * 1000.0, 3)
        return dataclasses.replace(measurement, response_time_ms=waited_ms)

    # --- the worker -----------------------------------------------------------

    def _work(self, call: _Call, outbox: queue.SimpleQueue[_Call | None]) -> None:
        outcome: Outcome
        measurement: Measurement | None = None
        try:
            if call.delay_s > 0:
                time.sleep(call.delay_s)  # a retry's backoff, inside the call's deadline
            started = self._meter.start()
            call.started = started
            outcome = self._attempts(call)
            measurement = self._meter.stop(started)
        except BaseException as exc:  # the meter itself failed; still an outcome, never silence
            outcome = exc
        with self._lock:
            call.measurement = measurement
            call.outcome = outcome
            call.finished = True
            self._running.remove(call)
            self._settled.notify_all()
            close_now = call.analyzer.name in self._closing
            self._closing.discard(call.analyzer.name)
            if not call.abandoned:
                outbox.put(call)
            else:
                self._busy.discard(call.analyzer.name)
                log.info("abandoned %s call returned after its deadline", call.analyzer.name)
        if close_now:  # the session ended while this call ran; it was left for us to close
            self._close_analyzer(call.analyzer)

    def _attempts(self, call: _Call) -> Outcome:
        """Call the analyzer, again after a backoff while it fails transiently (a locked or
        busy file, a database lock) and the call has not been given up on."""
        errors: list[str] = []
        while True:
            call.attempts += 1
            try:
                value = call.analyzer.analyze(self._root, call.paths)
            except BaseException as exc:  # even SystemExit: here it would only end this thread
                retry = (is_transient(exc) and self._retry.may_retry(call.attempts)
                         and not call.abandoned)
                if not retry:
                    call.retry_errors = tuple(errors)
                    return exc
                errors.append(error_message(exc))
                time.sleep(self._retry.delay(call.attempts))
                continue
            call.retry_errors = tuple(errors)
            if isinstance(value, AnalysisResult):
                return value
            return Failure("invalid_result", f"analyze returned {type(value).__name__}, "
                                             "not an AnalysisResult")

    # --- recording ----------------------------------------------------------

    def _record(self, analyzer: Analyzer, measurement: Measurement | None,
                outcome: Outcome, call: _Call | None = None) -> ActivityRecorded:
        activity = activity_event(session_id=self._session_id, capability=analyzer.name,
                                  activity_type=analyzer.activity_type, measurement=measurement,
                                  outcome=outcome)
        events: list[Event] = [activity]
        if isinstance(outcome, AnalysisResult):
            events += self._finding_events(analyzer.name, outcome)
        if isinstance(outcome, AnalysisResult) and outcome.remaining > 0:
            self._unfinished.add(analyzer.name)
        else:  # done, or failing: calling a failing analyzer again at once would spin
            self._unfinished.discard(analyzer.name)
        retried: ActivityRecorded | None = None
        if call is not None and call.retry_errors:
            # The call itself already counts its retries' time; this records the recovery.
            retried = recovery_activity(
                session_id=self._session_id, action="retry", analyzer=analyzer.name,
                paths=call.paths, recovered=isinstance(outcome, AnalysisResult),
                time_to_recover_ms=0.0 if measurement is None else measurement.response_time_ms,
                attempts=call.attempts, errors=call.retry_errors)
            events.append(retried)
        self._emit([Envelope(event) for event in events])
        if activity.success:
            self._consecutive_errors = 0
            self._errors_by_capability[activity.capability] = 0
        else:
            self._consecutive_errors += 1
            self._errors_by_capability[activity.capability] = (
                self._errors_by_capability.get(activity.capability, 0) + 1)
        self._tell(activity)
        if retried is not None:
            self._tell(retried)
        return activity

    def _tell(self, activity: ActivityRecorded) -> None:
        if self._on_activity is not None:
            try:
                self._on_activity(activity)
            except Exception:  # a console that went away must not end the session
                log.exception("on_activity callback failed")

    def _finding_events(self, capability: str, result: AnalysisResult) -> list[Event]:
        events: list[Event] = [
            FindingDetected(
                session_id=self._session_id, fingerprint=safe_text(f.fingerprint),
                capability=safe_text(capability), rule=safe_text(f.rule), path=safe_text(f.path),
                line=f.line, severity=f.severity, confidence=f.confidence,
                message=safe_text(f.message), preview=safe_text(f.preview))
            for f in result.findings
        ]
        events += [FindingResolved(session_id=self._session_id, fingerprint=fingerprint)
                   for fingerprint in result.resolved]
        events += [
            PatternLearned(
                session_id=self._session_id, shape=safe_text(p.shape), fix=safe_text(p.fix),
                path=safe_text(p.path), line=p.line, before_excerpt=safe_text(p.before_excerpt),
                after_excerpt=safe_text(p.after_excerpt))
            for p in result.learned
        ]
        return events


def _runs_after_others(analyzer: Analyzer) -> bool:
    return isinstance(analyzer, Probing) and bool(analyzer.runs_after_others)

"""Running the analyzers on a settled batch: bounded, with a deadline per call, every call recorded.

Each call becomes exactly one ``ActivityRecorded`` handed to ``emit`` (with the
call's findings in the same batch, so they land in one transaction). A call that
raises, times out or returns nonsense is an error activity; the session goes on.

This module coordinates the calls: their threads and deadlines, the waves of a
batch, the follow-up rounds recovery asks for, and the orderly stop. What a failure
calls for is :class:`~daemon.run.episodes.Recovery`'s to decide, the events a call
becomes are built by :mod:`daemon.run.records`, and the error streaks the safety
rules read are kept by :class:`~daemon.run.streaks.ErrorStreaks`.

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

import contextvars
import dataclasses
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from analyzers.base import (
    FULL_PASS,
    AnalysisResult,
    Analyzer,
    Closing,
    Excluding,
    Following,
    Interruptible,
    Preparing,
    Probing,
    Releasing,
)
from daemon.log.events import ActivityRecorded, Envelope, Event
from daemon.run.episodes import Episode, Recovery, analyze_with_retries
from daemon.run.ledger import FindingLedger
from daemon.run.measure import Meter, Started
from daemon.run.records import Failure, Measurement, Outcome, call_events
from daemon.run.recovery import MAX_FOLLOW_UP_ROUNDS, Quarantine, RetryPolicy
from daemon.run.streaks import ErrorStreaks

log = structlog.get_logger("realworld.runner")

Emit = Callable[[Sequence[Envelope]], None]
OnActivity = Callable[[ActivityRecorded], None]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WORKERS = 2
#: How long an ending session waits for running calls to reach a file boundary. Well
#: inside the 5 s a service gets to stop, with the log's own flush after it.
STOP_GRACE_S = 2.5


@dataclass
class _Call:
    """One call's bookkeeping, shared by the coordinator and its worker under the runner's lock."""

    analyzer: Analyzer
    paths: tuple[str, ...]
    episode: Episode | None = None  # set on a follow-up call made to recover
    delay_s: float = 0.0  # a retry's backoff, waited by its worker before the call
    launched_at: float = 0.0
    attempts: int = 1  # tries of this call, retries of transient failures included
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
                 workspace: str | None = None, ledger: FindingLedger | None = None,
                 release_workers: bool = False) -> None:
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
        # A single pass: each analyzer's workers end with its call (Releasing), so the
        # scanner's idle workers are not still resident while the probe and jedi run.
        self._release_workers = release_workers
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
        self._streaks = ErrorStreaks()
        self._retry = retry if retry is not None else RetryPolicy()
        self._recovery = Recovery(
            session_id=session_id,
            workspace=workspace if workspace is not None else str(self._root), root=self._root,
            retry=self._retry,
            quarantine=quarantine if quarantine is not None else Quarantine())
        self._unfinished: set[str] = set()
        self.ledger = ledger if ledger is not None else FindingLedger()
        self._summarizing: set[str] = set()  # capabilities whose full passes are summarized

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        return self._analyzers

    @property
    def quarantine(self) -> Quarantine:
        """The files each analyzer skips; a session resuming sets the one the log holds."""
        return self._recovery.quarantine

    @quarantine.setter
    def quarantine(self, quarantine: Quarantine) -> None:
        self._recovery.quarantine = quarantine

    @property
    def consecutive_errors(self) -> int:
        """Error activities since the last successful one, across all analyzers."""
        return self._streaks.overall

    @property
    def consecutive_errors_by_capability(self) -> Mapping[str, int]:
        return self._streaks.by_capability

    @property
    def busy(self) -> frozenset[str]:
        """Capabilities whose timed-out call is still running (they are skipped meanwhile)."""
        with self._lock:
            return frozenset(self._busy)

    @property
    def unfinished(self) -> frozenset[str]:
        """Analyzers whose last call left files for the next (it ran out of its budget)."""
        return frozenset(self._unfinished)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # --- the orderly stop -----------------------------------------------------

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
                    log.exception("interrupt_failed", analyzer=analyzer.name)

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
                log.warning("close_failed", analyzer=analyzer.name, error=str(exc))

    # --- batches --------------------------------------------------------------

    def run_batch(self, paths: Sequence[str],
                  only: Collection[str] | None = None) -> list[ActivityRecorded]:
        """Call each analyzer (or those named in ``only``) that applies to any of ``paths``
        (relative, ``/``-separated) with the paths it applies to."""
        # An empty path would read as a full pass to the analyzer; a repeat adds nothing.
        batch = tuple(dict.fromkeys(p for p in paths if p))
        if not batch:
            return []
        calls: list[_Call] = []
        refused: list[tuple[Analyzer, BaseException]] = []
        for analyzer in self._analyzers:
            if only is not None and analyzer.name not in only:
                continue
            try:
                matching = tuple(p for p in batch if analyzer.applies_to(p))
            except Exception as exc:
                refused.append((analyzer, exc))
                continue
            matching, released = self._recovery.admit(analyzer.name, matching)
            self._append(released)
            if matching:
                calls.append(_Call(analyzer, matching))
        return self._in_waves(calls, refused)

    def run_full_pass(self, only: Collection[str] | None = None) -> list[ActivityRecorded]:
        """Call every analyzer (or those named in ``only``) on the whole workspace."""
        # Files changed while nobody watched (or between passes) leave quarantine first.
        self._append(self._recovery.release_changed())
        return self._in_waves([_Call(analyzer, FULL_PASS) for analyzer in self._analyzers
                               if only is None or analyzer.name in only], [])

    def _in_waves(self, calls: list[_Call],
                  refused: list[tuple[Analyzer, BaseException]]) -> list[ActivityRecorded]:
        """Probes (``runs_after_others = True``, e.g. code_search) measure what the other
        analyzers just produced, so they run once those calls are done; a probe that names
        what it needs (``runs_after``, code assistance) runs with the others, held until those
        calls end."""
        later = [c for c in calls
                 if _runs_after_others(c.analyzer) and _runs_after(c.analyzer) is None]
        first = ([c for c in calls if not _runs_after_others(c.analyzer)]
                 + [c for c in calls if c not in later and _runs_after_others(c.analyzer)])
        if len(calls) > 1:
            # Calls wait for a slot or for a wave: their workers start meanwhile (a
            # warm run --once paid ~0.25 s of worker start-up after the first calls ended).
            for call in calls:
                self._prepare(call.analyzer, call.paths)
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
                    self._append(self._recovery.give_up(call.episode))
        return recorded

    def _follow_ups(self, call: _Call, outcome: Outcome) -> list[_Call]:
        plan = self._recovery.follow_ups(call.analyzer.name, call.paths, call.episode, outcome)
        self._append(plan.records)
        return [_Call(call.analyzer, f.paths, episode=f.episode, delay_s=f.delay_s)
                for f in plan.calls]

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
                        ready = _next_ready(waiting, running)
                        if ready is None:
                            break  # what is left waits for calls still running
                        call = ready
                        if self._is_busy(call.analyzer.name):
                            recorded.append(self._record(call.analyzer, None, Failure(
                                "skipped", "skipped: its previous call is still running")))
                            if call.episode is not None:
                                self._append(self._recovery.give_up(call.episode))
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
                        if self._release_workers:
                            self._release(done.analyzer)
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

    def _prepare(self, analyzer: Analyzer, paths: Sequence[str]) -> None:
        # Not under a call given up on that still runs: prepare shares what that call uses.
        if isinstance(analyzer, Preparing) and not self._is_busy(analyzer.name):
            try:
                analyzer.prepare(self._root, paths)
            except Exception:  # a broken hook costs the head start, not the call
                log.exception("prepare_failed", analyzer=analyzer.name)

    def _release(self, analyzer: Analyzer) -> None:
        # Its call has ended and calls to one analyzer never overlap: nothing uses them now.
        if isinstance(analyzer, Releasing):
            try:
                analyzer.release()
            except Exception:  # a broken hook costs memory, not the pass
                log.exception("release_failed", analyzer=analyzer.name)

    def _tell_quarantined(self, analyzer: Analyzer) -> None:
        if isinstance(analyzer, Excluding):
            try:
                analyzer.exclude(self.quarantine.paths(analyzer.name))
            except Exception:  # a broken hook costs the exclusion, not the call
                log.exception("exclude_failed", analyzer=analyzer.name)

    def _launch(self, call: _Call, outbox: queue.SimpleQueue[_Call | None]) -> bool:
        """Start the call's thread; False once the runner is stopping (checked under the
        lock ``close`` takes, so no call starts on an analyzer being closed)."""
        call.launched_at = time.monotonic()
        with self._lock:
            if self._stopping.is_set():
                return False
            self._running.append(call)
        # The call runs in a copy of this thread's context, so what is bound there (the
        # session's id, for every log line) is bound in the analyzer's lines too.
        thread = threading.Thread(target=contextvars.copy_context().run,
                                  args=(self._work, call, outbox), daemon=True,
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
        attempts = 1
        retry_errors: tuple[str, ...] = ()
        try:
            if call.delay_s > 0:
                time.sleep(call.delay_s)  # a retry's backoff, inside the call's deadline
            started = self._meter.start()
            call.started = started
            tried = analyze_with_retries(call.analyzer, self._root, call.paths, self._retry,
                                         given_up=lambda: call.abandoned)
            outcome, attempts, retry_errors = tried.outcome, tried.attempts, tried.retry_errors
            measurement = self._meter.stop(started)
        except BaseException as exc:  # the meter itself failed; still an outcome, never silence
            outcome = exc
        with self._lock:
            call.measurement = measurement
            call.outcome = outcome
            call.attempts = attempts
            call.retry_errors = retry_errors
            call.finished = True
            self._running.remove(call)
            self._settled.notify_all()
            close_now = call.analyzer.name in self._closing
            self._closing.discard(call.analyzer.name)
            if not call.abandoned:
                outbox.put(call)
            else:
                self._busy.discard(call.analyzer.name)
                log.info("abandoned_call_returned", analyzer=call.analyzer.name)
        if close_now:  # the session ended while this call ran; it was left for us to close
            self._close_analyzer(call.analyzer)

    # --- recording ----------------------------------------------------------

    def _record(self, analyzer: Analyzer, measurement: Measurement | None,
                outcome: Outcome, call: _Call | None = None) -> ActivityRecorded:
        observed: AnalysisResult | None = None
        if isinstance(outcome, AnalysisResult):
            # What the analyzer sees goes through the ledger: the log gets what changed.
            observed, outcome = outcome, dataclasses.replace(outcome, findings=(), resolved=())
        activity, events = call_events(
            session_id=self._session_id, capability=analyzer.name,
            activity_type=analyzer.activity_type, measurement=measurement, outcome=outcome,
            paths=call.paths if call is not None else (),
            attempts=call.attempts if call is not None else 1,
            retry_errors=call.retry_errors if call is not None else (),
            full_pass=call is not None and not call.paths)
        if observed is not None:
            events[1:1] = self._finding_changes(analyzer.name, observed,
                                                full_pass=call is not None and not call.paths)
        if isinstance(outcome, AnalysisResult) and outcome.remaining > 0:
            self._unfinished.add(analyzer.name)
        else:  # done, or failing: calling a failing analyzer again at once would spin
            self._unfinished.discard(analyzer.name)
        self._emit([Envelope(event) for event in events])
        self._streaks.record(activity.capability, activity.success)
        self._tell(events)
        return activity

    def _finding_changes(self, capability: str, result: AnalysisResult, *,
                         full_pass: bool) -> list[Event]:
        """The findings that appeared, changed or went, and at the end of a full pass of a
        capability that reports findings, where its findings stand."""
        events: list[Event] = list(self.ledger.changes(
            self._session_id, capability, result.findings, result.resolved))
        if result.findings or result.resolved or self.ledger.reports(capability):
            self._summarizing.add(capability)
        if full_pass and result.remaining == 0 and capability in self._summarizing:
            events.append(self.ledger.summary(self._session_id, capability))
        return events

    def _append(self, records: Iterable[Sequence[Event]]) -> None:
        """Record recovery's steps (each with the events it caused) and show them like calls."""
        for events in records:
            self._emit([Envelope(event) for event in events])
            self._tell(events)

    def _tell(self, events: Iterable[Event]) -> None:
        if self._on_activity is None:
            return
        for event in events:
            if isinstance(event, ActivityRecorded):
                try:
                    self._on_activity(event)
                except Exception:  # a console that went away must not end the session
                    log.exception("on_activity_failed")


def _runs_after_others(analyzer: Analyzer) -> bool:
    return isinstance(analyzer, Probing) and bool(analyzer.runs_after_others)


def _runs_after(analyzer: Analyzer) -> frozenset[str] | None:
    return frozenset(analyzer.runs_after) if isinstance(analyzer, Following) else None


def _next_ready(waiting: deque[_Call], running: Sequence[_Call]) -> _Call | None:
    """Take the first waiting call none of whose ``runs_after`` calls waits or runs; with
    nothing running, the first waiting call whatever it names (a cycle must not stall)."""
    for call in waiting:
        needs = _runs_after(call.analyzer)
        if not needs or not any(other.analyzer.name in needs
                                for other in (*waiting, *running) if other is not call):
            waiting.remove(call)
            return call
    if not running:
        return waiting.popleft()
    return None
